#!/usr/bin/env python
"""Instructions per unit of the asyncio bridge's work, counted by callgrind (noise-free A/B).

    python benchmarks/count_asyncio_bridge.py                 # every case
    python benchmarks/count_asyncio_bridge.py --cases rt,loop

Like count_instructions.py: each case runs under ``valgrind --tool=callgrind`` at
two sizes, and the difference of the totals over the difference of the sizes is
the cost of one unit, start-up and imports cancelled out. Units:

* ``done`` / ``std_done``: ``await_(fut)`` on a done future from a greenlet /
  ``await fut`` in a task on asyncio's default loop;
* ``rt``: one ``await_(asyncio.sleep(0))`` round trip from a greenlet;
* ``hub_task`` / ``std_task``: ``await loop.create_task(asyncio.sleep(0))`` on the
  hub loop / on the default loop;
* ``hub_switch`` / ``std_switch``: ``await asyncio.sleep(0)`` in a task on the hub
  loop / on the default loop.
"""

import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CASES = ('done', 'std_done', 'rt', 'hub_task', 'std_task', 'hub_switch', 'std_switch')

WORKLOAD = r'''
import sys, asyncio
case, n = sys.argv[1], int(sys.argv[2])
import gevent_lite
from gevent_lite.asyncio_bridge import await_, get_loop, run
done = 0
if case == 'done':
    def body():
        fut = get_loop().create_future()
        fut.set_result(1)
        return sum(await_(fut) for _ in range(n))
    done = gevent_lite.spawn(body).get()
elif case == 'std_done':
    async def main():
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(1)
        total = 0
        for _ in range(n):
            total += await fut
        return total
    done = asyncio.run(main())
elif case == 'rt':
    def body():
        await_(asyncio.sleep(0))
        return sum(await_(asyncio.sleep(0, 1)) for _ in range(n))
    done = gevent_lite.spawn(body).get()
elif case in ('hub_task', 'std_task'):
    async def main():
        loop = asyncio.get_running_loop()
        total = 0
        for _ in range(n):
            total += await loop.create_task(asyncio.sleep(0, 1))
        return total
    done = (run if case == 'hub_task' else asyncio.run)(main())
elif case in ('hub_switch', 'std_switch'):
    async def main():
        total = 0
        for _ in range(n):
            await asyncio.sleep(0)
            total += 1
        return total
    done = (run if case == 'hub_switch' else asyncio.run)(main())
assert done == n, (case, done, n)
'''


def count(case, n, python=sys.executable):
    """Instructions callgrind counted for one run of ``case`` at size ``n``."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run(
        ['valgrind', '--tool=callgrind', '--callgrind-out-file=/dev/null',
         python, '-c', WORKLOAD, case, str(n)],
        capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError('%s n=%d failed:\n%s' % (case, n, proc.stderr[-2000:]))
    match = re.search(r'Collected : (\d+)', proc.stderr)
    if not match:
        raise RuntimeError('no instruction count in callgrind output:\n%s' % proc.stderr[-2000:])
    return int(match.group(1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--cases', default=','.join(CASES))
    parser.add_argument('--sizes', default='1000,3000')
    args = parser.parse_args(argv)
    cases = args.cases.split(',')
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error('unknown case(s) %s; known: %s' % (', '.join(unknown), ', '.join(CASES)))
    small, large = (int(x) for x in args.sizes.split(','))
    if large <= small:
        parser.error('--sizes needs SMALL,LARGE with LARGE > SMALL')
    print('%-12s %14s' % ('case', 'instr/unit'))
    for case in cases:
        per_unit = (count(case, large) - count(case, small)) / (large - small)
        print('%-12s %14.0f' % (case, per_unit))
    return 0


if __name__ == '__main__':
    sys.exit(main())
