"""Semaphores and locks: permits, FIFO hand-off, timeouts, kills, RLock ownership."""

import time

import pytest

import _helpers as helpers
import gevent_lite as gevent
from gevent_lite.lock import BoundedSemaphore, DummySemaphore, Lock, RLock, Semaphore
from gevent_lite.timeout import Timeout


def test_semaphore_counts_permits_and_nonblocking_acquire_fails_when_empty():
    s = Semaphore(2)
    assert s.acquire() and s.acquire()
    assert s.counter == 0 and s.locked() and not s.ready()
    assert s.acquire(blocking=False) is False
    assert s.release() == 1
    assert not s.locked()


def test_semaphore_negative_or_bad_value_rejected():
    with pytest.raises(ValueError):
        Semaphore(-1)
    with pytest.raises(TypeError):
        Semaphore('2')


def test_semaphore_acquire_timeout_returns_false_and_leaves_no_waiter():
    s = Semaphore(0)
    t0 = time.monotonic()
    assert s.acquire(timeout=0.05) is False
    assert 0.03 < time.monotonic() - t0 < 2
    assert s.statistics()['waiting'] == 0
    assert s.acquire(timeout=-0.5) is False     # negative (not -1): do not wait


def test_semaphore_waiters_get_permits_in_arrival_order():
    s = Semaphore(0)
    order = []

    def worker(i):
        s.acquire()
        order.append(i)

    gs = [gevent.spawn(worker, i) for i in range(10)]
    gevent.sleep(0)
    for _ in range(10):
        s.release()
    gevent.joinall(gs, timeout=2)
    assert order == list(range(10))
    assert s.counter == 0


def test_semaphore_release_hands_permit_so_later_acquirer_cannot_barge():
    s = Semaphore(0)
    got = []
    g = gevent.spawn(lambda: got.append(s.acquire()))
    gevent.sleep(0)
    s.release()                         # handed to g, which has not run yet
    assert s.acquire(blocking=False) is False
    g.join(1)
    assert got == [True] and s.counter == 0


def test_killed_waiter_does_not_consume_a_permit():
    s = Semaphore(0)
    g = gevent.spawn(s.acquire)
    gevent.sleep(0)
    g.kill()
    assert s.statistics()['waiting'] == 0
    s.release()
    assert s.counter == 1


def _release_then_kill_from_hub(sem, victim):
    """The race: release() hands ``victim`` the permit, then, in the same hub
    callback (as a Timeout timer firing in the same loop iteration would), the
    victim is killed before it had a chance to run."""
    def cb():
        sem.release()
        victim.throw(gevent.GreenletExit)
    gevent.get_hub().run_callback(cb)
    gevent.sleep(0.01)


def test_waiter_killed_after_being_handed_permit_passes_it_to_next_waiter():
    s = Semaphore(0)
    got = []
    first = gevent.spawn(s.acquire)
    second = gevent.spawn(lambda: got.append(s.acquire()))
    gevent.sleep(0)
    _release_then_kill_from_hub(s, first)
    second.join(1)
    first.join(1)
    assert got == [True]
    assert s.counter == 0


def test_waiter_killed_after_being_handed_permit_returns_it_to_counter():
    s = Semaphore(0)
    g = gevent.spawn(s.acquire)
    gevent.sleep(0)
    _release_then_kill_from_hub(s, g)
    g.join(1)
    assert g.dead and s.counter == 1


def test_waiter_timed_out_by_outer_timeout_after_handoff_returns_permit():
    s = Semaphore(0)

    def taker():
        with Timeout(0.01):
            s.acquire()
            gevent.sleep(0.2)     # holds it; the Timeout fires here
    g = gevent.spawn(taker)
    gevent.sleep(0)
    s.release()
    g.join(1)
    assert isinstance(g.exception, Timeout)
    assert s.counter == 0         # it acquired it, never released: correct
    s.release()
    assert s.counter == 1


