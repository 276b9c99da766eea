import subprocess
import sys
import textwrap
import threading
import time

import pytest

import _helpers as helpers

import gevent_lite
from gevent_lite.hub import get_hub
from gevent_lite.threadpool import DEFAULT_SIZE, ThreadPool

_real_sleep = time.sleep


class Boom(Exception):
    pass


def test_spawn_returns_async_result_with_value():
    pool = ThreadPool(2)
    res = pool.spawn(lambda a, b=0: a + b, 2, b=3)
    assert res.get(timeout=5) == 5
    assert pool.apply(pow, (2, 10)) == 1024
    pool.kill()


def test_task_runs_in_a_real_os_thread():
    pool = ThreadPool(1)
    ident = pool.apply(threading.get_ident)
    assert ident != threading.get_ident()
    pool.kill()


def test_waiting_greenlet_lets_others_run():
    pool = ThreadPool(2)
    ticks = []
    t = helpers.ticker(ticks)
    start = time.monotonic()
    pool.apply(_real_sleep, (0.3,))
    elapsed = time.monotonic() - start
    t.kill()
    assert elapsed >= 0.25
    # The ticker ran every ~10 ms while the main greenlet waited.
    assert len(ticks) >= 10
    assert helpers.max_gap(ticks) < 0.2
    pool.kill()


def test_worker_exception_is_reraised_with_its_type_and_traceback():
    pool = ThreadPool(1)

    def fail_in_worker():
        raise Boom('from worker')

    res = pool.spawn(fail_in_worker)
    with pytest.raises(Boom, match='from worker') as info:
        res.get(timeout=5)
    assert 'fail_in_worker' in ''.join(str(f.name) for f in info.traceback)
    assert not res.successful()
    pool.kill()


def test_base_exception_in_worker_goes_to_waiter_and_pool_survives():
    pool = ThreadPool(1)

    def exits():
        raise SystemExit(7)

    with pytest.raises(SystemExit):
        pool.spawn(exits).get(timeout=5)
    assert pool.apply(lambda: 'still alive') == 'still alive'
    pool.kill()


def test_tasks_run_in_parallel_up_to_maxsize():
    pool = ThreadPool(5)
    start = time.monotonic()
    results = [pool.spawn(_real_sleep, 0.4) for _ in range(5)]
    for r in results:
        r.get(timeout=5)
    elapsed = time.monotonic() - start
    assert elapsed < 1.5, elapsed   # serial would be 2.0 s
    assert pool.size <= 5
    pool.kill()


def test_burst_of_spawns_starts_enough_workers():
    # Regression: with one idle worker, a burst of spawns must not all queue behind it.
    pool = ThreadPool(4)
    pool.apply(lambda: None)          # one worker now idle
    start = time.monotonic()
    rs = [pool.spawn(_real_sleep, 0.3) for _ in range(4)]
    for r in rs:
        r.get(timeout=5)
    assert time.monotonic() - start < 1.0
    pool.kill()


def test_main_greenlet_waiting_alone_does_not_get_loopexit():
    # Nothing but the outstanding task can wake the waiter: the hub must stay alive.
    pool = ThreadPool(1)
    assert pool.spawn(lambda: (_real_sleep(0.1), 'done')[1]).get() == 'done'
    pool.kill()


def test_keepalive_is_released_after_delivery():
    hub = get_hub()
    before = hub.statistics()['keepalive']
    pool = ThreadPool(3)
    rs = [pool.spawn(lambda i=i: i) for i in range(20)]
    assert hub.statistics()['keepalive'] == before + 20
    assert [r.get() for r in rs] == list(range(20))
    assert hub.statistics()['keepalive'] == before
    assert len(pool) == 0
    pool.kill()


def test_many_small_tasks_all_delivered():
    pool = ThreadPool(4)
    rs = [pool.spawn(lambda i=i: i * 2) for i in range(1000)]
    assert [r.get(timeout=10) for r in rs] == [i * 2 for i in range(1000)]
    pool.kill()


