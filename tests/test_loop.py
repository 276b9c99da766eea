"""gevent's loop API on the hub (``get_hub().loop``, ``hub.wait(watcher)``), as gevent documents it."""

import os
import threading
import time

import pytest

import gevent_lite
from gevent_lite.hub import InvalidSwitchError


def test_async_send_from_an_os_thread_wakes_hub_wait(hub):
    watcher = hub.loop.async_()
    threading.Timer(0.2, watcher.send).start()
    t0 = time.monotonic()
    hub.wait(watcher)
    assert 0.1 < time.monotonic() - t0 < 3
    assert not watcher.active


def test_async_sends_before_the_callback_ran_coalesce_into_one_call(hub):
    calls = []
    watcher = hub.loop.async_()
    watcher.start(calls.append, 'x')
    threads = [threading.Thread(target=watcher.send) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gevent_lite.sleep(0.05)
    assert calls == ['x']
    watcher.send()
    gevent_lite.sleep(0.05)
    assert calls == ['x', 'x']
    watcher.close()


def test_timer_fires_once_after_its_delay_then_is_inactive(hub):
    watcher = hub.loop.timer(0.2)
    fired = []
    watcher.start(lambda *a: fired.append((time.monotonic(), a)), 1, 2)
    t0 = time.monotonic()
    assert watcher.active
    gevent_lite.sleep(0.6)
    assert len(fired) == 1 and fired[0][1] == (1, 2) and 0.15 < fired[0][0] - t0 < 0.6
    assert not watcher.active


def test_repeating_timer_fires_until_stopped(hub):
    watcher = hub.loop.timer(0.01, 0.02)
    hits = []
    watcher.start(hits.append, 1)
    gevent_lite.sleep(0.5)
    watcher.stop()
    n = len(hits)
    assert 3 <= n <= 30, n
    gevent_lite.sleep(0.1)
    assert len(hits) == n


def test_timer_again_restarts_the_full_delay(hub):
    watcher = hub.loop.timer(0.3)
    fired = []
    watcher.start(fired.append, 1)
    gevent_lite.sleep(0.2)
    watcher.again(fired.append, 2)
    gevent_lite.sleep(0.2)
    assert fired == []
    gevent_lite.sleep(0.5)
    assert fired == [2]


def test_negative_timer_delay_is_rejected(hub):
    with pytest.raises(ValueError):
        hub.loop.timer(-1)


def test_io_watcher_calls_back_each_time_the_fd_is_readable_until_stopped(hub):
    r, w = os.pipe()
    try:
        got = []

        def on_read():
            got.append(os.read(r, 100))

        watcher = hub.loop.io(r, 1)
        watcher.start(on_read)
        for chunk in (b'a', b'b', b'c'):
            os.write(w, chunk)
            gevent_lite.sleep(0.05)
        assert got == [b'a', b'b', b'c']
        watcher.stop()
        os.write(w, b'd')
        gevent_lite.sleep(0.05)
        assert got == [b'a', b'b', b'c']
    finally:
        os.close(r)
        os.close(w)


def test_hub_wait_on_io_watcher_parks_until_fd_ready_and_others_run(hub):
    r, w = os.pipe()
    try:
        ran = []
        gevent_lite.spawn(ran.append, 'other')
        gevent_lite.spawn_later(0.1, os.write, w, b'x')
        hub.wait(hub.loop.io(r, 1))
        assert ran == ['other'] and os.read(r, 10) == b'x'
        # Writable at once:
        hub.wait(hub.loop.io(w, 2))
    finally:
        os.close(r)
        os.close(w)


def test_io_watcher_with_pass_events_gets_the_ready_events(hub):
    r, w = os.pipe()
    try:
        got = []
        watcher = hub.loop.io(w, 2)
        watcher.start(got.append, pass_events=True)
        gevent_lite.sleep(0.01)
        watcher.stop()
        assert got and got[0] == 2
    finally:
        os.close(r)
        os.close(w)


def test_io_watcher_rejects_bad_events_and_fds(hub):
    with pytest.raises(ValueError):
        hub.loop.io(0, 4)
    with pytest.raises(ValueError):
        hub.loop.io(-1, 1)


def test_run_callback_runs_in_order_and_stop_cancels(hub):
    out = []
    hub.loop.run_callback(out.append, 1)
    cb = hub.loop.run_callback(out.append, 2)
    hub.loop.run_callback(out.append, 3)
    assert cb.pending
    cb.stop()
    gevent_lite.sleep(0)
    assert out == [1, 3] and not cb.pending


def test_now_is_the_hubs_monotonic_clock(hub):
    hub.loop.update_now()
    a = hub.loop.now()
    gevent_lite.sleep(0.1)
    assert 0.05 < hub.loop.now() - a < 2


def test_hub_wait_rejects_a_foreign_switch(hub):
    main = gevent_lite.getcurrent()
    watcher = hub.loop.timer(5)
    gevent_lite.spawn(lambda: main.switch('bogus'))
    with pytest.raises(InvalidSwitchError):
        hub.wait(watcher)
    assert not watcher.active


def test_loop_is_one_object_per_hub(hub):
    assert hub.loop is hub.loop and hub.loop.hub is hub


def test_loop_now_is_the_hubs_clock_which_timer_watchers_read_also_virtual(hub):
    from gevent_lite.hub import now
    from gevent_lite.testing import VirtualClock
    with VirtualClock() as clock:
        clock.jump(1000)
        assert hub.loop.now() == now() == clock.now()
        watcher = hub.loop.timer(5)
        fired = []
        watcher.start(fired.append, 'x')
        assert watcher.at - hub.loop.now() == 5
        hub.wait(hub.loop.timer(10))          # an autojump of ten virtual seconds
        assert fired == ['x'] and hub.loop.now() == clock.now() >= 1010


def test_io_watcher_callbacks_run_in_the_hub_and_stop_drops_the_fd_registration(hub):
    r, w = os.pipe()
    try:
        ran_in = []
        watcher = hub.loop.io(r, 1)
        watcher.start(lambda: ran_in.append(gevent_lite.getcurrent()) or os.read(r, 100))
        before = hub.statistics()['fds']
        os.write(w, b'x')
        # A loop polling for its own standing watchers (the asyncio bridge) leaves
        # gevent's io watchers to the hub: their callbacks never run in the poller's greenlet.
        hub.poll_watchers()
        assert ran_in == []
        gevent_lite.sleep(0.05)
        assert ran_in == [hub]
        # stop() gives the fd back at once (the watcher's owner may close it next).
        watcher.stop()
        assert hub.statistics()['fds'] == before - 1
    finally:
        os.close(r)
        os.close(w)


def test_watcher_ref_set_false_while_active_lets_wait_return_at_once(hub):
    # gevent: an active watcher whose ``ref`` is switched off no longer keeps
    # ``gevent.wait()`` (the loop) running.
    timer = hub.loop.timer(10)
    timer.start(lambda: None)
    r, w = os.pipe()
    try:
        io = hub.loop.io(r, 1)
        io.start(lambda: None)
        async_ = hub.loop.async_()
        async_.start(lambda: None)
        for watcher in (timer, io, async_):
            assert watcher.ref is True
            watcher.ref = False
            assert watcher.ref is False
        t0 = time.monotonic()
        assert gevent_lite.wait(timeout=5) is True
        assert time.monotonic() - t0 < 2
        assert timer.active and io.active and async_.active
        # and back on: the timer keeps the loop running again (until it fires).
        timer.stop()
        timer = hub.loop.timer(0.3)
        timer.start(lambda: None)
        timer.ref = False
        timer.ref = True
        t0 = time.monotonic()
        assert gevent_lite.wait(timeout=5) is True
        assert time.monotonic() - t0 >= 0.2
        assert not timer.active
    finally:
        io.close()
        async_.close()
        timer.close()
        os.close(r)
        os.close(w)


def test_loop_run_from_the_main_greenlet_runs_callbacks_and_timers_until_no_work(hub):
    ran = []
    hub.loop.run_callback(ran.append, 'callback')
    hub.loop.timer(0.1).start(ran.append, 'timer')
    t0 = time.monotonic()
    hub.loop.run()
    assert ran == ['callback', 'timer']
    assert time.monotonic() - t0 < 3
    hub.loop.run_callback(ran.append, 'again')
    hub.loop.run(nowait=True)
    assert ran[-1] == 'again'


def test_install_sigchld_is_callable_and_a_forked_child_with_default_sigchld_still_waits():
    # What a gunicorn worker does when the arbiter was patched: gevent code calls
    # loop.install_sigchld(), forks, the child resets SIGCHLD to SIG_DFL and then
    # waits for a subprocess of its own -- which must not hang.
    import subprocess
    import sys
    import textwrap
    code = textwrap.dedent('''
        import os, signal, subprocess, sys
        from gevent_lite import monkey
        monkey.patch_all()
        from gevent_lite import get_hub
        get_hub().loop.install_sigchld()
        get_hub().loop.reset_sigchld()
        get_hub().loop.install_sigchld()
        pid = os.fork()
        if not pid:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            p = subprocess.Popen([sys.executable, '-c', 'print(42)'], stdout=subprocess.PIPE)
            out = p.stdout.read()
            p.wait()
            os._exit(0 if out.strip() == b'42' and p.returncode == 0 else 3)
        _, status = os.waitpid(pid, 0)
        print('child status', status)
    ''')
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert 'child status 0' in res.stdout
