"""The hub: loop order, timers, fd waiting, thread-safe wake-up, errors, the parking primitive."""

import os
import socket
import threading
import time

import pytest

import gevent_lite
from gevent_lite import hub as hubmod
from gevent_lite.hub import (
    BlockingSwitchOutError, ConcurrentObjectUseError, FdDeadline, Linkable, LoopExit, ParkingLot,
    Waiter, get_hub, TIMED_OUT,
)


def test_one_hub_per_thread_created_lazily():
    main_hub = get_hub()
    assert get_hub() is main_hub
    seen = []
    t = threading.Thread(target=lambda: seen.append(get_hub()))
    t.start()
    t.join()
    assert seen[0] is not main_hub
    seen[0].destroy()


def test_callbacks_run_in_fifo_order_and_added_ones_wait_for_next_iteration():
    hub = get_hub()
    order = []

    def first():
        order.append('first')
        hub.run_callback(order.append, 'added-by-first')

    hub.run_callback(first)
    hub.run_callback(order.append, 'second')
    gevent_lite.sleep(0)
    assert order[:2] == ['first', 'second']
    gevent_lite.sleep(0)
    assert order == ['first', 'second', 'added-by-first']


def test_timers_fire_in_time_order_and_cancelled_ones_never():
    hub = get_hub()
    fired = []
    hub.call_later(0.03, fired.append, 3)
    hub.call_later(0.01, fired.append, 1)
    cancelled = hub.call_later(0.02, fired.append, 2)
    cancelled.cancel()
    assert not cancelled.pending
    gevent_lite.sleep(0.1)
    assert fired == [1, 3]


def test_many_cancelled_timers_are_compacted():
    hub = get_hub()
    timers = [hub.call_later(60, lambda: None) for _ in range(5000)]
    for t in timers:
        t.cancel()
    gevent_lite.sleep(0.01)
    stats = hub.statistics()
    assert stats['timers'] + stats['cancelled_timers'] < 1000


def test_wait_read_parks_until_data_arrives():
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        def writer():
            gevent_lite.sleep(0.05)
            b.send(b'x')

        gevent_lite.spawn(writer)
        start = time.monotonic()
        assert gevent_lite.wait_read(a.fileno(), timeout=2) == hubmod.READ
        assert time.monotonic() - start >= 0.04
        assert a.recv(1) == b'x'
    finally:
        a.close()
        b.close()


def test_wait_write_on_writable_socket_returns_at_once():
    a, b = socket.socketpair()
    try:
        assert gevent_lite.wait_write(a.fileno(), timeout=1) == hubmod.WRITE
    finally:
        a.close()
        b.close()


def test_wait_read_times_out_with_socket_timeout():
    a, b = socket.socketpair()
    try:
        start = time.monotonic()
        with pytest.raises(socket.timeout):
            gevent_lite.wait_read(a.fileno(), timeout=0.05)
        assert time.monotonic() - start < 2
        with pytest.raises(ValueError):
            gevent_lite.wait_read(a.fileno(), timeout=0.05, timeout_exc=ValueError('custom'))
    finally:
        a.close()
        b.close()


def test_fd_deadline_arms_one_timer_for_many_waits_not_one_per_wait():
    hub = get_hub()
    a, b = socket.socketpair()
    a.setblocking(False)
    deadline = FdDeadline(a.fileno(), socket.timeout('conn timed out'))
    try:
        def writer():
            for _ in range(200):
                gevent_lite.sleep(0)
                b.send(b'x')

        gevent_lite.spawn(writer)
        before = hub.statistics()
        for _ in range(200):
            # Each wait pushes its deadline later; the one timer is not touched.
            assert deadline.wait(hubmod.READ, hubmod.now() + 30) == hubmod.READ
            assert a.recv(1) == b'x'
        after = hub.statistics()
        grown = (after['timers'] + after['cancelled_timers']) - (before['timers'] + before['cancelled_timers'])
        assert grown == 1, (before, after)
        deadline.close()
        assert hub.statistics()['timers'] == before['timers']
    finally:
        deadline.close()
        a.close()
        b.close()


def test_fd_deadline_wakes_a_wait_whose_deadline_passed_even_after_later_ones_moved_it():
    hub = get_hub()
    a, b = socket.socketpair()
    a.setblocking(False)
    deadline = FdDeadline(a.fileno(), socket.timeout('conn timed out'))
    try:
        def later():
            gevent_lite.sleep(0.1)
            b.send(b'x')

        gevent_lite.spawn(later)
        # The timer is armed for 0.2 s; this wait is woken by data before that.
        assert deadline.wait(hubmod.READ, hubmod.now() + 0.2) == hubmod.READ
        a.recv(1)
        gevent_lite.sleep(0.15)          # the timer comes due while nobody waits: it lapses
        # A later deadline: armed again; an earlier one: re-armed earlier, and honoured.
        fds = hub.statistics()['fds']
        start = time.monotonic()
        with pytest.raises(socket.timeout, match='conn timed out'):
            deadline.wait(hubmod.READ, hubmod.now() + 0.2)
        assert 0.1 < time.monotonic() - start < 2
        assert hub.statistics()['fds'] == fds - 1      # the timed-out fd is forgotten
        start = time.monotonic()
        with pytest.raises(socket.timeout):
            deadline.wait(hubmod.READ, hubmod.now() + 1.0)   # not early: the wait's own deadline
        assert 0.8 < time.monotonic() - start < 5
        # A timer armed far ahead, then a wait with an earlier deadline: re-armed for it.
        gevent_lite.spawn(lambda: b.send(b'y'))
        assert deadline.wait(hubmod.READ, hubmod.now() + 60) == hubmod.READ
        a.recv(1)
        start = time.monotonic()
        with pytest.raises(socket.timeout):
            deadline.wait(hubmod.READ, hubmod.now() + 0.2)
        assert time.monotonic() - start < 5
    finally:
        deadline.close()
        a.close()
        b.close()