def test_map_imap_imap_unordered():
    pool = ThreadPool(3)
    assert pool.map(lambda x: x * x, range(10)) == [x * x for x in range(10)]
    assert list(pool.imap(lambda a, b: a + b, [1, 2, 3], [10, 20, 30])) == [11, 22, 33]

    def delayed(x):
        _real_sleep(x)
        return x

    got = list(pool.imap_unordered(delayed, [0.3, 0.01, 0.15]))
    assert got == [0.01, 0.15, 0.3]
    pool.kill()


def test_apply_async_callback_runs_in_hub_thread():
    pool = ThreadPool(1)
    seen = []
    res = pool.apply_async(lambda: 42, callback=lambda v: seen.append((v, threading.get_ident())))
    assert res.get(timeout=5) == 42
    gevent_lite.sleep(0.01)
    gevent_lite.sleep(0)
    assert seen == [(42, threading.get_ident())]
    pool.kill()


def test_join_with_timeout_and_len():
    pool = ThreadPool(2)
    pool.spawn(_real_sleep, 0.3)
    pool.spawn(_real_sleep, 0.3)
    assert len(pool) == 2
    assert pool.join(timeout=0.05) is False
    assert pool.join(timeout=5) is True
    assert len(pool) == 0
    assert pool.join() is True
    pool.kill()


def test_size_grows_and_shrinks():
    pool = ThreadPool(4)
    assert pool.size == 0
    pool.size = 3
    assert pool.size == 3
    deadline = time.monotonic() + 5
    while pool._nidle < 3 and time.monotonic() < deadline:
        gevent_lite.sleep(0.01)
    assert pool._nidle == 3
    pool.size = 1
    assert pool.size == 1
    while pool._nthreads > 1 and time.monotonic() < deadline:
        gevent_lite.sleep(0.01)
    assert pool._nthreads == 1
    pool.maxsize = 6
    pool.size = 6
    assert pool.size == 6
    pool.maxsize = 2
    assert pool.size == 2
    assert pool.apply(lambda: 1) == 1
    pool.kill()


def test_maxsize_zero_holds_tasks_until_it_is_raised():
    pool = ThreadPool(0)
    try:
        res = [pool.spawn(lambda i=i: i) for i in range(3)]
        gevent_lite.sleep(0.2)
        assert pool.size == 0 and not any(r.ready() for r in res)
        pool.maxsize = 2
        assert [r.get(timeout=5) for r in res] == [0, 1, 2]
        assert 1 <= pool.size <= 2
        pool.maxsize = 0                 # pauses again: the workers stop
        assert pool.size == 0
        late = pool.spawn(lambda: 'late')
        gevent_lite.sleep(0.2)
        assert not late.ready()
        pool.maxsize = 1
        assert late.get(timeout=5) == 'late'
    finally:
        pool.kill()


def test_bad_sizes_raise_clear_errors():
    with pytest.raises(ValueError):
        ThreadPool(-1)
    with pytest.raises(TypeError):
        ThreadPool('3')
    pool = ThreadPool(2)
    with pytest.raises(ValueError, match='exceed maxsize'):
        pool.size = 3
    with pytest.raises(ValueError):
        pool.size = -1
    with pytest.raises(TypeError):
        pool.spawn(42)
    pool.kill()


def test_nested_apply_from_worker_does_not_deadlock():
    pool = ThreadPool(1)
    assert pool.apply(lambda: pool.apply(lambda: 'inner')) == 'inner'
    pool.kill()


def test_spawn_from_another_os_thread_is_delivered():
    pool = ThreadPool(2)
    box = []

    def submit_from_thread():
        box.append(pool.spawn(lambda: 'from-thread'))

    th = threading.Thread(target=submit_from_thread)
    th.start()
    th.join()
    assert box[0].get(timeout=5) == 'from-thread'
    assert pool.join(timeout=5)
    assert len(pool) == 0
    pool.kill()


