"""Run CPython's own test modules unpatched and under ``monkey.patch_all()``.

Each module runs in its own interpreter (``test.test_X`` loaded with unittest)
whose first act, in patched mode, is ``patch_all()``; each has a time limit.
The child reports every test as it starts and ends, so when a module runs out
of time the runner knows which test hung: it records that test as hung (run,
not passed) and runs the module again without it (at most ``MAX_RERUNS``
times), so one hang does not hide the rest of the module. Tests listed in
``expected_failures.txt`` with a reason starting with ``hang`` are left out of
the patched run up front (and counted as run, not passed).

Per module it prints: tests run, passed and skipped, whether the module
finished (``finished``, or ``HANG`` with the hung tests), unpatched vs patched;
how many tests pass unpatched but fail, hang or skip patched (``patched-only``);
the patched failures that are not listed in ``expected_failures.txt`` (one
``test id  # reason`` per line; an id ending in ``*`` covers all tests whose id
starts with the rest), then the listed ones. Then totals, and the comparable
count: of the tests that pass unpatched, how many pass patched.

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
    # Threads, signals, fds, polling, and the socket clients of the asyncore era
    # (test_asyncore, test_asynchat, test_smtpd: up to 3.11; test_telnetlib: up to 3.12).
    'test_threading_local': (120, True), 'test_threadsignals': (120, True),
    'test_threadedtempfile': (120, True), 'test_poll': (120, True), 'test_asyncore': (120, True),
    'test_asynchat': (120, True), 'test_smtpd': (120, True), 'test_poplib': (180, True),
    'test_telnetlib': (120, True), 'test_imaplib': (300, False), 'test_docxmlrpc': (120, True),
    'test_time': (120, True), 'test_sched': (120, True), 'test_os': (300, True),
    'test_fcntl': (120, True), 'test_pty': (120, True), 'test_fork1': (120, True),
    'test_wait3': (120, True), 'test_wait4': (120, True),
    'test_importlib.test_threaded_import': (120, True), 'test_robotparser': (120, True),
    'test_nntplib': (120, True), 'test_sys': (180, True), 'test_faulthandler': (300, False),
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
import importlib.util
if importlib.util.find_spec('test.' + name) is None:
    # (loadTestsFromName would return one failing placeholder test instead)
    print('@@RESULT@@' + json.dumps({{'missing': 'test.%s is not installed' % name}})); sys.exit(0)
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
    # One line per test start and success, flushed: if the module hangs, the
    # runner reads which test it was in (and how many had passed) from them.
    def startTest(self, test):
        sys.__stdout__.write('@@START@@%s\n' % test.id()); sys.__stdout__.flush()
        super().startTest(test)
    def addSuccess(self, test):
        super().addSuccess(test)
        sys.__stdout__.write('@@OK@@\n'); sys.__stdout__.flush()
stream = io.StringIO()
result = unittest.TextTestRunner(stream=stream, verbosity=0, resultclass=R).run(suite)
bad = [t.id() for t, _ in result.failures] + [t.id() for t, _ in result.errors] \
    + [t.id() for t in result.unexpectedSuccesses]
print('@@RESULT@@' + json.dumps({{'run': result.testsRun, 'skipped': len(result.skipped), 'bad': bad,
                                  'skipped_ids': [t.id() for t, _ in result.skipped],
                                  'pruned': pruned}}))
sys.stdout.flush()
import os; os._exit(0)   # do not let a leftover thread or greenlet hold the exit
'''


def load_expected(path=None, version=None):
    """``{test id: reason}`` from expected_failures.txt for Python ``version`` (a
    ``(major, minor)`` tuple; default: this interpreter's). A line may start with a
    version condition, ``py<3.12`` or ``py>=3.13``: it counts only on those versions."""
    if path is None:
        path = os.path.join(HERE, 'expected_failures.txt')
    if version is None:
        version = tuple(sys.version_info[:2])
    expected = {}
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            if line.startswith('py'):
                condition, _, line = line.partition(' ')
                if not _version_matches(condition, version):
                    continue
            test_id, _, reason = line.partition('#')
            expected[test_id.strip()] = reason.strip()
    return expected


def _version_matches(condition, version):
    for op in ('<=', '>=', '<', '>', '=='):
        if condition[2:].startswith(op):
            wanted = tuple(int(x) for x in condition[2 + len(op):].split('.'))
            return {'<=': version <= wanted, '>=': version >= wanted, '<': version < wanted,
                    '>': version > wanted, '==': version[:len(wanted)] == wanted}[op]
    raise ValueError('expected_failures.txt: bad version condition %r (py<3.12, py>=3.13, ...)'
                     % condition)


def python_version(python):
    """``(major, minor)`` of the interpreter ``python``."""
    if python == sys.executable:
        return tuple(sys.version_info[:2])
    out = subprocess.run([python, '-c', 'import sys; print(*sys.version_info[:2])'],
                         capture_output=True, text=True, check=True).stdout
    return tuple(int(x) for x in out.split())


def expected_reason(test_id, expected):
    """The reason ``test_id`` is expected to fail, or None. A listed id ending in ``*``
    covers every test id that starts with the rest (a whole class or module)."""
    reason = expected.get(test_id)
    if reason is None:
        for pattern, why in expected.items():
            if pattern.endswith('*') and test_id.startswith(pattern[:-1]):
                return why
    return reason


#: How many times a module that hangs is run again without the test that hung.
MAX_RERUNS = 5


def _run_once(name, patched, python, timeout, skip):
    env = dict(os.environ, PYTHONPATH=ROOT)
    t0 = time.monotonic()
    try:
        proc = subprocess.run([python, '-c', CHILD.format(patched=bool(patched), name=name, skip=sorted(skip))],
                              capture_output=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired as exc:
        # Partial output: which tests started, how many passed.
        out = (exc.stdout or b'').decode('utf-8', 'replace')
        started = [line[len('@@START@@'):] for line in out.splitlines() if line.startswith('@@START@@')]
        return {'hang': True, 'seconds': timeout, 'started': started,
                'ok': sum(1 for line in out.splitlines() if line == '@@OK@@')}
    seconds = round(time.monotonic() - t0, 1)
    stdout = proc.stdout.decode('utf-8', 'replace')
    for line in stdout.splitlines():
        # (Some suites print timings without a trailing newline: the marker may not start the line.)
        if '@@RESULT@@' in line:
            res = json.loads(line[line.index('@@RESULT@@') + len('@@RESULT@@'):])
            res['seconds'] = seconds
            return res
    return {'crash': (proc.stderr.decode('utf-8', 'replace') or stdout)[-2000:], 'seconds': seconds}


def run_module(name, patched, python=sys.executable, timeout=None, hangs=(), reruns=MAX_RERUNS):
    """Run one module; returns a dict: run/skipped/bad (plus ``hung``, the tests that
    hung and were left out of a rerun), or missing/crash, plus seconds; ``hang`` is
    set when the module did not finish even after ``reruns`` reruns."""
    timeout = timeout or MODULES.get(name, (300, False))[0]
    skip = set(hangs or ())
    hung = []
    seconds = 0
    for _ in range(reruns + 1):
        res = _run_once(name, patched, python, timeout, skip)
        seconds += res['seconds']
        if not res.get('hang') or not res['started'] or res['started'][-1] in skip:
            break
        # The last test that started is the one that hung: leave it out and go again.
        hung.append(res['started'][-1])
        skip.add(res['started'][-1])
    res['seconds'] = round(seconds, 1)
    res['hung'] = hung
    if 'run' in res:
        # Tests left out (listed hangs, hangs found now) count as run and not passed.
        pruned = res.pop('pruned', [])
        res['bad'].extend(pruned)
        res['run'] += len(pruned)
    return res


def passed(res):
    if 'run' not in res:
        return None
    return res['run'] - res['skipped'] - len(res['bad'])


def patched_only(un, pa):
    """The tests that pass unpatched and do not pass patched, as two sorted id lists:
    ``(failed or hung, skipped)``; None unless both runs finished. (A test that
    fails or is skipped unpatched too is no difference of patching.)"""
    if not un or 'run' not in un or not pa or 'run' not in pa:
        return None
    not_passing = set(un['bad']) | set(un.get('skipped_ids', ()))
    return (sorted(t for t in set(pa['bad']) if t not in not_passing),
            sorted(t for t in set(pa.get('skipped_ids', ())) if t not in not_passing))


def describe(res):
    """``run N pass P skip S finished 12.3s`` (plus the hung tests), or HANG / missing / CRASH."""
    hung = res.get('hung') or []
    if res.get('hang'):
        return 'HANG (>%ss): %d started, %d passed; in %s' % (
            res['seconds'], len(res.get('started', ())), res.get('ok', 0),
            (res.get('started') or ['?'])[-1])
    if 'missing' in res:
        return 'missing'
    if 'crash' in res:
        return 'CRASH'
    text = 'run %d pass %d skip %d finished %ss' % (res['run'], passed(res), res['skipped'], res['seconds'])
    if hung:
        text += ' (after leaving out %d hung: %s)' % (len(hung), ', '.join(hung))
    return text


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
    expected = load_expected(version=python_version(args.python))
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
        unexpected += ['%s  (hung)' % t for t in pa.get('hung', ())
                       if not (expected_reason(t, expected) or '').startswith('hang')]
        if pa.get('hang') or 'crash' in pa:
            unexpected.append('<module %s: %s>' % (name, describe(pa)))
        unexpected_total += len(unexpected)
        diff = patched_only(un, pa)
        report[name] = {'unpatched': un, 'patched': pa, 'unexpected': unexpected,
                        'patched_only': diff and {'failed': diff[0], 'skipped': diff[1]}}
        print('%-24s unpatched: %-36s patched: %-36s patched-only: %s unexpected: %d' % (
            name, describe(un) if un else '-', describe(pa),
            '-' if diff is None else '%d' % len(diff[0]) + (' (+%d skip)' % len(diff[1]) if diff[1] else ''),
            len(unexpected)), flush=True)
        for t in unexpected[:30]:
            print('    ' + t, flush=True)
        for t in (diff[0] if diff else ()):
            if expected_reason(t, expected) is not None:
                print('    listed: ' + t, flush=True)
    _print_totals(report, args.patched_only)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=1)
    return 1 if unexpected_total else 0


def _print_totals(report, patched_run_only):
    def total(kind):
        runs = [r[kind] for r in report.values() if r[kind] and 'run' in r[kind]]
        unfinished = [n for n, r in report.items()
                      if r[kind] and 'run' not in r[kind] and 'missing' not in r[kind]]
        hung = sum(len(r.get('hung', ())) for r in runs)
        return 'run %d pass %d, %d hung test(s), %d module(s) not finished' % (
            sum(r['run'] for r in runs), sum(passed(r) for r in runs), hung, len(unfinished))
    print('%-24s unpatched: %s' % ('TOTAL', '-' if patched_run_only else total('unpatched')))
    print('%-24s patched:   %s' % ('', total('patched')), flush=True)
    if patched_run_only:
        return
    # The comparable count: of the tests that pass unpatched, how many also pass patched.
    both = [r for r in report.values() if r['patched_only'] is not None]
    passing = sum(passed(r['unpatched']) for r in both)
    failed = sum(len(r['patched_only']['failed']) for r in both)
    skipped = sum(len(r['patched_only']['skipped']) for r in both)
    print('%-24s %d of the %d tests that pass unpatched pass patched: %d fail or hang patched, '
          '%d skip patched (%d module(s) not compared)' % (
              '', passing - failed - skipped, passing, failed, skipped, len(report) - len(both)),
          flush=True)


if __name__ == '__main__':
    sys.exit(main())
