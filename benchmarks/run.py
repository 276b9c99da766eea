#!/usr/bin/env python
"""Side-by-side benchmarks: gevent_lite vs gevent vs eventlet (vs asyncio, uvloop, uvicorn, waitress).

One command runs every case::

    python benchmarks/run.py            # full run (5 rounds, full sizes)
    python benchmarks/run.py --quick    # whole run in under ~2 minutes
    python benchmarks/run.py --cases sleep0,spawn --impl lite,gevent --json out.json

How a run is made honest:

* every measurement runs in a fresh subprocess (``run.py --_worker ...``), so no
  implementation's imports, monkey-patching, hub or heap pollutes another's;
* implementations are interleaved: round 1 runs lite, gevent, eventlet, ...; round
  2 again; so drift of the machine (other tenants, thermal) hits all alike;
* each case reports how much work it did (``done``) next to its value, and the
  harness compares that with what the case promised (``expected(n)``): a case
  that skipped work, crashed, hung past ``--timeout`` or printed no result is
  shown as ERROR and makes the exit status non-zero.

Cases live in ``benchmarks/bench_*.py`` modules; see benchmarks/README.md for the
protocol. This module is also the harness API used by tests/test_benchmarks.py:
:func:`discover`, :func:`measure`, :func:`run_cases`, :func:`format_table`.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import glob
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import traceback

__all__ = [
    'IMPL_ORDER',
    'RESULT_TAG',
    'Case',
    'Measurement',
    'discover',
    'format_table',
    'format_value',
    'impl_key',
    'load_module',
    'main',
    'measure',
    'run_cases',
    'summarize',
    'target_met',
]

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

#: The line prefix a worker (or a command-type case) prints its result after.
RESULT_TAG = '@@BENCH '

#: Display and interleaving order; unknown implementation names sort after these.
IMPL_ORDER = ('greenlet', 'lite', 'gevent', 'gevent_nodelay', 'eventlet', 'asyncio', 'uvloop', 'uvicorn',
              'waitress', 'threads')
#: How tables and charts name an implementation (others by their own name).
IMPL_TITLES = {'lite': 'gevent_lite', 'greenlet': 'raw greenlet', 'gevent_nodelay': 'gevent NODELAY'}

#: The implementation the ratio column divides by.
BASELINE = 'gevent'

#: With --quick, a case whose rounds take longer than this (seconds) gets 2 rounds.
QUICK_BUDGET = 3.5


class Case:
    """One benchmark case, built from a case module's ``CASES`` entry (a dict).

    Keys of the dict: ``name``, ``description``, ``unit``, ``higher_is_better``,
    ``impls`` (implementation name -> callable ``fn(n) -> (value, done)`` or a
    command: a list of argv strings where ``{n}`` is replaced by the size), and
    optionally ``n`` (full size), ``quick_n`` (size for ``--quick``),
    ``expected`` (``n -> work count``; default: ``n``), ``target`` (text, e.g.
    ``'>= gevent'``), ``timeout`` (seconds per measurement), ``quick_rounds``
    (the most rounds ``--quick`` runs: 1 for a measurement that does not vary
    from run to run, such as a memory size).
    """

    __slots__ = (
        'description',
        'expected',
        'higher_is_better',
        'impls',
        'n',
        'name',
        'path',
        'quick_n',
        'quick_rounds',
        'target',
        'timeout',
        'unit',
    )

    def __init__(self, spec, path):
        missing = [k for k in ('name', 'description', 'unit', 'higher_is_better', 'impls')
                   if k not in spec]
        if missing:
            raise ValueError('case %r in %s lacks %s' % (spec.get('name'), path, ', '.join(missing)))
        self.name = spec['name']
        self.description = spec['description']
        self.unit = spec['unit']
        self.higher_is_better = bool(spec['higher_is_better'])
        self.impls = dict(spec['impls'])
        if not self.impls:
            raise ValueError('case %r in %s has no implementations' % (self.name, path))
        for impl, runner in self.impls.items():
            if not callable(runner) and not (isinstance(runner, (list, tuple)) and runner):
                raise TypeError('case %r impl %r: expected a callable or an argv list, got %r'
                                % (self.name, impl, runner))
        self.n = int(spec.get('n', 1))
        self.quick_n = int(spec.get('quick_n', self.n))
        self.quick_rounds = spec.get('quick_rounds')
        self.expected = spec.get('expected', lambda n: n)
        self.target = spec.get('target', '')
        self.timeout = spec.get('timeout')
        self.path = path

    def __repr__(self):
        return '<Case %s (%s) impls=%s>' % (self.name, os.path.basename(self.path), sorted(self.impls))


class Measurement:
    """One run of one case by one implementation, in one subprocess."""

    __slots__ = ('case', 'done', 'error', 'impl', 'n', 'seconds', 'value')

    def __init__(self, case, impl, n, value=None, done=None, error=None, seconds=0.0):
        self.case = case
        self.impl = impl
        self.n = n
        self.value = value
        self.done = done
        self.error = error
        self.seconds = seconds

    @property
    def ok(self):
        return self.error is None

    def __repr__(self):
        what = 'value=%r done=%r' % (self.value, self.done) if self.ok else 'ERROR %s' % self.error
        return '<Measurement %s/%s n=%d %s>' % (self.case, self.impl, self.n, what)


# --------------------------------------------------------------------------------------
# Discovery

def load_module(path):
    """Import a case module from its file path (without importing any implementation)."""
    name = '_bench_' + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# Names used by case modules written before this protocol, mapped to ours.
_IMPL_ALIASES = {'gevent_lite': 'lite'}

# What run.py knows about the cases of bench_primitives.py, which names its cases
# (``CASES = ('queue', ...)``) and gives ``case_<name>(api, n) -> (rate[, cpu_rate], ok)`` with
# ``_api(impl)`` instead of case dicts. Unknown names still run, described by name.
# (description, target, quick_n): quick sizes keep each measurement >= ~20 ms, so a
# scheduler hiccup on a shared machine does not decide the median.
_NAME_ONLY_INFO = {
    # 500k items: at ~2M items/s a 100k run lasted 50 ms, and its rounds spread 2x.
    'queue': ('Queue(100) producer -> consumer', '>= 0.8x gevent', 500_000),
    'event': ('Event ping-pong between 2 greenlets (set/wait/clear)', '', 20_000),
    'pool_map': ('Pool(100).map of a trivial function', '', 10_000),
}


def _name_only_specs(module):
    """Case dicts for a module whose CASES are names with ``case_<name>(api, n)``.

    Each measurement still runs alone in a fresh worker: the callable builds the
    module's ``_api(impl)`` and runs one ``case_<name>``. Its ``ok`` flag (the
    module's own self-check) becomes the work count: ``n`` if ok, else -1.
    """
    api = getattr(module, '_api', None)
    impls = getattr(module, 'IMPLS', ())
    units = getattr(module, 'UNITS', {})
    specs = []
    for name in module.CASES:
        fn = getattr(module, 'case_' + name, None)
        if fn is None or api is None or not impls:
            raise ValueError('%s: CASES names %r but has no case_%s/_api/IMPLS to run it'
                             % (module.__file__, name, name))
        description, target, quick_n = _NAME_ONLY_INFO.get(
            name, (name, '', getattr(module, 'QUICK_N', 10_000)))

        def runner(n, _fn=fn, _impl=None):
            # case_<name> returns (rate, ok) or (rate, cpu_rate, ok); run.py reports wall-clock.
            result = _fn(api(_impl), n)
            rate, ok = result[0], result[-1]
            return rate, n if ok else -1

        specs.append({
            'name': name, 'description': description, 'unit': units.get(name, 'ops/s'),
            'higher_is_better': True, 'n': max(getattr(module, 'N', 100_000), quick_n),
            'quick_n': quick_n, 'target': target,
            'impls': {_IMPL_ALIASES.get(i, i): functools.partial(runner, _impl=i) for i in impls},
        })
    return specs


def case_specs(module):
    """The case dicts of a loaded case module (see benchmarks/README.md), or None."""
    cases = getattr(module, 'CASES', None)
    if cases is None:
        return None
    cases = list(cases)
    if cases and all(isinstance(c, str) for c in cases):
        return _name_only_specs(module)
    for c in cases:
        if not isinstance(c, dict):
            raise TypeError('%s: CASES must hold dicts (see benchmarks/README.md), got %r'
                            % (module.__file__, c))
    return cases


def discover(paths=None):
    """Return the cases of ``bench_*.py`` modules (default: those next to this file).

    ``paths`` may name directories (searched for ``bench_*.py``) or module files.
    A module without ``CASES`` is skipped with a warning on stderr.
    """
    if paths is None:
        paths = [HERE]
    files = []
    for p in paths:
        if os.path.isdir(p):
            files.extend(sorted(glob.glob(os.path.join(p, 'bench_*.py'))))
        else:
            files.append(p)
    cases = []
    seen = {}
    for path in files:
        path = os.path.abspath(path)
        module = load_module(path)
        specs = case_specs(module)
        if specs is None:
            sys.stderr.write('run.py: %s has no CASES list; skipped (see benchmarks/README.md)\n'
                             % os.path.basename(path))
            continue
        for spec in specs:
            case = Case(spec, path)
            if case.name in seen:
                raise ValueError('case name %r defined in %s and %s' % (case.name, seen[case.name], path))
            seen[case.name] = path
            cases.append(case)
    return cases


def impl_key(impl):
    """Sort key of an implementation name: IMPL_ORDER, then unknown names by name."""
    return (IMPL_ORDER.index(impl) if impl in IMPL_ORDER else len(IMPL_ORDER), impl)


# --------------------------------------------------------------------------------------
# One measurement, in a fresh subprocess

def _child_env():
    env = dict(os.environ)
    # The checkout's gevent_lite wins over any installed copy; the worker also puts
    # the benchmarks dir on the path so case modules can share helpers.
    env['PYTHONPATH'] = os.pathsep.join([ROOT, HERE] + (
        [env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    env.setdefault('PYTHONHASHSEED', '0')
    env['PYTHONWARNINGS'] = 'ignore'   # eventlet's deprecation banner is noise here
    return env


def _parse_result(stdout):
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
        stripped = line.strip()
        if stripped.startswith('{') and '"value"' in stripped:
            # A command-type case may print a bare JSON object as its last line.
            try:
                return json.loads(stripped)
            except ValueError:
                pass
    return None


def measure(case, impl, n, timeout=None, python=None):
    """Run ``case`` for ``impl`` with size ``n`` in a fresh subprocess; return a Measurement.

    Never raises for a failing case: crashes, hangs (past ``timeout`` seconds),
    missing output and wrong work counts all come back as ``Measurement.error``.
    """
    if impl not in case.impls:
        raise KeyError('case %r has no implementation %r (has: %s)'
                       % (case.name, impl, ', '.join(sorted(case.impls))))
    if timeout is None:
        timeout = case.timeout or 300
    runner = case.impls[impl]
    python = python or sys.executable
    if callable(runner):
        argv = [python, os.path.abspath(__file__), '--_worker', case.path, case.name, impl, str(n)]
    else:
        argv = [str(a).replace('{n}', str(n)).replace('{python}', python) for a in runner]
    m = Measurement(case.name, impl, n)
    t0 = time.monotonic()
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=HERE,
                              env=_child_env(), timeout=timeout, text=True)
    except subprocess.TimeoutExpired:
        m.seconds = time.monotonic() - t0
        m.error = 'timed out after %gs' % timeout
        return m
    m.seconds = time.monotonic() - t0
    try:
        result = _parse_result(proc.stdout)
    except ValueError as ex:
        result = None
        m.error = 'unparsable result line: %s' % ex
    if result is None:
        if m.error is None:
            tail = (proc.stderr.strip().splitlines() or ['(no stderr)'])[-1]
            m.error = 'no result (exit %s): %s' % (proc.returncode, tail)
        return m
    if result.get('error'):
        m.error = result['error']
        return m
    if proc.returncode != 0:
        m.error = 'exit status %s after printing a result' % proc.returncode
        return m
    m.value, m.done = result.get('value'), result.get('done')
    m.error = _check(case, n, m.value, m.done)
    return m


def _check(case, n, value, done):
    """The self-check: the case must report a number and exactly the work it promised."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        return 'bad value %r' % (value,)
    if done is None:
        return 'case reported no work count ("done"); cannot verify it did its work'
    expected = case.expected(n)
    if done != expected:
        return 'did not do its work: done=%r, expected %r' % (done, expected)
    return None


