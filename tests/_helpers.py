"""Helpers shared by several test modules (fixtures live in conftest.py)."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import gevent_lite
from gevent_lite import socket as gsocket

#: The repository: subprocesses import gevent_lite from here.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ticker(ticks, interval=0.01, limit=1000):
    """Spawn a greenlet appending ``time.monotonic()`` to ``ticks`` every
    ``interval`` seconds (at most ``limit`` times): if something blocks the hub,
    :func:`max_gap` of the ticks shows it."""
    def run():
        for _ in range(limit):
            ticks.append(time.monotonic())
            gevent_lite.sleep(interval)
    return gevent_lite.spawn(run)


def max_gap(ticks):
    """The longest pause between two ticks of :func:`ticker`."""
    return max(b - a for a, b in zip(ticks, ticks[1:]))


def in_thread(fn, timeout=10.0):
    """Run blocking client code ``fn`` in an OS thread while the hub serves.

    The calling greenlet sleeps in short steps (the hub runs the servers
    meanwhile) until the thread ends, at most ``timeout`` seconds; returns what
    ``fn`` returned or raises what it raised.
    """
    box = {}

    def target():
        try:
            box['value'] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test
            box['error'] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    deadline = time.monotonic() + timeout
    while t.is_alive() and time.monotonic() < deadline:
        gevent_lite.sleep(0.003)
    assert not t.is_alive(), 'client thread did not finish in %s s' % timeout
    if 'error' in box:
        raise box['error']
    return box.get('value')


def run_python(code=None, args=(), python=None, timeout=60, env=None, cwd=ROOT):
    """Run ``code`` (dedented) and/or the command-line ``args`` in a new interpreter
    that imports gevent_lite from this repository, with the variables ``env`` added
    to the environment; return the ``CompletedProcess``."""
    argv = [python or sys.executable] + (['-c', textwrap.dedent(code)] if code is not None else [])
    full_env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    full_env.update(env or {})
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=timeout,
                          env=full_env, cwd=cwd)


def check_python(code=None, **kwargs):
    """:func:`run_python`, asserting exit status 0; returns its stdout."""
    res = run_python(code, **kwargs)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def run_patched(code, header='', python=None, timeout=60, patch='monkey.patch_all()', env=None):
    """Run ``code`` in a new interpreter whose first act is ``patch``, after the lines
    ``header`` (e.g. ``PORT = 1234``); return the ``CompletedProcess``."""
    src = 'from gevent_lite import monkey; %s\n%s' % (patch, header) + textwrap.dedent(code)
    return run_python(src, python=python, timeout=timeout, env=env)


def check_patched(code, **kwargs):
    """:func:`run_patched`, asserting a clean exit with no traceback; returns its stdout."""
    res = run_patched(code, **kwargs)
    assert res.returncode == 0, res.stdout + res.stderr
    assert 'Traceback' not in res.stderr, res.stderr
    return res.stdout


def make_certificate(directory):
    """A self-signed certificate for localhost and 127.0.0.1 (the ``openssl`` command
    makes it); returns ``(certfile, keyfile)``."""
    certfile = os.path.join(str(directory), 'cert.pem')
    keyfile = os.path.join(str(directory), 'key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyfile,
                    '-out', certfile, '-days', '2', '-subj', '/CN=localhost',
                    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
                   check=True, capture_output=True, timeout=60)
    return certfile, keyfile


def listener(backlog=1024):
    """A green TCP socket listening on 127.0.0.1; returns ``(socket, port)``."""
    srv = gsocket.socket()
    srv.setsockopt(gsocket.SOL_SOCKET, gsocket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', 0))
    srv.listen(backlog)
    return srv, srv.getsockname()[1]


def echo_handler(conn):
    """Send back what ``conn`` receives until EOF, then close it."""
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)


def serve(srv, handler=echo_handler):
    """Accept on ``srv`` and spawn ``handler(conn)`` per connection, until ``srv`` is
    closed (TLS handshake failures end it too: ``SSLError`` is an ``OSError``)."""
    while True:
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        gevent_lite.spawn(handler, conn)


def free_port():
    """A TCP port of 127.0.0.1 that was free a moment ago (another process may take it)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _answers_ping(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=1) as s:
            s.sendall(b'PING\r\n')
            return s.recv(64).startswith(b'+PONG')
    except OSError:
        return False


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def redis_server(workdir):
    """Run a real ``redis-server`` on a free port of 127.0.0.1 (no persistence,
    files in ``workdir``) until it answers PING; yield the port; stop the process
    by its PID. The caller skips when ``shutil.which('redis-server')`` is None."""
    for _attempt in range(3):          # the free port may be taken between probe and bind
        port = free_port()
        proc = subprocess.Popen(
            [shutil.which('redis-server'), '--port', str(port), '--bind', '127.0.0.1',
             '--save', '', '--appendonly', 'no', '--dir', str(workdir)],
            cwd=str(workdir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and proc.poll() is None:
                if _answers_ping(port):
                    break
                time.sleep(0.05)
            else:
                continue               # exited early or never answered: next port
            yield port
            return
        finally:
            _stop(proc)
    pytest.fail('redis-server did not start (3 attempts)')
