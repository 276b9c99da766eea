#!/usr/bin/env python
"""Instructions per unit of work, counted by valgrind's callgrind: an A/B that noise cannot move.

    python benchmarks/count_instructions.py                       # every case, lite and gevent
    python benchmarks/count_instructions.py --cases sleep0,event --impl lite
    python benchmarks/count_instructions.py --sizes 2000,6000

Wall-clock rounds on a shared 2-core machine spread by tens of percent; the
number of instructions a program executes does not depend on what else the
machine is doing. Each case runs twice per implementation under
``valgrind --tool=callgrind``, at two sizes; the difference of the two totals
divided by the difference of the sizes is the cost of one unit of work, with
interpreter start-up and imports cancelled out. Use it to decide whether a
change to a hot path helps; use ``run.py`` for the speed users see.

A unit is: ``sleep0`` one ``sleep(0)`` in each of two greenlets; ``spawn`` one
spawn+join of a no-op greenlet (for ``--impl greenlet``: one raw greenlet
created, switched into and finished, the floor under any library's spawn);
``event`` one set/wait/clear round trip between two greenlets; ``queue`` one
item through ``Queue(100)``; ``timers`` one timed ``sleep`` (10 per greenlet);
``wsgi1`` one hello-world request on a keep-alive connection to the WSGI server
(``pywsgi``; for gevent with ``TCP_NODELAY``, as ``bench_wsgi.py``'s
``gevent_nodelay``), from one client connection that pauses 2 ms before each
request, so the server finds no next request waiting and parks in the poller
for every request, as it mostly does under ``wrk``; ``wsgi50`` the same from 50 connections at once, as ``wrk -c50``
loads it (the poller then reports several connections per wait, and the count moves
more from run to run). The load comes from a client process valgrind does not
trace, so only the server's instructions are counted.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CASES = ('sleep0', 'spawn', 'event', 'queue', 'timers', 'wsgi1', 'wsgi50')
IMPLS = ('lite', 'gevent', 'eventlet', 'greenlet')

# The HTTP load of the wsgi cases: CONNS keep-alive connections, N hello-world
# requests in all (one outstanding per connection, as wrk sends them), every
# response checked; then every connection is closed. Run as a separate process.
WSGI_CLIENT = r'''
import selectors, socket, sys, time
port, conns, n, pause = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
req = b'GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n' % port
sel = selectors.DefaultSelector()
sent = got = 0
for _ in range(min(conns, n)):
    s = socket.create_connection(('127.0.0.1', port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sel.register(s, selectors.EVENT_READ, bytearray())
    s.sendall(req)
    sent += 1
while got < n:
    for key, _ in sel.select(60) or sys.exit('no response for 60 s'):
        buf = key.data
        data = key.fileobj.recv(65536)
        if not data:
            sys.exit('server closed a connection after %d responses' % got)
        buf += data
        while True:
            end = buf.find(b'Hello, World!')
            if end < 0:
                break
            if not buf.startswith(b'HTTP/1.1 200 '):
                sys.exit('bad response %r' % bytes(buf[:200]))
            del buf[:end + 13]
            got += 1
            if sent < n:
                if pause:
                    time.sleep(pause)
                key.fileobj.sendall(req)
                sent += 1
for key in list(sel.get_map().values()):
    key.fileobj.close()
'''

# The workload, run in the measured interpreter: python -c WORKLOAD IMPL CASE N
# (the wsgi cases get the client's source as a fourth argument)
WORKLOAD = r'''
import sys
impl, case, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if case in ('wsgi1', 'wsgi50'):
    # The server under measurement; the client is a child process (valgrind does
    # not trace it). The run ends when the client has closed every connection.
    import socket, subprocess
    conns = 1 if case == 'wsgi1' else 50
    if impl == 'lite':
        from gevent_lite.event import Event
        from gevent_lite.pywsgi import WSGIServer
    elif impl == 'gevent':
        from gevent.event import Event
        from gevent.pywsgi import WSGIServer
    else:
        raise SystemExit('the wsgi cases are for lite and gevent only')
    closed = [0]
    all_closed = Event()
    served = [0]
    class Server(WSGIServer):
        def handle(self, sock, address):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # gevent_nodelay
            try:
                WSGIServer.handle(self, sock, address)
            finally:
                closed[0] += 1
                if closed[0] == min(conns, n):
                    all_closed.set()
    def app(environ, start_response):
        served[0] += 1
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'Hello, World!']
    srv = Server(('127.0.0.1', 0), app, log=None)
    srv.start()
    client = subprocess.Popen([sys.executable, '-c', sys.argv[4], str(srv.server_port), str(conns), str(n),
                               '0.002' if conns == 1 else '0'])
    all_closed.wait()
    srv.stop()
    if client.wait() != 0:
        raise SystemExit('the client failed')
    assert served[0] == n, (case, served[0], n)
    raise SystemExit(0)
if impl == 'greenlet':
    # Raw greenlet: only the spawn case, as its physical limit (create, switch in, finish).
    from greenlet import greenlet
    if case != 'spawn':
        raise SystemExit('raw greenlet has only the spawn case')
    def noop():
        pass
    gs = [greenlet(noop) for _ in range(n)]
    for x in gs:
        x.switch()
    assert all(x.dead for x in gs)
    raise SystemExit(0)
elif impl == 'lite':
    import gevent_lite as g
    from gevent_lite.event import Event
    from gevent_lite.queue import Queue
    joinall = g.joinall
elif impl == 'gevent':
    import gevent as g
    from gevent.event import Event
    from gevent.queue import Queue
    joinall = g.joinall
else:
    import eventlet as g
    from eventlet.queue import Queue
    from eventlet.event import Event as _Ev

    class Event:                    # eventlet's Event is one-shot: send/reset
        def __init__(self):
            self._e = _Ev()
        def set(self):
            if not self._e.ready():
                self._e.send(True)
        def wait(self):
            return self._e.wait()
        def clear(self):
            if self._e.ready():
                self._e.reset()

    def joinall(gs):
        for x in gs:
            x.wait()
done = 0
if case == 'sleep0':
    def other():
        for _ in range(n):
            g.sleep(0)
    p = g.spawn(other)
    for _ in range(n):
        g.sleep(0)
        done += 1
    joinall([p])
elif case == 'spawn':
    def noop():
        pass
    gs = [g.spawn(noop) for _ in range(n)]
    joinall(gs)
    done = len(gs)
elif case == 'event':
    a, b = Event(), Event()
    def pong():
        for _ in range(n):
            a.wait(); a.clear(); b.set()
    p = g.spawn(pong)
    for _ in range(n):
        a.set(); b.wait(); b.clear()
        done += 1
    joinall([p])
elif case == 'queue':
    q = Queue(100)
    def producer():
        for i in range(n):
            q.put(i)
    p = g.spawn(producer)
    for _ in range(n):
        done += q.get() >= 0
    joinall([p])
elif case == 'timers':
    def sleeper():
        for _ in range(10):
            g.sleep(0.00001)
    gs = [g.spawn(sleeper) for _ in range(n // 10)]
    joinall(gs)
    done = 10 * len(gs)
assert done == n, (case, done, n)
'''


def workload_extra(case):
    """The arguments after ``IMPL CASE N`` that ``case``'s workload needs."""
    return [WSGI_CLIENT] if case.startswith('wsgi') else []


