"""Queues: blocking put/get with timeouts, FIFO hand-off, kills, joins, shutdown, Channel."""

from collections import deque
import queue as stdlib_queue
import random
import time
import warnings

import pytest

import gevent_lite as gevent
from gevent_lite.queue import (
    Channel,
    Empty,
    Full,
    JoinableQueue,
    LifoQueue,
    PriorityQueue,
    Queue,
    ShutDown,
    SimpleQueue,
    UnboundQueue,
)


def _hub_kill(victim, before=None):
    """Run ``before()`` and kill ``victim`` in the same hub callback: the victim is
    woken (handed a value) and dies before it could run, as when a Timeout timer
    fires in the same loop iteration."""
    def cb():
        if before is not None:
            before()
        victim.throw(gevent.GreenletExit)
    gevent.get_hub().run_callback(cb)
    gevent.sleep(0.01)


def test_empty_and_full_are_the_stdlib_classes():
    assert Empty is stdlib_queue.Empty and Full is stdlib_queue.Full


def test_fifo_put_get_and_sizes():
    q = Queue(3)
    for i in range(3):
        q.put(i)
    assert q.qsize() == 3 == len(q) and q.full() and not q.empty()
    assert q.peek() == 0 and q.peek_nowait() == 0
    assert [q.get(), q.get_nowait(), q.get()] == [0, 1, 2]
    assert q.empty() and not q.full() and bool(q)


def test_queue_zero_and_negative_maxsize_are_unbounded_like_gevent():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        q = Queue(0)
    assert q.maxsize is None and any(issubclass(x.category, DeprecationWarning) for x in w)
    assert Queue(-1).maxsize is None and Queue().maxsize is None
    for i in range(1000):
        q.put_nowait(i)
    assert q.qsize() == 1000 and not q.full()


def test_items_argument_prefills_and_counts_tasks():
    q = Queue(items=[1, 2, 3])
    assert list(q.queue) == [1, 2, 3] and q.unfinished_tasks == 3


def test_get_nonblocking_and_timeout_raise_empty():
    q = Queue()
    with pytest.raises(Empty):
        q.get(block=False)
    with pytest.raises(Empty):
        q.get_nowait()
    t0 = time.monotonic()
    with pytest.raises(Empty):
        q.get(timeout=0.05)
    assert 0.03 < time.monotonic() - t0 < 2
    assert q.statistics()['getters'] == 0


def test_put_nonblocking_and_timeout_raise_full():
    q = Queue(1)
    q.put(1)
    with pytest.raises(Full):
        q.put(2, block=False)
    with pytest.raises(Full):
        q.put_nowait(2)
    with pytest.raises(Full):
        q.put(2, timeout=0.05)
    assert q.statistics()['putters'] == 0 and list(q.queue) == [1]


def test_negative_timeout_is_rejected_like_stdlib():
    full = Queue(1)
    full.put(1)
    unfinished = JoinableQueue()
    unfinished.put(1)
    waits = [(Queue().get, ()), (Queue().peek, ()), (full.put, (2,)), (Channel().get, ()),
             (Channel().put, ('item',)), (unfinished.join, ())]
    for wait, args in waits:
        with pytest.raises(ValueError, match='non-negative'):
            wait(*args, timeout=-1)
    with pytest.raises(TypeError):
        Queue().get(timeout='x')


def test_a_timeout_object_as_timeout_raises_itself_from_every_blocking_wait():
    q = Queue(1)
    q.put(1)
    waits = [(q.put, (2,)), (Queue().get, ()), (Queue().peek, ()), (Channel().get, ()),
             (Channel().put, ('item',))]
    for wait, args in waits:
        timeout = gevent.Timeout(0.02)
        start = time.monotonic()
        with pytest.raises(gevent.Timeout) as caught:
            wait(*args, timeout=timeout)
        assert caught.value is timeout and not timeout.pending, wait
        assert time.monotonic() - start < 2


def test_getters_served_in_arrival_order():
    q = Queue()
    out = []
    gs = [gevent.spawn(lambda i=i: out.append((i, q.get()))) for i in range(5)]
    gevent.sleep(0)
    for x in 'abcde':
        q.put(x)
    gevent.joinall(gs, timeout=2)
    assert out == [(0, 'a'), (1, 'b'), (2, 'c'), (3, 'd'), (4, 'e')]