def test_bounded_semaphore_release_above_bound_raises():
    b = BoundedSemaphore(2)
    with pytest.raises(ValueError):
        b.release()
    b.acquire()
    b.release()
    assert b.counter == 2


def test_semaphore_context_manager_and_concurrency_limit():
    s = Semaphore(3)
    active = [0]
    peak = [0]

    def worker():
        with s:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            gevent.sleep(0.01)
            active[0] -= 1
    gevent.joinall([gevent.spawn(worker) for _ in range(30)], timeout=5)
    assert peak[0] == 3 and s.counter == 3


def test_many_timed_acquires_run_concurrently():
    s = Semaphore(0)
    t0 = time.monotonic()
    gs = [gevent.spawn(s.acquire, timeout=0.5) for _ in range(20)]
    gevent.joinall(gs, timeout=5)
    assert time.monotonic() - t0 < 2
    assert [g.value for g in gs] == [False] * 20


def test_semaphore_wait_does_not_take_permit_and_times_out():
    s = Semaphore(0)
    assert s.wait(0.01) == 0
    g = gevent.spawn(s.wait)
    gevent.sleep(0)
    assert s.statistics()['watchers'] == 1
    s.release()
    g.join(1)
    assert g.value == 1 and s.counter == 1


def test_semaphore_rawlink_fires_when_permit_frees_and_works_with_gevent_wait():
    s = Semaphore(0)
    seen = []
    s.rawlink(seen.append)
    gevent.spawn_later(0.02, s.release)
    assert gevent.wait([s], timeout=2) == [s]
    gevent.sleep(0)
    assert seen == [s]
    s.unlink(seen.append)
    assert s.linkcount() == 0


def test_semaphore_repr_and_statistics_show_waiters():
    s = Semaphore(0)
    gs = [gevent.spawn(s.acquire) for _ in range(3)]
    gevent.sleep(0)
    assert s.statistics()['waiting'] == 3
    assert 'waiting=3' in repr(s)
    gevent.killall(gs)
    assert s.statistics()['waiting'] == 0


def test_acquire_from_hub_raises_instead_of_deadlocking():
    s = Semaphore(0)
    errors = []

    def cb():
        try:
            s.acquire()
        except Exception as e:
            errors.append(e)
    gevent.get_hub().run_callback(cb)
    gevent.sleep(0.01)
    assert len(errors) == 1 and isinstance(errors[0], gevent.BlockingSwitchOutError)
    assert s.statistics()['waiting'] == 0


def test_dummy_semaphore_never_blocks():
    d = DummySemaphore()
    assert d.acquire() and d.acquire(False) and not d.locked() and d.wait() == 1
    with d:
        pass
    d.release()
    assert gevent.wait([d], timeout=1) == [d]


# -- Lock ---------------------------------------------------------------------------------

def test_lock_release_unlocked_raises_runtime_error():
    lk = Lock()
    with pytest.raises(RuntimeError):
        lk.release()
    assert lk.acquire() and lk.locked()
    assert lk.acquire(False) is False
    lk.release()
    assert not lk.locked()


@pytest.mark.parametrize('cls', [Lock, RLock])
def test_lock_and_rlock_acquire_reject_arguments_as_thread_lock_does(cls):
    import threading
    lk = cls()
    with pytest.raises(ValueError):
        lk.acquire(False, 1)           # a timeout with blocking=False
    with pytest.raises(ValueError):
        lk.acquire(timeout=-100)       # negative other than -1
    with pytest.raises(OverflowError):
        lk.acquire(timeout=1e100)
    with pytest.raises(OverflowError):
        lk.acquire(timeout=threading.TIMEOUT_MAX + 1)
    with pytest.raises(TypeError):
        lk.acquire(timeout='soon')
    assert not lk.locked()             # none of the refused calls took the lock
    assert lk.acquire(timeout=threading.TIMEOUT_MAX) is True
    lk.release()
    assert lk.acquire(False, -1) is True   # -1 is "no timeout", allowed with blocking=False
    lk.release()
    assert lk.acquire(True, -1) is True
    lk.release()
    assert lk.acquire(timeout=None) is True   # gevent's spelling of "no timeout"
    lk.release()


