"""gevent_lite.preempt: green threads that overrun their time slice are switched out at a
loop back-edge (Python 3.12+: in every thread, with sys.monitoring; 3.9 - 3.11: in the main
thread, through a signal); plain greenlets and the hub are not. Each case runs in a fresh
interpreter that patches first, with a watchdog that fails it instead of hanging."""

import sys
import textwrap

import pytest
from _helpers import check_python

CPYTHON = sys.implementation.name == 'cpython'
ALL_THREADS = sys.version_info >= (3, 12) and CPYTHON
# Before 3.12 the main thread is preempted through a real-time signal (Linux has them).
SIGNALS = not ALL_THREADS and CPYTHON and sys.platform.startswith('linux')
needs_preemption = pytest.mark.skipif(not (ALL_THREADS or SIGNALS),
                                      reason='preemption needs CPython 3.12+, or 3.9+ on Linux')
needs_signals = pytest.mark.skipif(not SIGNALS, reason='the signal path is used before 3.12 only')

# Prepended to every script: a real timer thread that exits with status 3 (and the
# stacks) if the script hangs, so a regression fails fast instead of timing out.
PRELUDE = '''
import faulthandler, sys
faulthandler.dump_traceback_later(20, exit=True)
'''


def check(code, timeout=60, env_extra=None):
    return check_python(PRELUDE + textwrap.dedent(code), timeout=timeout, env=env_extra)


@needs_preemption
def test_busy_wait_handshake_between_two_patched_threads_completes():
    # Each side spins in a loop that never yields until the other side's flag is set:
    # real threads manage because the OS preempts them; green ones did hang.
    out = check('''
        from gevent_lite import monkey; monkey.patch_all()
        import threading, time
        from gevent_lite import preempt
        assert preempt.is_enabled()
        flags = {'a': False, 'b': False}
        def other():
            while not flags['b']:
                pass
            flags['a'] = True
        for _ in range(3):
            flags['a'] = flags['b'] = False
            t = threading.Thread(target=other); t.start()
            time.sleep(0.01)            # let it start spinning
            flags['b'] = True
            while not flags['a']:       # the main thread spins too
                pass
            t.join()
        stats = preempt.statistics()
        assert stats['preemptions'] >= 3, stats
        print('ok', stats)
    ''')
    assert out.startswith('ok')


@needs_preemption
def test_main_thread_spinning_until_a_thread_starts_and_a_tight_loop_is_interrupted():
    # CPython's test_threading InterruptMainTests.test_can_interrupt_tight_loops.
    check('''
        from gevent_lite import monkey; monkey.patch_all()
        import threading
        cont, started, interrupted = [True], [False], [False]
        def worker():
            iterations = 100_000_000
            started[0] = True
            while cont[0]:
                if iterations:
                    iterations -= 1
                else:
                    return
            interrupted[0] = True
        t = threading.Thread(target=worker)
        t.start()
        while not started[0]:
            pass
        cont[0] = False
        t.join()
        assert interrupted[0], 'the worker ran its 100M iterations without the main thread running'
    ''')


@needs_preemption
def test_plain_spawned_greenlets_are_not_preempted_unless_the_config_opts_in():
    script = '''
        from gevent_lite import monkey; monkey.patch_all()
        import time
        import gevent_lite
        from gevent_lite import preempt
        ran_during_busy = []
        busy_until = [0]
        def busy():
            busy_until[0] = time.monotonic() + 0.3
            while time.monotonic() < busy_until[0]:
                pass
        def other():
            for _ in range(50):
                if busy_until[0] and time.monotonic() < busy_until[0]:
                    ran_during_busy.append(1)
                gevent_lite.sleep(0.005)
        g1 = gevent_lite.spawn(busy); g2 = gevent_lite.spawn(other)
        gevent_lite.joinall([g1, g2])
        print('ran_during_busy=%d preemptions=%d' % (len(ran_during_busy),
                                                      preempt.statistics()['preemptions']))
    '''
    out = check(script)
    assert 'ran_during_busy=0 preemptions=0' in out, out
    out = check(script, env_extra={'GEVENT_LITE_PREEMPT_GREENLETS': '1'})
    counts = dict(kv.split('=') for kv in out.split())
    assert int(counts['ran_during_busy']) >= 3 and int(counts['preemptions']) >= 3, out


