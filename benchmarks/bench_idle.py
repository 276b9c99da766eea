#!/usr/bin/env python
"""Memory at scale: a server holding 10,000 idle keep-alive connections.

Two cases, each a server in its own subprocess and this process as the client:

* ``idle_stream``: a ``StreamServer`` whose handler echoes and then parks in
  ``recv`` for the next message (gevent_lite, gevent), and the same handler as
  a coroutine on asyncio streams (``asyncio``, ``uvloop``);
* ``idle_http``: a hello-world server after one keep-alive request per
  connection, each connection's handler parked reading the next request:
  ``gevent_lite.pywsgi``, ``gevent.pywsgi``, and uvicorn (httptools + uvloop, raw
  ASGI app, keep-alive timeout raised to pywsgi's 60 s so no connection is
  dropped while the client opens the rest).

The value is the growth of the server's resident set size (``/proc/PID/statm``)
from before the connections to when all ``n`` are open and idle, divided by
``n``: KB per connection, lower is better. The client first opens and closes
a few connections (imports and first-request allocations are not counted),
then opens ``n`` in batches smaller than the listen backlog, each sending one
request and reading the complete answer, and keeps them all open while the RSS
is read. ``done`` is the number of connections that got their answer and were
still open (not reset or closed by the server) when the RSS was read.

Both processes raise their soft ``RLIMIT_NOFILE`` to the hard limit; if that is
below what ``n`` needs, the case says so instead of measuring something else.

    python benchmarks/run.py --cases idle_stream,idle_http
    python benchmarks/bench_idle.py --kind http --impl lite --n 10000   # one measurement
"""

import argparse
import json
import os
import resource
import select
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

#: Connections per batch: fewer than any server's listen backlog (gevent's StreamServer: 128), so the
#: kernel never drops a handshake while the server is busy accepting the previous batch.
BATCH = 100
#: Connections opened and closed before the "before" reading.
WARMUP = 50
#: Seconds any one socket operation may take, and the whole measurement.
OP_TIMEOUT = 20.0
DEADLINE = 150.0

# Prepended to every server: enough descriptors for n connections.
_NOFILE = r'''
import resource
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft != _hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))
'''

_ECHO_HANDLER = r'''
def handle(sock, addr):
    recv, sendall = sock.recv, sock.sendall
    while True:
        data = recv(65536)
        if not data:
            break
        sendall(data)
'''

_ASYNCIO_ECHO = r'''
import asyncio, sys
async def handle(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(handle, '127.0.0.1', 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
'''

_HELLO_WSGI = r'''
def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'Hello, World!']
'''

SERVERS = {
    'stream': {
        'lite': _ECHO_HANDLER + r'''
from gevent_lite.server import StreamServer
srv = StreamServer(('127.0.0.1', 0), handle)
srv.start()
print(srv.server_port, flush=True)
srv.serve_forever()
''',
        'gevent': _ECHO_HANDLER + r'''
from gevent.server import StreamServer
srv = StreamServer(('127.0.0.1', 0), handle)
srv.start()
print(srv.server_port, flush=True)
srv.serve_forever()
''',
        'asyncio': _ASYNCIO_ECHO + 'asyncio.run(main())\n',
        'uvloop': _ASYNCIO_ECHO + 'import uvloop\nuvloop.run(main())\n',
    },
    'http': {
        'lite': _HELLO_WSGI + r'''
from gevent_lite.pywsgi import WSGIServer
srv = WSGIServer(('127.0.0.1', 0), app, log=None)
srv.start()
print(srv.server_port, flush=True)
srv.serve_forever()
''',
        'gevent': _HELLO_WSGI + r'''
from gevent.pywsgi import WSGIServer
srv = WSGIServer(('127.0.0.1', 0), app, log=None)
srv.start()
print(srv.server_port, flush=True)
srv.serve_forever()
''',
        'uvicorn': r'''
import socket
import uvicorn
async def app(scope, receive, send):
    if scope['type'] != 'http':
        return
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-type', b'text/plain'), (b'content-length', b'13')]})
    await send({'type': 'http.response.body', 'body': b'Hello, World!'})
sock = socket.socket()
sock.bind(('127.0.0.1', 0))
sock.listen(1024)
print(sock.getsockname()[1], flush=True)
config = uvicorn.Config(app, loop='uvloop', http='httptools', lifespan='off', access_log=False,
                        log_level='warning', timeout_keep_alive=60, backlog=1024)
uvicorn.Server(config).run(sockets=[sock])
''',
    },
}

_ECHO_MSG = b'x' * 64
_HTTP_REQ = b'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
_HTTP_BODY = b'Hello, World!'


