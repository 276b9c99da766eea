#!/usr/bin/env python
"""Hello-world WSGI requests/s with 50 keep-alive connections, load from ``wrk``.

Servers, each in its own subprocess, interleaved over rounds:

* ``lite``           gevent_lite.pywsgi.WSGIServer
* ``gevent``         gevent.pywsgi.WSGIServer out of the box (two writes, no TCP_NODELAY)
* ``gevent_nodelay`` gevent.pywsgi with TCP_NODELAY set on every accepted socket
* ``eventlet``       eventlet.wsgi.server
* ``uvicorn``        uvicorn with httptools and uvloop, serving a raw ASGI hello app (no
                     framework): the fastest common Python HTTP stack, as an anchor
* ``waitress``       waitress, the common threaded (pure-Python) WSGI server, 4 threads
* ``lite_echo`` / ``gevent_echo``: StreamServer echo (``--echo``), 50 connections, 64 B

The load generator is ``wrk -t2 -c50 -dNs`` in a separate process. Access logs
are off for every server. Usage::

    python benchmarks/bench_wsgi.py             # 3 rounds x 5 s
    python benchmarks/bench_wsgi.py --quick     # 1 round x 2 s
    python benchmarks/bench_wsgi.py --rounds 5 --seconds 5 --echo

Also a case module for benchmarks/run.py (``CASES``: n = seconds of wrk load;
``done`` = n only when wrk saw no socket errors and no non-2xx responses).
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SERVERS = {
    'lite': r'''
import sys
from gevent_lite.pywsgi import WSGIServer
def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'Hello, World!']
srv = WSGIServer(('127.0.0.1', 0), app, log=None)
srv.start()
print(srv.server_port, flush=True)
srv.serve_forever()
''',
    'gevent': r'''
from gevent.pywsgi import WSGIServer
def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'Hello, World!']
srv = WSGIServer(('127.0.0.1', 0), app, log=None)
srv.start()
print(srv.server_port, flush=True)
srv.serve_forever()
''',
    'gevent_nodelay': r'''
import socket
from gevent.pywsgi import WSGIServer
class NoDelayServer(WSGIServer):
    def handle(self, sock, address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return WSGIServer.handle(self, sock, address)
def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'Hello, World!']
srv = NoDelayServer(('127.0.0.1', 0), app, log=None)
srv.start()
print(srv.server_port, flush=True)
srv.serve_forever()
''',
    'eventlet': r'''
import eventlet, eventlet.wsgi
def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'Hello, World!']
sock = eventlet.listen(('127.0.0.1', 0))
print(sock.getsockname()[1], flush=True)
eventlet.wsgi.server(sock, app, log_output=False)
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
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(('127.0.0.1', 0))
sock.listen(2048)              # listening before the port is announced: no refused first connect
print(sock.getsockname()[1], flush=True)
config = uvicorn.Config(app, loop='uvloop', http='httptools', lifespan='off', access_log=False,
                        log_level='warning', timeout_keep_alive=60, backlog=2048)
uvicorn.Server(config).run(sockets=[sock])
''',
    'waitress': r'''
import waitress
def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'Hello, World!']
srv = waitress.create_server(app, host='127.0.0.1', port=0, threads=4)
print(srv.effective_port, flush=True)
srv.run()
''',
    'lite_echo': r'''
from gevent_lite.server import StreamServer
def handle(sock, addr):
    recv, sendall = sock.recv, sock.sendall
    while True:
        data = recv(65536)
        if not data:
            break
        sendall(data)
srv = StreamServer(('127.0.0.1', 0), handle)
srv.start()
print(srv.server_port, flush=True)
srv.serve_forever()
''',
    'gevent_echo': r'''
from gevent.server import StreamServer
def handle(sock, addr):
    recv, sendall = sock.recv, sock.sendall
    while True:
        data = recv(65536)
        if not data:
            break
        sendall(data)
srv = StreamServer(('127.0.0.1', 0), handle)
srv.start()
print(srv.server_port, flush=True)
srv.serve_forever()
''',
}

WSGI_IMPLS = ['lite', 'gevent', 'gevent_nodelay', 'eventlet', 'uvicorn', 'waitress']
ECHO_IMPLS = ['lite_echo', 'gevent_echo']

# The echo load generator: 50 blocking client threads would measure the GIL, so a
# separate process runs 50 connections on selectors, 64-byte ping-pong.
ECHO_CLIENT = r'''
import selectors, socket, sys, time
port, conns, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
sel = selectors.DefaultSelector()
msg = b'x' * 64
socks = []
for _ in range(conns):
    s = socket.create_connection(('127.0.0.1', port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, bytearray())
    s.send(msg)
    socks.append(s)
count = 0
deadline = time.perf_counter() + seconds
t0 = time.perf_counter()
while time.perf_counter() < deadline:
    for key, _ in sel.select(0.5):
        buf = key.data
        data = key.fileobj.recv(65536)
        if not data:
            raise SystemExit('server closed a connection')
        buf += data
        while len(buf) >= 64:
            del buf[:64]
            count += 1
            key.fileobj.send(msg)
dt = time.perf_counter() - t0
print(count / dt, count)
'''


def _env():
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    return env


def start_server(impl):
    """Start ``impl``'s server in a subprocess; return ``(process, port)``."""
    # stderr is dropped: gevent prints every connection reset when the load stops.
    proc = subprocess.Popen([sys.executable, '-c', SERVERS[impl]], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=_env(), cwd=ROOT)
    line = proc.stdout.readline()
    if not line:
        proc.wait(5)
        raise RuntimeError('%s server did not start (exit %s)' % (impl, proc.returncode))
    return proc, int(line)