def test_kill_lets_queued_tasks_run_then_refuses_new_ones():
    # gevent's kill() sets the size to 0: the workers finish what was submitted.
    pool = ThreadPool(1)
    first = pool.spawn(_real_sleep, 0.2)
    queued = [pool.spawn(lambda i=i: i) for i in range(3)]
    gevent_lite.sleep(0.05)
    pool.kill()
    first.get(timeout=5)                 # a running task still delivers
    assert [r.get(timeout=5) for r in queued] == [0, 1, 2]
    with pytest.raises(RuntimeError):
        pool.spawn(lambda: None)
    assert len(pool) == 0


def test_kill_fails_queued_tasks_when_no_worker_can_run_them():
    pool = ThreadPool(0)                 # maxsize 0: tasks wait in the queue
    queued = [pool.spawn(lambda: 'never') for _ in range(2)]
    pool.kill()
    for r in queued:
        with pytest.raises(RuntimeError, match='killed'):
            r.get(timeout=5)
    assert len(pool) == 0


def test_hub_threadpool_property_uses_registered_factory():
    hub = get_hub()
    pool = hub.threadpool
    assert isinstance(pool, ThreadPool)
    assert pool.maxsize == DEFAULT_SIZE
    assert hub.threadpool is pool
    assert pool.apply(lambda: 'ok') == 'ok'



def test_interpreter_exit_does_not_wait_for_a_sleeping_task():
    start = time.monotonic()
    proc = helpers.run_python('''
        import time
        from gevent_lite.hub import get_hub
        import gevent_lite.threadpool
        pool = get_hub().threadpool
        pool.spawn(time.sleep, 30)
        time.sleep(0.1)
        print('exiting')
    ''')
    assert proc.returncode == 0, proc.stderr
    assert 'exiting' in proc.stdout
    assert time.monotonic() - start < 10


def test_workers_stay_real_threads_after_thread_module_is_patched():
    # Simulates monkey-patching after import: the captured originals are used.
    proc = helpers.run_python('''
        import time, _thread, _queue, threading
        from gevent_lite.threadpool import ThreadPool
        def broken(*a, **k):
            raise AssertionError('patched version used')
        _thread.start_new_thread = broken
        _thread.allocate_lock = broken
        _queue.SimpleQueue = broken
        threading.Thread = broken
        pool = ThreadPool(2)
        rs = [pool.spawn(time.sleep, 0.2) for _ in range(2)]
        t0 = time.monotonic()
        [r.get() for r in rs]
        print('ok %.2f' % (time.monotonic() - t0))
    ''')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith('ok')
    assert float(proc.stdout.split()[1]) < 0.39


def test_pool_tasks_may_use_green_primitives_after_patch_all():
    # A worker thread that touches a patched primitive gets its own hub; hub
    # creation must not depend on names that patching removes (select.epoll).
    proc = helpers.run_python('''
        from gevent_lite import monkey
        monkey.patch_all()
        import time, socket
        import gevent_lite
        from gevent_lite.hub import get_hub
        pool = get_hub().threadpool
        print(pool.apply(lambda: (time.sleep(0.01), 'slept')[1]))
        jobs = [gevent_lite.spawn(socket.getaddrinfo, 'localhost', 80) for _ in range(5)]
        gevent_lite.joinall(jobs, timeout=10)
        print(all(j.successful() and j.value for j in jobs))
    ''')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ['slept', 'True'], proc.stderr


def test_hub_threadpool_works_right_after_importing_the_package():
    proc = helpers.run_python('''
        import gevent_lite
        print(gevent_lite.get_hub().threadpool.apply(lambda: 'pooled'))
    ''')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'pooled'


def test_hub_pool_size_comes_from_config_threadpool_size():
    from gevent_lite import hub as hubmod
    from gevent_lite.config import config, settings
    assert dict((n, d) for n, d, _k, _doc in settings())['threadpool_size'] == DEFAULT_SIZE
    old = hubmod.get_hub_if_exists()
    if old is not None:
        old.destroy()
    config.threadpool_size = 3
    try:
        pool = get_hub().threadpool          # a new hub makes its pool now
        assert pool.maxsize == 3
        assert pool.map(lambda x: x * 2, range(6)) == [0, 2, 4, 6, 8, 10]
    finally:
        config.reset('threadpool_size')