@pytest.mark.parametrize('cls', [Lock, RLock])
def test_lock_and_rlock_timed_acquire_waits_then_fails_when_held_elsewhere(cls):
    lk = cls()
    holder = gevent.spawn(lk.acquire)
    holder.join(1)
    t0 = time.monotonic()
    assert lk.acquire(timeout=0.05) is False
    assert 0.03 < time.monotonic() - t0 < 2
    assert lk.acquire(True, 0) is False
    assert lk.acquire(False) is False


def test_lock_and_rlock_repr_look_like_the_thread_module_ones():
    import re
    lk = Lock()
    assert re.fullmatch(r'<unlocked gevent_lite\.lock\.Lock object waiting=0 at 0x[0-9a-f]+>', repr(lk))
    lk.acquire()
    gs = [gevent.spawn(lk.acquire) for _ in range(2)]
    gevent.sleep(0)
    assert re.fullmatch(r'<locked gevent_lite\.lock\.Lock object waiting=2 at 0x[0-9a-f]+>', repr(lk))
    gevent.killall(gs)
    r = RLock()
    assert re.fullmatch(r'<unlocked gevent_lite\.lock\.RLock object owner=0 count=0 waiting=0 at 0x[0-9a-f]+>',
                        repr(r))
    r.acquire()
    r.acquire()
    assert re.fullmatch(r'<locked gevent_lite\.lock\.RLock object owner=%d count=2 waiting=0 at 0x[0-9a-f]+>'
                        % id(gevent.getcurrent()), repr(r))


def test_lock_with_statement_returns_true_like_thread_lock():
    lk = Lock()
    with lk as got:
        assert got is True and lk.locked()
    assert not lk.locked()


# -- RLock --------------------------------------------------------------------------------

def test_rlock_reentrant_for_owner_and_blocks_others():
    r = RLock()
    assert r.acquire() and r.acquire()
    other = gevent.spawn(r.acquire, timeout=0.05)
    other.join(1)
    assert other.value is False
    r.release()
    assert r._is_owned()
    r.release()
    assert not r._is_owned() and not r.locked()
    other2 = gevent.spawn(r.acquire, timeout=1)
    other2.join(1)
    assert other2.value is True


def test_rlock_release_by_non_owner_raises_runtime_error():
    r = RLock()
    with pytest.raises(RuntimeError):
        r.release()
    g = gevent.spawn(r.acquire)
    g.join(1)
    with pytest.raises(RuntimeError):
        r.release()


def test_rlock_release_save_and_acquire_restore_round_trip():
    r = RLock()
    r.acquire()
    r.acquire()
    state = r._release_save()
    assert not r.locked()
    r._acquire_restore(state)
    assert r._is_owned() and r._count == 2
    r.release()
    r.release()
    assert not r.locked()


def test_rlock_condition_protocol_lets_another_greenlet_in_while_saved():
    # What threading.Condition.wait does with its RLock, once patched: drop all
    # recursion levels, wait, then restore them.
    from gevent_lite.event import Event
    r = RLock()
    ev = Event()
    seen = []

    def waiter():
        with r, r:
            state = r._release_save()
            ev.wait(2)
            r._acquire_restore(state)
            seen.append((r._is_owned(), r._recursion_count()))

    def other():
        with r:
            seen.append('other-in')
            ev.set()

    g1 = gevent.spawn(waiter)
    g2 = gevent.spawn(other)
    gevent.joinall([g1, g2], timeout=2)
    assert seen == ['other-in', (True, 2)]
    assert not r.locked()


def test_rlock_fifo_between_greenlets():
    r = RLock()
    order = []

    def worker(i):
        with r:
            order.append(i)
            gevent.sleep(0.001)
    r.acquire()
    gs = [gevent.spawn(worker, i) for i in range(5)]
    gevent.sleep(0)
    r.release()
    gevent.joinall(gs, timeout=2)
    assert order == list(range(5))


