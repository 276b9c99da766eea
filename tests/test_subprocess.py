import os
import signal
import subprocess as std_subprocess
import sys
import time

import pytest

import _helpers as helpers

import gevent_lite
import gevent_lite.os as gos
import gevent_lite.subprocess as gsp
from gevent_lite.hub import get_hub

pytestmark = pytest.mark.skipif(sys.platform == 'win32', reason='POSIX only')

PY = sys.executable


def test_reexports_and_popen_is_a_stdlib_subclass():
    assert issubclass(gsp.Popen, std_subprocess.Popen)
    assert gsp.PIPE is std_subprocess.PIPE
    assert gsp.TimeoutExpired is std_subprocess.TimeoutExpired
    assert gsp.CalledProcessError is std_subprocess.CalledProcessError
    assert gsp.list2cmdline is std_subprocess.list2cmdline
    for name in ('Popen', 'run', 'check_output', 'getoutput'):
        assert name in gsp.__all__


def test_ten_concurrent_sleeps_finish_together():
    start = time.monotonic()
    procs = [gsp.Popen(['sleep', '0.5']) for _ in range(10)]
    jobs = [gevent_lite.spawn(p.wait) for p in procs]
    gevent_lite.joinall(jobs, timeout=10)
    elapsed = time.monotonic() - start
    assert [j.value for j in jobs] == [0] * 10
    assert elapsed < 2.5, elapsed            # serial would be 5 s


def test_ticker_runs_while_wait_waits():
    ticks = []
    t = helpers.ticker(ticks)
    p = gsp.Popen(['sleep', '0.4'])
    assert p.wait() == 0
    t.kill()
    assert len(ticks) >= 15
    assert helpers.max_gap(ticks) < 0.2


def test_wait_timeout_raises_timeout_expired_and_wait_again_works():
    p = gsp.Popen(['sleep', '0.4'])
    start = time.monotonic()
    with pytest.raises(gsp.TimeoutExpired) as info:
        p.wait(timeout=0.1)
    assert 0.08 <= time.monotonic() - start < 0.35
    assert info.value.timeout == 0.1
    assert p.returncode is None
    assert p.wait(timeout=5) == 0


def test_many_greenlets_wait_on_one_process():
    p = gsp.Popen(['sleep', '0.2'])
    jobs = [gevent_lite.spawn(p.wait) for _ in range(5)]
    gevent_lite.joinall(jobs, timeout=5)
    assert [j.value for j in jobs] == [0] * 5


def test_timed_out_waiters_leave_nothing_behind():
    p = gsp.Popen(['sleep', '0.3'])
    with pytest.raises(gsp.TimeoutExpired):
        p.wait(timeout=0.05)
    gevent_lite.sleep(0.01)
    assert p._gl_watcher is None                 # watcher stopped with the last waiter
    hub = get_hub()
    assert hub.statistics()['fd_waiters'] == 0
    assert p.wait() == 0


def test_returncode_for_exit_status_and_signal():
    assert gsp.Popen([PY, '-c', 'import sys; sys.exit(3)']).wait() == 3
    p = gsp.Popen(['sleep', '10'])
    gevent_lite.spawn_later(0.05, p.terminate)
    assert p.wait(timeout=5) == -signal.SIGTERM


def test_communicate_moves_one_megabyte_both_ways():
    data = os.urandom(1 << 20)
    p = gsp.Popen([PY, '-c', 'import sys; d = sys.stdin.buffer.read(); '
                   'sys.stdout.buffer.write(d); sys.stderr.buffer.write(d[::-1])'],
                  stdin=gsp.PIPE, stdout=gsp.PIPE, stderr=gsp.PIPE)
    ticks = []
    t = helpers.ticker(ticks)
    out, err = p.communicate(data, timeout=20)
    t.kill()
    assert out == data
    assert err == data[::-1]
    assert p.returncode == 0
    assert p.stdin.closed and p.stdout.closed and p.stderr.closed


def test_communicate_text_mode_and_missing_pipes():
    p = gsp.Popen([PY, '-c', 'import sys; print(sys.stdin.read().upper())'],
                  stdin=gsp.PIPE, stdout=gsp.PIPE, text=True)
    out, err = p.communicate('héllo\r\nworld')
    assert out == 'HÉLLO\nWORLD\n'
    assert err is None
    p = gsp.Popen(['true'])
    assert p.communicate() == (None, None)
    assert p.returncode == 0


def test_communicate_timeout_keeps_partial_output_and_can_resume():
    p = gsp.Popen([PY, '-u', '-c', 'import time; print("first", flush=True); '
                   'time.sleep(0.4); print("second")'], stdout=gsp.PIPE)
    with pytest.raises(gsp.TimeoutExpired) as info:
        p.communicate(timeout=0.2)
    assert info.value.output == b'first\n'
    with pytest.raises(ValueError, match='Cannot send input'):
        p.communicate(b'late input')
    out, _ = p.communicate(timeout=5)
    assert out == b'first\nsecond\n'