def _worker(path, case_name, impl, n):
    """Child side of :func:`measure`: run one callable, print one result line."""
    try:
        module = load_module(path)
        spec = {c['name']: c for c in case_specs(module)}[case_name]
        fn = spec['impls'][impl]
        out = fn(int(n))
        if isinstance(out, dict):
            value, done = out.get('value'), out.get('done')
        elif isinstance(out, (tuple, list)) and len(out) == 2:
            value, done = out
        else:
            value, done = out, None
        result = {'value': value, 'done': done}
    except BaseException:
        result = {'error': traceback.format_exc().strip().splitlines()[-1],
                  'traceback': traceback.format_exc()}
        sys.stderr.write(result['traceback'])
    sys.stdout.write('\n' + RESULT_TAG + json.dumps(result) + '\n')
    sys.stdout.flush()
    # Skip interpreter teardown: parked greenlets, threads and loops of the measured
    # library must not turn a finished measurement into a hang or a traceback.
    os._exit(0)


# --------------------------------------------------------------------------------------
# Rounds and summaries

def summarize(case, measurements, baseline=BASELINE):
    """Per implementation: samples, median, min, max, ratio to ``baseline``, errors."""
    by_impl = {}
    for m in measurements:
        by_impl.setdefault(m.impl, []).append(m)
    out = {}
    for impl in sorted(by_impl, key=impl_key):
        ms = by_impl[impl]
        values = [m.value for m in ms if m.ok]
        errors = [m.error for m in ms if not m.ok]
        row = {'samples': values, 'errors': errors, 'n': ms[0].n}
        if values and not errors:
            row.update(median=statistics.median(values), min=min(values), max=max(values))
        out[impl] = row
    base = out.get(baseline, {}).get('median')
    for row in out.values():
        med = row.get('median')
        row['ratio'] = (med / base) if (med is not None and base) else None
    return out