@needs_preemption
def test_the_hub_and_its_callbacks_are_never_preempted():
    check('''
        from gevent_lite import monkey; monkey.patch_all()
        import time
        import gevent_lite
        from gevent_lite import preempt
        hub = gevent_lite.get_hub()
        order = []
        def busy_callback():
            end = time.monotonic() + 0.3
            while time.monotonic() < end:
                pass
            order.append('callback done')
        def other():
            order.append('greenlet')
        hub.run_callback(busy_callback)
        gevent_lite.spawn(other)
        gevent_lite.sleep(0.05)
        gevent_lite.sleep(0.05)
        assert order == ['callback done', 'greenlet'], order
        assert preempt.statistics()['preemptions'] == 0, preempt.statistics()
    ''')


@needs_preemption
def test_nothing_is_armed_while_nothing_overruns():
    # Cooperative work (switching every few microseconds) never arms an event.
    check('''
        from gevent_lite import monkey; monkey.patch_all()
        import threading, time, sys
        from gevent_lite import preempt
        def worker():
            for _ in range(20000):
                time.sleep(0)
        time.sleep(0.05)      # start-up (patching, imports) may have overrun: not counted
        before = preempt.statistics()
        ts = [threading.Thread(target=worker) for _ in range(4)]
        for t in ts: t.start()
        for t in ts: t.join()
        stats = preempt.statistics()
        # (before 3.12 'arms' counts the signals sent: none either)
        assert stats['arms'] == before['arms'] and stats['armed'] == 0, (before, stats)
        assert stats['preemptions'] == before['preemptions'], (before, stats)
        assert stats['checks'] > before['checks'], (before, stats)
        if preempt.ALL_THREADS:
            for code in (worker.__code__,):
                assert sys.monitoring.get_local_events(preempt._tool_id, code) == 0
    ''')


@needs_preemption
def test_a_timeout_reaches_a_preempted_thread_at_its_back_edge():
    check('''
        from gevent_lite import monkey; monkey.patch_all()
        import threading
        from gevent_lite import Timeout
        result = []
        def spinner():
            try:
                with Timeout(0.2):
                    while True:
                        pass
            except Timeout:
                result.append('timed out')
        t = threading.Thread(target=spinner); t.start(); t.join()
        assert result == ['timed out'], result
    ''')


@needs_preemption
def test_the_monitor_reports_when_and_where_a_thread_was_preempted():
    out = check('''
        from gevent_lite import monkey; monkey.patch_all()
        import io, threading, time
        import gevent_lite
        from gevent_lite.monitor import start_periodic_monitoring_thread
        stream = io.StringIO()
        start_periodic_monitoring_thread(gevent_lite.get_hub(), stream)
        done = [False]
        def spinner():
            while not done[0]:
                pass
        t = threading.Thread(target=spinner); t.start()
        time.sleep(0.05)
        done[0] = True
        t.join()
        time.sleep(0.3)             # at least one monitor period
        print(stream.getvalue())
    ''')
    assert 'was preempted at' in out and 'in spinner' in out and 'without yielding' in out, out


@needs_preemption
def test_preemption_can_be_turned_off_with_a_negative_time_slice():
    check('''
        from gevent_lite import monkey; monkey.patch_all()
        from gevent_lite import preempt
        assert not preempt.is_enabled() and preempt.statistics() == {}
        assert preempt.enable() is False
    ''', env_extra={'GEVENT_LITE_PREEMPT_TIME_SLICE': '-1'})


