"""threading after monkey.patch_thread(): Thread, locks, Condition, Event, Barrier, Timer,
local, queue and ThreadPoolExecutor cooperate; each test runs in a fresh patched process."""

import os
import sys

import pytest

from _helpers import check_patched, run_patched

# Exit-path tests run on the interpreter running the suite: CI runs the whole suite
# on 3.9, 3.11 and 3.13 (threading's exit internals differ between them), each in a
# venv that has greenlet. Other interpreters on the machine need not have it.
PYTHONS = {'%d.%d.%d' % sys.version_info[:3]: sys.executable}


def check(code, **kw):
    res = run_patched(code, **kw)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_threads_run_concurrently_as_greenlets_and_join():
    out = check('''
        import threading, time
        results = []
        ts = [threading.Thread(target=lambda i=i: (time.sleep(0.5), results.append(i))) for i in range(20)]
        t0 = time.monotonic()
        for t in ts: t.start()
        for t in ts: t.join()
        assert sorted(results) == list(range(20)), results
        print(round(time.monotonic() - t0, 2))
    ''')
    assert float(out) < 2.0


def test_current_thread_in_main_and_spawned_threads_no_dummy_left():
    check('''
        import threading, gevent_lite
        assert threading.current_thread() is threading.main_thread()
        assert threading.current_thread().name == 'MainThread'
        seen = []
        def f():
            seen.append((threading.current_thread(), threading.get_ident()))
        t = threading.Thread(target=f, name='worker')
        t.start(); t.join()
        assert seen[0][0] is t and seen[0][1] == t.ident
        assert not any(isinstance(x, threading._DummyThread) for x in threading.enumerate())
        # A plain greenlet gets a dummy thread that goes away with the greenlet.
        g = gevent_lite.spawn(lambda: threading.current_thread().name)
        assert g.get().startswith('Dummy')
        gevent_lite.sleep(0.01)
        import gc; gc.collect()
        assert not any(isinstance(x, threading._DummyThread) for x in threading.enumerate()), threading.enumerate()
        assert threading.active_count() == 1
    ''')


@pytest.mark.parametrize('version', sorted(PYTHONS))
def test_dummy_of_a_start_new_thread_green_thread_lives_as_long_as_the_stdlib_keeps_it(version):
    # _thread.start_new_thread greenlets are "foreign threads": 3.9 - 3.12 keep their
    # dummy in threading._active for ever, 3.13 drops it when the thread ends.
    out = check('''
        import _thread, sys, threading, gc, gevent_lite
        done = threading.Event()
        def f():
            threading.current_thread()
            done.set()
        tid = _thread.start_new_thread(f, ())
        done.wait()
        gevent_lite.sleep(0.01)
        gc.collect()
        dummy = threading._active.get(tid)
        if sys.version_info < (3, 13):
            assert isinstance(dummy, threading._DummyThread) and dummy.is_alive(), dummy
            del threading._active[tid]
        else:
            assert dummy is None, dummy
        # Spawned greenlets' dummies still go with them, on every version.
        gs = [gevent_lite.spawn(threading.current_thread) for _ in range(50)]
        gevent_lite.joinall(gs)
        del gs
        gevent_lite.sleep(0.01)
        gc.collect()
        assert threading.active_count() == 1, threading.enumerate()
        print('ok')
    ''', python=PYTHONS[version])
    assert 'ok' in out


def test_join_timeout_is_alive_and_daemon():
    check('''
        import threading, time
        t = threading.Thread(target=time.sleep, args=(0.5,), daemon=True)
        t.start()
        t0 = time.monotonic(); t.join(0.1); waited = time.monotonic() - t0
        assert 0.05 < waited < 0.4, waited
        assert t.is_alive() and t.daemon
        t.join()
        assert not t.is_alive()
    ''')