def stop_server(proc):
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_RPS = re.compile(r'Requests/sec:\s*([0-9.]+)')
_ERRORS = re.compile(r'Socket errors: (.*)|Non-2xx or 3xx responses: (\d+)')


def run_wrk(port, seconds, connections=50, threads=2):
    """Run wrk against ``port``; return ``(requests_per_second, error_text_or_None)``."""
    out = subprocess.run(['wrk', '-t%d' % threads, '-c%d' % connections, '-d%ds' % seconds,
                          'http://127.0.0.1:%d/' % port],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    m = _RPS.search(out)
    if m is None:
        return None, 'wrk printed no Requests/sec:\n' + out
    errors = [e.group(0) for e in _ERRORS.finditer(out)]
    return float(m.group(1)), '; '.join(errors) or None


def run_echo(port, seconds, connections=50):
    out = subprocess.run([sys.executable, '-c', ECHO_CLIENT, str(port), str(connections), str(seconds)],
                         capture_output=True, text=True, timeout=seconds + 30)
    if out.returncode != 0:
        return None, out.stderr.strip()[-300:]
    return float(out.stdout.split()[0]), None


def check_response(port):
    """One keep-alive GET before the load: the server must answer the app's exact
    body, or the wrk numbers would count something else (wrk checks only statuses)."""
    import http.client
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    try:
        for _ in range(2):
            conn.request('GET', '/')
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200 or body != b'Hello, World!':
                return 'bad response: %d %r' % (resp.status, body[:80])
    finally:
        conn.close()
    return None


def measure(impl, seconds):
    proc, port = start_server(impl)
    try:
        # No settling sleep: every server prints its port only once it listens, and
        # check_response's keep-alive requests wait for a server still starting up.
        if impl.endswith('_echo'):
            return run_echo(port, seconds)
        error = check_response(port)
        if error:
            return None, error
        return run_wrk(port, seconds)
    finally:
        stop_server(proc)


def available(impl):
    mod = {'lite': 'gevent_lite', 'gevent': 'gevent', 'eventlet': 'eventlet', 'uvicorn': 'uvicorn, uvloop, httptools',
           'waitress': 'waitress'}[impl.split('_')[0]]
    try:
        subprocess.run([sys.executable, '-c', 'import ' + mod], check=True, env=_env(),
                       capture_output=True)
        return True
    except subprocess.CalledProcessError:
        return False


def format_table(results, baseline):
    lines = ['  %-16s %12s %23s %10s' % ('server', 'median', 'min - max', 'vs %s' % baseline)]
    base = statistics.median(results[baseline]) if results.get(baseline) else None
    for impl, values in results.items():
        if not values:
            lines.append('  %-16s %12s' % (impl, 'ERROR'))
            continue
        med = statistics.median(values)
        ratio = '%.2fx' % (med / base) if base else '-'
        lines.append('  %-16s %12.0f %11.0f - %-9.0f %10s' % (impl, med, min(values), max(values), ratio))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='1 round of 2 s')
    parser.add_argument('--rounds', type=int, default=None)
    parser.add_argument('--seconds', type=int, default=None)
    parser.add_argument('--impl', default=','.join(WSGI_IMPLS))
    parser.add_argument('--echo', action='store_true', help='also StreamServer echo vs gevent')
    parser.add_argument('--_one', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    seconds = args.seconds or (2 if args.quick else 5)
    if args._one:
        # Harness mode (benchmarks/run.py): one measurement, one @@BENCH line.
        import json
        value, err = measure(args._one, seconds)
        print('@@BENCH ' + json.dumps({'value': value, 'done': seconds if value and not err else 0}))
        return 0 if value and not err else 1
    if shutil.which('wrk') is None:
        print('wrk is not installed; cannot run the WSGI benchmark', file=sys.stderr)
        return 2
    groups = [('hello-world WSGI, 50 keep-alive conns (wrk), req/s', [
        i for i in args.impl.split(',') if i and available(i)], 'gevent_nodelay')]
    if args.echo:
        groups.append(('StreamServer echo, 50 conns, 64 B, req/s',
                       [i for i in ECHO_IMPLS if available(i)], 'gevent_echo'))
    status = 0
    for title, impls, baseline in groups:
        results = {impl: [] for impl in impls}
        for r in range(rounds):
            for impl in impls:
                value, err = measure(impl, seconds)
                if err:
                    print('  round %d %s: %s' % (r + 1, impl, err), file=sys.stderr)
                    status = 1
                if value:
                    results[impl].append(value)
        if baseline not in results:
            baseline = impls[0] if impls else baseline
        print('%s  [%d round(s) x %d s]' % (title, rounds, seconds))
        print(format_table(results, baseline))
    return status


def _cmd(impl):
    return ['{python}', os.path.join(HERE, 'bench_wsgi.py'), '--_one', impl, '--seconds', '{n}']


CASES = [
    dict(name='wsgi_hello', description='hello-world WSGI, 50 keep-alive conns (wrk)',
         unit='req/s', higher_is_better=True, n=5, quick_n=1, timeout=60,
         target='>= 1.2x uvicorn',
         impls={i: _cmd(i) for i in WSGI_IMPLS}),
]


if __name__ == '__main__':
    sys.exit(main())