def test_two_readers_on_one_fd_get_concurrent_object_use_error():
    a, b = socket.socketpair()
    try:
        first = gevent_lite.spawn(gevent_lite.wait_read, a.fileno())
        gevent_lite.sleep(0)
        second = gevent_lite.spawn(gevent_lite.wait_read, a.fileno())
        second.join()
        assert isinstance(second.exception, ConcurrentObjectUseError)
        b.send(b'x')
        assert first.get(timeout=1) == hubmod.READ
    finally:
        a.close()
        b.close()


def test_cancel_wait_wakes_the_waiter_with_an_error_instead_of_parking_forever():
    a, b = socket.socketpair()
    try:
        g = gevent_lite.spawn(gevent_lite.wait_read, a.fileno())
        gevent_lite.sleep(0)
        get_hub().cancel_wait(a.fileno())
        g.join(timeout=1)
        assert isinstance(g.exception, OSError)
    finally:
        a.close()
        b.close()


def test_registration_is_kept_after_wakeup_and_dropped_when_nobody_waits():
    hub = get_hub()
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        before = hub.statistics()['fds']
        b.send(b'1')
        gevent_lite.wait_read(a.fileno(), timeout=1)
        assert hub.statistics()['fds'] == before + 1   # kept: the next recv usually waits again
        # Leave data unread: the next event finds nobody waiting and drops the registration.
        gevent_lite.sleep(0.01)
        gevent_lite.sleep(0.01)
        assert hub.statistics()['fds'] == before
    finally:
        a.close()
        b.close()


def test_callback_from_another_thread_wakes_the_hub():
    hub = get_hub()
    result = []
    waiter = Waiter(hub)

    def other_thread():
        time.sleep(0.05)
        hub.run_callback_threadsafe(waiter.switch, 'from thread')

    hub.ref()  # another thread will hand work back: keep the loop alive
    try:
        t = threading.Thread(target=other_thread)
        t.start()
        start = time.monotonic()
        result.append(waiter.get())
        t.join()
    finally:
        hub.unref()
    assert result == ['from thread']
    assert time.monotonic() - start < 2


def test_hub_wakes_from_a_blocking_poll_for_a_threadsafe_callback():
    hub = get_hub()
    ticks = []
    # A long timer makes the hub block in poll; the thread must interrupt it.
    keep = hub.call_later(10, lambda: None)
    waiter = Waiter(hub)
    t = threading.Thread(target=lambda: (time.sleep(0.1), hub.run_callback_threadsafe(waiter.switch, 1)))
    t.start()
    start = time.monotonic()
    ticks.append(waiter.get())
    t.join()
    keep.cancel()
    assert ticks == [1] and time.monotonic() - start < 2


def test_blocking_call_from_the_hub_raises_instead_of_deadlocking():
    hub = get_hub()
    errors = []

    def in_hub():
        try:
            gevent_lite.sleep(0.1)
        except BlockingSwitchOutError as e:
            errors.append(e)

    hub.run_callback(in_hub)
    gevent_lite.sleep(0.01)
    assert len(errors) == 1


def test_exception_in_callback_is_printed_and_loop_goes_on(capsys):
    hub = get_hub()
    hub.run_callback(lambda: 1 / 0)
    out = []
    hub.run_callback(out.append, 'still running')
    gevent_lite.sleep(0.01)
    assert out == ['still running']
    assert 'ZeroDivisionError' in capsys.readouterr().err


def test_loop_exit_names_the_waiting_greenlet():
    event_like = Waiter(get_hub())
    with pytest.raises(LoopExit) as info:
        event_like.get()
    msg = str(info.value)
    assert 'would block forever' in msg
    assert 'main greenlet waits at' in msg and 'test_hub.py' in msg


def test_hub_join_runs_until_no_work_left_or_timeout():
    hub = get_hub()
    done = []
    gevent_lite.spawn(lambda: (gevent_lite.sleep(0.05), done.append(1)))
    assert hub.join() is True
    assert done == [1]
    g = gevent_lite.spawn(gevent_lite.sleep, 5)
    assert hub.join(timeout=0.05) is False
    g.kill()


def test_gevent_wait_without_objects_joins_the_hub():
    done = []
    gevent_lite.spawn(lambda: (gevent_lite.sleep(0.02), done.append(1)))
    assert gevent_lite.wait() is True
    assert done == [1]


def test_sleep_rejects_bad_values():
    with pytest.raises(TypeError, match="number of seconds, not 'x'"):
        gevent_lite.sleep('x')
    with pytest.raises(ValueError):
        gevent_lite.sleep(float('nan'))
    gevent_lite.sleep(-1)   # negative: like sleep(0), as gevent does


