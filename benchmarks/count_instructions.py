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
item through ``Queue(100)``; ``timers`` one timed ``sleep`` (10 per greenlet).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CASES = ('sleep0', 'spawn', 'event', 'queue', 'timers')
IMPLS = ('lite', 'gevent', 'eventlet', 'greenlet')

# The workload, run in the measured interpreter: python -c WORKLOAD IMPL CASE N
WORKLOAD = r'''
import sys
impl, case, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
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


def count(impl, case, n, python=sys.executable):
    """Instructions callgrind counted for one run of ``case`` at size ``n``."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run(
        ['valgrind', '--tool=callgrind', '--callgrind-out-file=/dev/null',
         python, '-c', WORKLOAD, impl, case, str(n)],
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
