import io
import subprocess
import sys
import textwrap
import time

import greenlet
import pytest

import gevent_lite
from gevent_lite import events, monitor
from gevent_lite.config import config
from gevent_lite.hub import get_hub

_real_sleep = time.sleep


@pytest.fixture
def watch():
    """Start a monitor writing to a buffer; collect its events; always stop it."""
    got = []
    events.subscribers.append(got.append)
    buf = io.StringIO()
    m = monitor.start_periodic_monitoring_thread(stream=buf)
    yield m, buf, got
    m.kill()
    events.subscribers.remove(got.append)


def _blocked(got):
    return [e for e in got if isinstance(e, events.EventLoopBlocked)]


def blocking_function_under_test():
    _real_sleep(0.3)


def test_unpatched_sleep_in_a_greenlet_gives_exactly_one_report(watch):
    m, buf, got = watch
    g = gevent_lite.spawn(blocking_function_under_test)
    g.join(timeout=5)
    gevent_lite.sleep(0.3)            # give the monitor a few more periods: no second report
    reports = _blocked(got)
    assert len(reports) == 1, buf.getvalue()
    ev = reports[0]
    assert ev.greenlet is g
    assert ev.hub is get_hub()
    assert ev.blocking_time >= 0.09
    text = buf.getvalue()
    assert text.count('appears to be blocked') == 1
    assert 'blocking_function_under_test' in text
    assert '_real_sleep(0.3)' in text
    assert repr(g) in text
    assert any('blocking_function_under_test' in line for line in ev.info)


def test_two_separate_incidents_give_two_reports(watch):
    m, buf, got = watch
    g = gevent_lite.spawn(blocking_function_under_test)
    g.join(timeout=5)
    gevent_lite.sleep(0.2)
    g = gevent_lite.spawn(blocking_function_under_test)
    g.join(timeout=5)
    gevent_lite.sleep(0.2)
    assert len(_blocked(got)) == 2, buf.getvalue()


def test_program_waiting_only_on_gevent_sleep_and_io_gives_no_report(watch):
    m, buf, got = watch
    import socket
    a, b = socket.socketpair()
    a.setblocking(False)

    def sleeper():
        for _ in range(3):
            gevent_lite.sleep(0.15)

    def reader():
        get_hub().wait_fd(a.fileno(), gevent_lite.hub.READ, timeout=5)
        return a.recv(10)

    def writer():
        gevent_lite.sleep(0.4)
        b.send(b'hello')

    gs = [gevent_lite.spawn(sleeper), gevent_lite.spawn(reader), gevent_lite.spawn(writer)]
    gevent_lite.joinall(gs, timeout=5)
    gevent_lite.sleep(0.3)            # the hub idles in the poller: not blocking
    a.close()
    b.close()
    assert gs[1].value == b'hello'
    assert _blocked(got) == [], buf.getvalue()
    assert buf.getvalue() == ''


def test_blocking_hub_callback_is_reported_as_the_hub(watch):
    m, buf, got = watch
    get_hub().run_callback(blocking_function_under_test)
    gevent_lite.sleep(0.05)
    gevent_lite.sleep(0.2)
    reports = _blocked(got)
    assert len(reports) == 1, buf.getvalue()
    assert reports[0].greenlet is get_hub()
    assert 'the hub (in a callback)' in buf.getvalue()


def test_kill_stops_the_thread_and_removes_the_trace_function():
    before = greenlet.gettrace()
    m = monitor.start_periodic_monitoring_thread(stream=io.StringIO())
    assert greenlet.gettrace() is not before
    assert get_hub().periodic_monitoring_thread is m
    assert monitor.start_periodic_monitoring_thread() is m     # one per hub
    m.kill()
    assert greenlet.gettrace() is before
    deadline = time.monotonic() + 2
    while m.thread_ident in sys._current_frames() and time.monotonic() < deadline:
        _real_sleep(0.01)
    assert m.thread_ident not in sys._current_frames()
    assert get_hub().periodic_monitoring_thread is None


def test_thread_stops_when_the_hub_is_destroyed():
    m = monitor.start_periodic_monitoring_thread(stream=io.StringIO())
    ident = m.thread_ident
    deadline = time.monotonic() + 2
    while ident not in sys._current_frames() and time.monotonic() < deadline:
        _real_sleep(0.01)
    assert ident in sys._current_frames()
    get_hub().destroy()
    deadline = time.monotonic() + 2
    while ident in sys._current_frames() and time.monotonic() < deadline:
        _real_sleep(0.01)
    assert ident not in sys._current_frames()
    m.kill()       # leaves no trace function behind