def count(impl, case, n, python=sys.executable):
    """Instructions callgrind counted for one run of ``case`` at size ``n``."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run(
        ['valgrind', '--tool=callgrind', '--callgrind-out-file=/dev/null',
         python, '-c', WORKLOAD, impl, case, str(n)] + workload_extra(case),
        capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError('%s %s n=%d failed:\n%s' % (impl, case, n, proc.stderr[-2000:]))
    m = re.search(r'Collected : (\d+)', proc.stderr)
    if m is None:
        raise RuntimeError('callgrind printed no total:\n' + proc.stderr[-2000:])
    return int(m.group(1))


def per_unit(impl, case, small, large):
    return (count(impl, case, large) - count(impl, case, small)) / (large - small)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--cases', default=','.join(CASES))
    p.add_argument('--impl', default='lite,gevent')
    p.add_argument('--sizes', default='2000,6000', help='the two sizes, small,large')
    args = p.parse_args(argv)
    if shutil.which('valgrind') is None:
        p.error('valgrind is not installed (apt-get install valgrind)')
    small, large = (int(x) for x in args.sizes.split(','))
    if not 0 < small < large:
        p.error('--sizes needs two increasing positive sizes, not %r' % args.sizes)
    impls = args.impl.split(',')
    for impl in impls:
        if impl not in IMPLS:
            p.error('unknown implementation %r (choose from %s)' % (impl, ', '.join(IMPLS)))
    cases = args.cases.split(',')
    for case in cases:
        if case not in CASES:
            p.error('unknown case %r (choose from %s)' % (case, ', '.join(CASES)))
    print('%-8s' % 'case' + ''.join('%14s' % i for i in impls) + '   (instructions per unit)')
    for case in cases:
        row = [per_unit(impl, case, small, large) if impl != 'greenlet' or case == 'spawn' else None
               for impl in impls]
        print('%-8s' % case + ''.join('%14s' % '-' if v is None else '%14.0f' % v for v in row))
    return 0


if __name__ == '__main__':
    sys.exit(main())