def test_lock_condition_semaphore_event_barrier_timer_cooperate():
    out = check('''
        import threading, time
        lock = threading.Lock(); rlock = threading.RLock(); cond = threading.Condition()
        sem = threading.BoundedSemaphore(2); ev = threading.Event(); bar = threading.Barrier(5)
        items = []; inside = []; maxin = [0]
        def worker(i):
            with sem:
                inside.append(i); maxin[0] = max(maxin[0], len(inside)); time.sleep(0.1); inside.remove(i)
            with rlock:
                with rlock:
                    pass
            bar.wait()
            with cond:
                cond.wait_for(lambda: items)
            ev.wait()
        ts = [threading.Thread(target=worker, args=(i,)) for i in range(5)]
        t0 = time.monotonic()
        for t in ts: t.start()
        time.sleep(0.4)
        with cond:
            items.append(1); cond.notify_all()
        timer = threading.Timer(0.1, ev.set); timer.start()
        for t in ts: t.join(5)
        assert not any(t.is_alive() for t in ts)
        assert maxin[0] == 2, maxin
        assert lock.acquire(timeout=0.05) and not lock.acquire(timeout=0.05)
        print(round(time.monotonic() - t0, 2))
    ''')
    assert float(out) < 2.0


def test_local_is_per_thread():
    check('''
        import threading
        loc = threading.local(); loc.v = 'main'
        seen = []
        def f(i):
            seen.append(getattr(loc, 'v', None)); loc.v = i
        ts = [threading.Thread(target=f, args=(i,)) for i in range(3)]
        for t in ts: t.start()
        for t in ts: t.join()
        assert seen == [None] * 3 and loc.v == 'main'
        import _threading_local
        assert _threading_local.local is threading.local
    ''')


def test_queue_and_simplequeue_between_threads_cooperate():
    out = check('''
        import threading, queue, time
        assert queue.SimpleQueue.__module__ == 'gevent_lite.queue_stdlib'
        for Q in (queue.Queue, queue.SimpleQueue):
            q = Q(); got = []
            def consumer():
                while True:
                    item = q.get()
                    if item is None: return
                    got.append(item)
            cs = [threading.Thread(target=consumer) for _ in range(3)]
            for c in cs: c.start()
            for i in range(100):
                q.put(i)
                if i % 10 == 0: time.sleep(0.01)
            for c in cs: q.put(None)
            for c in cs: c.join(5)
            assert sorted(got) == list(range(100)), (Q, len(got))
        q = queue.SimpleQueue()
        t0 = time.monotonic()
        try:
            q.get(timeout=0.2)
        except queue.Empty:
            pass
        assert 0.15 < time.monotonic() - t0 < 1
        print('ok')
    ''')
    assert out.strip() == 'ok'


def test_thread_pool_executor_runs_tasks_concurrently():
    out = check('''
        import time
        from concurrent.futures import ThreadPoolExecutor
        t0 = time.monotonic()
        with ThreadPoolExecutor(10) as ex:
            assert list(ex.map(lambda x: (time.sleep(0.5), x * 2)[1], range(20))) == [x * 2 for x in range(20)]
        print(round(time.monotonic() - t0, 2))
    ''')
    assert float(out) < 2.5


def test_logging_from_many_threads_under_a_preexisting_handler_does_not_interleave():
    # logging's locks were created at import, before patching: they are re-created green,
    # so a handler that blocks inside emit() excludes the other threads (instead of
    # letting them all in, as the native RLock owned by the one OS thread would).
    out = check('''
        import threading, time, logging
        events = []
        class Slow(logging.Handler):
            def emit(self, record):
                events.append('in'); time.sleep(0.05); events.append('out')
        logging.getLogger('t').addHandler(Slow())
        ts = [threading.Thread(target=logging.getLogger('t').warning, args=('x',)) for _ in range(5)]
        for t in ts: t.start()
        for t in ts: t.join()
        assert events == ['in', 'out'] * 5, events
        print('ok')
    ''', patch='import logging; monkey.patch_all()')
    assert 'ok' in out


@pytest.mark.parametrize('version', sorted(PYTHONS))
def test_interpreter_exit_waits_for_unjoined_nondaemon_threads_and_not_for_daemons(version, tmp_path):
    flag = tmp_path / 'flag'
    res = run_patched('''
        import threading, time
        def late():
            time.sleep(0.3)
            open(%r, 'w').write('done')
        threading.Thread(target=late).start()
        threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
    ''' % str(flag), python=PYTHONS[version], timeout=20)
    assert res.returncode == 0, res.stderr
    assert flag.read_text() == 'done'
    assert 'Exception ignored' not in res.stderr, res.stderr