def run_cases(cases, impls=None, rounds=3, quick=False, timeout=None, python=None,
              on_case_done=None, log=None, budget=None):
    """Measure ``cases`` over ``rounds`` interleaved rounds; return a JSON-able dict.

    With ``budget`` (seconds per case), a case stops after the round that would
    let the next one overrun it, but always runs at least 2 rounds (1 if
    ``rounds`` is 1): ``--quick`` uses it so slow cases cannot blow the run time.
    With ``quick``, a case's ``quick_rounds`` caps its rounds too.
    """
    results = []
    for case in cases:
        chosen = sorted((i for i in case.impls if impls is None or i in impls), key=impl_key)
        if not chosen:
            continue
        n = case.quick_n if quick else case.n
        ms = []
        started = time.monotonic()
        done_rounds = 0
        case_rounds = min(rounds, case.quick_rounds) if quick and case.quick_rounds else rounds
        for r in range(case_rounds):
            elapsed = time.monotonic() - started
            if budget is not None and r >= 2 and elapsed + elapsed / r > budget:
                break
            done_rounds += 1
            for impl in chosen:
                m = measure(case, impl, n, timeout=timeout, python=python)
                ms.append(m)
                if log is not None:
                    log('  round %d %-8s %s\n' % (r + 1, impl, format_value(m.value) if m.ok else 'ERROR ' + m.error))
        entry = {
            'name': case.name, 'description': case.description, 'unit': case.unit,
            'higher_is_better': case.higher_is_better, 'target': case.target, 'n': n,
            'rounds': done_rounds, 'seconds': round(time.monotonic() - started, 1),
            'module': os.path.basename(case.path), 'results': summarize(case, ms),
        }
        results.append(entry)
        if on_case_done is not None:
            on_case_done(entry)
    return {'meta': _meta(rounds, quick, python), 'cases': results}