def test_rlock_is_built_on_the_green_lock_as_gevent_code_expects():
    # Code written for gevent (gevent's own test__monkey_logging) checks that the
    # patched logging locks wrap the lock patched _thread.allocate_lock gives.
    r = RLock()
    assert type(r._block) is Lock
    # The arguments are checked once, by RLock: no double validation through Lock.
    assert r.acquire(False, -1) is True and r.acquire(False, -1) is True
    r.release()
    r.release()
    assert r.acquire(True, 0.01) is True
    r.release()
    with pytest.raises(ValueError):
        r.acquire(False, 1)


def test_failed_nonblocking_lock_acquire_lets_the_holder_run_so_a_spin_loop_ends():
    # gevent#1464: code written for threads spins on acquire(False); each failed try
    # yields once, so the greenlet holding the lock gets to release it.
    lock = Lock()
    lock.acquire()
    spins = []

    def holder():
        gevent.sleep(0)
        lock.release()

    def spinner():
        while not lock.acquire(False):
            spins.append(1)
            if len(spins) > 10000:
                raise AssertionError('the spin loop never let the holder run')
        return True

    h = gevent.spawn(holder)
    s = gevent.spawn(spinner)
    assert s.get(timeout=5) is True
    h.join(timeout=5)
    assert 1 <= len(spins) < 100
    lock.release()
    # The same with a timeout argument (threading passes timeout=-1).
    lock.acquire()
    h = gevent.spawn(holder)
    n = 0
    while not lock.acquire(False, -1):
        n += 1
        assert n < 100
    assert n >= 1
    lock.release()


def test_lock_answers_conditions_is_owned_without_a_failed_try():
    # threading.Condition(Lock()) asks _is_owned() on every wait/notify; the answer
    # ("held") must not cost the yield of a failed non-blocking acquire.
    import threading
    lock = Lock()
    cond = threading.Condition(lock)
    assert not cond._is_owned()
    with cond:
        assert cond._is_owned()
        switches = []
        g = gevent.spawn(switches.append, 'ran')
        cond.notify()
        assert switches == []      # notify() did not yield to g
    g.join()
    assert switches == ['ran']


def test_semaphore_linkcount_counts_greenlets_waiting_to_acquire():
    s = Semaphore(1)
    s.acquire()
    s.rawlink(lambda _: None)
    gs = [gevent.spawn(s.acquire) for _ in range(2)]
    gevent.sleep(0)
    assert s.linkcount() == 3
    s.release()
    s.release()
    gevent.joinall(gs, timeout=5)
    assert s.linkcount() == 1      # the rawlink: the semaphore was never free


def test_semaphore_held_by_one_os_thread_is_acquired_by_another_when_released():
    # Code written for threads shares locks between OS threads: a thread without a
    # hub that must wait blocks natively until another thread's release wakes it.
    import threading
    from gevent_lite.monkey import get_original
    NativeThread = get_original('threading', 'Thread')
    for make in (Semaphore, BoundedSemaphore, Lock, RLock):
        sem = make() if make in (Lock, RLock) else make(1)
        sem.acquire()
        got = []
        started = threading.Event()

        def other(sem=sem, got=got, started=started):
            started.set()
            got.append(sem.acquire())
            sem.release()

        t = NativeThread(target=other, daemon=True)
        t.start()
        assert started.wait(5)
        time.sleep(0.1)
        assert got == []                 # still waiting, not failed with LoopExit
        sem.release()
        t.join(5)
        assert got == [True], make