def _raise_nofile(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise RuntimeError('%d connections need about %d file descriptors; the hard limit is %d '
                           '(raise it: ulimit -Hn, or /etc/security/limits.conf)' % (needed - 100, needed, hard))
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _rss_kb(pid):
    with open('/proc/%d/statm' % pid) as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 1024.0


def _answer_complete(kind, buf):
    """Whether ``buf`` holds the whole answer to one request (raises if it is wrong)."""
    if kind == 'stream':
        if len(buf) > len(_ECHO_MSG) or not _ECHO_MSG.startswith(bytes(buf)):
            raise RuntimeError('echo mismatch: %r' % bytes(buf[:80]))
        return len(buf) == len(_ECHO_MSG)
    end = buf.find(b'\r\n\r\n')
    if end < 0:
        return False
    head = bytes(buf[:end]).lower()
    if not head.startswith(b'http/1.1 200'):
        raise RuntimeError('bad response: %r' % bytes(buf[:80]))
    if b'connection: close' in head:
        raise RuntimeError('the server closes keep-alive connections: %r' % head)
    body = bytes(buf[end + 4:])
    if len(body) < len(_HTTP_BODY):
        return False
    if body != _HTTP_BODY:
        raise RuntimeError('bad body: %r' % body[:80])
    return True


def _open_batch(kind, port, count):
    """Open ``count`` connections, send one request on each, read every complete answer."""
    request = _ECHO_MSG if kind == 'stream' else _HTTP_REQ
    socks = []
    try:
        for _ in range(count):
            s = socket.create_connection(('127.0.0.1', port), timeout=OP_TIMEOUT)
            socks.append(s)
            s.sendall(request)
        pending = {s.fileno(): (s, bytearray()) for s in socks}
        poller = select.epoll(len(socks) + 1)
        for fd in pending:
            poller.register(fd, select.EPOLLIN)
        deadline = time.monotonic() + OP_TIMEOUT
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError('%d of %d connections got no answer within %gs'
                                   % (len(pending), count, OP_TIMEOUT))
            for fd, _ in poller.poll(left):
                s, buf = pending[fd]
                data = s.recv(65536)
                if not data:
                    raise RuntimeError('the server closed a connection before answering')
                buf += data
                if _answer_complete(kind, buf):
                    poller.unregister(fd)
                    del pending[fd]
        poller.close()
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def _still_open(socks):
    """How many of ``socks`` the server has neither closed nor reset (nothing readable)."""
    alive = 0
    poller = select.epoll(len(socks) + 1)
    try:
        for s in socks:
            poller.register(s.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
        readable = {fd for fd, _ in poller.poll(0)}
    finally:
        poller.close()
    for s in socks:
        if s.fileno() not in readable:
            alive += 1
    return alive


def measure(kind, impl, n):
    """Server KB per idle connection with ``n`` open; returns ``(value, done)``."""
    _raise_nofile(n + 200)
    script = _NOFILE + SERVERS[kind][impl]
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('PYTHONWARNINGS', 'ignore')
    server = subprocess.Popen([sys.executable, '-c', script], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, env=env, cwd=ROOT, text=True)
    socks = []
    started = time.monotonic()
    try:
        ready, _, _ = select.select([server.stdout], [], [], 30)
        line = server.stdout.readline() if ready else ''
        if not line.strip().isdigit():
            raise RuntimeError('%s %s server did not start (exit %s)' % (impl, kind, server.poll()))
        port = int(line)
        for s in _open_batch(kind, port, WARMUP):
            s.close()
        time.sleep(0.2)                       # the server sees the closes and frees the warm-up
        before = _rss_kb(server.pid)
        while len(socks) < n:
            if time.monotonic() - started > DEADLINE:
                raise RuntimeError('only %d of %d connections open after %gs' % (len(socks), n, DEADLINE))
            socks.extend(_open_batch(kind, port, min(BATCH, n - len(socks))))
        time.sleep(0.2)                       # the last handlers go back to their recv
        after = _rss_kb(server.pid)
        done = _still_open(socks)
        if server.poll() is not None:
            raise RuntimeError('the %s %s server died (exit %s)' % (impl, kind, server.returncode))
        return (after - before) / n, done
    finally:
        for s in socks:
            s.close()
        server.kill()
        server.wait()


def stream_lite(n):
    return measure('stream', 'lite', n)


def stream_gevent(n):
    return measure('stream', 'gevent', n)


def stream_asyncio(n):
    return measure('stream', 'asyncio', n)


def stream_uvloop(n):
    return measure('stream', 'uvloop', n)


def http_lite(n):
    return measure('http', 'lite', n)


def http_gevent(n):
    return measure('http', 'gevent', n)


def http_uvicorn(n):
    return measure('http', 'uvicorn', n)


CASES = [
    dict(name='idle_stream', description='idle keep-alive conns, StreamServer parked in recv: server memory/conn',
         unit='KB', higher_is_better=False, n=10_000, quick_n=10_000, target='<= gevent', timeout=200, quick_rounds=1,
         impls={'lite': stream_lite, 'gevent': stream_gevent, 'asyncio': stream_asyncio,
                'uvloop': stream_uvloop}),
    dict(name='idle_http', description='idle keep-alive conns, pywsgi after 1 request: server memory/conn',
         unit='KB', higher_is_better=False, n=10_000, quick_n=10_000, target='<= gevent', timeout=200, quick_rounds=1,
         impls={'lite': http_lite, 'gevent': http_gevent, 'uvicorn': http_uvicorn}),
]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--kind', choices=sorted(SERVERS), default='stream')
    p.add_argument('--impl', default='lite')
    p.add_argument('--n', type=int, default=10_000)
    args = p.parse_args(argv)
    if args.impl not in SERVERS[args.kind]:
        p.error('no %s server %r (choose from %s)' % (args.kind, args.impl, ', '.join(SERVERS[args.kind])))
    value, done = measure(args.kind, args.impl, args.n)
    print(json.dumps({'value': value, 'done': done}))
    return 0 if done == args.n else 1


if __name__ == '__main__':
    sys.exit(main())
