"""Side-by-side benchmark of the synchronization primitives: gevent_lite vs gevent vs eventlet.

Cases (each checks it did all its work):

* ``queue``: one producer puts N items into ``Queue(maxsize=100)``, one consumer
  gets them (items/s);
* ``event``: two greenlets ping-pong through two Events (set/wait/clear), N
  round trips (round trips/s);
* ``pool_map``: ``Pool(100).map`` of a trivial function over N items (items/s).

Every implementation runs in its own subprocess; the implementations are
interleaved over the rounds (3 by default) so machine noise hits them alike.
The tables show the median of the rounds and the ratio to gevent, once for
wall-clock rates and once for rates over the process's CPU time (steadier on a
shared machine, where other processes steal the cores).

    python benchmarks/bench_primitives.py            # N=100,000, 3 rounds
    python benchmarks/bench_primitives.py --quick    # N=10,000, 1 round
    python benchmarks/bench_primitives.py --impl gevent_lite --rounds 5

``main(argv)`` returns 0, or 1 if a case failed its work check or an
implementation could not run. Missing implementations are reported and skipped.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

IMPLS = ('gevent_lite', 'gevent', 'eventlet')
CASES = ('queue', 'event', 'pool_map')
UNITS = {'queue': 'items/s', 'event': 'round trips/s', 'pool_map': 'items/s'}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- the cases, run inside the child ------------------------------------------------------

def _api(impl):
    """A tiny adapter: spawn, joinall, Queue, Event (set/wait/clear), pool_map."""
    if impl in ('gevent_lite', 'gevent'):
        if impl == 'gevent_lite':
            sys.path.insert(0, ROOT)
            import gevent_lite as g
            from gevent_lite.event import Event
            from gevent_lite.pool import Pool
            from gevent_lite.queue import Queue
        else:
            import gevent as g
            from gevent.event import Event
            from gevent.pool import Pool
            from gevent.queue import Queue

        def pool_map(size, func, items):
            return Pool(size).map(func, items)

        return {'spawn': g.spawn, 'joinall': g.joinall, 'Queue': Queue,
                'event': lambda: _GeventEvent(Event()), 'pool_map': pool_map}
    if impl == 'eventlet':
        import eventlet
        from eventlet.event import Event
        from eventlet.queue import Queue

        def joinall(gs):
            for x in gs:
                x.wait()

        def pool_map(size, func, items):
            return list(eventlet.GreenPool(size).imap(func, items))

        return {'spawn': eventlet.spawn, 'joinall': joinall, 'Queue': Queue,
                'event': lambda: _EventletEvent(Event()), 'pool_map': pool_map}
    raise ValueError('unknown implementation %r' % impl)


class _GeventEvent:
    __slots__ = ('set', 'wait', 'clear')

    def __init__(self, ev):
        self.set, self.wait, self.clear = ev.set, ev.wait, ev.clear


class _EventletEvent:
    # eventlet's Event is one-shot: send() once, reset() to reuse.
    __slots__ = ('set', 'wait', 'clear')

    def __init__(self, ev):
        self.set, self.wait, self.clear = ev.send, ev.wait, ev.reset


def case_queue(api, n):
    q = api['Queue'](100)
    got = [0]

    def producer():
        put = q.put
        for i in range(n):
            put(i)

    def consumer():
        get = q.get
        total = 0
        for _ in range(n):
            total += get()
        got[0] = total

    t0, c0 = time.perf_counter(), time.process_time()
    api['joinall']([api['spawn'](producer), api['spawn'](consumer)])
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    ok = got[0] == n * (n - 1) // 2
    return n / dt, n / cpu, ok


def case_event(api, n):
    ping, pong = api['event'](), api['event']()
    count = [0, 0]

    def a():
        for _ in range(n):
            ping.set()
            pong.wait()
            pong.clear()
            count[0] += 1

    def b():
        for _ in range(n):
            ping.wait()
            ping.clear()
            pong.set()
            count[1] += 1

    t0, c0 = time.perf_counter(), time.process_time()
    api['joinall']([api['spawn'](a), api['spawn'](b)])
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return n / dt, n / cpu, count == [n, n]


def case_pool_map(api, n):
    t0, c0 = time.perf_counter(), time.process_time()
    out = api['pool_map'](100, _double, range(n))
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return n / dt, n / cpu, len(out) == n and out[-1] == 2 * (n - 1) and out[0] == 0


def _double(x):
    return 2 * x


def child(impl, n):
    api = _api(impl)
    results = {}
    for name in CASES:
        rate, cpu_rate, ok = globals()['case_' + name](api, n)
        results[name] = {'rate': rate, 'cpu_rate': cpu_rate, 'ok': bool(ok)}
    return results


# -- the parent ---------------------------------------------------------------------------

def _run_child(impl, n, timeout):
    cmd = [sys.executable, os.path.abspath(__file__), '--child', impl, '-n', str(n)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return None, 'timed out after %ss' % timeout
    if proc.returncode != 0:
        return None, (proc.stderr.strip().splitlines() or ['exit %d' % proc.returncode])[-1]
    return json.loads(proc.stdout.strip().splitlines()[-1]), None


def _fmt_rate(x):
    if x is None:
        return '-'
    if x >= 1e6:
        return '%.2fM' % (x / 1e6)
    if x >= 1e3:
        return '%.1fk' % (x / 1e3)
    return '%.0f' % x


def _print_table(title, samples, impls, n, rounds):
    print('%s: N=%d, %d round(s), median per case; ratio = impl / gevent' % (title, n, rounds))
    header = '%-10s %-14s' % ('case', 'unit') + ''.join('%16s' % i for i in impls)
    print(header)
    print('-' * len(header))
    for c in CASES:
        medians = {i: statistics.median(samples[i][c]) if samples[i][c] else None for i in impls}
        base = medians.get('gevent')
        cells = []
        for i in impls:
            m = medians[i]
            ratio = ' (%.2fx)' % (m / base) if m and base else ''
            cells.append('%16s' % (_fmt_rate(m) + ratio))
        print('%-10s %-14s' % (c, UNITS[c]) + ''.join(cells))
    print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='N=10,000 and one round')
    parser.add_argument('-n', type=int, default=None, help='items / round trips per case')
    parser.add_argument('--rounds', type=int, default=None)
    parser.add_argument('--impl', action='append', choices=IMPLS,
                        help='implementation(s) to run (default: all)')
    parser.add_argument('--child', choices=IMPLS, help=argparse.SUPPRESS)
    parser.add_argument('--timeout', type=float, default=300, help='per subprocess, seconds')
    args = parser.parse_args(argv)
    n = args.n or (10_000 if args.quick else 100_000)

    if args.child:
        print(json.dumps(child(args.child, n)))
        return 0

    rounds = args.rounds or (1 if args.quick else 3)
    impls = args.impl or list(IMPLS)
    samples = {impl: {c: [] for c in CASES} for impl in impls}
    cpu_samples = {impl: {c: [] for c in CASES} for impl in impls}
    failed = []
    unavailable = {}
    for r in range(rounds):
        for impl in impls:           # interleaved: every round runs every implementation
            if impl in unavailable:
                continue
            res, err = _run_child(impl, n, args.timeout)
            if res is None:
                unavailable[impl] = err
                print('%s: not run (%s)' % (impl, err), file=sys.stderr)
                continue
            for c in CASES:
                samples[impl][c].append(res[c]['rate'])
                cpu_samples[impl][c].append(res[c]['cpu_rate'])
                if not res[c]['ok']:
                    failed.append((impl, c, r))

    for title, table in (('wall-clock', samples), ('CPU time of the process', cpu_samples)):
        _print_table(title, table, impls, n, rounds)
    for impl, err in unavailable.items():
        print('%s unavailable: %s' % (impl, err))
    for impl, c, r in failed:
        print('FAILED work check: %s %s round %d' % (impl, c, r))
    return 1 if failed or (unavailable and 'gevent_lite' in unavailable) else 0


if __name__ == '__main__':
    sys.exit(main())
