"""Group and Pool: size bound, joins, kills, errors, apply/map/imap with bounded memory."""

import itertools
import time

import pytest

import gevent_lite as gevent
from gevent_lite.pool import Group, Pool, PoolFull
from gevent_lite.queue import Full
from gevent_lite.timeout import Timeout


def test_pool_size_never_exceeded_under_1000_spawns():
    p = Pool(10)
    active = [0]
    peak = [0]
    done = [0]

    def work():
        active[0] += 1
        peak[0] = max(peak[0], active[0])
        gevent.sleep(0)
        active[0] -= 1
        done[0] += 1
    for _ in range(1000):
        p.spawn(work)
        assert len(p) <= 10
    assert p.join(timeout=10) is True
    assert done[0] == 1000 and peak[0] == 10 and len(p) == 0 and p.free_count() == 10


def test_pool_negative_size_rejected_zero_accepted_like_gevent():
    with pytest.raises(ValueError):
        Pool(-1)
    with pytest.raises(TypeError):
        Pool('3')
    p = Pool(0)
    assert p.full() and p.free_count() == 0
    with pytest.raises(PoolFull):
        p.add(gevent.spawn(lambda: None), blocking=False)


def test_pool_spawn_blocks_while_full_and_spawners_served_fifo():
    p = Pool(1)
    order = []
    blocker = p.spawn(gevent.sleep, 0.05)
    spawners = [gevent.spawn(p.spawn, order.append, i) for i in range(5)]
    gevent.sleep(0.01)
    assert p.statistics()['waiting_to_spawn'] == 5 and 'waiting_to_spawn=5' in repr(p)
    gevent.joinall(spawners, timeout=2)
    p.join(timeout=2)
    assert order == list(range(5)) and blocker.dead


def test_pool_add_nonblocking_or_timeout_raises_poolfull():
    p = Pool(1)
    p.spawn(gevent.sleep, 0.2)
    with pytest.raises(PoolFull):
        p.add(gevent.spawn(lambda: None), blocking=False)
    with pytest.raises(Full):
        p.add(gevent.spawn(lambda: None), timeout=0.01)
    p.kill()
    assert len(p) == 0 and p.free_count() == 1


def test_spawner_killed_while_waiting_for_room_does_not_leak_a_slot():
    p = Pool(1)
    p.spawn(gevent.sleep, 0.05)
    waiting = gevent.spawn(p.spawn, lambda: None)
    gevent.sleep(0.01)
    waiting.kill()
    p.join(timeout=2)
    assert p.free_count() == 1


def test_wait_available_waits_for_room():
    p = Pool(1)
    p.spawn(gevent.sleep, 0.05)
    assert p.wait_available(timeout=0.01) == 0
    assert p.wait_available(timeout=2) == 1


def test_join_timeout_returns_false_and_true_when_empty():
    g = Group()
    assert g.join() is True
    g.spawn(gevent.sleep, 0.2)
    t0 = time.monotonic()
    assert g.join(timeout=0.02) is False
    assert time.monotonic() - t0 < 1
    g.kill()
    assert g.join() is True


def test_join_raise_error_surfaces_worker_exception():
    p = Pool(5)
    p.spawn(lambda: 1 / 0)
    p.spawn(gevent.sleep, 0.01)
    with pytest.raises(ZeroDivisionError):
        p.join(raise_error=True)


def test_greenlet_get_surfaces_pool_worker_error_and_apply_raises():
    p = Pool(2)
    g = p.spawn(lambda: {}['k'])
    with pytest.raises(KeyError):
        g.get(timeout=2)
    with pytest.raises(KeyError):
        p.apply(lambda: {}['k'])


def test_kill_kills_members_and_killone():
    grp = Group()
    a = grp.spawn(gevent.sleep, 5)
    b = grp.spawn(gevent.sleep, 5)
    gevent.sleep(0)
    grp.killone(a)
    assert a.dead
    gevent.sleep(0)
    assert a not in grp and b in grp
    grp.kill(timeout=1)
    assert b.dead and len(grp) == 0


def test_kill_nonblocking_then_join():
    grp = Group([gevent.spawn(gevent.sleep, 5) for _ in range(3)])
    assert len(grp) == 3
    grp.kill(block=False)
    assert grp.join(timeout=1) is True


def test_add_discard_contains_iter():
    grp = Group()
    g = gevent.spawn(gevent.sleep, 0.01)
    grp.add(g)
    assert g in grp and list(grp) == [g] and len(grp) == 1
    grp.discard(g)
    assert g not in grp and len(grp) == 0
    with pytest.raises(TypeError):
        grp.add(object())


def test_apply_from_a_member_runs_inline_without_deadlock():
    p = Pool(1)
    assert p.apply(lambda: p.apply(lambda: 'inner')) == 'inner'


def test_apply_cb_and_apply_async_callback():
    p = Pool(2)
    seen = []
    assert p.apply_cb(lambda x: x + 1, (1,), callback=seen.append) == 2
    r = p.apply_async(lambda x, y=0: x * y, (3,), {'y': 4}, callback=seen.append)
    assert r.get(timeout=2) == 12
    gevent.sleep(0.01)
    assert sorted(seen) == [2, 12]


def test_apply_async_on_full_pool_does_not_block():
    p = Pool(1)
    p.spawn(gevent.sleep, 0.05)
    t0 = time.monotonic()
    r = p.apply_async(lambda: 'later')
    assert time.monotonic() - t0 < 0.02
    assert r.get(timeout=2) == 'later'