@needs_signals
def test_before_312_only_the_main_threads_hub_is_preempted():
    out = check('''
        from gevent_lite import monkey; monkey.patch_all()
        import signal
        from gevent_lite import preempt, hub
        assert preempt.SUPPORTED and not preempt.ALL_THREADS
        assert preempt.is_enabled() and signal.getsignal(preempt.SIGNAL) is preempt._on_signal
        start = monkey.get_original('_thread', 'start_new_thread')
        lock = monkey.get_original('_thread', 'allocate_lock')()
        lock.acquire()
        result = []
        def in_a_real_thread():
            try:
                result.append((preempt.enable(hub.get_hub()), preempt.UNAVAILABLE,
                               preempt.is_enabled()))
            finally:
                lock.release()
        start(in_a_real_thread, ())
        lock.acquire()
        enabled, why, is_on = result[0]
        assert enabled is False and is_on is False and 'main thread' in why, result
        print('ok')
    ''')
    assert out.startswith('ok')


@needs_signals
def test_before_312_a_handler_the_user_installed_for_the_signal_is_respected():
    # Installed before patching: preemption stays off and says why; installed after:
    # the watcher stops sending rather than calling the user's handler.
    out = check('''
        import signal, time
        from gevent_lite import preempt
        calls = []
        def mine(signum, frame):
            calls.append(signum)
        signal.signal(preempt.SIGNAL, mine)
        from gevent_lite import monkey; monkey.patch_all()
        assert not preempt.is_enabled() and 'already has a handler' in preempt.UNAVAILABLE
        assert signal.getsignal(preempt.SIGNAL) is mine
        print('before ok')
    ''')
    assert out.startswith('before ok'), out
    out = check('''
        from gevent_lite import monkey; monkey.patch_all()
        import signal, threading, time
        from gevent_lite import preempt
        time.sleep(0.05)                  # the hub runs: its watcher is on
        assert preempt.is_enabled() and preempt.statistics()['checks'] > 0
        calls = []
        def mine(signum, frame):
            calls.append(signum)
        signal.signal(preempt.SIGNAL, mine)
        end = time.monotonic() + 0.5
        while time.monotonic() < end:     # overruns: the watcher notices the new handler
            pass
        time.sleep(0.05)
        assert calls == [], calls
        assert 'replaced' in preempt.UNAVAILABLE, preempt.UNAVAILABLE
        assert not preempt.is_enabled()
        assert signal.getsignal(preempt.SIGNAL) is mine
        print('after ok')
    ''')
    assert out.startswith('after ok'), out


@needs_signals
def test_before_312_native_blocking_calls_interrupted_by_the_signal_complete_normally():
    # The main greenlet blocks the hub in native calls (unpatched sleep, a pipe read)
    # for longer than a slice: the watcher keeps signalling; the calls are interrupted,
    # retried and return what they would have, and nothing is preempted inside them.
    out = check('''
        from gevent_lite import monkey; monkey.patch_all()
        import os
        from gevent_lite import preempt
        native_sleep = monkey.get_original('time', 'sleep')
        native_read = monkey.get_original('os', 'read')
        start = monkey.get_original('_thread', 'start_new_thread')
        monotonic = monkey.get_original('time', 'monotonic')
        import time; time.sleep(0.02)     # the hub's first turn starts its watcher
        before = preempt.statistics()
        t0 = monotonic()
        native_sleep(0.3)
        slept = monotonic() - t0
        r, w = os.pipe()
        start(lambda: (native_sleep(0.3), os.write(w, b'data')), ())
        got = native_read(r, 10)
        stats = preempt.statistics()
        assert 0.29 <= slept < 5, slept
        assert got == b'data', got
        assert stats['arms'] > before['arms'], (before, stats)       # signals were sent
        assert stats['preemptions'] == before['preemptions'], (before, stats)
        print('ok', stats)
    ''')
    assert out.startswith('ok'), out


@needs_signals
def test_before_312_disable_removes_the_signal_handler():
    out = check('''
        from gevent_lite import monkey; monkey.patch_all()
        import signal
        from gevent_lite import preempt
        assert signal.getsignal(preempt.SIGNAL) is preempt._on_signal
        preempt.disable()
        assert signal.getsignal(preempt.SIGNAL) is signal.SIG_DFL
        assert not preempt.is_enabled()
        assert preempt.enable() is True and preempt.is_enabled()
        assert signal.getsignal(preempt.SIGNAL) is preempt._on_signal
        print('ok')
    ''')
    assert out.startswith('ok'), out