def test_wait_and_joinall_name_an_object_that_cannot_be_waited_on():
    g = gevent_lite.spawn(lambda: None)
    with pytest.raises(TypeError, match='not 5'):
        gevent_lite.joinall([g, 5])
    with pytest.raises(TypeError, match="not 'x'"):
        gevent_lite.wait(['x'])
    # The greenlet linked before the bad object was unlinked again: it runs and
    # finishes normally, with no gatherer left on it.
    g.join(timeout=2)
    assert g.successful() and not g.has_links()


def test_sleep_0_lets_every_ready_greenlet_run_once():
    ran = []
    for i in range(5):
        gevent_lite.spawn(ran.append, i)
    gevent_lite.sleep(0)
    assert ran == [0, 1, 2, 3, 4]


def test_idle_waits_until_callbacks_are_done():
    order = []
    gevent_lite.spawn(lambda: (order.append('a'), gevent_lite.sleep(0), order.append('b')))
    gevent_lite.idle()
    order.append('idle')
    assert order == ['a', 'b', 'idle']


def test_iwait_yields_in_completion_order_and_honours_timeout():
    gs = [gevent_lite.spawn(gevent_lite.sleep, s) for s in (0.06, 0.02, 5)]
    got = list(gevent_lite.iwait(gs, timeout=0.3))
    assert got == [gs[1], gs[0]]
    assert list(gevent_lite.iwait(gs, count=0)) == []
    gevent_lite.killall(gs)


def test_parking_lot_wakes_in_fifo_order():
    lot = ParkingLot()
    order = []

    def park(name):
        order.append((name, lot.park()))

    gs = [gevent_lite.spawn(park, n) for n in range(5)]
    gevent_lite.sleep(0)
    assert len(lot) == 5
    for value in 'abcde':
        lot.unpark(value)
    gevent_lite.joinall(gs)
    assert order == [(0, 'a'), (1, 'b'), (2, 'c'), (3, 'd'), (4, 'e')]


def test_parking_lot_timeout_removes_the_waiter():
    lot = ParkingLot()
    assert lot.park(timeout=0.02) is TIMED_OUT
    assert len(lot) == 0
    with pytest.raises(ValueError):
        lot.park(timeout=0.02, timeout_exc=ValueError('late'))
    assert len(lot) == 0


def test_parking_lot_hands_a_value_on_when_the_woken_waiter_is_killed():
    unclaimed = []
    lot = ParkingLot(on_unclaimed=unclaimed.append)
    got = []
    first = gevent_lite.spawn(lot.park)
    second = gevent_lite.spawn(lambda: got.append(lot.park()))
    gevent_lite.sleep(0)
    first.kill(block=False)        # the kill is on its way...
    lot.unpark('permit')           # ...when `first` is handed the value: it never runs
    gevent_lite.sleep(0.01)
    assert first.dead and second.dead and got == ['permit'] and unclaimed == []
    # With nobody left to take it, the value goes back to the owner.
    third = gevent_lite.spawn(lot.park)
    gevent_lite.sleep(0)
    third.kill(block=False)
    lot.unpark('again')
    gevent_lite.sleep(0.01)
    assert unclaimed == ['again']


def test_waiter_ignores_late_wakeups():
    hub = get_hub()
    w = Waiter(hub)
    hub.call_later(0.01, w.switch, 'first')
    hub.call_later(0.02, w.switch, 'second')
    assert w.get() == 'first'
    gevent_lite.sleep(0.05)   # the second wake-up must not resume us here


def test_handle_error_set_on_the_running_hub_receives_callback_errors():
    hub = get_hub()
    gevent_lite.sleep(0)                    # the loop is running already
    seen = []
    hub.handle_error = lambda context, t, v, tb: seen.append(v)
    try:
        err = ValueError('boom')

        def fail():
            raise err
        hub.call_later(0.001, fail)
        hub.run_callback(fail)
        gevent_lite.sleep(0.05)
    finally:
        del hub.handle_error
    assert seen == [err, err]


def test_a_handle_error_that_raises_does_not_kill_the_loop(capsys):
    hub = get_hub()

    def bad_handle_error(*args):
        raise AttributeError('broken handler')

    def raises():
        raise KeyError('task')
    hub.handle_error = bad_handle_error
    try:
        with pytest.raises(KeyError):
            gevent_lite.spawn(raises).get()
        gevent_lite.sleep(0.01)          # the loop still runs
    finally:
        del hub.handle_error
    err = capsys.readouterr().err
    assert 'broken handler' in err and "KeyError: 'task'" in err


def test_waiter_thrown_before_get_raises_it_in_get_and_shows_its_state():
    w = Waiter()
    assert repr(w) == '<Waiter greenlet=None>'
    w.switch(25)
    assert repr(w) == '<Waiter greenlet=None value=25>'
    assert w.get() == 25
    w = Waiter()
    w.throw(ZeroDivisionError)
    assert 'exc_info=' in repr(w) and 'ZeroDivisionError' in repr(w)
    with pytest.raises(ZeroDivisionError):
        w.get()
    with pytest.raises(gevent_lite.hub.InvalidSwitchError):
        w.get()                  # one-shot: the exception was delivered once
    w = Waiter()
    g = gevent_lite.spawn(w.get)
    g.name = 'AName'
    gevent_lite.sleep(0)
    # The greenlet's repr names w.get, whose repr names the greenlet: no recursion.
    assert repr(w).startswith('<Waiter greenlet=<Greenlet "AName')
    g.kill()