def test_put_with_waiting_getter_hands_item_over_without_queueing():
    q = Queue()
    g = gevent.spawn(q.get)
    gevent.sleep(0)
    q.put('x')
    assert q.qsize() == 0           # went straight to the getter
    assert g.get(timeout=1) == 'x'


def test_putters_served_in_arrival_order_and_bound_is_never_exceeded():
    q = Queue(2)
    peak = [0]

    def putter(i):
        q.put(i)
        peak[0] = max(peak[0], q.qsize())
    gs = [gevent.spawn(putter, i) for i in range(20)]
    gevent.sleep(0)
    out = []
    for _ in range(20):
        out.append(q.get(timeout=2))
        gevent.sleep(0)
    gevent.joinall(gs, timeout=2)
    assert out == list(range(20))
    assert peak[0] <= 2


def test_freed_slot_is_reserved_for_waiting_putter_not_a_newcomer():
    q = Queue(1)
    q.put('a')
    waiting = gevent.spawn(q.put, 'b')
    gevent.sleep(0)
    assert q.get() == 'a'           # frees the slot, reserves it for `waiting`
    with pytest.raises(Full):
        q.put_nowait('barger')
    waiting.join(1)
    assert list(q.queue) == ['b']


def test_killed_getter_with_handed_item_passes_it_to_next_getter():
    q = Queue()
    first = gevent.spawn(q.get)
    second = gevent.spawn(q.get)
    gevent.sleep(0)
    _hub_kill(first, lambda: q.put('item'))
    assert second.get(timeout=1) == 'item'
    assert first.dead and q.qsize() == 0


def test_killed_getter_with_handed_item_puts_it_back_at_front():
    q = Queue()
    g = gevent.spawn(q.get)
    gevent.sleep(0)

    def put_two():
        q.put('first')      # handed to g
        q.put('second')     # g no longer waits in the lot: queued
    _hub_kill(g, put_two)
    assert g.dead
    assert [q.get_nowait(), q.get_nowait()] == ['first', 'second']


def test_killed_putter_with_reserved_slot_frees_it():
    q = Queue(1)
    q.put('a')
    p = gevent.spawn(q.put, 'b')
    gevent.sleep(0)
    _hub_kill(p, q.get)          # get() reserves the slot for p; p dies
    assert p.dead and q.qsize() == 0
    q.put_nowait('c')            # the slot is free again
    assert q.get() == 'c'


def test_killed_putter_with_reserved_slot_passes_it_to_next_putter():
    q = Queue(1)
    q.put('a')
    p1 = gevent.spawn(q.put, 'b')
    p2 = gevent.spawn(q.put, 'c')
    gevent.sleep(0)
    _hub_kill(p1, q.get)
    p2.join(1)
    assert p2.successful() and list(q.queue) == ['c']


def test_killed_parked_getter_and_putter_leave_no_trace():
    q = Queue(1)
    g = gevent.spawn(q.get)
    gevent.sleep(0)
    g.kill()
    q.put(1)
    p = gevent.spawn(q.put, 2)
    gevent.sleep(0)
    p.kill()
    st = q.statistics()
    assert st['getters'] == 0 and st['putters'] == 0 and list(q.queue) == [1]


def test_many_concurrent_gets_with_timeout_finish_concurrently():
    q = Queue()
    t0 = time.monotonic()
    gs = [gevent.spawn(q.get, timeout=0.5) for _ in range(20)]
    gevent.joinall(gs, timeout=5)
    assert time.monotonic() - t0 < 2
    assert all(isinstance(g.exception, Empty) for g in gs)


def test_peek_waits_for_item_without_consuming_it():
    q = Queue()
    g = gevent.spawn(q.peek, timeout=2)
    gevent.sleep(0)
    q.put('p')
    assert g.get(timeout=1) == 'p'
    assert q.qsize() == 1
    with pytest.raises(Empty):
        Queue().peek(timeout=0.01)
    with pytest.raises(Empty):
        Queue().peek_nowait()


def test_iteration_stops_at_stopiteration_item():
    q = Queue()
    for x in (1, 2, StopIteration):
        q.put(x)
    assert list(q) == [1, 2]