def test_previous_trace_function_is_chained_and_restored():
    seen = []

    def mine(event, args):
        seen.append(event)
    old = greenlet.settrace(mine)
    try:
        m = monitor.start_periodic_monitoring_thread(stream=io.StringIO())
        gevent_lite.sleep(0)
        assert 'switch' in seen
        assert m._state['switch'][1] is not None     # our record is written too
        m.kill()
        assert greenlet.gettrace() is mine
    finally:
        greenlet.settrace(old)


def test_max_blocking_time_from_config(watch):
    m, buf, got = watch
    m.kill()
    config.max_blocking_time = 0.5
    try:
        m2 = monitor.start_periodic_monitoring_thread(stream=buf)
        try:
            assert m2.max_blocking_time == 0.5
            g = gevent_lite.spawn(blocking_function_under_test)   # 0.3 s < 0.5 s
            g.join(timeout=5)
            gevent_lite.sleep(0.6)
            assert _blocked(got) == []
        finally:
            m2.kill()
    finally:
        config.reset('max_blocking_time')


def test_failing_subscriber_does_not_stop_the_monitor(watch, capsys):
    m, buf, got = watch

    def bad(event):
        raise RuntimeError('subscriber bug')
    events.subscribers.insert(0, bad)
    try:
        gevent_lite.spawn(blocking_function_under_test).join(timeout=5)
        gevent_lite.spawn(blocking_function_under_test).join(timeout=5)
        gevent_lite.sleep(0.15)
    finally:
        events.subscribers.remove(bad)
    assert len(_blocked(got)) == 2
    assert 'subscriber bug' in capsys.readouterr().err


def test_memory_threshold_events_on_crossing_up_and_down(watch):
    m, buf, got = watch
    usage = monitor.get_memory_usage()
    assert usage and usage > 1024 * 1024
    config.max_memory_usage = usage // 2
    try:
        m.monitor_memory_usage(get_hub())
        m.monitor_memory_usage(get_hub())        # still over: no second event
        config.max_memory_usage = usage * 100
        m.monitor_memory_usage(get_hub())
    finally:
        config.reset('max_memory_usage')
    mem = [e for e in got if not isinstance(e, (events.EventLoopBlocked,
                                                events.PeriodicMonitorThreadStartedEvent))]
    assert [type(e) for e in mem] == [events.MemoryUsageThresholdExceeded,
                                      events.MemoryUsageUnderThreshold]
    assert mem[1].max_memory_usage >= usage // 2


def test_add_monitoring_function_runs_it_in_the_monitor_thread(watch):
    m, buf, got = watch
    calls = []
    import _thread
    m.add_monitoring_function(lambda hub: calls.append((hub, _thread.get_ident())), 0.02)
    for _ in range(100):            # at most ~2 s on a loaded machine
        if len(calls) >= 3:
            break
        gevent_lite.sleep(0.02)
    assert len(calls) >= 3
    assert calls[0][0] is get_hub()
    assert calls[0][1] == m.thread_ident
    with pytest.raises(ValueError):
        m.add_monitoring_function(print, -1)


def test_started_event_is_sent(watch):
    m, buf, got = watch
    assert any(isinstance(e, events.PeriodicMonitorThreadStartedEvent) and e.monitor is m
               for e in got)


def test_monitor_started_through_the_hub_plugs_in_on_demand_and_never_keeps_the_interpreter_alive():
    code = textwrap.dedent('''
        import time, sys
        real_sleep = time.sleep
        import gevent_lite
        assert 'gevent_lite.monitor' not in sys.modules     # imported on first use only
        m = gevent_lite.get_hub().start_periodic_monitoring_thread()
        assert type(m).__module__ == 'gevent_lite.monitor'
        def blocker():
            real_sleep(0.3)
        gevent_lite.spawn(blocker).join()
        print("done", flush=True)
    ''')
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'done'
    assert proc.stderr.count('appears to be blocked') == 1
    assert 'in blocker' in proc.stderr
    assert time.monotonic() - t0 < 10


def test_config_monitor_thread_env_with_explicit_start_from_gevent_spelling():
    code = textwrap.dedent('''
        from gevent_lite.config import config
        print(config.monitor_thread, config.max_blocking_time)
    ''')
    env = {'GEVENT_MONITOR_THREAD_ENABLE': '1', 'GEVENT_MAX_BLOCKING_TIME': '0.2',
           'PATH': '/usr/bin:/bin'}
    import os
    env['PYTHONPATH'] = os.pathsep.join(p for p in sys.path if p)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=30, env=env)
    assert out.stdout.split() == ['True', '0.2'], out.stderr


