import functools
import os
import socket
import subprocess
import sys
import time
import warnings

import pytest

import gevent_lite
from gevent_lite.backdoor import BackdoorServer

import _helpers

# Console sessions in a client thread: 20 s each at the most (a loaded machine).
in_thread = functools.partial(_helpers.in_thread, timeout=20.0)

PROMPT = b'>>> '


class Client:
    """A real TCP client, run in an OS thread so the hub keeps serving meanwhile."""

    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=10)
        self.buf = b''
        self.banner = self.read_until(PROMPT)    # what the console says before its first prompt

    def read_until(self, marker, timeout=10):
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            if time.monotonic() > deadline:
                raise AssertionError('no %r in %r' % (marker, self.buf))
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError('closed; got %r' % (self.buf,))
            self.buf += chunk
        out, _, self.buf = self.buf.partition(marker)
        return out.decode()

    def send(self, line):
        self.sock.sendall(line.encode() + b'\r\n')

    def run(self, line):
        self.send(line)
        return self.read_until(PROMPT)

    def close(self):
        self.sock.close()


@pytest.fixture
def server():
    s = BackdoorServer(('127.0.0.1', 0), locals={'shared': 'from-server'}, banner='hello backdoor')
    s.start()
    yield s
    s.stop(timeout=1)


def test_statements_expressions_and_multiline_blocks(server):
    def session():
        c = Client(server.server_port)
        banner = c.banner
        out = [banner, c.run('1+1'), c.run('x = 21'), c.run('x * 2'), c.run('print("hi", shared)')]
        c.send('for i in range(3):')
        c.read_until(b'... ')
        c.send('    print("item", i)')
        c.read_until(b'... ')
        out.append(c.run(''))
        out.append(c.run('1/0'))
        c.close()
        return out

    banner, two, assign, fortytwo, hi, loop, err = in_thread(session)
    assert 'hello backdoor' in banner
    assert two.strip() == '2'
    assert assign.strip() == ''
    assert fortytwo.strip() == '42'
    assert hi.strip() == 'hi from-server'
    assert [ln.strip() for ln in loop.strip().splitlines()] == ['item 0', 'item 1', 'item 2']
    assert 'ZeroDivisionError' in err and 'Traceback' in err


def test_each_connection_has_its_own_namespace_and_output(server):
    def sessions():
        a, b = Client(server.server_port), Client(server.server_port)
        a.run('secret = "only-a"')
        out_b = b.run('secret')
        out_a = a.run('print(secret)')
        a.close()
        b.close()
        return out_a, out_b
    out_a, out_b = in_thread(sessions)
    assert out_a.strip() == 'only-a'
    assert "NameError" in out_b
    assert 'only-a' not in out_b


def test_output_of_greenlets_spawned_by_a_session_goes_to_that_client(server):
    def session():
        c = Client(server.server_port)
        c.run('import gevent_lite')
        out = c.run('gevent_lite.spawn(print, "from-child").join()')
        c.close()
        return out
    assert 'from-child' in in_thread(session)


def test_disconnect_mid_statement_leaves_the_server_serving(server, capsys):
    def first():
        c = Client(server.server_port)
        c.send('import gevent_lite; gevent_lite.sleep(0.3); print("late output")')
        time.sleep(0.05)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
        c.close()             # reset while the statement runs
    in_thread(first)
    gevent_lite.sleep(0.5)    # the statement finishes and writes into a dead socket

    def second():
        c = Client(server.server_port)
        out = c.run('6*7')
        c.close()
        return out
    assert in_thread(second).strip() == '42'
    assert server.started
    assert 'late output' not in capsys.readouterr().out


def test_exit_ends_only_the_session_and_keeps_process_stdin(server):
    stdin = sys.stdin

    def session():
        c = Client(server.server_port)
        c.send('exit()')
        c.sock.settimeout(5)
        rest = c.sock.recv(100)
        c.close()
        c2 = Client(server.server_port)
        out = c2.run('"still here"')
        c2.close()
        return rest, out
    rest, out = in_thread(session)
    assert rest == b''                  # the server closed this connection
    assert "'still here'" in out
    assert sys.stdin is stdin and not getattr(stdin, 'closed', False)


def test_stdout_is_only_swapped_while_a_statement_runs(server):
    before = sys.stdout

    def session():
        c = Client(server.server_port)
        out = c.run('import sys; type(sys.stdout).__name__')
        c.close()
        return out
    assert sys.stdout is before
    assert '_GreenletStreams' in in_thread(session)
    assert sys.stdout is before


