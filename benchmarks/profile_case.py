#!/usr/bin/env python
"""Run one benchmark case for one implementation under cProfile and print the hotspots.

    python benchmarks/profile_case.py sleep0 lite            # default size: the case's quick_n
    python benchmarks/profile_case.py spawn lite -n 50000 --sort tottime --limit 25

The case function's own result line is printed first (value, done), so a profile
of a run that did not do its work is visible as such. cProfile adds roughly a
constant cost per Python call, so read call counts and the tottime ranking, not
the absolute rate.
"""

import argparse
import cProfile
import os
import pstats
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE), HERE]

import run  # noqa: E402 (after the sys.path line above)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('case')
    p.add_argument('impl')
    p.add_argument('-n', type=int, help="size (default: the case's quick_n)")
    p.add_argument('--sort', default='tottime', help='pstats sort key (tottime, cumulative, ncalls)')
    p.add_argument('--limit', type=int, default=20)
    args = p.parse_args(argv)
    cases = {c.name: c for c in run.discover()}
    if args.case not in cases:
        p.error('unknown case %r; known: %s' % (args.case, ', '.join(cases)))
    case = cases[args.case]
    fn = case.impls.get(args.impl)
    if not callable(fn):
        p.error('case %r has no in-process implementation %r' % (args.case, args.impl))
    n = args.n or case.quick_n
    prof = cProfile.Profile()
    out = prof.runcall(fn, n)
    print('result (value, done):', out, ' expected done:', case.expected(n))
    pstats.Stats(prof).strip_dirs().sort_stats(args.sort).print_stats(args.limit)
    return 0


if __name__ == '__main__':
    sys.exit(main())