def test_native_thread_release_wakes_greenlets_waiting_in_the_hub_promptly():
    import threading
    from gevent_lite.monkey import get_original
    NativeThread = get_original('threading', 'Thread')
    sem = BoundedSemaphore(1)
    holder_has_it = threading.Event()
    release_now = threading.Event()

    def holder():
        sem.acquire()                    # free: taken at once, no hub made here
        holder_has_it.set()
        release_now.wait(5)
        sem.release()

    t = NativeThread(target=holder, daemon=True)
    t.start()
    assert holder_has_it.wait(5)
    resumed = []

    def waiter(i):
        with sem:
            resumed.append(i)

    gs = [gevent.spawn(waiter, i) for i in range(3)]
    gevent.sleep(0.05)
    assert sem.linkcount() == 3
    t0 = time.monotonic()
    release_now.set()
    gevent.joinall(gs, timeout=5)
    assert resumed == [0, 1, 2]
    assert time.monotonic() - t0 < 2    # woken through the hub's thread-safe queue
    t.join(5)


def test_a_lock_deadlock_in_a_single_thread_still_raises_loop_exit():
    code = ('import gevent_lite\n'
            'from gevent_lite.lock import Lock\n'
            'from gevent_lite.hub import LoopExit\n'
            'l = Lock(); l.acquire()\n'
            'try:\n'
            '    l.acquire()\n'
            'except LoopExit:\n'
            '    print("LoopExit")\n')
    res = helpers.run_python(code)
    assert res.stdout.strip() == 'LoopExit', res.stdout + res.stderr


def _release_between_look_and_queue(function_name, release):
    # A profile hook for the waiting thread: when acquire() has looked at the
    # counter (0) and calls ``function_name`` to queue itself, run ``release`` (in
    # another OS thread) and let the waiter go on only once it has released.
    import sys
    fired = []

    def hook(frame, event, arg):
        if event == 'call' and frame.f_code.co_name == function_name and not fired:
            fired.append(True)
            sys.setprofile(None)
            release()
    return hook, fired


def test_release_by_another_thread_before_a_threads_waiter_is_queued_is_not_lost():
    # The race: a thread without a hub finds the lock held, and before its ticket
    # is in the queue the holder (another OS thread) releases, finds nobody waiting
    # and frees the permit. The waiter must get it, not sleep on a free lock.
    import sys
    import threading
    from gevent_lite.monkey import get_original
    NativeThread = get_original('threading', 'Thread')
    for make in (Lock, Semaphore):
        sem = make() if make is Lock else make(1)
        sem.acquire()
        in_queue_call = threading.Event()
        released = threading.Event()
        got = []

        def release_from_main(in_queue_call=in_queue_call, released=released):
            in_queue_call.set()
            assert released.wait(5)

        hook, fired = _release_between_look_and_queue('park_thread', release_from_main)

        def waiter(hook=hook, sem=sem, got=got):
            sys.setprofile(hook)
            try:
                got.append(sem.acquire())
            finally:
                sys.setprofile(None)

        t = NativeThread(target=waiter, daemon=True)
        t.start()
        assert in_queue_call.wait(5)
        sem.release()                    # nobody is queued yet: the counter goes up
        released.set()
        t.join(5)
        assert fired and got == [True], (make, sem)
        sem.release()
        assert not sem.locked() and sem.statistics()['waiting'] == 0


def test_release_by_another_thread_before_a_greenlets_waiter_is_queued_is_not_lost():
    # The same race for a greenlet parking in its hub: the permit freed by another
    # OS thread just before the greenlet queued itself reaches it.
    import sys
    import threading
    from gevent_lite.monkey import get_original
    NativeThread = get_original('threading', 'Thread')
    lock = Lock()
    lock.acquire()
    do_release = threading.Event()
    released = threading.Event()

    def other_thread():                  # holds no hub; releases when told to
        assert do_release.wait(10)
        lock.release()
        released.set()

    t = NativeThread(target=other_thread, daemon=True)
    t.start()

    def release_in_other_thread():
        do_release.set()
        assert released.wait(5)

    hook, fired = _release_between_look_and_queue('park', release_in_other_thread)
    got = []

    def waiter():
        sys.setprofile(hook)
        try:
            got.append(lock.acquire())
        finally:
            sys.setprofile(None)

    g = gevent.spawn(waiter)
    gevent.joinall([g], timeout=5)
    t.join(5)
    assert fired and got == [True], lock