@pytest.mark.parametrize('version', sorted(PYTHONS))
def test_exit_with_thread_waiting_on_threading_atexit_hook_does_not_hang(version):
    # gevent#2188: the atexit hooks must run before non-daemon threads are joined.
    res = run_patched('''
        import threading
        done = threading.Event()
        threading._register_atexit(done.set)
        threading.Thread(target=done.wait).start()
    ''', python=PYTHONS[version], timeout=20)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize('version', sorted(PYTHONS))
def test_exit_with_a_thread_blocked_forever_says_so_instead_of_hanging(version):
    # gevent#1462: joining at exit can only fail with LoopExit; say which thread, exit.
    res = run_patched('''
        import threading
        lock = threading.Lock(); lock.acquire()
        threading.Thread(target=lock.acquire, name='stuck-one').start()
    ''', python=PYTHONS[version], timeout=20)
    assert "stuck-one" in res.stderr and 'can never finish' in res.stderr, res.stderr


def test_hub_of_an_os_thread_started_after_patching_records_the_os_thread_ident():
    # The hub belongs to an OS thread: patched (per-greenlet) get_ident must not leak into it.
    out = check('''
        from gevent_lite import hub
        real_start = monkey.get_original('_thread', 'start_new_thread')
        real_ident = monkey.get_original('_thread', 'get_ident')
        import _thread, time
        assert _thread.get_ident is not real_ident
        assert hub.get_hub().thread_ident == real_ident()
        seen = []
        def in_os_thread():
            seen.append((hub.get_hub().thread_ident, real_ident()))
        real_start(in_os_thread, ())
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            monkey.get_original('time', 'sleep')(0.01)
        assert seen and seen[0][0] == seen[0][1], seen
        print('ok')
    ''')
    assert 'ok' in out


def test_real_thread_started_before_patching_ends_and_exits_cleanly():
    # Its threading bookkeeping (_delete at exit, current_thread) uses the patched
    # get_ident from inside the real thread: the root greenlet keeps the real ident.
    res = run_patched('''
        import threading, time, warnings
        warnings.simplefilter('ignore')
        seen = []
        t = threading.Thread(target=lambda: (time.sleep(0.3), seen.append(threading.current_thread())))
        t.start()
        from gevent_lite import monkey
        monkey.patch_all()
        t.join()
        assert not t.is_alive() and seen == [t], seen
        assert threading.current_thread() is threading.main_thread()
        print('ok')
    ''', patch='pass')
    assert res.returncode == 0 and 'ok' in res.stdout, res.stderr
    assert res.stderr == '', res.stderr


def test_excepthook_without_thread_names_the_current_ident():
    out = check('''
        import sys, threading, io
        err = io.StringIO()
        sys.stderr, real = err, sys.stderr
        try:
            try:
                raise ValueError('bug')
            except ValueError:
                threading.excepthook(threading.ExceptHookArgs([*sys.exc_info(), None]))
        finally:
            sys.stderr = real
        assert 'Exception in thread %d:' % threading.get_ident() in err.getvalue(), err.getvalue()
        print('ok')
    ''')
    assert 'ok' in out


def test_interrupt_main_runs_a_python_handler_at_once_in_the_main_greenlet():
    # CPython runs the handler at the caller's next bytecode; the green signal module
    # must not defer it to the hub (its exception would land in a later wait).
    out = check('''
        import _thread, signal, time
        def handler(signum, frame):
            raise ZeroDivisionError(signum)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
            old = signal.signal(signum, handler)
            try:
                _thread.interrupt_main(signum)
            except ZeroDivisionError as e:
                assert e.args == (signum,), e.args
            else:
                raise AssertionError('handler did not run at once')
            finally:
                signal.signal(signum, old)
        time.sleep(0.05)      # nothing left over to be thrown in later
        print('ok')
    ''')
    assert 'ok' in out