def test_timeout_racing_an_fd_wakeup_never_resumes_the_wrong_wait():
    # Fire a Timeout at nearly the moment data arrives, many times; the greenlet must
    # always see either the data or the Timeout, and never be woken in a later wait.
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        for _ in range(50):
            b.send(b'x')
            try:
                with gevent_lite.Timeout(0):
                    gevent_lite.wait_read(a.fileno())
            except gevent_lite.Timeout:
                pass
            a.recv(10)
            # A stale wake-up would end this sleep early (or raise).
            start = time.monotonic()
            gevent_lite.sleep(0.002)
            assert time.monotonic() - start >= 0.0015
    finally:
        a.close()
        b.close()


def test_hub_destroy_then_get_hub_makes_a_new_one():
    old = get_hub()
    old.destroy()
    new = get_hub()
    assert new is not old
    gevent_lite.sleep(0.001)


def test_fork_child_gets_a_fresh_hub_and_runs_no_parent_greenlets(tmp_path):
    marker = tmp_path / 'parent-greenlet-ran-in-child'

    def parent_work():
        gevent_lite.sleep(0.1)
        if os.getpid() != parent_pid:
            marker.write_text('x')

    parent_pid = os.getpid()
    g = gevent_lite.spawn(parent_work)
    gevent_lite.sleep(0)
    pid = os.fork()
    if pid == 0:   # pragma: no cover - child
        code = 1
        try:
            new = gevent_lite.reinit()
            assert new is get_hub()
            gevent_lite.sleep(0.2)
            code = 0
        finally:
            os._exit(code)
    g.join()
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert not marker.exists()


def test_kill_during_sleep_0_does_not_leave_a_stale_wakeup():
    # The kill is delivered before the sleep(0) entry runs; the greenlet catches it
    # and parks again. The defused entry must not end that second wait early.
    log = []

    def stubborn():
        try:
            gevent_lite.sleep(0)
        except gevent_lite.GreenletExit:
            log.append('killed')
        start = time.monotonic()
        gevent_lite.sleep(0.05)
        log.append(time.monotonic() - start)

    g = gevent_lite.spawn(stubborn)
    gevent_lite.sleep(0)          # g is now parked in sleep(0) with its entry queued
    # A kill queued after g's entry would come too late: throw it in ahead of the
    # entry, to force the race.
    get_hub().run_callback_first(g.throw, gevent_lite.GreenletExit)
    g.join(timeout=2)
    assert log[0] == 'killed'
    assert log[1] >= 0.045


def test_timeout_during_a_timed_sleep_leaves_no_timer_that_resumes_the_greenlet_later():
    # sleep(seconds) parks on its timer; a Timeout thrown in first must cancel it, or
    # the old timer would fire into the greenlet's next wait (here an Event.wait).
    from gevent_lite.event import Event
    ev = Event()
    log = []

    def sleeper():
        try:
            with gevent_lite.Timeout(0.02):
                gevent_lite.sleep(0.1)
        except gevent_lite.Timeout:
            log.append('timed out')
        log.append(ev.wait(0.5))

    g = gevent_lite.spawn(sleeper)
    gevent_lite.sleep(0.3)        # the cancelled 0.1 s timer would have fired by now
    assert log == ['timed out'], log
    ev.set()
    g.join(timeout=2)
    assert log == ['timed out', True], log


def test_a_sleep_ended_by_a_foreign_switch_leaves_no_wakeup_for_the_next_wait():
    # Code outside the library may resume a greenlet with a raw switch (from a hub
    # callback here). Neither sleep(0)'s entry nor sleep(t)'s timer may then fire
    # into the greenlet's next wait.
    from gevent_lite.event import Event
    ev = Event()
    log = []

    def sleeper(seconds):
        gevent_lite.sleep(seconds)
        log.append('woke')
        log.append(ev.wait(0.3))

    hub = get_hub()
    for seconds in (0.1, 0):
        del log[:]
        g = gevent_lite.spawn(sleeper, seconds)
        gevent_lite.sleep(0)                 # g parks in sleep()
        if seconds == 0:
            hub.run_callback_first(g.switch)     # ahead of g's own resume entry
        else:
            hub.run_callback(g.switch)
        g.join(timeout=2)
        assert log == ['woke', False], (seconds, log)


def test_monitor_thread_enabled_by_environment_starts_with_each_new_hub():
    import subprocess
    import sys
    code = (
        'import time, gevent_lite\n'
        'def blocks_the_hub(): time.sleep(0.3)\n'
        'gevent_lite.spawn(blocks_the_hub).join()\n'
        'gevent_lite.sleep(0.2)\n'
    )
    env = dict(os.environ, GEVENT_MONITOR_THREAD_ENABLE='true')
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count('appears to be blocked') == 1
    assert 'blocks_the_hub' in out.stderr
    env.pop('GEVENT_MONITOR_THREAD_ENABLE')
    env.pop('GEVENT_LITE_MONITOR_THREAD', None)
    quiet = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                           text=True, timeout=60)
    assert quiet.returncode == 0 and 'appears to be blocked' not in quiet.stderr


