"""Run CPython's own test modules unpatched and under ``monkey.patch_all()``.

Each module runs in its own interpreter (``-m`` style: ``test.test_X`` loaded with
unittest) whose first act, in patched mode, is ``patch_all()``; each has a time
limit, and a module that exceeds it is reported as HANG. Prints per-module pass
counts, unpatched vs patched, and the patched failures that are not listed in
``expected_failures.txt`` (one ``test id  # reason`` per line; an id ending in ``*``
covers all tests whose id starts with the rest).

    python tests/stdlib/run_stdlib.py [--quick] [--patched-only] [--python PY] [--timeout S] [MODULE ...]
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

#: module -> (time limit in seconds, quick?)
MODULES = {
    'test_select': (120, True), 'test_selectors': (240, False), 'test_thread': (120, True),
    'test_queue': (180, True), 'test_timeout': (120, True), 'test_socketserver': (180, True),
    'test_wsgiref': (120, True), 'test_xmlrpc': (180, True), 'test_urllib2_localnet': (180, True),
    'test_httplib': (180, False), 'test_httpservers': (240, False), 'test_ftplib': (240, False),
    'test_smtplib': (240, False), 'test_threading': (300, False), 'test_socket': (900, False),
    'test_ssl': (300, False), 'test_subprocess': (400, False), 'test_signal': (300, False),
    'test_logging': (300, False), 'test_concurrent_futures': (400, False),
}

# The child: load test.<module> with unittest, run it, print one JSON line of results.
CHILD = r'''
import sys, json, unittest, io, signal
# A runner started in the background inherits SIGINT ignored; the suites expect
# Python's default (KeyboardInterrupt), and so do the interpreters they start.
signal.signal(signal.SIGINT, signal.default_int_handler)
if {patched}:
    from gevent_lite import monkey
    monkey.patch_all()
name = {name!r}
try:
    suite = unittest.defaultTestLoader.loadTestsFromName('test.' + name)
except Exception as exc:
    print('@@RESULT@@' + json.dumps({{'missing': repr(exc)}})); sys.exit(0)
skip = set({skip!r})
skip_prefixes = tuple(p[:-1] for p in skip if p.endswith('*'))
pruned = []
def prune(s):
    # Tests known to hang under patching are left out (they are listed as expected failures).
    out = unittest.TestSuite()
    for t in s:
        if isinstance(t, unittest.TestSuite):
            out.addTest(prune(t))
        elif t.id() in skip or (skip_prefixes and t.id().startswith(skip_prefixes)):
            pruned.append(t.id())
        else:
            out.addTest(t)
    return out
if skip:
    suite = prune(suite)
class R(unittest.TextTestResult):
    pass
stream = io.StringIO()
result = unittest.TextTestRunner(stream=stream, verbosity=0, resultclass=R).run(suite)
bad = [t.id() for t, _ in result.failures] + [t.id() for t, _ in result.errors] \
    + [t.id() for t in result.unexpectedSuccesses]
print('@@RESULT@@' + json.dumps({{'run': result.testsRun, 'skipped': len(result.skipped), 'bad': bad,
                                  'pruned': pruned}}))
sys.stdout.flush()
import os; os._exit(0)   # do not let a leftover thread or greenlet hold the exit
'''


def load_expected(path=None):
    if path is None:
        path = os.path.join(HERE, 'expected_failures.txt')
    expected = {}
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line and not line.startswith('#'):
                test_id, _, reason = line.partition('#')
                expected[test_id.strip()] = reason.strip()
    return expected


def expected_reason(test_id, expected):
    """The reason ``test_id`` is expected to fail, or None. A listed id ending in ``*``
    covers every test id that starts with the rest (a whole class or module)."""
    reason = expected.get(test_id)
    if reason is None:
        for pattern, why in expected.items():
            if pattern.endswith('*') and test_id.startswith(pattern[:-1]):
                return why
    return reason


def run_module(name, patched, python=sys.executable, timeout=None, hangs=()):
    """Run one module; returns a dict: run/skipped/bad, or hang/missing/crash, plus seconds."""
    timeout = timeout or MODULES.get(name, (300, False))[0]
    env = dict(os.environ, PYTHONPATH=ROOT)
    t0 = time.monotonic()
    try:
        proc = subprocess.run([python, '-c', CHILD.format(patched=bool(patched), name=name, skip=sorted(hangs or ()))],
                              capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {'hang': True, 'seconds': timeout}
    seconds = round(time.monotonic() - t0, 1)
    for line in proc.stdout.splitlines():
        # (Some suites print timings without a trailing newline: the marker may not start the line.)
        if '@@RESULT@@' in line:
            res = json.loads(line[line.index('@@RESULT@@') + len('@@RESULT@@'):])
            # Tests left out as known hangs count as run and failed in the patched run.
            pruned = res.pop('pruned', [])
            if patched:
                res['bad'].extend(pruned)
                res['run'] += len(pruned)
            res['seconds'] = seconds
            return res
    return {'crash': (proc.stderr or proc.stdout)[-2000:], 'seconds': seconds}


def passed(res):
    if 'run' not in res:
        return None
    return res['run'] - res['skipped'] - len(res['bad'])


def describe(res):
    if res.get('hang'):
        return 'HANG (>%ss)' % res['seconds']
    if 'missing' in res:
        return 'missing'
    if 'crash' in res:
        return 'CRASH'
    return '%d/%d pass (%d skip) %ss' % (passed(res), res['run'], res['skipped'], res['seconds'])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('modules', nargs='*')
    ap.add_argument('--quick', action='store_true', help='only the quick modules')
    ap.add_argument('--patched-only', action='store_true')
    ap.add_argument('--python', default=sys.executable)
    ap.add_argument('--timeout', type=float)
    ap.add_argument('--json', help='write all results to this file')
    args = ap.parse_args(argv)
    names = args.modules or [m for m, (_, quick) in MODULES.items() if quick or not args.quick]
    expected = load_expected()
    report = {}
    unexpected_total = 0
    for name in names:
        # Known hangs are left out of the patched run (counted there as failures);
        # hangs of the environment itself out of the unpatched run as well.
        hangs = [t for t, why in expected.items() if why.startswith('hang')]
        env_hangs = [t for t, why in expected.items() if why.startswith('hang (environment)')]
        un = None if args.patched_only else run_module(name, False, args.python, args.timeout, env_hangs)
        pa = run_module(name, True, args.python, args.timeout, hangs)
        # Unexpected: fails patched, not listed, and did not fail unpatched too (environment).
        un_bad = set(un.get('bad', ())) if un else set()
        unexpected = [t for t in pa.get('bad', ())
                      if expected_reason(t, expected) is None and t not in un_bad]
        if pa.get('hang') or 'crash' in pa:
            unexpected.append('<module %s: %s>' % (name, describe(pa)))
        unexpected_total += len(unexpected)
        report[name] = {'unpatched': un, 'patched': pa, 'unexpected': unexpected}
        print('%-24s unpatched: %-28s patched: %-28s unexpected failures: %d' % (
            name, describe(un) if un else '-', describe(pa), len(unexpected)), flush=True)
        for t in unexpected[:30]:
            print('    ' + t, flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=1)
    return 1 if unexpected_total else 0


if __name__ == '__main__':
    sys.exit(main())
