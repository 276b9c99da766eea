#!/usr/bin/env python
"""TCP echo: gevent_lite vs gevent, eventlet, asyncio and uvloop servers, driven by one identical load generator.

Standalone::

    python benchmarks/bench_echo.py                 # 3 rounds x (50x64 B, 50x4 KB, 1000x64 B), 3 s each
    python benchmarks/bench_echo.py --quick         # 2 rounds, 1 s each
    python benchmarks/bench_echo.py --impl lite --cases 50x64 --profile /tmp/echo.prof

Each server runs in its own subprocess (``--_server IMPL``): an accept loop that
spawns one greenlet per connection doing ``recv`` then ``sendall`` with the
library's own green socket API (no monkey-patching). The asyncio anchors are the
same program in asyncio's terms, one coroutine per connection on streams
(``await reader.read()``, ``writer.write()``, ``await writer.drain()``), on the
default event loop (``asyncio``) and on uvloop (``uvloop``). The load comes from separate
client processes (``--_client``), the same code for every implementation: plain
Python on ``select.epoll`` (``selectors`` elsewhere) in one thread, N connections
each doing request/response ping-pong with a fixed message, every echo compared
byte for byte. Implementations are interleaved round by round; the table shows
medians of requests/s and the ratio to gevent, plus the CPU share of the server
and of the client processes (a client near 100 % would mean the load generator,
not the server, is the limit: use ``--clients 2``).

``run.py`` also runs these cases (``CASES`` below) in fixed-count mode:
``--one IMPL --conns C --size S --requests N`` prints one ``@@BENCH`` line.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
IMPLS = ('lite', 'gevent', 'eventlet', 'asyncio', 'uvloop')
DEFAULT_CASES = ('50x64', '50x4096', '1000x64')


# --------------------------------------------------------------------------------------
# Servers (one per implementation, each in its own process)

def _handler_body(conn):
    # Identical for all libraries: their socket objects share the stdlib API.
    recv = conn.recv
    sendall = conn.sendall
    try:
        while True:
            data = recv(65536)
            if not data:
                break
            sendall(data)
    except OSError:
        pass
    finally:
        conn.close()


def serve_lite():
    import gevent_lite
    from gevent_lite import socket as gsocket
    listener = gsocket.socket()
    return listener, gevent_lite.spawn, gevent_lite.sleep


def serve_gevent():
    import gevent
    from gevent import socket as gsocket
    listener = gsocket.socket()
    return listener, gevent.spawn, gevent.sleep


def serve_eventlet():
    import warnings
    warnings.simplefilter('ignore')
    import eventlet
    from eventlet.green import socket as gsocket
    listener = gsocket.socket()
    return listener, eventlet.spawn, eventlet.sleep


SERVERS = {'lite': serve_lite, 'gevent': serve_gevent, 'eventlet': serve_eventlet}


def asyncio_server_main(impl, lifetime):
    """The asyncio anchors: a coroutine per connection on streams; TCP_NODELAY is
    asyncio's (and uvloop's) default on TCP transports."""
    import asyncio

    async def handle(reader, writer):
        read = reader.read
        write = writer.write
        drain = writer.drain
        try:
            while True:
                data = await read(65536)
                if not data:
                    break
                write(data)
                await drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, '127.0.0.1', 0, backlog=2048)
        sys.stdout.write('PORT %d\n' % server.sockets[0].getsockname()[1])
        sys.stdout.flush()
        await asyncio.sleep(lifetime)

    if impl == 'uvloop':
        import uvloop
        uvloop.run(main())
    else:
        asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)


def server_main(impl, lifetime, profile):
    if impl in ('asyncio', 'uvloop'):
        if profile:
            raise SystemExit('--profile profiles the gevent_lite server only')
        return asyncio_server_main(impl, lifetime)
    listener, spawn, sleep = SERVERS[impl]()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(('127.0.0.1', 0))
    listener.listen(2048)

    def accept_loop():
        nodelay = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            conn, _ = listener.accept()
            conn.setsockopt(*nodelay)
            spawn(_handler_body, conn)

    prof = None
    if profile:
        import cProfile
        prof = cProfile.Profile()
        prof.enable()
    spawn(accept_loop)
    sys.stdout.write('PORT %d\n' % listener.getsockname()[1])
    sys.stdout.flush()
    sleep(lifetime)
    if prof is not None:
        prof.disable()
        prof.dump_stats(profile)
    sys.stdout.flush()
    os._exit(0)


# --------------------------------------------------------------------------------------
# The load generator (identical for every implementation)

def client_main(port, conns, size, warmup, duration, requests):
    """Ping-pong on ``conns`` connections; print one JSON line with the counts.

    Duration mode (requests == 0): run ``warmup + duration`` seconds, count the
    requests completed during the last ``duration``. Count mode: each connection
    does ``requests // conns`` round trips; the clock covers all of them.
    """
    import select
    socks = []
    for _ in range(conns):
        s = socket.create_connection(('127.0.0.1', port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        socks.append(s)
    per_conn = requests // conns if requests else 0
    msgs = [os.urandom(size) for _ in range(min(conns, 16))]
    state = {}
    if hasattr(select, 'epoll'):
        ep = select.epoll(conns)
        for s in socks:
            ep.register(s.fileno(), select.EPOLLIN)
        poll = ep.poll
    else:  # pragma: no cover - not Linux
        import selectors
        sel = selectors.DefaultSelector()
        for s in socks:
            sel.register(s, selectors.EVENT_READ)

        def poll(timeout):
            return [(k.fd, ev) for k, ev in sel.select(timeout)]
    for i, s in enumerate(socks):
        # fd -> [socket, message, bytes still expected, chunks, round trips left]
        state[s.fileno()] = [s, msgs[i % len(msgs)], size, [], per_conn]
    errors = 0
    done = total = 0
    active = conns
    t0 = time.perf_counter()
    cpu0 = sum(os.times()[:2])
    for s in socks:
        s.send(state[s.fileno()][1])
    if requests:
        measuring = True
        t_start, cpu_start, end = t0, cpu0, float('inf')
    else:
        measuring = False
        t_start = t0 + warmup
        end = t_start + duration
        cpu_start = cpu0
    now = time.perf_counter
    while active:
        events = poll(1.0)
        if not events:
            errors += 1
            break
        for fd, _ in events:
            st = state[fd]
            data = st[0].recv(65536)
            if not data:
                errors += 1
                active = 0
                break
            left = st[2] - len(data)
            if left > 0:
                st[2] = left
                st[3].append(data)
                continue
            if st[3]:
                st[3].append(data)
                data = b''.join(st[3])
                st[3] = []
            if data != st[1]:
                errors += 1
            st[2] = size
            total += 1
            if measuring:
                done += 1
            if per_conn:
                st[4] -= 1
                if not st[4]:
                    active -= 1
                    continue
            st[0].send(st[1])
        if not requests:
            t = now()
            if not measuring and t >= t_start:
                measuring = True
                t_start = t
                cpu_start = sum(os.times()[:2])
            elif t >= end:
                break
    elapsed = now() - t_start
    cpu = sum(os.times()[:2]) - cpu_start
    for s in socks:
        s.close()
    sys.stdout.write(json.dumps({'done': done, 'total': total, 'seconds': elapsed, 'cpu': cpu,
                                 'errors': errors}) + '\n')
    sys.stdout.flush()


# --------------------------------------------------------------------------------------
# The driver

def _env():
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('PYTHONWARNINGS', 'ignore')
    return env


def _proc_cpu(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, ValueError, IndexError):
        return float('nan')


def measure(impl, conns, size, warmup, duration, clients=1, requests=0, profile=None):
    """One measurement: start the server, run the clients, return a result dict."""
    lifetime = warmup + duration + 30 if not requests else 600
    cmd = [sys.executable, __file__, '--_server', impl, '--lifetime', str(lifetime)]
    if profile:
        cmd += ['--profile', profile]
        lifetime = warmup + duration + 1.5
        cmd[cmd.index('--lifetime') + 1] = str(lifetime)
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=_env(), text=True)
    try:
        line = server.stdout.readline()
        if not line.startswith('PORT '):
            raise RuntimeError('%s server did not start: %r' % (impl, line))
        port = int(line.split()[1])
        split = [conns // clients + (1 if i < conns % clients else 0) for i in range(clients)]
        reqs = [requests // conns * c for c in split] if requests else [0] * clients
        cpu_server0 = _proc_cpu(server.pid)
        procs = [subprocess.Popen([sys.executable, __file__, '--_client', str(port), str(c), str(size),
                                   str(warmup), str(duration), str(r)],
                                  stdout=subprocess.PIPE, env=_env(), text=True)
                 for c, r in zip(split, reqs)]
        t0 = time.perf_counter()
        outs = [json.loads(p.communicate(timeout=duration + warmup + 300)[0].strip().splitlines()[-1])
                for p in procs]
        wall = time.perf_counter() - t0
        cpu_server = _proc_cpu(server.pid) - cpu_server0
        if profile:
            server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
        server.wait()
    done = sum(o['done'] for o in outs)
    rate = sum(o['done'] / o['seconds'] for o in outs if o['seconds'] > 0)
    return {'impl': impl, 'rate': rate, 'done': done, 'errors': sum(o['errors'] for o in outs),
            'client_cpu': max(o['cpu'] / o['seconds'] for o in outs if o['seconds'] > 0),
            'server_cpu': cpu_server / wall if wall else float('nan'),
            # CPU the server spent per request: robust on a shared, busy machine
            'server_us': 1e6 * cpu_server / max(1, sum(o['total'] for o in outs))}


def _parse_case(text):
    conns, size = text.lower().split('x')
    return int(conns), int(size)


def _fmt(rate):
    return '%.1fk' % (rate / 1000.0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--quick', action='store_true', help='2 rounds of 1 s')
    p.add_argument('--rounds', type=int)
    p.add_argument('--duration', type=float)
    p.add_argument('--warmup', type=float)
    p.add_argument('--cases', default=','.join(DEFAULT_CASES), help='CONNSxBYTES,...')
    p.add_argument('--impl', default=','.join(IMPLS))
    p.add_argument('--clients', type=int, default=1, help='load-generator processes')
    p.add_argument('--profile', help='profile the lite server (cProfile) into this file, one run')
    p.add_argument('--one', help=argparse.SUPPRESS)
    p.add_argument('--conns', type=int, default=50, help=argparse.SUPPRESS)
    p.add_argument('--size', type=int, default=64, help=argparse.SUPPRESS)
    p.add_argument('--requests', type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument('--_server', help=argparse.SUPPRESS)
    p.add_argument('--lifetime', type=float, default=60, help=argparse.SUPPRESS)
    p.add_argument('--_client', nargs=6, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args._server:
        return server_main(args._server, args.lifetime, args.profile)
    if args._client:
        port, conns, size, warmup, duration, requests = args._client
        return client_main(int(port), int(conns), int(size), float(warmup), float(duration),
                           int(requests))
    if args.one:
        # Fixed-count mode for run.py: exactly --requests round trips.
        r = measure(args.one, args.conns, args.size, 0, 0, clients=args.clients,
                    requests=args.requests)
        value = r['rate'] if not r['errors'] else float('nan')
        print('@@BENCH ' + json.dumps({'value': value, 'done': r['done']}))
        return 0

    rounds = args.rounds or (2 if args.quick else 3)
    duration = args.duration or (1.0 if args.quick else 3.0)
    warmup = args.warmup if args.warmup is not None else (0.3 if args.quick else 0.5)
    impls = [i for i in args.impl.split(',') if i]
    cases = [_parse_case(c) for c in args.cases.split(',') if c]

    if args.profile:
        conns, size = cases[0]
        r = measure('lite', conns, size, warmup, duration, args.clients, profile=args.profile)
        print('lite %dx%d B: %s req/s under cProfile; stats in %s' % (conns, size, _fmt(r['rate']),
                                                                     args.profile))
        import pstats
        pstats.Stats(args.profile).sort_stats('tottime').print_stats(25)
        return 0

    available = []
    for impl in impls:
        if impl != 'lite':
            try:
                __import__(impl)
            except ImportError:
                print('%s is not installed; skipped' % impl)
                continue
        available.append(impl)
    results = {}
    failed = False
    for rnd in range(rounds):
        for conns, size in cases:
            for impl in available:
                r = measure(impl, conns, size, warmup, duration, args.clients)
                results.setdefault((conns, size), {}).setdefault(impl, []).append(r)
                if r['errors']:
                    failed = True
                print('round %d  %5d conns x %5d B  %-8s %8s req/s  server cpu %3.0f%% (%5.1f us/req)'
                      '  client cpu %3.0f%%%s'
                      % (rnd + 1, conns, size, impl, _fmt(r['rate']), 100 * r['server_cpu'],
                         r['server_us'], 100 * r['client_cpu'],
                         '  ERRORS %d' % r['errors'] if r['errors'] else ''), flush=True)
    print()
    print('TCP echo, req/s (median of %d rounds, %.0f s each, %d client process(es))'
          % (rounds, duration, args.clients))
    header = '%-20s' % 'case' + ''.join('%12s' % i for i in available) + '   lite/gevent'
    print(header)
    for (conns, size), by_impl in results.items():
        med = {i: statistics.median(r['rate'] for r in rs) for i, rs in by_impl.items()}
        ratio = ('%.2fx' % (med['lite'] / med['gevent'])) if 'lite' in med and med.get('gevent') else '-'
        print('%-20s' % ('%d conns x %d B' % (conns, size))
              + ''.join('%12s' % _fmt(med[i]) for i in available) + '%14s' % ratio)
    print()
    print('server CPU per request, microseconds (median; lower is better)')
    print(header.replace('lite/gevent', 'gevent/lite'))
    for (conns, size), by_impl in results.items():
        med = {i: statistics.median(r['server_us'] for r in rs) for i, rs in by_impl.items()}
        ratio = ('%.2fx' % (med['gevent'] / med['lite'])) if med.get('lite') and 'gevent' in med else '-'
        print('%-20s' % ('%d conns x %d B' % (conns, size))
              + ''.join('%12.1f' % med[i] for i in available) + '%14s' % ratio)
    return 1 if failed else 0


def _cmd(impl, conns, size):
    return ['{python}', 'bench_echo.py', '--one', impl, '--conns', str(conns), '--size', str(size),
            '--requests', '{n}']


# The cases with the design's targets, then more connection counts for the line
# chart of req/s against connections (charts.py): those have no target, and run
# one round in --quick, so the quick run stays under two minutes.
_TARGETED = ((50, 64), (50, 4096), (1000, 64), (5000, 64))
_CHART_POINTS = ((200, 64), (500, 64), (2000, 64))

CASES = [
    dict(name='echo_%dx%d' % (conns, size),
         description='TCP echo, %d conns, %d B (server subprocess, separate load generator)'
                     % (conns, size),
         unit='req/s', higher_is_better=True, n=200_000, quick_n=20_000,
         target='>= uvloop' if (conns, size) in _TARGETED else '', timeout=300,
         quick_rounds=None if (conns, size) in _TARGETED else 1,
         impls={impl: _cmd(impl, conns, size) for impl in IMPLS})
    for conns, size in sorted(_TARGETED + _CHART_POINTS, key=lambda cs: (cs[1], cs[0]))
]


if __name__ == '__main__':
    sys.exit(main())