def test_greenlets_looping_on_sleep_0_do_not_starve_io_or_timers():
    # gevent#1071/#202: callbacks re-added by sleep(0) wait for the next loop
    # iteration, and every iteration polls, so I/O and timers still get their turn.
    a, b = socket.socketpair()
    stop = []
    spins = [0]

    def spinner():
        while not stop:
            spins[0] += 1
            gevent_lite.sleep(0)

    spinners = [gevent_lite.spawn(spinner) for _ in range(3)]
    try:
        reader = gevent_lite.spawn(lambda: (gevent_lite.hub.wait_read(a.fileno()), a.recv(10))[1])
        timer_fired = gevent_lite.spawn(gevent_lite.sleep, 0.05)
        gevent_lite.sleep(0.01)
        b.send(b'ping')
        t0 = time.monotonic()
        assert reader.get(timeout=2) == b'ping'
        timer_fired.join(timeout=2)
        assert timer_fired.dead and time.monotonic() - t0 < 1.0
        assert spins[0] > 10            # the spinners ran all along
    finally:
        stop.append(True)
        gevent_lite.joinall(spinners, timeout=2)
        a.close()
        b.close()


def _ping_pong_pair(limit, stop, on_spin=None):
    """Two greenlets taking turns with sleep(0) (the pair that hands off to each
    other) until ``stop`` is set or each made ``limit`` sleeps; returns them and
    the list of their sleep counts. ``on_spin(total)`` is called before each sleep."""
    spins = [0, 0]

    def spinner(i):
        for _ in range(limit):
            if stop:
                return
            spins[i] += 1
            if on_spin is not None:
                on_spin(spins[0] + spins[1])
            gevent_lite.sleep(0)

    return [gevent_lite.spawn(spinner, i) for i in (0, 1)], spins


def test_a_sleep_0_ping_pong_pair_wakes_a_ready_socket_within_a_bounded_number_of_sleeps():
    # One of the pair sends the data once they are well into handing off to each
    # other, so the reader is woken by the loop's next poll: the pair may hand
    # off only a bounded number of times before one of them goes back to the
    # loop. Unbounded hand-offs would run all 200,000 sleeps first.
    a, b = socket.socketpair()
    stop = []
    sent_at = []
    woke_at = []

    def send_once(total):
        if total == 100 and not sent_at:
            b.send(b'ping')
            sent_at.append(total)

    def reader():
        hubmod.wait_read(a.fileno())
        woke_at.append(sum(spins))
        stop.append(True)
        return a.recv(10)

    try:
        r = gevent_lite.spawn(reader)
        gevent_lite.sleep(0)                  # the reader parks on the fd
        pair, spins = _ping_pong_pair(100_000, stop, send_once)
        assert r.get(timeout=10) == b'ping'
        gevent_lite.joinall(pair, timeout=10)
        assert sent_at and woke_at and woke_at[0] - sent_at[0] < 1000, (sent_at, woke_at)
    finally:
        a.close()
        b.close()


def test_a_sleep_0_ping_pong_pair_does_not_delay_a_timer_a_thread_or_a_socket():
    a, b = socket.socketpair()
    stop = []
    delays = {}
    t0 = time.monotonic()

    def timer_sleeper():
        gevent_lite.sleep(0.05)
        delays['timer'] = time.monotonic() - t0 - 0.05

    def reader():
        hubmod.wait_read(a.fileno())
        delays['socket'] = time.monotonic() - sent[0]

    def from_thread():
        time.sleep(0.05)
        sent.append(time.monotonic())
        b.send(b'x')
        t1 = time.monotonic()
        hub.run_callback_threadsafe(lambda: delays.__setitem__('thread', time.monotonic() - t1))

    sent = []
    hub = get_hub()
    try:
        sleepers = [gevent_lite.spawn(timer_sleeper), gevent_lite.spawn(reader)]
        gevent_lite.sleep(0)
        pair, spins = _ping_pong_pair(2_000_000, stop)
        th = threading.Thread(target=from_thread)
        th.start()
        # The main greenlet waits too; the pair is all that is ready until the
        # timer, the socket and the thread's callback come in.
        gevent_lite.joinall(sleepers, timeout=10)
        deadline = time.monotonic() + 10
        while 'thread' not in delays and time.monotonic() < deadline:
            gevent_lite.sleep(0.01)
        stop.append(True)
        gevent_lite.joinall(pair, timeout=10)
        th.join(10)
        assert sorted(delays) == ['socket', 'thread', 'timer'], delays
        # Each one came in while the pair was still spinning, not after it stopped.
        assert all(0 < s < 2_000_000 for s in spins), spins
        assert max(delays.values()) < 1.0, delays
    finally:
        stop.append(True)
        a.close()
        b.close()


def test_sleep_0_hand_offs_keep_round_robin_order_among_many_sleepers():
    log = []

    def worker(i):
        for _ in range(5):
            log.append(i)
            gevent_lite.sleep(0)

    gs = [gevent_lite.spawn(worker, i) for i in range(4)]
    gevent_lite.joinall(gs, timeout=5)
    assert log == [0, 1, 2, 3] * 5


def test_a_timeout_and_a_kill_reach_greenlets_handing_off_sleep_0_to_each_other():
    # Timeout: its timer must get its turn although the loop's only ready work
    # is the pair; then the pair's entries must be defused (no stale resume).
    stop = []
    pair, spins = _ping_pong_pair(5_000_000, stop)
    caught = []

    def bounded():
        try:
            with gevent_lite.Timeout(0.05):
                while True:
                    gevent_lite.sleep(0)
        except gevent_lite.Timeout:
            caught.append(time.monotonic())

    t0 = time.monotonic()
    g = gevent_lite.spawn(bounded)
    g.join(timeout=10)
    assert caught and caught[0] - t0 < 1.0
    # Kill one of the pair while it is parked: the other goes on alone, and the
    # killed one's entry resumes nobody.
    pair[0].kill(timeout=5)
    assert pair[0].dead and pair[1].dead is False
    before = spins[1]
    gevent_lite.sleep(0.01)
    assert spins[1] > before
    stop.append(True)
    pair[1].join(timeout=5)
    assert pair[1].successful()