@needs_preemption
def test_disable_stops_the_watcher_and_a_later_hub_of_the_thread_is_not_preempted():
    out = check('''
        from gevent_lite import monkey; monkey.patch_all()
        from gevent_lite import preempt, hub
        assert preempt.is_enabled()
        preempt.disable()
        assert not preempt.is_enabled() and preempt.statistics() == {}
        hub.get_hub().destroy()
        hub.get_hub()                  # a new hub of this thread: still off
        assert not preempt.is_enabled()
        print('ok')
    ''')
    assert out.startswith('ok')


@needs_preemption
def test_an_idle_hub_is_looked_at_about_once_per_idle_check_interval():
    # Two idle seconds: at IDLE_CHECK_INTERVAL (0.1 s) about 20 looks, plus the
    # first few at half a slice; a watcher that kept looking every half slice
    # (5 ms by default) would make hundreds.
    out = check('''
        from gevent_lite import monkey; monkey.patch_all()
        import time
        from gevent_lite import preempt
        time.sleep(0.2)
        before = preempt.statistics()['checks']
        time.sleep(2.0)
        looks = preempt.statistics()['checks'] - before
        assert preempt.IDLE_CHECK_INTERVAL == 0.1
        assert 0 < looks <= 60, looks
        print('ok', looks)
    ''')
    assert out.startswith('ok')


@needs_preemption
def test_disable_before_a_new_hubs_first_turn_keeps_its_watcher_from_starting():
    # A new hub's watcher starts on the hub's first turn; a disable() before that
    # turn is the last word, not undone by the start that was due.
    out = check('''
        from gevent_lite import monkey; monkey.patch_all()
        import time
        from gevent_lite import preempt, hub
        hub.get_hub()                  # made now: its watcher is due on its first turn
        preempt.disable()
        time.sleep(0.05)               # the hub's first turns
        assert not preempt.is_enabled(), preempt.statistics()
        assert preempt.statistics() == {}
        print('ok')
    ''')
    assert out.startswith('ok')


@needs_preemption
def test_a_lock_deadlock_is_a_loop_exit_though_a_preemption_watcher_thread_runs():
    # The watcher is an OS thread of gevent_lite's own: it releases no lock, so
    # a deadlock of the main greenlet is still reported, not waited out for ever.
    out = check('''
        from gevent_lite import monkey; monkey.patch_all()
        import threading, time
        from gevent_lite import preempt
        from gevent_lite.hub import LoopExit
        time.sleep(0.05)               # the watcher thread runs
        assert preempt.statistics(), 'no watcher'
        lock = threading.Lock()
        lock.acquire()
        try:
            lock.acquire()
        except LoopExit:
            print('ok')
    ''', timeout=60)
    assert out.startswith('ok')


@needs_preemption
def test_a_forked_child_has_one_thread_at_first_and_is_still_preempted_after_its_first_wait():
    # Right after fork the child has only the forking thread (sys._current_frames(),
    # as CPython's test_clear_threads_states_after_fork checks): the child's watcher
    # starts on its hub's first turn, and from then on a spinning thread is preempted.
    out = check('''
        from gevent_lite import monkey; monkey.patch_all()
        import os, sys, threading, time
        from gevent_lite import preempt
        assert preempt.is_enabled()
        time.sleep(0.05)                 # the parent's watcher runs
        for _ in range(5):
            pid = os.fork()
            if pid == 0:
                if len(sys._current_frames()) != 1:
                    os._exit(52)
                flags = {'a': False, 'b': False}
                def other():
                    while not flags['b']:
                        pass
                    flags['a'] = True
                t = threading.Thread(target=other); t.start()
                time.sleep(0.01)
                flags['b'] = True
                while not flags['a']:
                    pass
                t.join()
                os._exit(51 if preempt.statistics()['preemptions'] >= 1 else 53)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 51, os.waitstatus_to_exitcode(status)
        print('ok')
    ''')
    assert out.startswith('ok')
