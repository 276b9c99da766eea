import os
import signal as std_signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import _helpers as helpers

import gevent_lite
import gevent_lite.signal as gsignal
from gevent_lite.event import Event

pytestmark = pytest.mark.skipif(not hasattr(std_signal, 'SIGUSR1'), reason='POSIX only')

USR1, USR2 = std_signal.SIGUSR1, std_signal.SIGUSR2


@pytest.fixture(autouse=True)
def restore_handlers():
    saved = {n: std_signal.getsignal(n) for n in (USR1, USR2)}
    yield
    for n, h in saved.items():
        std_signal.signal(n, h if h is not None else std_signal.SIG_DFL)
    gsignal._trampolines.clear()


def _wait_for(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        gevent_lite.sleep(0.005)
    return cond()


def test_reexports_stdlib_names():
    assert gsignal.SIGUSR1 == std_signal.SIGUSR1
    assert gsignal.SIG_DFL is std_signal.SIG_DFL
    assert gsignal.Signals is std_signal.Signals
    assert gsignal.signal is not std_signal.signal
    assert 'signal' in gsignal.__all__ and 'signal_handler' in gsignal.__all__
    assert gevent_lite.signal_handler is gsignal.signal_handler


def test_handler_runs_in_a_greenlet_and_may_sleep_while_hub_keeps_working():
    seen = []
    ticks = []

    def handler(signum, frame):
        seen.append(('start', signum, frame is not None or frame is None))
        gevent_lite.sleep(0.05)             # would be BlockingSwitchOutError in the hub
        seen.append(('end', gevent_lite.getcurrent() is not gevent_lite.get_hub()))

    def ticker():
        for _ in range(100):
            ticks.append(time.monotonic())
            gevent_lite.sleep(0.01)

    gsignal.signal(USR1, handler)
    t = gevent_lite.spawn(ticker)
    gevent_lite.sleep(0.02)
    os.kill(os.getpid(), USR1)
    gevent_lite.sleep(0.2)                  # the main greenlet sleeps meanwhile
    assert seen == [('start', USR1, True), ('end', True)]
    n = len(ticks)
    gevent_lite.sleep(0.05)
    assert len(ticks) > n                   # the hub keeps working afterwards
    t.kill()


def test_handler_gets_signum_and_frame():
    # gevent#1529: handlers were called without arguments.
    got = []
    gsignal.signal(USR1, lambda signum, frame: got.append((signum, type(frame).__name__)))
    os.kill(os.getpid(), USR1)
    assert _wait_for(lambda: got)
    assert got == [(USR1, 'frame')]


def test_handler_can_wait_cooperatively_on_an_event():
    # gevent#799: a handler that waits must not hit BlockingSwitchOutError.
    ev = Event()
    done = []

    def handler(signum, frame):
        ev.wait(timeout=5)
        done.append(ev.is_set())

    gsignal.signal(USR1, handler)
    # Sent while the main greenlet waits (the hub polls): the handler gets its own greenlet.
    threading.Timer(0.02, os.kill, (os.getpid(), USR1)).start()
    gevent_lite.sleep(0.2)
    assert done == []
    ev.set()
    assert _wait_for(lambda: done)
    assert done == [True]


def test_handler_for_signal_during_a_wait_runs_in_its_own_greenlet():
    where = []

    def handler(signum, frame):
        where.append(gevent_lite.getcurrent())
        gevent_lite.sleep(0.01)
        where.append('slept')

    gsignal.signal(USR1, handler)
    main = gevent_lite.getcurrent()
    threading.Timer(0.05, os.kill, (os.getpid(), USR1)).start()
    # The main greenlet waits (the hub polls) until the handler has run and slept;
    # a loaded machine may start the timer thread late, hence a wait, not a fixed sleep.
    assert _wait_for(lambda: len(where) == 2)
    assert where[1] == 'slept'
    assert where[0] is not main and where[0] is not gevent_lite.get_hub()


def test_handler_interrupting_busy_user_code_runs_at_once_and_can_raise():
    # A computation that never yields must not starve the handler, and the
    # classic "raise from the handler to stop it" works as in the stdlib.
    class Stop(Exception):
        pass

    def on_alarm(signum, frame):
        raise Stop()

    old = gsignal.signal(std_signal.SIGALRM, on_alarm)
    try:
        start = time.monotonic()
        std_signal.setitimer(std_signal.ITIMER_REAL, 0.05)
        with pytest.raises(Stop):
            while time.monotonic() - start < 5:
                sum(range(1000))
        assert time.monotonic() - start < 1.0
    finally:
        std_signal.setitimer(std_signal.ITIMER_REAL, 0)
        gsignal.signal(std_signal.SIGALRM, old if old is not None else std_signal.SIG_DFL)


def test_signal_wakes_a_hub_blocked_in_the_poller():
    got = []
    gsignal.signal(USR1, lambda s, f: got.append(time.monotonic()))
    threading.Timer(0.1, os.kill, (os.getpid(), USR1)).start()
    start = time.monotonic()
    # The hub sleeps in epoll for up to 2 s; the handler must run at ~0.1 s.
    gevent_lite.spawn_later(2.0, lambda: None)
    assert _wait_for(lambda: got, timeout=3)
    assert got[0] - start < 1.0


def test_getsignal_and_previous_handler_semantics():
    def h1(s, f):
        pass

    def h2(s, f):
        pass

    prev = gsignal.signal(USR1, h1)
    assert prev == std_signal.SIG_DFL
    assert gsignal.getsignal(USR1) is h1
    assert gsignal.signal(USR1, h2) is h1
    assert gsignal.getsignal(USR1) is h2
    assert gsignal.signal(USR1, std_signal.SIG_IGN) is h2
    assert std_signal.getsignal(USR1) == std_signal.SIG_IGN      # straight to the OS
    os.kill(os.getpid(), USR1)                                   # ignored: no crash
    gevent_lite.sleep(0.01)
    assert gsignal.getsignal(USR1) == std_signal.SIG_IGN


def test_bad_arguments_raise_clear_errors():
    # gevent#275: an invalid signal number aborted the process.
    with pytest.raises(ValueError):
        gsignal.signal(12345, lambda s, f: None)
    with pytest.raises(ValueError):
        gevent_lite.signal_handler(0, lambda: None)
    with pytest.raises(TypeError):
        gsignal.signal(USR1, 'not callable')
    with pytest.raises(TypeError):
        gsignal.signal('USR1', lambda s, f: None)
    with pytest.raises(TypeError):
        gevent_lite.signal_handler(USR1, None)


def test_signal_from_non_main_thread_is_refused_like_stdlib():
    errors = []

    def install():
        try:
            gsignal.signal(USR1, lambda s, f: None)
        except ValueError as e:
            errors.append(e)

    th = threading.Thread(target=install)
    th.start()
    th.join()
    assert len(errors) == 1


def test_signal_handler_object_with_args_and_cancel():
    calls = []
    w = gevent_lite.signal_handler(USR2, lambda *a, **k: calls.append((a, k)), 1, x=2)
    os.kill(os.getpid(), USR2)
    assert _wait_for(lambda: calls)
    assert calls == [((1,), {'x': 2})]
    w.cancel()
    w.cancel()                                   # idempotent
    assert not w.active
    assert std_signal.getsignal(USR2) == std_signal.SIG_DFL    # previous restored


def test_several_watchers_and_a_signal_handler_all_fire():
    calls = []
    w1 = gevent_lite.signal_handler(USR2, calls.append, 'w1')
    w2 = gevent_lite.signal_handler(USR2, calls.append, 'w2')
    gsignal.signal(USR2, lambda s, f: calls.append('sig'))
    os.kill(os.getpid(), USR2)
    assert _wait_for(lambda: len(calls) == 3)
    assert sorted(calls) == ['sig', 'w1', 'w2']
    w1.cancel()
    w2.cancel()
    # The signal.signal handler remains installed after the watchers leave.
    calls.clear()
    os.kill(os.getpid(), USR2)
    assert _wait_for(lambda: calls)
    assert calls == ['sig']


def test_exception_from_handler_during_a_wait_surfaces_in_the_main_greenlet():
    # As without gevent_lite: the exception comes out of the call the main
    # thread (here: the main greenlet) was blocked in.
    def bad(s, f):
        raise RuntimeError('handler failed')

    gsignal.signal(USR1, bad)
    threading.Timer(0.05, os.kill, (os.getpid(), USR1)).start()
    start = time.monotonic()
    with pytest.raises(RuntimeError, match='handler failed'):
        gevent_lite.sleep(2)                     # the signal arrives during this wait
    assert time.monotonic() - start < 1.0
    t0 = time.monotonic()
    gevent_lite.sleep(0.05)                      # the hub still works
    assert time.monotonic() - t0 >= 0.04



def test_sys_exit_in_handler_reaches_the_main_greenlet():
    proc = helpers.run_python('''
        import os, signal, sys
        import gevent_lite, gevent_lite.signal as gs
        import threading
        gs.signal(signal.SIGUSR1, lambda s, f: sys.exit(7))
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR1)).start()
        try:
            gevent_lite.sleep(5)
        except SystemExit as e:
            print('caught', e.code)
            raise
        print('not reached')
    ''')
    assert proc.stdout.strip() == 'caught 7'
    assert proc.returncode == 7



def test_default_sigint_while_hub_polls_reaches_main_and_hub_survives():
    # SIGINT's default handler raises KeyboardInterrupt on top of whatever runs;
    # when that is the hub (blocked in the poller) the hub must not die with it.
    proc = helpers.run_python('''
        import os, signal, threading, time
        import gevent_lite
        # Started in the background by a shell, we may inherit SIGINT ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            gevent_lite.sleep(2)
            print('no interrupt')
        except KeyboardInterrupt:
            print('interrupted')
        hub = gevent_lite.get_hub()
        t0 = time.monotonic()
        gevent_lite.sleep(0.1)
        print(hub.dead, round(time.monotonic() - t0, 1))
    ''')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ['interrupted', 'False', '0.1'], proc.stdout + proc.stderr


def test_signal_handler_with_ref_keeps_the_hub_waiting_for_the_signal():
    code = textwrap.dedent('''
        import signal, time
        import gevent_lite
        from gevent_lite.hub import get_hub
        got = []
        def on_alarm():
            got.append(1)
            sig.cancel()                 # drops the reference: the hub may end now
        sig = gevent_lite.signal_handler(signal.SIGALRM, on_alarm)
        assert sig.ref is False
        sig.ref = True
        assert sig.ref is True
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        t0 = time.monotonic()
        get_hub().join(timeout=10)       # without ref it would return at once
        assert got == [1], got
        assert 0.2 < time.monotonic() - t0 < 5
        print('ok')
    ''')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == 'ok', out.stderr


def test_patched_signal_functions_report_the_signal_module_and_still_work():
    # pydoc lists a module's functions by their __module__ (CPython's
    # test_signal.test_functions_module_attr checks it under patching).
    proc = helpers.run_python('''
        import importlib, inspect, os, signal, sys
        from gevent_lite import monkey
        import gevent_lite, gevent_lite.signal as gs
        monkey.patch_signal()
        wrong = [n for n in dir(signal) if inspect.isroutine(getattr(signal, n))
                 and not inspect.isbuiltin(getattr(signal, n))
                 and getattr(signal, n).__module__ != 'signal']
        print('wrong', wrong)
        print('ours', gs.signal.__module__, gs.getsignal.__module__)
        print('green', signal.signal.__code__ is gs.signal.__code__)
        installed = signal.signal
        monkey.patch_signal()                       # idempotent: the same object
        print('same', signal.signal is installed)
        got = []
        def handler(signum, frame):
            got.append(signum)
        signal.signal(signal.SIGUSR1, handler)
        print('getsignal', signal.getsignal(signal.SIGUSR1) is handler)
        os.kill(os.getpid(), signal.SIGUSR1)
        for _ in range(200):
            if got:
                break
            gevent_lite.sleep(0.01)
        print('got', got == [signal.SIGUSR1])
        fresh = importlib.reload(signal)            # a fresh execution keeps the patch
        print('reload', fresh.signal is installed)
    ''')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split('\n')[:-1] == [
        'wrong []', 'ours gevent_lite.signal gevent_lite.signal', 'green True', 'same True',
        'getsignal True', 'got True', 'reload True'], proc.stdout + proc.stderr


def test_sigchld_handler_error_is_printed_and_the_program_goes_on():
    # As in gevent: a child's exit does not interrupt the main program. The
    # handler runs in its own greenlet (it may sleep) and its error is reported
    # like any greenlet's, not raised in the main greenlet.
    code = textwrap.dedent('''
        import signal, subprocess, sys
        import gevent_lite
        from gevent_lite import monkey
        monkey.patch_all()
        calls = []
        def on_child(signum, frame):
            gevent_lite.sleep(0)
            calls.append(signum)
            raise TypeError('printed, not raised')
        signal.signal(signal.SIGCHLD, on_child)
        p = subprocess.Popen([sys.executable, '-c', 'pass'])
        p.wait()
        for _ in range(200):             # bounded: at most 2 s
            if calls:
                break
            gevent_lite.sleep(0.01)
        gevent_lite.sleep(0.05)
        print('main went on', calls[:1] == [signal.SIGCHLD])
    ''')
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert 'main went on True' in res.stdout
    assert 'TypeError: printed, not raised' in res.stderr


def test_signal_handler_callback_error_is_printed_and_raised_in_the_main_greenlet(capsys):
    # gevent's signal_handler: the callback's error reaches the main greenlet
    # (out of the call it waits in), and the watcher stays installed.
    class Expected(Exception):
        pass

    def fail():
        raise Expected('from the callback')

    w = gevent_lite.signal_handler(USR1, fail)
    try:
        for _ in range(2):
            threading.Timer(0.05, os.kill, (os.getpid(), USR1)).start()
            start = time.monotonic()
            with pytest.raises(Expected, match='from the callback'):
                gevent_lite.sleep(3)
            assert time.monotonic() - start < 2.5
    finally:
        w.cancel()
    assert 'Expected: from the callback' in capsys.readouterr().err