def test_an_error_after_a_handed_off_sleep_0_is_reported_and_the_other_sleeper_goes_on(capsys):
    log = []

    def fails():
        gevent_lite.sleep(0)
        gevent_lite.sleep(0)
        raise ValueError('after the hand-off')

    def steady():
        for i in range(5):
            log.append(i)
            gevent_lite.sleep(0)

    bad, good = gevent_lite.spawn(fails), gevent_lite.spawn(steady)
    gevent_lite.joinall([bad, good], timeout=5)
    assert bad.parent is get_hub()
    assert isinstance(bad.exception, ValueError)
    assert good.successful() and log == [0, 1, 2, 3, 4]
    assert 'after the hand-off' in capsys.readouterr().err


def test_monitor_thread_set_in_the_program_applies_to_hubs_made_afterwards():
    import subprocess
    import sys
    code = (
        'import time, gevent_lite\n'
        'from gevent_lite.config import config\n'
        'config.monitor_thread = True\n'
        'def blocks_the_hub(): time.sleep(0.3)\n'
        'gevent_lite.spawn(blocks_the_hub).join()\n'
        'gevent_lite.sleep(0.2)\n'
    )
    env = dict(os.environ)
    for name in ('GEVENT_MONITOR_THREAD_ENABLE', 'GEVENT_LITE_MONITOR_THREAD'):
        env.pop(name, None)
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count('appears to be blocked') == 1 and 'blocks_the_hub' in out.stderr


class _Flag(Linkable):
    """The smallest Linkable: ready once raised."""

    __slots__ = ('__weakref__', '_links', '_lot', '_notify_scheduled', 'hub', 'up')

    def __init__(self):
        Linkable.__init__(self)
        self.up = False

    def ready(self):
        return self.up

    def raise_(self):
        self.up = True
        self._check_and_notify()

    def wait(self, timeout=None):
        return self._wait_ready(timeout)     # the base's wait, as a subclass exposes it


def test_linkable_calls_links_once_each_in_order_and_an_error_does_not_stop_the_rest(capsys):
    flag = _Flag()
    calls = []

    def broken(obj):
        calls.append('broken')
        raise ValueError('boom')

    flag.rawlink(lambda obj: calls.append(1))
    flag.rawlink(broken)
    flag.rawlink(lambda obj: calls.append(3))
    removed = calls.append
    flag.rawlink(removed)
    flag.unlink(removed)
    assert flag.linkcount() == 3 and flag.has_links()
    flag.raise_()
    assert calls == []                  # run from the hub, never inside raise_()
    gevent_lite.sleep(0)
    gevent_lite.sleep(0)
    assert calls == [1, 'broken', 3]
    assert 'boom' in capsys.readouterr().err
    assert not flag.has_links()
    flag.raise_()
    gevent_lite.sleep(0)
    assert calls == [1, 'broken', 3]    # one-shot
    late = []
    flag.rawlink(late.append)           # linking to a ready object calls back soon
    gevent_lite.sleep(0)
    assert late == [flag]


def test_linkable_wait_times_out_leaving_no_waiter_and_wakes_every_waiter_when_ready():
    flag = _Flag()
    assert flag.wait(0.01) is False
    assert flag.statistics() == {'waiting': 0, 'links': 0}
    waiters = [gevent_lite.spawn(flag.wait, 5) for _ in range(3)]
    gevent_lite.sleep(0.01)
    assert flag.statistics()['waiting'] == 3
    flag.raise_()
    gevent_lite.joinall(waiters, timeout=2)
    assert [g.value for g in waiters] == [True] * 3
    assert gevent_lite.wait([flag], timeout=1) == [flag]


def test_linkable_woken_from_another_os_thread():
    flag = _Flag()
    threading.Timer(0.02, flag.raise_).start()
    assert flag.wait(5) is True


def test_wait_with_timeout_zero_still_collects_objects_that_are_already_ready():
    gs = [gevent_lite.spawn(lambda: None) for _ in range(3)]
    gevent_lite.sleep(0)
    slow = gevent_lite.spawn(gevent_lite.sleep, 5)
    assert set(gevent_lite.wait(gs + [slow], timeout=0)) == set(gs)
    slow.kill()


def test_hub_statistics_and_fd_info_show_callbacks_timers_and_who_waits_on_which_fd():
    hub = get_hub()
    assert hubmod.get_hub_if_exists() is hub
    before = hub.statistics()
    timer = hub.call_later(60, lambda: None)
    unref = hub.call_later(60, lambda: None, ref=False)
    hub.run_callback(lambda: None)
    a, b = socket.socketpair()
    try:
        assert hub.fd_info(a.fileno()) is None and a.fileno() not in hub.watched_fds()
        g = gevent_lite.spawn(gevent_lite.wait_read, a.fileno(), 5)
        stats = hub.statistics()
        assert stats['timers'] == before['timers'] + 2
        assert stats['ref_timers'] == before['ref_timers'] + 1     # not the ref=False one
        assert stats['ready'] >= before['ready'] + 2     # the callback and g's start
        gevent_lite.sleep(0.01)
        stats = hub.statistics()
        assert stats['fd_waiters'] == before['fd_waiters'] + 1
        assert hub.fd_info(a.fileno()) == {'events': hubmod.READ, 'reader': g, 'writer': None}
        assert a.fileno() in hub.watched_fds() and stats['fds'] == len(hub.watched_fds())
        timer.cancel()
        unref.cancel()
        assert hub.statistics()['cancelled_timers'] >= 2
        assert hub.statistics()['ref_timers'] == before['ref_timers'] + 1   # g's timeout
        b.send(b'x')
        g.join(2)
        assert g.successful() and hub.statistics()['fd_waiters'] == before['fd_waiters']
        assert hub.statistics()['ref_timers'] == before['ref_timers']
        # Woken, the greenlet is gone from the fd; the registration is kept.
        assert hub.fd_info(a.fileno()) == {'events': hubmod.READ, 'reader': None, 'writer': None}
    finally:
        hub.cancel_wait(a.fileno())
        a.close()
        b.close()