def test_communicate_child_not_reading_stdin_does_not_raise():
    p = gsp.Popen([PY, '-c', 'import os; os.close(0)'], stdin=gsp.PIPE)
    assert p.communicate(b'x' * (1 << 20), timeout=10) == (None, None)
    assert p.returncode == 0


def test_run_captures_and_checks():
    r = gsp.run([PY, '-c', 'import sys; print("out"); print("err", file=sys.stderr); sys.exit(2)'],
                capture_output=True)
    assert (r.returncode, r.stdout, r.stderr) == (2, b'out\n', b'err\n')
    with pytest.raises(gsp.CalledProcessError) as info:
        gsp.run([PY, '-c', 'import sys; sys.exit(4)'], check=True)
    assert info.value.returncode == 4
    assert gsp.run(['cat'], input=b'abc', stdout=gsp.PIPE).stdout == b'abc'
    with pytest.raises(ValueError):
        gsp.run(['cat'], input=b'x', stdin=gsp.PIPE)
    with pytest.raises(ValueError):
        gsp.run(['true'], capture_output=True, stdout=gsp.PIPE)


def test_run_timeout_kills_the_child():
    start = time.monotonic()
    with pytest.raises(gsp.TimeoutExpired) as info:
        gsp.run([PY, '-c', 'import time; print("partial", flush=True); time.sleep(30)'],
                stdout=gsp.PIPE, timeout=0.5)
    assert time.monotonic() - start < 5
    assert info.value.output == b'partial\n'


def test_call_check_call_check_output_getoutput():
    assert gsp.call(['true']) == 0
    assert gsp.call(['false']) == 1
    assert gsp.check_call(['true']) == 0
    with pytest.raises(gsp.CalledProcessError) as info:
        gsp.check_call(['false'])
    assert info.value.cmd == ['false']
    assert gsp.check_output(['echo', 'hi']) == b'hi\n'
    assert gsp.check_output(['cat'], input=None) == b''
    assert gsp.check_output('echo hi', shell=True, text=True) == 'hi\n'
    with pytest.raises(ValueError):
        gsp.check_output(['true'], stdout=gsp.PIPE)
    with pytest.raises(gsp.TimeoutExpired):
        gsp.call(['sleep', '5'], timeout=0.1)
    assert gsp.getoutput('echo a; echo b >&2') == std_subprocess.getoutput('echo a; echo b >&2')
    assert gsp.getstatusoutput('exit 3') == std_subprocess.getstatusoutput('exit 3')


def test_stdlib_equivalence_of_errors():
    with pytest.raises(FileNotFoundError):
        gsp.Popen(['/nonexistent/program'])
    with pytest.raises(TypeError):
        gsp.Popen(['true']).wait(timeout='soon')


def test_popen_context_manager_waits_cooperatively():
    ticks = []
    t = helpers.ticker(ticks)
    with gsp.Popen(['sleep', '0.3'], stdout=gsp.PIPE) as p:
        pass
    t.kill()
    assert p.returncode == 0
    assert len(ticks) >= 10


def test_child_reaped_elsewhere_gives_returncode_like_stdlib():
    # Someone else (a SIGCHLD handler, os.waitpid(-1)) reaps our child first:
    # like the stdlib we must not hang; poll() turns ECHILD into returncode 0.
    p = gsp.Popen(['sleep', '0.1'])
    os.waitpid(p.pid, 0)
    assert p.wait(timeout=5) == 0



def test_user_sigchld_handler_keeps_working_with_green_subprocess():
    # gevent#857/#622: the library must not take SIGCHLD away from the user.
    proc = helpers.run_python('''
        import signal
        import gevent_lite, gevent_lite.signal as gs
        import gevent_lite.subprocess as gsp
        got = []
        gs.signal(signal.SIGCHLD, lambda s, f: got.append(s))
        p = gsp.Popen(['sleep', '0.1'])
        rc = p.wait(timeout=5)
        gevent_lite.sleep(0.05)
        print(rc, len(got) >= 1, gs.getsignal(signal.SIGCHLD) is not None)
    ''')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ['0', 'True', 'True']


def test_subprocess_in_forked_child_works():
    # gevent#857: a subprocess started inside a forked child of a process that
    # already used subprocess hung.
    proc = helpers.run_python('''
        import os
        import gevent_lite, gevent_lite.os as gos, gevent_lite.subprocess as gsp
        gsp.call(['true'])
        pid = gos.fork()
        if pid == 0:
            import signal
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            rc = gsp.Popen(['sleep', '0.1']).wait(timeout=5)
            os._exit(10 + rc)
        print(os.WEXITSTATUS(gos.waitpid(pid, 0)[1]))
    ''')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '10'