def _meta(rounds, quick, python):
    versions = {}
    try:
        from importlib import metadata
        for dist in ('greenlet', 'gevent', 'eventlet', 'uvloop', 'uvicorn', 'httptools', 'waitress'):
            try:
                versions[dist] = metadata.version(dist)
            except Exception:
                versions[dist] = None
    except ImportError:  # pragma: no cover
        pass
    try:
        commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, timeout=10,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True).stdout.strip() or None
    except Exception:
        commit = None
    return {
        'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        'python': platform.python_version(), 'executable': python or sys.executable,
        'platform': platform.platform(), 'cpus': os.cpu_count(), 'rounds': rounds,
        'quick': quick, 'versions': versions, 'commit': commit,
        # Other load on the machine skews every number; record it with them.
        'loadavg_end': list(os.getloadavg()) if hasattr(os, 'getloadavg') else None,
    }


def format_value(v, short=False):
    """A measurement for people (tables, logs, charts): k/M suffixes, '-' for None.

    ``short`` (chart labels and axes): whole numbers from 10, two decimals from 1.
    """
    if v is None:
        return '-'
    a = abs(v)
    if a >= 1e6:
        return '%.2fM' % (v / 1e6)
    if a >= 1e4:
        return '%.0fk' % (v / 1e3)
    if a >= 1e3:
        return '%.1fk' % (v / 1e3)
    if a >= 10:
        return '%.0f' % v if short else '%.1f' % v
    if a >= 1 and short:
        return '%.2f' % v
    return '%.3f' % v