def _pool_size_with_env(env):
    import os
    full = {k: v for k, v in os.environ.items() if 'THREADPOOL_SIZE' not in k}
    full.update(env)
    return subprocess.run([sys.executable, '-c', textwrap.dedent('''
        import gevent_lite
        print(gevent_lite.get_hub().threadpool.maxsize)
    ''')], capture_output=True, text=True, timeout=20, env=full)


def test_environment_variable_sets_the_pool_size_of_a_new_hub():
    proc = _pool_size_with_env({'GEVENT_LITE_THREADPOOL_SIZE': '3'})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '3'
    proc = _pool_size_with_env({})
    assert proc.stdout.strip() == str(DEFAULT_SIZE), proc.stderr


def test_bad_pool_size_in_the_environment_is_configs_error_naming_the_variable():
    proc = _pool_size_with_env({'GEVENT_LITE_THREADPOOL_SIZE': 'ten'})
    assert proc.returncode != 0
    assert "ValueError: GEVENT_LITE_THREADPOOL_SIZE='ten': expected a positive integer" in proc.stderr, \
        proc.stderr


def _wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        gevent_lite.sleep(0.01)
    return predicate()


def test_workers_idle_longer_than_idle_task_timeout_exit_and_new_work_starts_new_ones():
    pool = ThreadPool(4, idle_task_timeout=0.2)
    try:
        results = [pool.spawn(_real_sleep_then, 0.1, i) for i in range(4)]
        assert [r.get(timeout=5) for r in results] == [0, 1, 2, 3]
        assert pool.size == 4
        assert _wait_until(lambda: pool.size == 0), pool      # all four retired
        assert pool.apply(lambda: 'again') == 'again'          # a new worker starts
        assert pool.size == 1
    finally:
        pool.kill()


def _real_sleep_then(seconds, value):
    _real_sleep(seconds)
    return value


def test_idle_workers_do_not_retire_below_the_size_set_or_without_a_timeout():
    floor = ThreadPool(4, idle_task_timeout=0.1)
    forever = ThreadPool(2)                                     # gevent's default: -1, never
    try:
        floor.size = 2
        assert floor.map(lambda x: x, range(4)) == [0, 1, 2, 3]
        forever.size = 2
        gevent_lite.sleep(0.6)
        assert floor.size == 2 and forever.size == 2
    finally:
        floor.kill()
        forever.kill()


def test_retiring_workers_never_strand_a_task_submitted_at_the_same_moment():
    # Idle timeout of 10 ms and bursts separated by about that long: workers keep
    # timing out while new tasks arrive. Every task must still run.
    pool = ThreadPool(3, idle_task_timeout=0.01)
    try:
        results = []
        for burst in range(60):
            results.extend(pool.spawn(lambda b=burst, i=i: (b, i)) for i in range(burst % 4))
            gevent_lite.sleep(0.005 + (burst % 3) * 0.005)
        got = [r.get(timeout=10) for r in results]
        assert got == [(b, i) for b in range(60) for i in range(b % 4)]
        assert pool.join(timeout=5) is True
    finally:
        pool.kill()


def test_a_worker_timing_out_while_spawn_decides_stays_for_the_task():
    # The race, forced: spawn() has counted a task and, seeing an idle worker, started
    # no thread; before it puts the task, that worker's wait times out. It must stay.
    # This test plays spawn()'s part by hand around the real worker thread.
    pool = ThreadPool(1, idle_task_timeout=0.05)
    try:
        assert pool.apply(lambda: 'warm') == 'warm'
        assert _wait_until(lambda: pool._nidle == 1)
        from gevent_lite.event import AsyncResult
        result = AsyncResult()
        with pool._lock:                         # spawn()'s critical section...
            pool._nqueued += 1
            assert not pool._nqueued > pool._nidle   # ...decides: no new thread
            _real_sleep(0.2)                     # the worker times out meanwhile
        _real_sleep(0.1)                         # and decides, before the task arrives
        pool.hub.ref()
        pool._outstanding += 1
        pool._queue.put((lambda: 'ran', (), {}, result))
        assert result.get(timeout=5) == 'ran'
        assert pool.size == 1
    finally:
        pool.kill()