def test_lifo_and_priority_order():
    lq = LifoQueue()
    for x in (1, 2, 3):
        lq.put(x)
    assert lq.peek() == 3 and [lq.get(), lq.get(), lq.get()] == [3, 2, 1]
    pq = PriorityQueue(items=[5, 1])
    pq.put(3)
    assert pq.peek() == 1 and [pq.get(), pq.get(), pq.get()] == [1, 3, 5]


def test_subclass_hooks_are_honoured():
    class Doubling(Queue):
        def _put(self, item):
            self.queue.append(item * 2)
    q = Doubling()
    q.put(2)
    assert q.get() == 4


def test_subclass_get_and_storage_hooks_are_honoured_on_every_path():
    # put()/get() inline the default hooks; a subclass that overrides them must
    # still go through its own, on the fast path and after parking.
    class Tagged(Queue):
        def _create_queue(self, items=()):
            return list(items)

        def _put(self, item):
            self.queue.insert(0, ('tag', item))

        def _get(self):
            return self.queue.pop()[1]

        def _peek(self):
            return self.queue[-1][1]

    q = Tagged(2)
    q.put(1)
    q.put(2)
    assert q.peek() == 1 and q.qsize() == 2 and q.unfinished_tasks == 2
    # Blocked putter: woken by a get, stores through _put.
    putter = gevent.spawn(q.put, 3)
    gevent.sleep(0.01)
    assert not putter.dead
    assert q.get() == 1
    putter.join(timeout=2)
    assert putter.dead and q.queue == [('tag', 3), ('tag', 2)]
    assert [q.get(), q.get()] == [2, 3]
    # Blocked getter: handed the item directly.
    getter = gevent.spawn(q.get)
    gevent.sleep(0.01)
    q.put(4)
    assert getter.get(timeout=2) == 4 and q.unfinished_tasks == 4


def test_subclass_of_lifo_and_priority_queue_overriding_hooks():
    class Negating(PriorityQueue):
        def _put(self, item):
            PriorityQueue._put(self, -item)

        def _get(self):
            return -PriorityQueue._get(self)

    q = Negating()
    for x in (1, 3, 2):
        q.put(x)
    assert [q.get(), q.get(), q.get()] == [3, 2, 1]

    # A put()/get() that calls super() still goes through the hooks the same
    # class overrides.
    class Wrapped(PriorityQueue):
        def _put(self, item):
            PriorityQueue._put(self, -item)

        def _get(self):
            return -PriorityQueue._get(self)

        def put(self, item, block=True, timeout=None):
            calls.append('put')
            super().put(item, block, timeout)

        def get(self, block=True, timeout=None):
            calls.append('get')
            return super().get(block, timeout)

    calls = []
    w = Wrapped()
    w.put(1)
    w.put(2)
    assert w.queue == [-2, -1] and [w.get(), w.get()] == [2, 1]
    assert calls == ['put', 'put', 'get', 'get']

    class Logged(LifoQueue):
        def _get(self):
            item = LifoQueue._get(self)
            seen.append(item)
            return item

    seen = []
    lq = Logged()
    lq.put('a')
    lq.put('b')
    assert [lq.get(), lq.get()] == ['b', 'a'] and seen == ['b', 'a']


def test_full_simple_queue_blocks_put_and_rejects_put_nowait():
    # gevent#2139: a bounded SimpleQueue's blocking put raised TypeError there.
    q = SimpleQueue(maxsize=1)
    q.put('foo')
    with pytest.raises(Full):
        q.put_nowait('bar')
    with pytest.raises(Full):
        q.put('bar', timeout=0.01)
    putter = gevent.spawn(q.put, 'bar')
    gevent.sleep(0.01)
    assert not putter.dead and q.get() == 'foo'
    putter.join(timeout=2)
    assert putter.successful() and q.get_nowait() == 'bar'


def test_getter_handed_an_item_keeps_it_when_its_timeout_fires_before_it_runs():
    # eventlet#495: the getter's timeout fired between being handed an item and
    # running; the item must not be lost and the putter must not block.
    q = Queue(1)
    getter = gevent.spawn(q.get, timeout=0.05)
    gevent.sleep(0.01)                 # the getter is parked
    time.sleep(0.1)                    # its timer is now due, but the hub has not run
    q.put('x')                         # handed straight to the getter (never blocks)
    assert getter.get(timeout=2) == 'x'
    q.put_nowait('y')                  # the slot is free: nothing was stored twice
    assert q.qsize() == 1 and q.get_nowait() == 'y'


