import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import _helpers as helpers

import gevent_lite
import gevent_lite.os as gos
from gevent_lite.hub import get_hub

pytestmark = pytest.mark.skipif(not hasattr(os, 'fork'), reason='POSIX only')



def test_reexports_everything_else_of_os():
    for name in ('getpid', 'path', 'environ', 'pipe', 'WNOHANG', 'kill', 'pread', 'readv'):
        assert getattr(gos, name) is getattr(os, name)
    assert gos.waitpid is not os.waitpid
    assert gos.read is not os.read and gos.write is not os.write
    assert {'read', 'write'} <= set(gos.__implements__)
    assert 'waitpid' in gos.__all__ and 'nb_read' in gos.__all__


def test_nb_read_and_nb_write_park_until_ready():
    r, w = os.pipe()
    try:
        assert gos.make_nonblocking(r) is True
        assert gos.make_nonblocking(r) is False
        gos.make_nonblocking(w)
        got = []
        reader = gevent_lite.spawn(lambda: got.append(gos.nb_read(r, 100)))
        gevent_lite.sleep(0.05)
        assert got == []                   # parked, not spinning, hub alive
        assert gos.nb_write(w, b'hello') == 5
        reader.join(timeout=5)
        assert got == [b'hello']
    finally:
        for fd in (r, w):
            get_hub().cancel_wait(fd)    # registrations are kept: forget before closing
            os.close(fd)


def test_nb_write_waits_when_pipe_is_full():
    r, w = os.pipe()
    try:
        gos.make_nonblocking(r)
        gos.make_nonblocking(w)
        total = 0
        while True:                        # fill the pipe
            try:
                total += os.write(w, b'x' * 65536)
            except BlockingIOError:
                break
            assert total < 64 * 1024 * 1024
        done = []
        writer = gevent_lite.spawn(lambda: done.append(gos.nb_write(w, b'y' * 10)))
        gevent_lite.sleep(0.05)
        assert done == []
        drained = 0
        while drained < total:
            drained += len(gos.nb_read(r, 1 << 20))
        writer.join(timeout=5)
        assert done == [10]
    finally:
        for fd in (r, w):
            get_hub().cancel_wait(fd)    # registrations are kept: forget before closing
            os.close(fd)


def test_waitpid_cooperates_with_a_ticker():
    ticks = []
    t = helpers.ticker(ticks)
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(0.4)'])
    pid, status = gos.waitpid(proc.pid, 0)
    elapsed = time.monotonic() - start
    t.kill()
    proc.returncode = 0          # reaped by us; keep Popen from trying again
    assert pid == proc.pid
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert elapsed >= 0.3
    assert len(ticks) >= 10 and max(b - a for a, b in zip(ticks, ticks[1:])) < 0.2


def test_concurrent_waitpids_finish_together():
    procs = [subprocess.Popen(['sleep', '0.4']) for _ in range(5)]
    start = time.monotonic()
    jobs = [gevent_lite.spawn(gos.waitpid, p.pid, 0) for p in procs]
    gevent_lite.joinall(jobs, timeout=10)
    for p in procs:
        p.returncode = 0
    assert all(j.successful() for j in jobs)
    assert sorted(j.value[0] for j in jobs) == sorted(p.pid for p in procs)
    assert time.monotonic() - start < 2.0


def test_waitpid_reports_signal_death():
    proc = subprocess.Popen(['sleep', '10'])
    gevent_lite.spawn_later(0.05, os.kill, proc.pid, signal.SIGTERM)
    pid, status = gos.waitpid(proc.pid, 0)
    proc.returncode = -15
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM


def test_waitpid_polling_path_for_any_child():
    # waitpid(-1) reaps any child, so run it where no other test's children live.
    proc = helpers.run_python('''
        import subprocess, time
        import gevent_lite, gevent_lite.os as gos
        child = subprocess.Popen(['sleep', '0.3'])
        ticks = []
        def tick():
            for _ in range(500):
                ticks.append(1)
                gevent_lite.sleep(0.01)
        t = gevent_lite.spawn(tick)
        pid, status = gos.waitpid(-1, 0)
        t.kill()
        print(pid == child.pid, status, len(ticks))
    ''')
    assert proc.returncode == 0, proc.stderr
    same, status, nticks = proc.stdout.split()
    assert same == 'True' and status == '0'
    assert int(nticks) >= 10