_TARGET_RE = re.compile(r'^\s*(>=|<=)\s*(?:([0-9.]+)\s*[x*]\s*)?([A-Za-z_][\w]*)\s*$')


def target_met(entry, impl='lite'):
    """Whether ``impl`` meets a target like ``'>= gevent'`` or ``'>= 1.2x gevent_nodelay'``.

    The target compares ``impl``'s median with another implementation's median
    (by name). None when the target is not of that form or a median is missing.
    """
    m = _TARGET_RE.match(entry.get('target') or '')
    if m is None:
        return None
    results = entry['results']
    mine = (results.get(impl) or {}).get('median')
    other = (results.get(m.group(3)) or {}).get('median')
    if mine is None or not other:
        return None
    ratio = mine / other
    factor = float(m.group(2) or 1.0)
    return ratio >= factor if m.group(1) == '>=' else ratio <= factor


def format_table(entry):
    """A plain-text table of one case's summary (as returned in ``run_cases()['cases']``)."""
    better = 'higher is better' if entry['higher_is_better'] else 'lower is better'
    head = '%s  [%s, %s; n=%s, %s round(s)%s]' % (
        entry['description'], entry['unit'], better, entry['n'], entry.get('rounds', '?'),
        ', %.0f s' % entry['seconds'] if 'seconds' in entry else '')
    if entry.get('target'):
        met = target_met(entry)
        head += '  target: %s%s' % (entry['target'], '' if met is None else
                                     ' (lite: %s)' % ('met' if met else 'MISSED'))
    lines = [head, '  %-15s %10s   %-21s %9s' % ('impl', 'median', 'min - max', 'vs gevent')]
    for impl, row in entry['results'].items():
        if row['errors']:
            lines.append('  %-15s ERROR: %s' % (impl, row['errors'][0]))
            continue
        ratio = '%.2fx' % row['ratio'] if row['ratio'] is not None else '-'
        lines.append('  %-15s %10s   %-21s %9s' % (
            impl, format_value(row['median']), '%s - %s' % (format_value(row['min']), format_value(row['max'])), ratio))
    return '\n'.join(lines)