def test_interrupt_main_from_a_real_os_thread_interrupts_the_main_thread_not_itself():
    # As without patching: the simulated SIGINT is noticed by the main thread when it
    # next runs Python code (it does not cut a sleep short); the calling thread goes on.
    out = check('''
        import signal, time, _thread
        signal.signal(signal.SIGINT, signal.default_int_handler)
        real_start = monkey.get_original('_thread', 'start_new_thread')
        real_sleep = monkey.get_original('time', 'sleep')
        caller = []
        def worker():
            real_sleep(0.1)
            _thread.interrupt_main()
            caller.append('returned')
        real_start(worker, ())
        try:
            time.sleep(0.5)
            for _ in range(100):
                time.sleep(0.01)
        except KeyboardInterrupt:
            print('interrupted', caller)
    ''')
    assert "interrupted ['returned']" in out


@pytest.mark.parametrize('version', sorted(PYTHONS))
def test_exit_with_greenlets_that_logged_still_alive_prints_nothing(version):
    # 3.13's dummy-thread tracker used to run its __del__ after threading's globals
    # were torn down at exit, once per greenlet that had called current_thread().
    res = run_patched('''
        import logging, gevent_lite
        logging.basicConfig(format='%(threadName)s %(message)s')
        def f():
            logging.warning('hi')
            gevent_lite.sleep(100)
        gs = [gevent_lite.spawn(f) for _ in range(3)]
        gevent_lite.sleep(0.05)
    ''', python=PYTHONS[version], timeout=20)
    assert res.returncode == 0, res.stderr
    assert res.stderr.count('Dummy-') == 3 and 'Exception ignored' not in res.stderr, res.stderr


def test_patching_from_a_spawned_greenlet_leaves_the_main_thread_to_the_main_greenlet():
    out = check('''
        import threading, gevent_lite
        g = gevent_lite.spawn(monkey.patch_all)
        g.join()
        assert g.successful(), g.exception
        assert threading.current_thread() is threading.main_thread()
        assert threading.main_thread().ident == threading.get_ident()
        print('ok')
    ''', patch='pass')
    assert 'ok' in out


def test_a_green_thread_joining_the_main_thread_lets_the_interpreter_exit():
    # gevent's test__threading_2 ThreadJoinOnShutdown: the main thread's native
    # tstate lock blocked the OS thread in the joiner while exit waited for it.
    out = check('''
        import threading, time
        def joiner(main):
            main.join()
            print('end of thread')
        threading.Thread(target=joiner, args=(threading.current_thread(),)).start()
        time.sleep(0.2)
        print('end of main')
    ''', timeout=60)
    assert out == 'end of main\nend of thread\n', out


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='POSIX only')
def test_fork_from_the_main_thread_after_patching_keeps_the_main_thread_alive_in_the_child():
    # The main thread's patched tstate lock (3.9 - 3.12) is re-initialised and re-taken by
    # threading._after_fork() in the child: no traceback there, the child's main thread
    # is alive, and the child exits normally (its interpreter shutdown releases the lock).
    out = check_patched('''
        import os, sys, threading
        pid = os.fork()
        if pid == 0:
            print('child main alive', threading.main_thread().is_alive(), flush=True)
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        print('child status', status)
    ''', timeout=60)
    assert 'child main alive True' in out
    assert 'child status 0' in out


def test_a_forked_child_can_join_its_main_thread_and_exit_without_complaint():
    res = run_patched('''
        import os, threading, time
        pid = os.fork()
        if pid == 0:
            def joiner(main):
                main.join()
                print('child: end of thread', flush=True)
            threading.Thread(target=joiner, args=(threading.current_thread(),)).start()
            time.sleep(0.1)
            print('child: end of main', flush=True)
        else:
            print('parent: child status', os.waitpid(pid, 0)[1], flush=True)
    ''', timeout=60)
    assert res.returncode == 0 and 'Traceback' not in res.stderr and 'ignored' not in res.stderr, res.stderr
    assert sorted(res.stdout.splitlines()) == ['child: end of main', 'child: end of thread',
                                               'parent: child status 0'], res.stdout