def test_simple_queue_has_no_task_tracking():
    q = SimpleQueue(2)
    q.put(1)
    assert not hasattr(q, 'task_done') and q.get() == 1


def test_joinable_task_done_and_join():
    q = JoinableQueue()
    assert q.join(0) is True
    for i in range(3):
        q.put(i)
    assert q.unfinished_tasks == 3
    assert q.join(timeout=0.01) is False

    def worker():
        while True:
            q.get()
            gevent.sleep(0.001)
            q.task_done()
    w = gevent.spawn(worker)
    assert q.join(timeout=2) is True
    w.kill()
    with pytest.raises(ValueError):
        q.task_done()


def test_maxsize_can_be_raised_and_admits_waiting_putters():
    q = Queue(1)
    q.put(0)
    gs = [gevent.spawn(q.put, i) for i in (1, 2)]
    gevent.sleep(0)
    q.maxsize = 3
    gevent.joinall(gs, timeout=1)
    assert list(q.queue) == [0, 1, 2]


def test_shutdown_wakes_blocked_and_rejects_puts_then_gets_when_empty():
    q = Queue(1)
    getter_q = Queue()
    g = gevent.spawn(getter_q.get)
    q.put('left')
    p = gevent.spawn(q.put, 'blocked')
    gevent.sleep(0)
    q.shutdown()
    getter_q.shutdown()
    gevent.joinall([g, p], timeout=1)
    assert isinstance(g.exception, ShutDown) and isinstance(p.exception, ShutDown)
    with pytest.raises(ShutDown):
        q.put('late')
    assert q.get() == 'left'            # remaining items still come out
    with pytest.raises(ShutDown):
        q.get()
    assert q.is_shutdown


def test_shutdown_immediate_drains_and_releases_join():
    q = Queue(items=[1, 2])
    j = gevent.spawn(q.join)
    gevent.sleep(0)
    q.shutdown(immediate=True)
    j.join(1)
    assert j.value is True and q.qsize() == 0 and q.unfinished_tasks == 0
    with pytest.raises(ShutDown):
        q.get(block=False)


def test_unbound_queue_rejects_maxsize():
    with pytest.raises(ValueError):
        UnboundQueue(3)
    UnboundQueue().put(1)


def test_queue_repr_and_statistics_show_waiters():
    q = Queue(5)
    gs = [gevent.spawn(q.get) for _ in range(2)]
    gevent.sleep(0)
    assert q.statistics()['getters'] == 2 and 'getters=2' in repr(q)
    gevent.killall(gs)
    assert q.statistics()['getters'] == 0


def test_producer_consumer_moves_every_item_in_order():
    q = Queue(10)
    out = []
    n = 5000

    def producer():
        for i in range(n):
            q.put(i)

    def consumer():
        for _ in range(n):
            out.append(q.get())
    gevent.joinall([gevent.spawn(producer), gevent.spawn(consumer)], timeout=10)
    assert out == list(range(n))


def test_putters_and_getters_that_time_out_or_die_lose_and_duplicate_nothing():
    # Puts and gets race with timeouts and a kill, so the fast paths open and
    # close in every order; every item that a put reported stored comes out
    # exactly once, and each producer's items come out in the order it put them.
    rnd = random.Random(7)
    q = Queue(3)
    stored, got = [], []

    def producer(p):
        for i in range(200):
            try:
                q.put((p, i), timeout=rnd.choice((None, 0.0005, 0.002)))
            except Full:
                continue
            stored.append((p, i))

    def consumer():
        while True:
            try:
                got.append(q.get(timeout=rnd.choice((0.0005, 0.002, 0.01))))
            except Empty:
                if all(g.dead for g in producers):
                    return

    producers = [gevent.spawn(producer, p) for p in range(3)]
    consumers = [gevent.spawn(consumer)]
    victim = gevent.spawn(q.get)        # a second getter, killed mid-run
    gevent.sleep(0.001)
    victim.kill()
    gevent.joinall(producers + consumers, timeout=20)
    assert all(g.dead for g in producers + consumers)
    got.extend(q.queue)
    for p in range(3):
        mine = [i for (pp, i) in got if pp == p]
        assert mine == sorted(mine)
    if victim.successful():
        got.append(victim.value)       # it got an item before the kill arrived
    assert sorted(got) == sorted(stored) and len(set(got)) == len(got)
    stats = q.statistics()
    assert q.qsize() == len(q.queue) and not stats['getters'] and not stats['putters']