def test_parking_lot_cancel_throws_only_into_a_greenlet_parked_there():
    lot = ParkingLot()
    g = gevent_lite.spawn(lot.park)
    other = gevent_lite.spawn(gevent_lite.sleep, 5)
    gevent_lite.sleep(0)
    hub = get_hub()
    results = []
    hub.run_callback(lambda: results.append(lot.cancel(other, KeyError('no'))))
    hub.run_callback(lambda: results.append(lot.cancel(g, KeyError('gone'))))
    g.join(2)
    assert results == [False, True]
    assert isinstance(g.exception, KeyError) and len(lot) == 0
    other.kill()


def test_parking_lots_are_distinct_objects_even_when_empty():
    a, b = ParkingLot(), ParkingLot()
    assert a != b and len({a, b}) == 2 and not a


def test_retry_io_parks_until_the_fd_is_ready_and_retries_within_one_deadline():
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        with pytest.raises(BlockingIOError):
            a.recv(10)
        gevent_lite.spawn_later(0.05, b.send, b'late')
        start = time.monotonic()
        assert hubmod.retry_io(a.fileno(), hubmod.READ, a.recv, (10,), timeout=5) == b'late'
        assert time.monotonic() - start < 4
        # Nothing arrives: the timeout covers the whole call and raises the given error.
        with pytest.raises(KeyError):
            hubmod.retry_io(a.fileno(), hubmod.READ, a.recv, (10,), 0.05, KeyError('slow'))
        with pytest.raises(socket.timeout):
            hubmod.retry_io(a.fileno(), hubmod.READ, a.recv, (10,), 0.05)
        # Errors other than "would block" reach the caller at once.
        with pytest.raises(ValueError):
            hubmod.retry_io(a.fileno(), hubmod.WRITE, int, ('x',), 1)
    finally:
        get_hub().cancel_wait(a.fileno())
        a.close()
        b.close()


def test_retry_io_waits_for_the_event_an_attempt_asks_for_next():
    class WantsRead(Exception):
        pass

    a, b = socket.socketpair()
    a.setblocking(False)
    events = []

    def attempt():
        events.append(len(events))
        if len(events) == 1:
            raise WantsRead      # the writable wait is over; now wait to read
        return a.recv(10)

    try:
        gevent_lite.spawn_later(0.05, b.send, b'x')
        got = hubmod.retry_io(a.fileno(), hubmod.WRITE, attempt, timeout=5,
                              wants={WantsRead: hubmod.READ})
        assert got == b'x' and events == [0, 1]
    finally:
        get_hub().cancel_wait(a.fileno())
        a.close()
        b.close()


def test_iwait_is_a_context_manager_that_unlinks_everything_on_exit():
    from gevent_lite.event import Event
    events = [Event() for _ in range(3)]
    events[1].set()
    with gevent_lite.iwait(events) as it:
        assert next(it) is events[1]
        assert all(e.linkcount() == 1 for e in (events[0], events[2]))
    assert all(e.linkcount() == 0 for e in events)
    assert list(gevent_lite.iwait(events[1:2])) == [events[1]]


def test_deleting_the_hub_threadpool_kills_it_and_a_new_one_comes_on_next_use():
    hub = gevent_lite.get_hub()
    pool = hub.threadpool
    assert pool.apply(abs, (-1,)) == 1
    del hub.threadpool
    assert hub.threadpool is not pool and hub.threadpool.apply(abs, (-2,)) == 2


class _Recorder(hubmod.FdWatcher):
    __slots__ = ('calls', 'thrown')

    def __init__(self):
        super().__init__()
        self.calls = []
        self.thrown = []

    def switch(self, events):
        self.calls.append(events)

    def throw(self, *exc):
        self.thrown.append(exc[0])


def test_a_standing_fd_watcher_is_called_on_every_poll_until_unwatched():
    hub = gevent_lite.get_hub()
    a, b = socket.socketpair()
    rec = _Recorder()
    try:
        hub.watch_fd(a.fileno(), hubmod.READ, rec)
        b.send(b'x')
        for _ in range(3):
            gevent_lite.sleep(0.01)
        # Level-triggered and never used up, unlike a Waiter.
        assert len(rec.calls) >= 3 and set(rec.calls) == {hubmod.READ}
        with pytest.raises(hubmod.ConcurrentObjectUseError):
            hub.wait_fd(a.fileno(), hubmod.READ)
        hub.unwatch_fd(a.fileno(), hubmod.READ, rec)
        # Dropped at once, not kept: the fd may now be closed behind the hub's back.
        assert hub.fd_info(a.fileno()) is None
        n = len(rec.calls)
        gevent_lite.sleep(0.02)
        assert len(rec.calls) == n
    finally:
        a.close()
        b.close()