def test_non_loopback_bind_warns_loudly(capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        s = BackdoorServer(('0.0.0.0', 0))
    assert any('not a loopback' in str(w.message) for w in caught)
    assert 'WARNING' in capsys.readouterr().err
    s.close()
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        BackdoorServer(('127.0.0.1', 0)).close()
        BackdoorServer(('::1', 0)).close()


def test_command_line_serves_a_console():
    proc = subprocess.Popen([sys.executable, '-m', 'gevent_lite.backdoor', '--bind', '127.0.0.1:0'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        line = proc.stdout.readline().decode()
        assert 'listening on 127.0.0.1:' in line, proc.stderr.read() if proc.poll() is not None else line
        port = int(line.rsplit(':', 1)[1])
        c = Client(port)
        assert c.run('import os; os.getpid()').strip() == str(proc.pid)
        c.close()
    finally:
        proc.kill()
        proc.wait(10)


# Issue 19 item 8: input()/help()/sys.stdin belong to the session; long lines are bounded.

def test_input_reads_the_sessions_next_line_not_the_process_stdin(server):
    def session():
        c = Client(server.server_port)
        c.send('name = input("who? ")')
        prompt = c.read_until(b'who? ')
        c.send('bob')
        after = c.read_until(PROMPT)
        out = c.run('name')
        c.send('import sys; sys.stdin.readline()')
        c.send('typed for readline')
        line_value = c.read_until(PROMPT)
        c.close()
        return prompt, after, out, line_value
    prompt, after, out, line_value = in_thread(session)
    assert prompt == ''
    assert after.strip() == ''               # 'bob' was consumed by input(), not run as code
    assert out.strip() == "'bob'"
    assert line_value.strip() == "'typed for readline\\n'"


def test_help_is_interactive_in_the_session_and_pages_to_it(server):
    def session():
        c = Client(server.server_port)
        c.send('help()')
        intro = c.read_until(b'help> ')
        c.send('len')
        page = c.read_until(b'help> ')
        c.send('quit')
        c.read_until(PROMPT)
        direct = c.run('help(len)')
        c.close()
        return intro, page, direct
    intro, page, direct = in_thread(session)
    assert 'Welcome to Python' in intro
    assert 'Return the number of items in a container' in page
    assert 'Return the number of items in a container' in direct


def test_a_session_waiting_in_input_does_not_block_other_sessions(server):
    def sessions():
        a, b = Client(server.server_port), Client(server.server_port)
        a.send('value = input()')
        time.sleep(0.2)                      # a is parked in input() now
        out_b = b.run('6 * 7')
        a.send('late')
        a.read_until(PROMPT)
        out_a = a.run('value')
        a.close()
        b.close()
        return out_a, out_b
    out_a, out_b = in_thread(sessions)
    assert out_b.strip() == '42'
    assert out_a.strip() == "'late'"


def test_input_in_a_subprocess_never_touches_its_real_stdin():
    # The process's stdin is a pipe nobody writes: reading it would freeze the hub.
    proc = subprocess.Popen([sys.executable, '-m', 'gevent_lite.backdoor', '--bind', '127.0.0.1:0'],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        line = proc.stdout.readline().decode()
        assert 'listening on 127.0.0.1:' in line, line
        port = int(line.rsplit(':', 1)[1])
        c = Client(port)
        c.send('x = input("? ")')
        c.read_until(b'? ')
        c.send('from-the-session')
        c.read_until(PROMPT)
        assert c.run('x').strip() == "'from-the-session'"
        c.close()
    finally:
        proc.kill()
        proc.wait(10)


def test_over_long_line_ends_the_session_quickly_and_server_keeps_serving(server):
    from gevent_lite.backdoor import MAX_LINE

    def session():
        c = Client(server.server_port)
        t0 = time.monotonic()
        try:
            c.sock.sendall(b'a' * (MAX_LINE * 4))      # no newline at all
        except OSError:
            pass                                       # closed while we were still sending
        rest = b''
        c.sock.settimeout(10)
        while True:
            try:
                chunk = c.sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            rest += chunk
        elapsed = time.monotonic() - t0
        c.close()
        c2 = Client(server.server_port)
        out = c2.run('6*7')
        c2.close()
        return rest, elapsed, out
    rest, elapsed, out = in_thread(session)
    assert b'line longer than %d bytes: session closed' % MAX_LINE in rest
    assert elapsed < 5, elapsed
    assert out.strip() == '42'


def test_long_line_under_the_cap_is_read_in_linear_time(server):
    def session():
        c = Client(server.server_port)
        t0 = time.monotonic()
        c.sock.sendall(b'x = "' + b'a' * 900000 + b'"\r\n')
        c.read_until(PROMPT)
        elapsed = time.monotonic() - t0
        out = c.run('len(x)')
        c.close()
        return out, elapsed
    out, elapsed = in_thread(session)
    assert out.strip() == '900000'
    assert elapsed < 5, elapsed


def test_session_builtins_is_the_module_so_locals_stays_readable(server):
    def session():
        c = Client(server.server_port)
        out = c.run('locals()["__builtins__"]'), c.run('len(repr(locals()))')
        c.close()
        return out

    builtins_repr, locals_len = in_thread(session)
    assert builtins_repr.strip() == "<module 'builtins' (built-in)>"
    assert int(locals_len.strip()) < 1000