# -- Channel ------------------------------------------------------------------------------

def test_channel_rejects_other_maxsize():
    with pytest.raises(ValueError):
        Channel(0)


def test_channel_put_waits_for_getter():
    ch = Channel()
    assert ch.qsize() == 0 and ch.full() and ch.empty()
    with pytest.raises(Full):
        ch.put_nowait(1)
    with pytest.raises(Full):
        ch.put(1, timeout=0.02)
    p = gevent.spawn(ch.put, 'x')
    gevent.sleep(0.01)
    assert not p.dead and ch.balance == -1
    assert ch.get(timeout=1) == 'x'
    p.join(1)
    assert p.successful()


def test_channel_get_waits_for_putter_and_times_out():
    ch = Channel()
    with pytest.raises(Empty):
        ch.get_nowait()
    with pytest.raises(Empty):
        ch.get(timeout=0.02)
    g = gevent.spawn(ch.get)
    gevent.sleep(0)
    assert ch.balance == 1
    ch.put('y')
    assert g.get(timeout=1) == 'y'


def test_channel_get_nowait_takes_waiting_putters_item():
    ch = Channel()
    p = gevent.spawn(ch.put, 'z')
    gevent.sleep(0)
    assert ch.get_nowait() == 'z'
    p.join(1)
    assert p.successful()


def test_channel_many_items_in_order_and_iteration():
    ch = Channel()

    def producer():
        for i in range(50):
            ch.put(i)
        ch.put(StopIteration)
    gevent.spawn(producer)
    assert list(ch) == list(range(50))


def test_channel_killed_getter_item_goes_to_next_get():
    ch = Channel()
    g = gevent.spawn(ch.get)
    gevent.sleep(0)
    _hub_kill(g, lambda: ch.put('orphan'))
    assert ch.get(timeout=1) == 'orphan'


def test_put_after_getter_and_peeker_gave_up_stores_item_normally():
    q = Queue(2)
    with pytest.raises(Empty):
        q.get(timeout=0.01)
    with pytest.raises(Empty):
        q.peek(timeout=0.01)
    q.put(1)
    q.put(2)
    assert q.qsize() == 2 and q.full()
    with pytest.raises(Full):
        q.put_nowait(3)
    assert [q.get(), q.get()] == [1, 2]


def test_put_while_getter_and_peeker_both_wait():
    q = Queue()
    pk = gevent.spawn(q.peek, timeout=1)
    gt = gevent.spawn(q.get, timeout=1)
    gevent.sleep(0)
    q.put('a')       # goes to the getter; the peeker keeps waiting
    q.put('b')       # stored; wakes the peeker
    assert gt.get(timeout=1) == 'a' and pk.get(timeout=1) == 'b'
    assert list(q.queue) == ['b']


def test_queue_classes_are_subscriptable_in_annotations():
    from gevent_lite.queue import Channel, JoinableQueue, LifoQueue, PriorityQueue, Queue, SimpleQueue
    for cls in (Queue, SimpleQueue, LifoQueue, PriorityQueue, JoinableQueue, Channel):
        alias = cls[int]
        assert alias.__origin__ is cls and alias.__args__ == (int,)


def test_channel_put_lets_the_getter_take_the_item_before_the_putter_goes_on():
    # Both orders of arrival: getter first (parked when put comes), putter first.
    for getter_first in (True, False):
        ch = Channel()
        events = []

        def getter(ch, events):
            events.append(ch.get(timeout=2))
            events.append(ch.get(timeout=2))

        g = gevent.spawn(getter, ch, events)
        if getter_first:
            gevent.sleep(0)
        ch.put('hello', timeout=2)
        events.append('sent hello')
        ch.put('world', timeout=2)
        events.append('sent world')
        assert events == ['hello', 'sent hello', 'world', 'sent world'], (getter_first, events)
        g.join(2)
        assert g.successful()


