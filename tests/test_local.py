"""Greenlet-local storage: isolation, subclass __init__ per greenlet, __slots__, cleanup."""

import gc

import greenlet as raw_greenlet
import pytest

import gevent_lite as gevent
from gevent_lite.local import local


def test_attributes_are_private_to_each_greenlet():
    loc = local()
    loc.x = 'main'

    def f(i):
        assert not hasattr(loc, 'x')
        loc.x = i
        gevent.sleep(0)            # others run and set their own x meanwhile
        return loc.x
    gs = [gevent.spawn(f, i) for i in range(10)]
    gevent.joinall(gs, timeout=2)
    assert [g.value for g in gs] == list(range(10))
    assert loc.x == 'main'


def test_raw_greenlet_and_main_greenlet_have_their_own_dicts():
    loc = local()
    loc.v = 'main'
    seen = []

    def raw():
        seen.append(getattr(loc, 'v', None))
        loc.v = 'raw'
        seen.append(loc.v)
    raw_greenlet.greenlet(raw).switch()
    assert seen == [None, 'raw'] and loc.v == 'main'


def test_delattr_and_dict_are_per_greenlet():
    loc = local()
    loc.a = 1
    assert loc.__dict__ == {'a': 1}

    def f():
        loc.a = 2
        del loc.a
        return hasattr(loc, 'a'), dict(loc.__dict__)
    assert gevent.spawn(f).get(timeout=1) == (False, {})
    assert loc.a == 1
    with pytest.raises(AttributeError):
        loc.__dict__ = {}


def test_subclass_init_reruns_per_greenlet_with_constructor_arguments():
    calls = []

    class Conn(local):
        def __init__(self, host, port=0):
            calls.append((host, port))
            self.host = host
            self.port = port
            self.used = 0

    c = Conn('db', port=5)
    c.used = 7

    def f():
        return c.host, c.port, c.used
    assert gevent.spawn(f).get(timeout=1) == ('db', 5, 0)
    assert c.used == 7 and len(calls) == 2


def test_base_local_rejects_constructor_arguments():
    with pytest.raises(TypeError):
        local(1)


def test_subclass_methods_and_properties_work():
    class Counter(local):
        def __init__(self):
            self.n = 0

        def incr(self):
            self.n += 1
            return self.n

        @property
        def double(self):
            return self.n * 2
    c = Counter()
    c.incr()
    assert gevent.spawn(lambda: (c.incr(), c.incr(), c.double)).get(timeout=1) == (1, 2, 4)
    assert c.n == 1 and c.double == 2


def test_slots_are_shared_not_local_like_threading_local():
    class S(local):
        __slots__ = ('shared',)
    s = S()
    s.shared = 'everyone'
    s.private = 'main'
    assert gevent.spawn(lambda: (s.shared, hasattr(s, 'private'))).get(timeout=1) == \
        ('everyone', False)


def test_no_leak_after_100000_short_greenlets():
    loc = local()

    def f(i):
        loc.value = i
    for _ in range(10):
        gevent.joinall([gevent.spawn(f, i) for i in range(10000)], timeout=30)
    gevent.sleep(0)
    gevent.sleep(0)
    gc.collect()
    # Only the main greenlet's dict (if any) may remain.
    assert loc._local_statistics()['greenlets'] <= 1


def test_local_dropped_frees_greenlet_dicts():
    import weakref

    class Big:
        pass
    loc = local()
    big = Big()
    loc.big = big
    wr = weakref.ref(big)
    del big, loc
    gc.collect()
    assert wr() is None


def test_greenlet_reusing_an_id_does_not_see_dead_greenlets_attributes():
    loc = local()
    for i in range(200):
        g = raw_greenlet.greenlet(lambda i=i: setattr(loc, 'mine', i))
        g.switch()
        del g
        # a fresh greenlet (possibly at the same address) starts empty
        assert raw_greenlet.greenlet(lambda: hasattr(loc, 'mine')).switch() is False


def test_creating_many_locals_in_one_greenlet_does_not_pile_up_weakrefs():
    # gevent#981: each local() created in a greenlet left a callback behind.
    import weakref

    def f():
        for _ in range(10000):
            loc = local()
            loc.x = 1
        return weakref.getweakrefcount(raw_greenlet.getcurrent())
    assert gevent.spawn(f).get(timeout=10) <= 2


def test_copy_calls_the_class_so_slot_attributes_set_by_init_exist_on_the_copy():
    from copy import copy

    class WithSlots(local):
        __slots__ = ('obj',)

        def __init__(self, obj):
            super().__init__()
            self.obj = obj

    shared = object()
    a = WithSlots(shared)
    a.path = '123'
    b = copy(a)
    assert b.obj is shared and b.path == '123'
    b.path = '321'
    assert a.path == '123'


def test_values_of_a_finished_greenlet_are_freed_even_if_it_touched_the_local_last():
    # gevent#387: the local must not keep the dict of the last greenlet that used it.
    deleted = []

    class Sentinel:
        def __del__(self):
            deleted.append(1)

    class MyLocal(local):
        def __init__(self):
            self.sentinel = Sentinel()

    my_local = MyLocal()
    my_local.sentinel = None              # the creator's own value: not counted
    gc.collect()
    del deleted[:]
    gs = [gevent.spawn(getattr, my_local, 'sentinel') for _ in range(5)]
    gevent.joinall(gs, timeout=5)
    del gs
    gevent.sleep(0)
    gc.collect()
    assert len(deleted) == 5
    assert my_local.sentinel is None      # the creator's value is still its own