def test_permit_of_a_killed_waiter_passes_promptly_to_a_waiter_in_another_threads_hub():
    # A waiter handed the permit is killed before it runs; the permit goes on to
    # the next waiter, which is parked in another OS thread's hub. That hub is
    # woken (its loop would otherwise sleep until its next timer, 30 s away).
    import threading
    from gevent_lite.monkey import get_original
    NativeThread = get_original('threading', 'Thread')
    lock = Lock()
    lock.acquire()
    first = gevent.spawn(lock.acquire)
    gevent.sleep(0.01)                   # first in the queue
    got = []
    queued = threading.Event()

    def other_thread():
        keepalive = gevent.spawn(gevent.sleep, 30)   # the hub's only timer
        gevent.sleep(0)
        queued.set()
        t0 = time.monotonic()
        got.append(lock.acquire(timeout=20))
        got.append(time.monotonic() - t0)
        lock.release()
        keepalive.kill()

    t = NativeThread(target=other_thread, daemon=True)
    t.start()
    assert queued.wait(5)
    for _ in range(200):                 # bounded: until its waiter is queued second
        if lock.statistics()['waiting'] == 2:
            break
        time.sleep(0.01)
    assert lock.statistics()['waiting'] == 2
    lock.release()                       # handed to `first`, which has not run yet
    gevent.get_hub().run_callback_first(first.throw, gevent.GreenletExit)
    first.join(timeout=5)
    t.join(25)
    assert got[0] is True and got[1] < 10, got


def test_a_lock_deadlock_in_a_forked_child_raises_loop_exit_though_the_parent_had_threads():
    # The child of a process with threads has only the forking thread (the
    # interpreter's thread count is the parent's): nobody else could release the
    # lock, so the deadlock is a LoopExit, not a wait for ever.
    code = ('import os, threading, time\n'
            'from gevent_lite.lock import Lock\n'
            'from gevent_lite.hub import LoopExit\n'
            'stop = threading.Event()\n'
            't = threading.Thread(target=stop.wait); t.start()\n'
            'pid = os.fork()\n'
            'if pid == 0:\n'
            '    l = Lock(); l.acquire()\n'
            '    try:\n'
            '        l.acquire()\n'
            '    except LoopExit:\n'
            '        os._exit(7)\n'
            '    os._exit(1)\n'
            'for _ in range(200):\n'
            '    done, status = os.waitpid(pid, os.WNOHANG)\n'
            '    if done:\n'
            '        break\n'
            '    time.sleep(0.05)\n'
            'else:\n'
            '    os.kill(pid, 9); os.waitpid(pid, 0); status = None\n'
            'stop.set(); t.join()\n'
            'print("hung" if status is None else os.WEXITSTATUS(status))\n')
    res = helpers.run_python(code, env={'PYTHONWARNINGS': 'ignore'})   # -W ignore
    assert res.stdout.strip() == '7', res.stdout + res.stderr


def test_a_lock_deadlock_is_a_loop_exit_though_idle_thread_pool_workers_exist():
    # Thread-pool workers waiting for work release nothing: with only them besides
    # the main thread, a deadlock of the main greenlet is reported, not waited out.
    code = ('import faulthandler; faulthandler.dump_traceback_later(20, exit=True)\n'
            'import gevent_lite\n'
            'from gevent_lite.hub import LoopExit, get_hub\n'
            'from gevent_lite.lock import Lock\n'
            'assert get_hub().threadpool.spawn(lambda: 7).get() == 7\n'
            'l = Lock(); l.acquire()\n'
            'try:\n'
            '    l.acquire()\n'
            'except LoopExit:\n'
            '    print("LoopExit")\n')
    res = helpers.run_python(code)
    assert res.stdout.strip() == 'LoopExit', res.stdout + res.stderr