def test_hub_method_starts_the_monitor_once_as_gevent_spells_it():
    hub = get_hub()
    buf = io.StringIO()
    m = hub.start_periodic_monitoring_thread(stream=buf)
    try:
        assert hub.periodic_monitoring_thread is m and m.is_alive()
        assert hub.start_periodic_monitoring_thread() is m      # already running: same one
        g = gevent_lite.spawn(blocking_function_under_test)
        g.join(timeout=5)
        deadline = time.monotonic() + 2
        while 'blocking_function_under_test' not in buf.getvalue() and time.monotonic() < deadline:
            gevent_lite.sleep(0.05)
        assert 'blocking_function_under_test' in buf.getvalue()
    finally:
        m.kill()


def test_reported_blocking_time_is_never_below_max_blocking_time():
    # Measured on the monitor loop's own clock readings, two checks are at least a
    # period apart, so scheduling jitter of the monitor thread cannot make a report
    # claim less than max_blocking_time (3.9 once reported 0.049 s for 0.05 s).
    got = []
    events.subscribers.append(got.append)
    old = config.max_blocking_time
    config.max_blocking_time = 0.03
    m = monitor.start_periodic_monitoring_thread(stream=io.StringIO())
    try:
        for _ in range(6):
            gevent_lite.spawn(_real_sleep, 0.12).join(timeout=5)
            gevent_lite.sleep(0.05)           # switches: the next block is a new incident
        times = [e.blocking_time for e in _blocked(got)]
    finally:
        m.kill()
        events.subscribers.remove(got.append)
        config.max_blocking_time = old
    assert len(times) >= 4, times
    assert min(times) >= 0.03, times


def test_monitor_starts_when_a_hub_first_runs_and_reports_go_to_its_exception_stream():
    # gevent's rules: with config.monitor_thread on, a hub gets its monitor when it
    # first runs (a thread that only asks for its hub has none), a function added
    # with add_monitoring_function is first called at the next check, and reports
    # are written to hub.exception_stream.
    code = textwrap.dedent('''
        import io, threading, time
        real_sleep = time.sleep
        import gevent_lite
        from gevent_lite.config import config
        config.monitor_thread = True
        config.max_blocking_time = 0.1
        seen = {}
        def worker():
            hub = gevent_lite.get_hub()
            seen['before'] = hub.periodic_monitoring_thread
            hub.exception_stream = io.StringIO()
            gevent_lite.sleep(0.01)
            m = seen['monitor'] = hub.periodic_monitoring_thread
            calls = []
            m.add_monitoring_function(lambda h: calls.append(time.monotonic()), 5)
            t0 = time.monotonic()
            def blocker():
                real_sleep(0.5)
            gevent_lite.spawn(blocker).join()
            seen['first_call_after'] = calls[0] - t0 if calls else None
            seen['report'] = hub.exception_stream.getvalue()
            m.kill()
        t = threading.Thread(target=worker)
        t.start(); t.join(20)
        assert seen['before'] is None, seen
        assert seen['monitor'] is not None
        assert seen['first_call_after'] is not None and seen['first_call_after'] < 2, seen
        assert 'appears to be blocked' in seen['report'] and 'in blocker' in seen['report']
        gevent_lite.get_hub().exception_stream  # sys.stderr when not assigned
        print('ok')
    ''')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == 'ok', proc.stdout + proc.stderr


def test_hub_errors_are_printed_to_the_assigned_exception_stream():
    hub = get_hub()
    buf = io.StringIO()
    hub.exception_stream = buf
    try:
        def fails():
            raise ValueError('to the stream')
        gevent_lite.spawn(fails).join()
        assert 'to the stream' in buf.getvalue() and 'failed with ValueError' in buf.getvalue()
    finally:
        del hub.exception_stream
    assert hub.exception_stream is sys.stderr


def test_a_lock_deadlock_is_a_loop_exit_though_the_monitor_thread_runs():
    # The monitor is an OS thread of gevent_lite's own: it releases no lock of the
    # program's, so a deadlock of the main greenlet is reported, not waited out.
    code = textwrap.dedent('''
        import faulthandler
        faulthandler.dump_traceback_later(20, exit=True)
        import gevent_lite
        from gevent_lite.config import config
        from gevent_lite.hub import LoopExit, get_hub
        from gevent_lite.lock import Lock
        config.monitor_thread = True
        gevent_lite.sleep(0)               # the hub runs: its monitor starts
        assert get_hub().periodic_monitoring_thread is not None
        import sys, time
        for _ in range(100):               # bounded: until the monitor thread runs
            if len(sys._current_frames()) == 2:
                break
            time.sleep(0.01)
        assert len(sys._current_frames()) == 2
        lock = Lock()
        lock.acquire()
        try:
            lock.acquire()
        except LoopExit:
            print('LoopExit')
    ''')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == 'LoopExit', out.stdout + out.stderr