def test_waitpid_gets_the_status_of_a_fork_and_watch_child_its_watcher_reaped():
    # As in gevent: the watcher greenlet reaps the child and calls back, and a
    # waitpid for that pid, or for any child, still returns its status.
    proc = helpers.run_python('''
        import os, subprocess
        import gevent_lite, gevent_lite.os as gos
        seen = []
        pid = gos.fork_and_watch(seen.append)
        if not pid:
            gevent_lite.sleep(0.2)
            os._exit(3)
        other = subprocess.Popen(['sleep', '2'])     # -1 must not wait for this one
        rpid, status = gos.waitpid(-1, 0)
        gevent_lite.sleep(0.05)
        print(rpid == pid, os.WEXITSTATUS(status), [s.pid == pid for s in seen])
        pid2 = gos.fork_and_watch(seen.append)
        if not pid2:
            os._exit(4)
        for _ in range(300):                         # bounded: the watcher reaps it
            if len(seen) == 2:
                break
            gevent_lite.sleep(0.01)
        rpid2, status2 = gos.waitpid(pid2, 0)        # already reaped by the watcher
        print(rpid2 == pid2, os.WEXITSTATUS(status2), seen[1].rstatus == status2)
        try:
            gos.waitpid(pid2, os.WNOHANG)            # handed out once only
        except ChildProcessError:
            print('once')
        other.kill()
        other.wait()
    ''')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split('\n')[:3] == ['True 3 [True]', 'True 4 True', 'once']


def test_a_forked_child_does_not_get_the_statuses_its_parents_watchers_kept():
    # The statuses fork_and_watch's watchers keep for waitpid() are the parent's:
    # a child forked afterwards has no children, and its waitpid(-1) says so
    # instead of returning its parent's child's status.
    out = helpers.check_python('''
        import os
        import gevent_lite, gevent_lite.os as gos
        seen = []
        pid = gos.fork_and_watch(seen.append)
        if not pid:
            os._exit(3)
        for _ in range(500):                         # bounded: the watcher reaps it
            if seen:
                break
            gevent_lite.sleep(0.01)
        child = os.fork()
        if not child:
            try:
                gos.waitpid(-1, 0)
            except ChildProcessError:
                os._exit(0)
            os._exit(1)                              # got the parent's child's status
        print(len(seen), os.WEXITSTATUS(os.waitpid(child, 0)[1]))
        print(gos.waitpid(pid, 0) == (pid, seen[0].rstatus))   # the parent still has it
    ''')
    assert out.split() == ['1', '0', 'True']


def test_waitpid_wnohang_returns_at_once_and_errors_like_stdlib():
    proc = subprocess.Popen(['sleep', '0.2'])
    assert gos.waitpid(proc.pid, os.WNOHANG) == (0, 0)
    gos.waitpid(proc.pid, 0)
    proc.returncode = 0
    with pytest.raises(ChildProcessError):
        gos.waitpid(proc.pid, 0)
    with pytest.raises(ChildProcessError):
        gos.waitpid(os.getpid(), 0)          # not our child: no hang


def test_waitpid_does_not_reap_other_children():
    # gevent#452: something else reaping our children breaks os.waitpid elsewhere.
    mine = subprocess.Popen(['sleep', '0.1'])
    other = subprocess.Popen(['sleep', '0.1'])
    gos.waitpid(mine.pid, 0)
    mine.returncode = 0
    gevent_lite.sleep(0.3)
    # The other child is still ours to reap, with its real status.
    assert other.wait(timeout=5) == 0


def test_waitpid_in_hub_callback_is_refused():
    from gevent_lite.hub import BlockingSwitchOutError
    proc = subprocess.Popen(['sleep', '0.2'])
    errors = []

    def in_hub():
        try:
            gos.waitpid(proc.pid, 0)
        except BlockingSwitchOutError as e:
            errors.append(e)

    get_hub().run_callback(in_hub)
    gevent_lite.sleep(0.01)
    assert len(errors) == 1
    proc.wait(timeout=5)