# --------------------------------------------------------------------------------------
# Command line

def _split(s):
    return [x.strip() for x in s.split(',') if x.strip()] if s else None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == '--_worker':
        _worker(*argv[1:5])
        return 0
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--quick', action='store_true',
                   help='3 rounds (2 for cases slower than %g s a round), smaller sizes' % QUICK_BUDGET)
    p.add_argument('--rounds', type=int, help='interleaved rounds (default 5, or 3 with --quick)')
    p.add_argument('--cases', help='comma-separated case names (default: all)')
    p.add_argument('--impl', help='comma-separated implementations (default: all of each case)')
    p.add_argument('--json', metavar='FILE', help='write the results as JSON to FILE')
    p.add_argument('--timeout', type=float, help='seconds per measurement before it is an error')
    p.add_argument('--python', help='interpreter for the measurements (default: this one)')
    p.add_argument('--list', action='store_true', help='list the cases and exit')
    p.add_argument('--quiet', action='store_true', help='do not print each measurement')
    p.add_argument('--bench-dir', action='append', help='where to find bench_*.py (repeatable)')
    args = p.parse_args(argv)

    cases = discover(args.bench_dir)
    if args.list:
        for c in cases:
            print('%-16s %-50s impls: %s' % (c.name, c.description, ','.join(sorted(c.impls, key=impl_key))))
        return 0
    wanted = _split(args.cases)
    if wanted:
        unknown = sorted(set(wanted) - {c.name for c in cases})
        if unknown:
            p.error('unknown case(s) %s; known: %s' % (', '.join(unknown), ', '.join(c.name for c in cases)))
        cases = [c for c in cases if c.name in wanted]
    impls = _split(args.impl)
    if impls:
        known = {i for c in cases for i in c.impls}
        unknown = sorted(set(impls) - known)
        if unknown:
            p.error('unknown implementation(s) %s; known: %s' % (', '.join(unknown), ', '.join(sorted(known))))
    rounds = args.rounds or (3 if args.quick else 5)
    if rounds < 1:
        p.error('--rounds must be at least 1')

    def log(s):
        if not args.quiet:
            sys.stderr.write(s)
            sys.stderr.flush()

    def done(entry):
        print(format_table(entry))
        print()
        sys.stdout.flush()

    t0 = time.monotonic()
    data = run_cases(cases, impls=impls, rounds=rounds, quick=args.quick, timeout=args.timeout,
                     python=args.python, on_case_done=done, log=log,
                     budget=QUICK_BUDGET * 3 if args.quick else None)
    data['meta']['wall_seconds'] = round(time.monotonic() - t0, 1)
    load = data['meta'].get('loadavg_end')
    print('%d case(s), %d round(s), %.0f s wall%s' % (
        len(data['cases']), rounds, time.monotonic() - t0,
        ', load average %.1f (%d CPUs): numbers are noisy' % (load[0], os.cpu_count() or 1)
        if load and load[0] > (os.cpu_count() or 1) else ''))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(data, f, indent=1)
        print('wrote', args.json)
    failed = [(c['name'], i) for c in data['cases'] for i, r in c['results'].items() if r['errors']]
    if failed:
        print('FAILED: ' + ', '.join('%s/%s' % f for f in failed), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