def test_reading_stdout_directly_lets_other_greenlets_run():
    ticks = []
    p = gsp.Popen([PY, '-c', 'import time; time.sleep(0.3); print("hi")'], stdout=gsp.PIPE)
    t = helpers.ticker(ticks)
    data = p.stdout.read()
    t.kill()
    assert data == b'hi\n'
    assert len(ticks) >= 10 and helpers.max_gap(ticks) < 0.2
    assert p.wait(timeout=5) == 0
    p.stdout.close()


def test_line_iteration_in_text_mode_and_stdin_writes():
    p = gsp.Popen([PY, '-u', '-c', 'import sys\nfor line in sys.stdin: print(line.strip()[::-1])'],
                  stdin=gsp.PIPE, stdout=gsp.PIPE, text=True, bufsize=1)
    assert p.stdin.line_buffering
    got = []

    def reader():
        for line in p.stdout:
            got.append(line)

    r = gevent_lite.spawn(reader)
    for word in ('abc', 'héllo', 'xyz'):
        p.stdin.write(word + '\n')
        gevent_lite.sleep(0.01)
    p.stdin.close()
    r.join(timeout=5)
    assert got == ['cba\n', 'olléh\n', 'zyx\n']
    assert p.wait(timeout=5) == 0
    p.stdout.close()


def test_large_stdin_write_does_not_block_the_hub():
    data = b'z' * (4 << 20)
    p = gsp.Popen([PY, '-c', 'import sys, time; time.sleep(0.2); '
                   'sys.stdout.write(str(len(sys.stdin.buffer.read())))'],
                  stdin=gsp.PIPE, stdout=gsp.PIPE)
    ticks = []
    t = helpers.ticker(ticks)
    p.stdin.write(data)          # far more than a pipe holds: must park, not block
    p.stdin.close()
    out = p.stdout.read()
    t.kill()
    p.stdout.close()
    assert out == str(len(data)).encode()
    assert len(ticks) >= 10 and helpers.max_gap(ticks) < 0.2
    p.wait(timeout=5)


def test_unbuffered_pipes_and_no_stale_fd_registrations():
    p = gsp.Popen(['cat'], stdin=gsp.PIPE, stdout=gsp.PIPE, bufsize=0)
    assert isinstance(p.stdout, __import__('io').FileIO)
    p.stdin.write(b'ping')
    assert p.stdout.read(4) == b'ping'
    fds = (p.stdin.fileno(), p.stdout.fileno())
    p.stdin.close()
    p.stdout.close()
    assert p.wait(timeout=5) == 0
    assert not any(get_hub().fd_info(fd) for fd in fds)


def test_patched_stdlib_subprocess_waitpid_and_signal_cooperate():
    proc = helpers.run_python('''
        from gevent_lite import monkey
        monkey.patch_all()
        import os, signal, subprocess, threading, time
        import gevent_lite
        ticks = []
        def ticker():
            for _ in range(1000):
                ticks.append(time.monotonic())
                time.sleep(0.01)
        t = gevent_lite.spawn(ticker)
        start = time.monotonic()
        ths = [threading.Thread(target=subprocess.run, args=(['sleep', '0.3'],))
               for _ in range(10)]
        [th.start() for th in ths]
        [th.join() for th in ths]
        elapsed = time.monotonic() - start
        p = subprocess.Popen(['sleep', '0.2'])
        pid, status = os.waitpid(p.pid, 0)
        p.returncode = 0
        got = []
        signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.05)
        t.kill()
        gap = max(b - a for a, b in zip(ticks, ticks[1:]))
        print(elapsed < 2.0, pid == p.pid, got == [signal.SIGUSR1], gap < 0.2)
    ''')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ['True'] * 4, proc.stdout + proc.stderr


def test_wait_falls_back_to_polling_without_pidfd(monkeypatch):
    monkeypatch.setattr(gos, '_pidfd_open', None)     # the one child-wait lives in os
    ticks = []
    t = helpers.ticker(ticks)
    start = time.monotonic()
    procs = [gsp.Popen(['sleep', '0.3']) for _ in range(5)]
    jobs = [gevent_lite.spawn(p.wait) for p in procs]
    gevent_lite.joinall(jobs, timeout=10)
    t.kill()
    assert [j.value for j in jobs] == [0] * 5
    assert time.monotonic() - start < 1.5
    assert len(ticks) >= 10