def test_map_and_map_async_keep_order():
    p = Pool(4)

    def slow_echo(x):
        gevent.sleep(0.001 * (10 - x))
        return x
    assert p.map(slow_echo, range(10)) == list(range(10))
    got = []
    r = p.map_async(slow_echo, range(5), callback=got.append)
    assert r.get(timeout=2) == list(range(5))
    assert got == [list(range(5))]


def test_imap_ordered_even_when_workers_finish_out_of_order():
    p = Pool(5)

    def f(x):
        gevent.sleep(0.002 * (5 - x % 5))
        return x * x
    assert list(p.imap(f, range(20))) == [x * x for x in range(20)]


def test_imap_multiple_iterables_and_unordered_completeness():
    p = Pool(3)
    assert list(p.imap(lambda a, b: a + b, [1, 2, 3], [10, 20, 30])) == [11, 22, 33]
    res = list(p.imap_unordered(lambda x: (gevent.sleep(0.001 * (x % 3)), x)[1], range(30)))
    assert sorted(res) == list(range(30))


def test_imap_unordered_yields_first_finished_first():
    grp = Group()
    it = grp.imap_unordered(lambda d: (gevent.sleep(d), d)[1], [0.1, 0.01])
    assert next(it) == 0.01


def test_imap_over_endless_iterator_with_maxsize_keeps_memory_bounded():
    p = Pool(4)
    counter = itertools.count()
    it = p.imap(lambda x: x, counter, maxsize=8)
    first = [next(it) for _ in range(200)]
    gevent.sleep(0.05)          # let the feeder run ahead as far as it may
    assert first == list(range(200))
    assert it._spawned <= 200 + 8
    assert len(it._buffer) <= 8 and it._results.qsize() <= 9
    it._stop()


def test_imap_unordered_endless_iterator_with_maxsize_and_slow_consumer():
    grp = Group()              # unbounded group: only maxsize bounds the workers
    it = grp.imap_unordered(lambda x: x, itertools.count(), maxsize=5)
    got = []
    for _ in range(50):
        got.append(next(it))
        gevent.sleep(0.001)
    assert it._spawned - it._received <= 5 and len(got) == 50
    it._stop()


def test_imap_worker_error_raised_at_its_position_then_iteration_goes_on():
    def f(x):
        if x == 3:
            raise ValueError('bad 3')
        return x
    for size in (1, 2):
        it = Pool(size).imap(f, range(6))
        assert [next(it) for _ in range(3)] == [0, 1, 2]
        with pytest.raises(ValueError, match='bad 3'):
            next(it)
        assert list(it) == [4, 5]
        it = Pool(size).imap_unordered(f, range(6))
        got = []
        with pytest.raises(ValueError, match='bad 3'):
            for x in it:
                got.append(x)
        got.extend(it)
        assert sorted(got) == [0, 1, 2, 4, 5]


def test_imap_input_iterator_error_is_raised():
    def gen():
        yield 1
        raise OSError('input broke')
    p = Pool(2)
    with pytest.raises(OSError, match='input broke'):
        list(p.imap_unordered(lambda x: x, gen()))


def test_imap_rejects_bad_maxsize_and_func():
    with pytest.raises(ValueError):
        Pool(1).imap(lambda x: x, [1], maxsize=0)
    with pytest.raises(TypeError):
        Pool(1).imap(None, [1])


def test_pool_kill_with_timeout_returns():
    p = Pool(2)

    def stubborn():
        while True:
            try:
                gevent.sleep(1)
            except gevent.GreenletExit:
                pass
    g = p.spawn(stubborn)
    gevent.sleep(0)
    t0 = time.monotonic()
    p.kill(timeout=0.05)
    assert time.monotonic() - t0 < 1
    g.kill(Timeout, block=True, timeout=1)
    assert g.dead


def test_imap_unordered_and_imap_over_empty_iterator_end_at_once():
    # gevent#138: imap_unordered over an empty iterator hung.
    p = Pool(3)
    with Timeout(2):
        assert list(p.imap_unordered(lambda x: x, iter([]))) == []
        assert list(p.imap(lambda x: x, [])) == []
        assert p.map(lambda x: x, []) == []


def test_imap_over_a_queue_ended_by_stopiteration_finishes():
    # gevent#423: Group().imap over a Queue that a producer ends with StopIteration.
    from gevent_lite.queue import Queue
    q = Queue()

    def producer():
        for i in range(5):
            q.put(i)
            gevent.sleep(0.001)
        q.put(StopIteration)
    gevent.spawn(producer)
    with Timeout(2):
        assert list(Group().imap(lambda x: x * 10, q)) == [0, 10, 20, 30, 40]


def test_imap_unordered_ends_when_the_input_iterator_blocks_after_its_last_item():
    # gevent#311: the workers finished while the iterator was still running (it
    # slept before raising StopIteration), and the iteration never ended.
    def slow_iterable():
        yield from range(3)
        gevent.sleep(0.02)

    pool = Pool(3)
    with gevent.Timeout(5):
        assert sorted(pool.imap_unordered(lambda x: x, slow_iterable())) == [0, 1, 2]
        assert list(pool.imap(lambda x: x * 2, slow_iterable())) == [0, 2, 4]


def test_imap_queue_of_unread_results_stays_bounded_by_maxsize_with_a_slow_reader():
    p = Pool(4)
    for meth in (p.imap, p.imap_unordered):
        it = meth(lambda x: x, range(30), maxsize=2)
        got = []
        for x in it:
            got.append(x)
            gevent.sleep(0.002)         # a slow reader: workers would run ahead
            assert len(it.queue) <= 3, len(it.queue)
        assert sorted(got) == list(range(30))