def test_fork_child_gets_fresh_hub_and_never_runs_parent_greenlets(tmp_path):
    marker = tmp_path / 'marker'
    childok = tmp_path / 'childok'
    code = textwrap.dedent('''
        import os, sys, time
        import gevent_lite
        import gevent_lite.os as gos
        from gevent_lite.hub import get_hub
        marker, childok = sys.argv[1], sys.argv[2]
        parent = os.getpid()

        def parent_work(delay):
            gevent_lite.sleep(delay)
            with open(marker, 'a') as f:
                f.write('%d\\n' % os.getpid())

        # Some already sleeping on timers, some only scheduled (never started).
        sleepers = [gevent_lite.spawn(parent_work, 0.2) for _ in range(3)]
        gevent_lite.sleep(0)
        scheduled = [gevent_lite.spawn(parent_work, 0) for _ in range(3)]
        parent_hub = get_hub()
        pid = gos.fork()
        if pid == 0:
            try:
                hub = get_hub()
                assert hub is not parent_hub, 'child kept the parent hub'
                stats = hub.statistics()
                assert not stats['ready'] and not stats['timers'], 'child hub not empty'
                ran = []
                g = gevent_lite.spawn(lambda: (gevent_lite.sleep(0.3), ran.append(1)))
                g.join(timeout=5)
                gevent_lite.sleep(0.3)     # parent greenlets would have woken by now
                assert ran == [1]
                with open(childok, 'w') as f:
                    f.write('ok')
            except BaseException as e:
                sys.stderr.write('child failed: %r\\n' % (e,))
                os._exit(2)
            os._exit(0)
        ticks = []
        def ticker():
            for _ in range(500):
                ticks.append(time.monotonic())
                gevent_lite.sleep(0.01)
        t = gevent_lite.spawn(ticker)
        _, status = gos.waitpid(pid, 0)
        t.kill()
        gevent_lite.joinall(sleepers + scheduled, timeout=5)
        print('status', os.WEXITSTATUS(status), 'ticks', len(ticks), 'child', pid)
    ''')
    proc = subprocess.run([sys.executable, '-c', code, str(marker), str(childok)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    words = proc.stdout.split()
    assert words[0] == 'status' and words[1] == '0', proc.stdout + proc.stderr
    assert int(words[3]) >= 10           # the parent's ticker ran while waitpid waited
    child_pid = words[5]
    assert childok.read_text() == 'ok'
    writers = marker.read_text().split()
    assert len(writers) == 6             # all six ran in the parent
    assert child_pid not in writers      # and none in the child


def test_plain_os_fork_also_reinits_the_hub():
    proc = helpers.run_python('''
        import os
        import gevent_lite, gevent_lite.os
        from gevent_lite.hub import get_hub
        h = get_hub()
        gevent_lite.spawn(gevent_lite.sleep, 10)
        gevent_lite.sleep(0)
        pid = os.fork()
        if pid == 0:
            ok = get_hub() is not h and not get_hub().statistics()['timers']
            gevent_lite.sleep(0.01)
            os._exit(0 if ok else 3)
        print(os.WEXITSTATUS(gevent_lite.os.waitpid(pid, 0)[1]))
    ''')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '0'


@pytest.mark.skipif(not hasattr(os, 'forkpty'), reason='no forkpty')
def test_forkpty_child_gets_fresh_hub():
    proc = helpers.run_python('''
        import os
        import gevent_lite, gevent_lite.os as gos
        from gevent_lite.hub import get_hub
        h = get_hub()
        pid, fd = gos.forkpty()
        if pid == 0:
            os._exit(0 if get_hub() is not h else 3)
        print(os.WEXITSTATUS(gos.waitpid(pid, 0)[1]))
    ''')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '0'


def test_waitpid_falls_back_to_polling_without_pidfd(monkeypatch):
    monkeypatch.setattr(gos, '_pidfd_open', None)
    proc = subprocess.Popen(['sleep', '0.2'])
    ticks = []
    t = helpers.ticker(ticks)
    pid, status = gos.waitpid(proc.pid, 0)
    t.kill()
    proc.returncode = 0
    assert pid == proc.pid and status == 0
    assert len(ticks) >= 5


def test_waitpid_wnohang_checks_synchronously():
    # gevent#966: a patched waitpid(WNOHANG) answered from a cache that only the
    # hub updated, so a synchronous polling loop never saw the child exit.
    proc = subprocess.Popen(['sleep', '0.05'])
    deadline = time.monotonic() + 5
    result = (0, 0)
    while result == (0, 0) and time.monotonic() < deadline:
        result = gos.waitpid(proc.pid, os.WNOHANG)
        time.sleep(0.01)                 # the real sleep: the hub never runs here
    proc.returncode = 0
    assert result[0] == proc.pid


def test_parent_thread_pool_is_refused_in_forked_child():
    proc = helpers.run_python('''
        import os
        import gevent_lite.os as gos
        from gevent_lite.hub import get_hub
        import gevent_lite.threadpool
        pool = get_hub().threadpool
        pool.apply(lambda: None)
        pid = gos.fork()
        if pid == 0:
            try:
                pool.spawn(lambda: None)
                code = 3
            except RuntimeError:
                code = 0
            ok = get_hub().threadpool.apply(lambda: 'fresh') == 'fresh'
            os._exit(code if ok else 4)
        print(os.WEXITSTATUS(gos.waitpid(pid, 0)[1]))
    ''')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '0'


def _leave_a_stale_registration():
    """Wait on a pipe through the hub, then close it with plain os.close (as
    multiprocessing does with its sentinels): the hub keeps a registration under
    a number the next new fd will get."""
    r, w = os.pipe()
    g = gevent_lite.spawn(lambda: (get_hub().wait_fd(r, gevent_lite.hub.READ), os.read(r, 1)))
    gevent_lite.sleep(0.01)
    os.write(w, b'x')
    g.join(5)
    assert g.successful()      # woken and drained: the registration stays, quietly
    os.close(r)
    os.close(w)
    return r


@pytest.mark.skipif(not hasattr(os, 'pidfd_open'), reason='pidfd path')
def test_waitpid_wakes_even_if_its_pidfd_number_had_a_stale_hub_registration():
    proc = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(0.2)'])
    stale = _leave_a_stale_registration()
    probe = os.pidfd_open(proc.pid)    # the number the waitpid's pidfd will get
    os.close(probe)
    assert probe == stale, 'test setup: the pidfd did not reuse the stale number'
    with gevent_lite.Timeout(10):
        pid, status = gos.waitpid(proc.pid, 0)
    proc.returncode = 0
    assert pid == proc.pid and os.WIFEXITED(status)


def test_fork_and_watch_reaps_the_child_in_a_greenlet_and_calls_back():
    got = []
    pid = gos.fork_and_watch(got.append)
    if pid == 0:
        os._exit(3)
    ticks = []
    helpers.ticker(ticks, limit=100)
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        gevent_lite.sleep(0.01)
    assert len(got) == 1, got
    status = got[0]
    assert status.pid == status.rpid == pid
    assert os.WIFEXITED(status.rstatus) and os.WEXITSTATUS(status.rstatus) == 3
    assert ticks, 'the parent kept running greenlets while the watcher waited'
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)       # reaped already, by the watcher


def test_tp_read_and_tp_write_run_in_the_thread_pool_while_greenlets_run():
    r, w = os.pipe()
    try:
        ticks = []
        helpers.ticker(ticks, limit=100)

        def late_writer():
            gevent_lite.sleep(0.2)
            assert gos.tp_write(w, b'late') == 4
        gevent_lite.spawn(late_writer)
        t0 = time.monotonic()
        # A blocking os.read in a worker thread: the hub keeps ticking meanwhile.
        assert gos.tp_read(r, 10) == b'late'
        assert time.monotonic() - t0 >= 0.15
        assert len(ticks) >= 5, ticks
    finally:
        os.close(r)
        os.close(w)


# -- the green os.read / os.write that patch_os installs --------------------------------

def test_green_read_on_a_blocking_pipe_parks_only_the_reader_and_keeps_the_fd_blocking():
    r, w = os.pipe()
    try:
        ticks = []
        ticker = helpers.ticker(ticks, interval=0.01, limit=30)
        got = []
        reader = gevent_lite.spawn(lambda: got.append(gos.read(r, 100)))
        gevent_lite.sleep(0.2)
        assert got == [] and not reader.dead
        assert len(ticks) >= 5, 'the hub was blocked by a read on an empty pipe'
        assert gos.write(w, b'hello') == 5
        reader.join(timeout=5)
        assert got == [b'hello']
        assert os.get_blocking(r) and os.get_blocking(w)      # mode left alone
        assert get_hub().fd_info(r) is None                   # no registration left behind
        ticker.kill()
    finally:
        os.close(r)
        os.close(w)


def test_green_write_of_more_than_a_pipe_holds_completes_while_a_green_reader_drains():
    r, w = os.pipe()
    try:
        data = os.urandom(600 * 1024)          # far more than the 64 KiB a pipe holds
        chunks = []

        def reader():
            n = 0
            while n < len(data):
                chunk = gos.read(r, 65536)
                assert chunk
                chunks.append(chunk)
                n += len(chunk)
        rg = gevent_lite.spawn(reader)
        assert gos.write(w, memoryview(data)) == len(data)     # all of it, as write(2) on a blocking fd
        rg.join(timeout=10)
        assert rg.successful(), rg.exception
        assert b''.join(chunks) == data
    finally:
        os.close(r)
        os.close(w)


def test_green_read_and_write_leave_regular_files_and_nonblocking_fds_to_the_plain_call(tmp_path):
    path = tmp_path / 'f'
    path.write_bytes(b'abcdef')
    fd = os.open(str(path), os.O_RDWR)
    try:
        assert gos.read(fd, 3) == b'abc'
        assert gos.write(fd, b'XYZ') == 3
    finally:
        os.close(fd)
    assert path.read_bytes() == b'abcXYZ'
    r, w = os.pipe()
    try:
        os.set_blocking(r, False)
        with pytest.raises(BlockingIOError):      # a non-blocking fd's caller handles EAGAIN
            gos.read(r, 10)
        with pytest.raises(OSError):
            gos.read(-1, 10)                      # bad fds fail as in os.read
    finally:
        os.close(r)
        os.close(w)
    r, w = os.pipe()
    try:
        # The wrong end of a blocking pipe: EBADF at once, as os.read/os.write give
        # (readiness for it never comes: waiting for it would hang).
        with pytest.raises(OSError):
            gos.write(r, b'x')
        with pytest.raises(OSError):
            gos.read(w, 1)
    finally:
        os.close(r)
        os.close(w)


def test_queue_listener_on_a_multiprocessing_queue_delivers_and_stops_under_patch_all():
    # CPython's test_logging QueueListenerTest with multiprocessing.Queue: the
    # listener thread's get() reads the queue's pipe with os.read.
    res = helpers.run_python('''
        from gevent_lite import monkey; monkey.patch_all()
        import logging, logging.handlers, multiprocessing, time
        q = multiprocessing.Queue()
        got = []
        class Collect(logging.Handler):
            def emit(self, record):
                got.append(record.getMessage())
        listener = logging.handlers.QueueListener(q, Collect())
        listener.start()
        log = logging.getLogger('mpq'); log.propagate = False
        log.addHandler(logging.handlers.QueueHandler(q)); log.setLevel(logging.INFO)
        for i in range(20):
            log.info('message %d', i)
        t0 = time.monotonic()
        listener.stop()
        assert time.monotonic() - t0 < 10
        assert got == ['message %d' % i for i in range(20)], got
        q.close(); q.join_thread()
        print('done')
    ''', timeout=60)
    assert res.returncode == 0 and 'done' in res.stdout, res.stdout + res.stderr


def test_fork_gevent_is_the_cooperative_fork():
    assert gos.fork_gevent is gos.fork


@pytest.mark.skipif(not hasattr(gos, 'forkpty_and_watch'), reason='no forkpty here')
def test_forkpty_and_watch_returns_pid_and_master_fd_and_reaps_the_child():
    assert gos.forkpty_gevent is gos.forkpty
    got = []
    pid, master = gos.forkpty_and_watch(got.append)
    if pid == 0:
        os._exit(4)
    try:
        assert isinstance(master, int) and master >= 0
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            gevent_lite.sleep(0.01)
        assert len(got) == 1 and got[0].pid == pid
        assert os.WIFEXITED(got[0].rstatus) and os.WEXITSTATUS(got[0].rstatus) == 4
    finally:
        os.close(master)


def test_wait_child_parks_until_poll_answers_while_other_greenlets_run():
    answers = iter([None, None, None, 'done'])
    ticks = []
    helpers.ticker(ticks, limit=100)
    with gevent_lite.Timeout(10):
        assert gos.wait_child(lambda: next(answers)) == 'done'
    assert ticks, 'other greenlets ran while wait_child waited'


_FORK_IN_THREAD = '''
from gevent_lite import monkey; monkey.patch_all()
import os, sys, threading
mode = sys.argv[1]
pids = []
def body():
    pid = os.fork()
    if pid:
        pids.append(pid)
        return
    print('child %d' % os.getpid(), flush=True)
    if mode == 'block':
        threading.Event().wait()      # nothing can ever set it: LoopExit in the child
    elif mode == 'exit':
        sys.exit(5)
    # 'return': the thread's body just ends
t = threading.Thread(target=body)
t.start()
t.join()
_, status = os.waitpid(pids[0], 0)
print('main %d after join: child exit %d' % (os.getpid(), os.waitstatus_to_exitcode(status)),
      flush=True)
'''


@pytest.mark.parametrize('mode', ['return', 'block', 'exit'])
def test_child_forked_from_a_green_thread_never_resumes_the_parents_main_greenlet(mode):
    # The child's root greenlet is a frozen copy of the parent's main greenlet:
    # whatever ends the forking "thread" in the child (its body returns, its wait
    # can never be woken, it calls sys.exit) must end the child as a forked thread
    # ends, never switch into that copy (which re-ran the parent's code after join).
    res = subprocess.run([sys.executable, '-c', _FORK_IN_THREAD, mode],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    child = [line for line in lines if line.startswith('child ')]
    main = [line for line in lines if line.startswith('main ')]
    assert len(child) == 1 and len(main) == 1, res.stdout + res.stderr
    child_pid = child[0].split()[1]
    assert main[0].split()[1] != child_pid, res.stdout        # only the parent ran it
    # A thread's end (even by sys.exit, as in threading) is a clean exit of the child.
    assert main[0].endswith('child exit 0'), res.stdout + res.stderr
    assert 'TypeError' not in res.stderr, res.stderr
    if mode == 'block':
        assert 'LoopExit' in res.stderr     # reported in the child's own main greenlet


_PROCESS_POOL = '''
from gevent_lite import monkey; monkey.patch_all()
import os, sys, threading, multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor

def square(x):
    return x * x, os.getpid()

def in_a_thread(ctx, out):
    with ProcessPoolExecutor(2, mp_context=ctx) as ex:
        out.extend(ex.map(square, range(8)))

if __name__ == '__main__':
    ctx = mp.get_context(sys.argv[1])
    results = []
    t = threading.Thread(target=in_a_thread, args=(ctx, results))
    t.start()
    t.join()
    assert [r for r, _ in results] == [x * x for x in range(8)], results
    assert os.getpid() not in {pid for _, pid in results}
    print('pool done in %d' % os.getpid(), flush=True)
'''


@pytest.mark.parametrize('method', ['fork', 'forkserver', 'spawn'])
def test_process_pool_executor_under_patch_all_returns_results(method, tmp_path):
    # Started from a green thread; with 'fork' the workers are forked children of
    # this process and must run only the worker loop.
    script = tmp_path / 'pool.py'      # forkserver/spawn re-import __main__ from a file
    script.write_text(_PROCESS_POOL)
    res = subprocess.run([sys.executable, str(script), method],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count('pool done') == 1, res.stdout + res.stderr
    assert 'Traceback' not in res.stderr, res.stderr


def test_fork_from_a_start_new_thread_green_thread_reports_through_a_pipe_as_the_childs_main_thread():
    # CPython's test_thread.TestForkInThread: the main thread reads (patched
    # os.read) a pipe that a child forked by another (green) thread writes.
    # threading._after_fork (3.13) builds a _MainThread for a forking thread it has
    # no Thread object for and asserts that its handle's ident is get_ident(): with
    # the OS thread's ident it printed "Exception ignored ... AssertionError".
    res = helpers.run_python('''
        from gevent_lite import monkey; monkey.patch_all()
        import os, sys, threading, _thread
        r, w = os.pipe()
        pids = []
        def fork_thread():
            pid = os.fork()
            if pid == 0:
                ok = (threading.current_thread() is threading.main_thread()
                      and threading.main_thread().ident == threading.get_ident())
                os.write(w, b'OK' if ok else b'NO')
                os._exit(0)
            pids.append(pid)
        _thread.start_new_thread(fork_thread, ())
        print(os.read(r, 2).decode())
        print(os.waitstatus_to_exitcode(os.waitpid(pids[0], 0)[1]))
    ''')
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.split() == ['OK', '0'], res.stdout + res.stderr
    assert 'AssertionError' not in res.stderr and 'Exception ignored' not in res.stderr, res.stderr


def test_forked_child_exits_without_waiting_for_the_parents_green_threads():
    # The parent's non-daemon green thread is a frozen copy in the child: the
    # child's exit (3.13's threading._shutdown joins every non-daemon thread) must
    # not wait for it, nor report it as a thread that can never finish.
    res = helpers.run_python('''
        from gevent_lite import monkey; monkey.patch_all()
        import os, threading, time
        ev = threading.Event()
        t = threading.Thread(target=ev.wait, args=(30,)); t.start()
        time.sleep(0.05)
        pid = os.fork()
        if pid == 0:
            assert threading.enumerate() == [threading.main_thread()], threading.enumerate()
            raise SystemExit(0)          # a normal interpreter exit
        t0 = time.monotonic()
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        ev.set(); t.join()
        print(code, time.monotonic() - t0 < 20)
    ''', timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.split() == ['0', 'True'], res.stdout + res.stderr
    assert 'can never finish' not in res.stderr and 'Traceback' not in res.stderr, res.stderr