def test_hub_pool_idle_timeout_comes_from_config():
    from gevent_lite import hub as hubmod
    from gevent_lite.config import config
    old = hubmod.get_hub_if_exists()
    if old is not None:
        old.destroy()
    config.threadpool_idle_task_timeout = 0.1
    try:
        pool = get_hub().threadpool
        assert pool.apply(lambda: 1) == 1 and pool.size == 1
        assert _wait_until(lambda: pool.size == 0), pool
    finally:
        config.reset('threadpool_idle_task_timeout')


def test_bad_idle_task_timeout_raises():
    for bad in (0, 'soon', float('nan'), True):
        with pytest.raises(ValueError):
            ThreadPool(2, idle_task_timeout=bad)


# -- ThreadPoolExecutor ------------------------------------------------------------------

def test_executor_runs_tasks_in_threads_while_other_greenlets_keep_running():
    from gevent_lite.threadpool import ThreadPoolExecutor
    ticks = []
    helpers.ticker(ticks)
    with ThreadPoolExecutor(4) as ex:
        t0 = time.monotonic()
        futures = [ex.submit(_real_sleep, 0.3) for _ in range(8)]
        assert [f.result(timeout=10) for f in futures] == [None] * 8
        elapsed = time.monotonic() - t0
    # 8 blocking sleeps of 0.3 s on 4 threads: two batches, far from the 2.4 s sum.
    assert elapsed < 1.8, elapsed
    assert len(ticks) > 20 and helpers.max_gap(ticks) < 0.2, (len(ticks), helpers.max_gap(ticks))


def test_executor_future_reraises_and_reports_the_task_exception():
    from gevent_lite.threadpool import ThreadPoolExecutor
    with ThreadPoolExecutor(2) as ex:
        fut = ex.submit(lambda: 1 / 0)
        assert isinstance(fut.exception(timeout=5), ZeroDivisionError)
        with pytest.raises(ZeroDivisionError):
            fut.result()
        assert fut.done() and not fut.cancelled()


def test_executor_result_timeout_raises_futures_timeout_error():
    import concurrent.futures
    from gevent_lite.threadpool import ThreadPoolExecutor
    ex = ThreadPoolExecutor(1)
    fut = ex.submit(_real_sleep, 0.5)
    t0 = time.monotonic()
    with pytest.raises(concurrent.futures.TimeoutError):
        fut.result(timeout=0.1)
    assert time.monotonic() - t0 < 0.45
    assert fut.result(timeout=5) is None
    ex.shutdown()


def test_executor_map_initializer_and_done_callbacks():
    from gevent_lite.threadpool import ThreadPoolExecutor
    inits = []
    seen = []
    with ThreadPoolExecutor(2, initializer=inits.append, initargs=('x',)) as ex:
        assert list(ex.map(lambda v: v * 2, range(10))) == [v * 2 for v in range(10)]
        fut = ex.submit(lambda: 7)
        fut.add_done_callback(lambda f: seen.append(f.result()))
        assert fut.result(timeout=5) == 7
        gevent_lite.sleep(0.01)
    assert seen == [7]
    assert 1 <= len(inits) <= 2 and set(inits) == {'x'}


def test_executor_rejects_work_after_shutdown_and_bad_arguments():
    from gevent_lite.threadpool import ThreadPoolExecutor
    ex = ThreadPoolExecutor(1)
    ex.shutdown()
    with pytest.raises(RuntimeError, match='after shutdown'):
        ex.submit(print)
    with pytest.raises(ValueError):
        ThreadPoolExecutor(0)
    with pytest.raises(TypeError):
        ThreadPoolExecutor(1).submit(5)


def test_executor_after_patch_all_runs_the_initializer_once_per_real_worker_thread():
    code = textwrap.dedent('''
        from gevent_lite import monkey; monkey.patch_all()
        import threading
        from gevent_lite.threadpool import ThreadPoolExecutor
        real_ident = monkey.get_original('_thread', 'get_ident')
        inits = []
        with ThreadPoolExecutor(2, initializer=lambda: inits.append(real_ident())) as ex:
            idents = set(ex.map(lambda _: real_ident(), range(40)))
        assert real_ident() not in idents, 'a task ran in the hub thread'
        assert len(inits) == len(set(inits)) <= 2 and set(inits) >= idents, (inits, idents)
        print('ok')
    ''')
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.split() == ['ok'], res.stdout + res.stderr