def test_queue_subclass_init_hook_makes_the_container_as_stdlib_does():
    mine = deque()

    class Q(Queue):
        def _init(self, maxsize, items=()):
            super()._init(maxsize, items)
            self.initted_with = maxsize
            self.queue = mine

    q = Q(3)
    assert q.queue is mine and q.initted_with == 3
    q.put('a')
    assert list(mine) == ['a'] and q.get() == 'a'
    seeded = Queue(items=[1, 2])            # items go through _init as well
    assert [seeded.get(), seeded.get()] == [1, 2]


def test_public_names_split_as_gevent_splits_them():
    import gevent_lite.queue as green
    assert sorted(green.__all__) == sorted(green.__implements__ + green.__imports__ + green.__extensions__)
    for name in green.__implements__:
        assert getattr(green, name) is not getattr(stdlib_queue, name)
    for name in green.__imports__:
        assert getattr(green, name) is getattr(stdlib_queue, name)
    for name in green.__extensions__:
        assert not hasattr(stdlib_queue, name)


class _Upper(Queue):
    """A subclass with stdlib-style hooks: items go in upper-cased, come out tagged."""

    fail_next_get = False

    def _put(self, item):
        self.queue.append(item.upper())

    def _get(self):
        if self.fail_next_get:
            self.fail_next_get = False
            raise LookupError('hook failed')
        return 'got ' + self.queue.popleft()


def test_subclass_hooks_apply_also_when_a_getter_is_already_waiting():
    q = _Upper()
    waiting = gevent.spawn(q.get, timeout=5)
    gevent.sleep(0)                       # the getter parks on the empty queue
    q.put('abc')
    assert waiting.get(timeout=5) == 'got ABC'     # through _put and _get, not handed over raw
    q.put('x')
    assert q.get() == 'got X'


def test_subclass_get_hook_error_reaches_the_waiting_getter_and_the_item_stays():
    q = _Upper()
    q.fail_next_get = True
    waiting = gevent.spawn(q.get, timeout=5)
    gevent.sleep(0)
    q.put('kept')
    waiting.join(5)
    assert isinstance(waiting.exception, LookupError)
    assert q.qsize() == 1 and q.get_nowait() == 'got KEPT'


def test_item_promised_to_a_woken_getter_is_not_taken_by_a_newcomer():
    q = _Upper()
    first = gevent.spawn(q.get, timeout=5)
    gevent.sleep(0)
    q.put('one')
    with pytest.raises(Empty):
        q.get_nowait()                    # promised to `first`, which has not run yet
    assert first.get(timeout=5) == 'got ONE'
    assert q.qsize() == 0


def test_getter_promised_an_item_that_an_immediate_shutdown_dropped_gets_shutdown():
    q = _Upper()
    waiting = gevent.spawn(q.get, timeout=5)
    gevent.sleep(0)
    q.put('dropped')
    q.shutdown(immediate=True)            # before the woken getter runs
    waiting.join(5)
    assert isinstance(waiting.exception, ShutDown)


def test_channel_get_nowait_from_a_hub_callback_takes_a_parked_putters_item():
    # gevent: get_nowait() works in the hub; it takes the item of the putter that
    # waits longest and wakes it, without having to wait for it to run.
    ch = Channel()
    result = []
    putters = [gevent.spawn(ch.put, i) for i in (5, 6)]
    gevent.sleep(0.01)
    gevent.get_hub().run_callback(lambda: result.append(ch.get_nowait()))
    gevent.sleep(0.01)
    assert result == [5]
    assert putters[0].dead and not putters[1].dead
    assert ch.get(timeout=1) == 6
    gevent.joinall(putters, timeout=5)


def test_channel_putter_that_times_out_or_is_killed_withdraws_its_item():
    ch = Channel()
    with pytest.raises(Full):
        ch.put('late', timeout=0.05)
    killed = gevent.spawn(ch.put, 'killed')
    gevent.sleep(0.01)
    killed.kill()
    waiting = gevent.spawn(ch.put, 'kept')
    gevent.sleep(0.01)
    assert ch.get(timeout=1) == 'kept'
    with pytest.raises(Empty):
        ch.get_nowait()
    waiting.join(timeout=5)