def test_pipe_handed_to_another_child_stays_blocking_for_it():
    # O_NONBLOCK is shared through the open file description: a pipe file of
    # ours passed as another child's stdin must not make that stdin non-blocking.
    p1 = gsp.Popen([PY, '-c', 'import time, sys; time.sleep(0.2); sys.stdout.write("data")'],
                   stdout=gsp.PIPE)
    p2 = gsp.Popen([PY, '-c', 'import os, sys; sys.stdout.write(str(os.get_blocking(0)) + ":" '
                    '+ sys.stdin.read())'], stdin=p1.stdout, stdout=gsp.PIPE)
    p1.stdout.close()
    out, _ = p2.communicate(timeout=10)
    assert out == b'True:data'
    assert p1.wait(timeout=5) == 0


def _stale_registrations(n):
    """Wait (with a timeout) on both ends of pipes through the hub, then os.close them
    behind its back (as multiprocessing does with its sentinels): the hub keeps READ
    registrations under numbers that the next new fds (pidfds, pipes) get."""
    from gevent_lite.hub import READ
    fds = []
    for _ in range(n):
        fds.extend(os.pipe())
    for fd in fds:
        with pytest.raises(OSError):        # socket.timeout: nothing to read
            get_hub().wait_fd(fd, READ, timeout=0.001)
    for fd in fds:
        os.close(fd)
    return fds


def test_popen_wait_and_communicate_wake_despite_stale_hub_registrations_on_reused_numbers():
    _stale_registrations(6)
    with gevent_lite.Timeout(20):
        p = gsp.Popen([sys.executable, '-c', 'import sys, time; time.sleep(0.1); print(sys.stdin.read())'],
                      stdin=gsp.PIPE, stdout=gsp.PIPE)
        out, _ = p.communicate(b'hello')
        assert out.strip() == b'hello' and p.wait() == 0


def test_poll_in_a_loop_that_never_yields_sees_the_exit():
    # gevent#212: poll() kept returning None when the caller never let the hub
    # run; it must reap the child itself.
    p = gsp.Popen([PY, '-c', 'pass'])
    deadline = time.monotonic() + 10
    while p.poll() is None:
        assert time.monotonic() < deadline, 'poll() never saw the exit'
    assert p.returncode == 0


def test_wait_iwait_and_joinall_accept_popen_objects():
    fast = gsp.Popen(['sleep', '0.05'])
    medium = gsp.Popen(['sleep', '0.2'])
    slow = gsp.Popen(['sleep', '5'])
    try:
        start = time.monotonic()
        done = gevent_lite.wait([slow, medium, fast], timeout=3, count=2)
        assert done == [fast, medium]
        assert fast.returncode == 0 and medium.returncode == 0 and slow.returncode is None
        assert gevent_lite.wait([slow], timeout=0.05) == []
        assert list(gevent_lite.iwait([slow, fast], timeout=2, count=1)) == [fast]
        assert gevent_lite.joinall([fast, medium]) == [fast, medium]
        assert time.monotonic() - start < 3
    finally:
        slow.kill()
        slow.wait()
    assert slow.ready() and slow.returncode == -signal.SIGKILL


def test_popen_link_callbacks_run_at_exit_and_the_last_unlink_stops_the_watcher():
    p = gsp.Popen(['sleep', '0.05'])
    seen = []
    p.rawlink(seen.append)
    assert p.has_links() and not p.ready()
    p.wait(timeout=5)
    gevent_lite.sleep(0)
    assert seen == [p]
    q = gsp.Popen(['sleep', '5'])
    try:
        q.rawlink(seen.append)
        gevent_lite.sleep(0.01)
        assert q._gl_watcher is not None
        q.unlink(seen.append)
        gevent_lite.sleep(0.01)
        assert q._gl_watcher is None and get_hub().statistics()['fd_waiters'] == 0
    finally:
        q.kill()
        q.wait()
    assert seen == [p]


def test_timeout_expired_reports_the_timeout_the_caller_gave():
    from gevent_lite import subprocess as gsub
    for call in (lambda: gsub.run(['sleep', '5'], timeout=0.2),
                 lambda: gsub.run(['sleep', '5'], timeout=0.2, capture_output=True)):
        with pytest.raises(gsub.TimeoutExpired) as info:
            call()
        assert info.value.timeout == 0.2


def test_a_non_blocking_fd_handed_to_a_child_as_stdin_is_made_blocking_for_it():
    # gevent#134: a green FileObject's fd is non-blocking; the child's programs
    # expect blocking stdio (grep would fail with EAGAIN at once).
    from gevent_lite.fileobject import FileObject
    r, w = os.pipe()
    stdin = FileObject(r)
    assert not os.get_blocking(r)
    try:
        with gsp.Popen(['grep', 'text'], stdin=stdin, stdout=gsp.PIPE) as p:
            gevent_lite.sleep(0.2)
            assert p.poll() is None           # still reading, not failed with EAGAIN
            os.write(w, b'some text\n')
            os.close(w)
            w = None
            assert p.stdout.read() == b'some text\n'
            assert p.wait(timeout=10) == 0
    finally:
        stdin.close()
        if w is not None:
            os.close(w)