def test_gevent_threadpool_names_map_async_apply_cb_adjust_and_executor_kill():
    from gevent_lite.event import AsyncResult
    from gevent_lite.threadpool import ThreadPool, ThreadPoolExecutor, ThreadResult
    assert ThreadResult is AsyncResult
    pool = ThreadPool(3)
    try:
        got = []
        g = pool.map_async(abs, [-1, -2, -3], callback=got.append)
        assert g.get(timeout=10) == [1, 2, 3] and got == [[1, 2, 3]]
        seen = []
        assert pool.apply_cb(abs, (-4,), callback=seen.append) == 4 and seen == [4]
        pool.adjust()
        assert isinstance(pool.spawn(abs, -5), ThreadResult)
    finally:
        pool.kill()
    executor = ThreadPoolExecutor(2)
    assert executor.submit(abs, -6).result(timeout=10) == 6
    executor.kill()
    with pytest.raises(RuntimeError):
        executor.submit(abs, -7)


def test_executor_futures_are_linkable_so_wait_and_iwait_take_them():
    from gevent_lite.threadpool import ThreadPoolExecutor
    executor = ThreadPoolExecutor(3)
    try:
        futures = [executor.submit(time.sleep, d) for d in (0.3, 0.05, 0.6)]
        first = next(iter(gevent_lite.iwait(futures)))
        assert first is futures[1] and first.done()
        done = gevent_lite.wait(futures, timeout=10)
        assert len(done) == 3 and all(f.done() for f in futures)
    finally:
        executor.shutdown()


@pytest.mark.skipif(sys.version_info < (3, 10), reason='threading.getprofile/gettrace are 3.10+')
def test_tasks_run_under_threadings_profile_and_trace_hooks_and_leave_none_behind():
    # gevent#1670: profilers and coverage install their hooks with threading.setprofile /
    # settrace, which Python applies to threads threading starts; pool tasks get them too.
    calls = []

    def hook(frame, event, arg):
        calls.append(event)
        return None

    pool = ThreadPool(1)
    old_profile, old_trace = threading.getprofile(), threading.gettrace()
    try:
        threading.setprofile(hook)
        threading.settrace(hook)
        seen = pool.apply(lambda: (sys.getprofile(), sys.gettrace()))
        assert seen == (hook, hook)
        assert calls
    finally:
        threading.setprofile(old_profile)
        threading.settrace(old_trace)

    def sets_its_own():
        sys.setprofile(hook)
    pool.apply(sets_its_own)
    assert pool.apply(lambda: (sys.getprofile(), sys.gettrace())) == (None, None)
    pool.kill()


def test_a_task_whose_hook_setup_is_rejected_by_an_audit_hook_fails_instead_of_hanging():
    code = textwrap.dedent('''
        import sys, threading
        threading.setprofile(lambda *args: None)
        from gevent_lite.threadpool import ThreadPool
        def audit(event, args):
            if event == 'sys.setprofile':
                raise RuntimeError('rejected')
        sys.addaudithook(audit)
        pool = ThreadPool(2)
        try:
            pool.apply(len, ('x',))
        except RuntimeError as e:
            print('failed:', e)
    ''')
    if sys.version_info < (3, 10):
        pytest.skip('threading.getprofile is 3.10+')
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert 'failed: rejected' in res.stdout, res.stdout + res.stderr


def test_sequential_applies_reuse_one_worker_thread():
    # Each result wakes its caller only once the worker counts as idle again, so the
    # next apply() finds it instead of starting a thread more (gevent uses one too).
    pool = ThreadPool(4)
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)          # hand the GIL over often: the race shows at once
    try:
        idents = {pool.apply(threading.get_ident) for _ in range(200)}
    finally:
        sys.setswitchinterval(old)
    assert len(idents) == 1 and pool.size == 1
    pool.kill()