def test_cancel_wait_tells_a_standing_fd_watcher_and_a_regular_file_is_refused(tmp_path):
    hub = gevent_lite.get_hub()
    a, b = socket.socketpair()
    rec = _Recorder()
    try:
        hub.watch_fd(a.fileno(), hubmod.WRITE, rec)
        hub.cancel_wait(a.fileno())
        gevent_lite.sleep(0)
        assert len(rec.thrown) == 1 and isinstance(rec.thrown[0], OSError)
        assert hub.fd_info(a.fileno()) is None
    finally:
        a.close()
        b.close()
    with open(tmp_path / 'f', 'w') as f:
        with pytest.raises(PermissionError):
            hub.watch_fd(f.fileno(), hubmod.READ, _Recorder())
        assert hub.fd_info(f.fileno()) is None


def test_a_stray_switch_with_a_value_into_sleep_or_an_fd_wait_raises_invalid_switch():
    # gevent's rule: only what a greenlet waits for may resume it; a stray
    # greenlet.switch(value) raises InvalidSwitchError (an AssertionError) there
    # instead of returning early as if the wait were over.
    import socket
    from gevent_lite.hub import InvalidSwitchError

    def catch(wait, *args):
        try:
            wait(*args)
        except InvalidSwitchError as exc:
            return exc
        return 'returned'

    g = gevent_lite.spawn(catch, gevent_lite.sleep, 5)
    gevent_lite.sleep(0)
    gevent_lite.spawn(g.switch, None)
    t0 = time.monotonic()
    result = g.get(timeout=3)
    assert isinstance(result, AssertionError) and 'Invalid switch' in str(result), result
    assert time.monotonic() - t0 < 2
    a, b = socket.socketpair()
    try:
        g = gevent_lite.spawn(catch, gevent_lite.wait_read, a.fileno())
        gevent_lite.sleep(0)
        get_hub().run_callback(g.switch, None)
        result = g.get(timeout=3)
        assert isinstance(result, AssertionError) and 'Invalid switch' in str(result), result
        # the fd wait left nothing registered: the next wait works normally
        b.send(b'x')
        assert gevent_lite.wait_read(a.fileno(), timeout=2)
    finally:
        a.close()
        b.close()


def test_iwait_hands_over_each_ready_object_before_the_links_of_the_others_run():
    # gevent's order: the waiter gets the first ready object straight from its
    # link; the other objects that became ready with it are still linked until
    # their own notification runs (and a with-block's exit unlinks them).
    from gevent_lite.lock import Semaphore
    sem1, sem2 = Semaphore(), Semaphore()
    with gevent_lite.iwait((sem1, sem2)) as it:
        assert next(it) is sem1
        assert sem2.linkcount() == 1
        assert next(it) is sem2
    assert sem1.linkcount() == 0 and sem2.linkcount() == 0
    with gevent_lite.iwait((sem1, sem2)) as it:
        assert next(it) is sem1
    assert sem2.linkcount() == 0       # unlinked on the way out


def test_wait_on_an_object_whose_link_is_called_from_a_greenlet_leaves_that_greenlet_running():
    # wait()/iwait() take any object with rawlink(); one that calls its links from
    # an ordinary greenlet (not from the hub) wakes the waiter, and the calling
    # greenlet goes on instead of being switched away from for good.
    class Flag:
        def __init__(self):
            self.links = []
            self.is_set = False

        def rawlink(self, callback):
            self.links.append(callback)

        def unlink(self, callback):
            if callback in self.links:
                self.links.remove(callback)

        def ready(self):
            return self.is_set

        def set(self):
            self.is_set = True
            for link in list(self.links):
                link(self)

    flag = Flag()
    after_set = []

    def setter():
        gevent_lite.sleep(0.01)
        flag.set()
        after_set.append('went on')

    g = gevent_lite.spawn(setter)
    assert gevent_lite.wait([flag], timeout=5) == [flag]
    g.join(timeout=5)
    assert after_set == ['went on'] and g.dead


def test_set_clock_keeps_the_remaining_delay_of_pending_timers():
    # A clock 1000 s ahead of the real one, installed while a 0.3 s sleep is
    # pending: the sleep still ends after about 0.3 s (neither at once, as an
    # unshifted heap would make it, nor 1000 s late), and timers made after the
    # switch count on the new clock.
    hub = gevent_lite.get_hub()
    woke = []
    g = gevent_lite.spawn(lambda: (gevent_lite.sleep(0.3), woke.append(time.monotonic())))
    gevent_lite.sleep(0)                      # g is parked on its timer now
    t0 = time.monotonic()
    hub.set_clock(lambda: time.monotonic() + 1000.0)
    try:
        assert hub.virtual_clock is None
        assert hubmod.now() - time.monotonic() > 999
        g.join(timeout=5)
        assert woke, 'the pending sleep never ended'
        assert 0.2 <= woke[0] - t0 < 3.0, woke[0] - t0
        t1 = time.monotonic()
        gevent_lite.sleep(0.1)                # a timer made on the new clock
        assert 0.05 <= time.monotonic() - t1 < 3.0
    finally:
        hub.set_clock(time.monotonic)
    assert abs(hubmod.now() - time.monotonic()) < 1.0
