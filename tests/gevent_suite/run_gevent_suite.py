"""Run gevent's own test suite (the files the installed gevent wheel ships) on gevent_lite.

Each ``gevent/tests/test__*.py`` file runs in its own interpreter, as gevent's runner
runs them (network resources off): on ``--on lite`` (the default) ``import gevent``
is gevent_lite through ``install_as_gevent()``, while ``gevent.testing`` and
``gevent.tests`` load from gevent's own files (gevent_shim.py); ``--on gevent`` runs
the real gevent, to record which tests pass there (``--record``, into
baseline_gevent.json). Counted: of the tests that pass on gevent, how many pass on
gevent_lite; the rest must be listed in expected_failures.txt with a reason
(``test id  # reason``; an id ending in ``*`` covers every id starting with the rest).

    python tests/gevent_suite/run_gevent_suite.py [--on lite|gevent] [--record] [--all] [FILE ...]
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BASELINE = os.path.join(HERE, 'baseline_gevent.json')
EXPECTED = os.path.join(HERE, 'expected_failures.txt')

#: Files left out, with why: they test the compiled loops (libev/libuv), c-ares,
#: dnspython, gevent's own source tree or build, none of which a pure-Python hub
#: on the stdlib poller has.
EXCLUDED = {
    'test__core': 'libev/libuv loop object internals',
    'test__core_async': 'libev/libuv watcher internals',
    'test__core_callback': 'libev/libuv loop internals',
    'test__core_fork': 'libev/libuv fork watcher',
    'test__core_loop_run': 'libev/libuv loop.run internals',
    'test__core_stat': 'libev/libuv stat watcher',
    'test__core_timer': 'libev/libuv timer watcher internals',
    'test__core_watcher': 'libev/libuv watcher internals',
    'test__destroy': 'libev/libuv loop destruction',
    'test__destroy_default_loop': 'libev/libuv default loop destruction',
    'test__close_backend_fd': 'libev/libuv backend fd',
    'test__nondefaultloop': 'libev/libuv non-default loop objects',
    'test__refcount_core': 'libev/libuv watcher refcounts',
    'test__ares_host_result': 'c-ares resolver',
    'test__ares_timeout': 'c-ares resolver',
    'test__resolver_dnspython': 'dnspython resolver',
    'test__doctests': "doctests of gevent's own module docstrings",
    'test__compat': "gevent's private _compat module",
    'test__execmodules': "imports every module of gevent's own package",
    'test__examples': "runs gevent's examples/ folder, which the wheel does not ship",
    'test__example_echoserver': "gevent's examples/ folder, not shipped",
    'test__example_portforwarder': "gevent's examples/ folder, not shipped",
    'test__example_udp_client': "gevent's examples/ folder, not shipped",
    'test__example_udp_server': "gevent's examples/ folder, not shipped",
    'test__example_webproxy': "gevent's examples/ folder, not shipped",
    'test__example_wsgiserver': "gevent's examples/ folder, not shipped",
    'test__example_wsgiserver_ssl': "gevent's examples/ folder, not shipped",
    'test__pywsgi': 'pywsgi: counted by the pywsgi work (issue 19)',
    'test__server_pywsgi': 'pywsgi: counted by the pywsgi work (issue 19)',
}

#: Files that take long (over 5 s here): run only with the slow marker (or --all); seconds limit.
SLOW = {'test__hub_join_timeout': 120, 'test__pool': 120, 'test__threadpool': 120, 'test__subprocess': 120,
        'test__event': 90, 'test__issue2013': 90, 'test__makefile_ref': 90}
DEFAULT_LIMIT = 60

#: The Python and gevent the baseline was recorded with: elsewhere other tests skip
#: or exist, so the comparison would be meaningless (the pytest module skips).
BASELINE_PYTHON = (3, 11)
BASELINE_GEVENT = '26.9.0'

# The child: gevent's runner runs ``python -m gevent.tests.test__X``; so do we (runpy,
# as __main__), with every unittest result recorded as it is reported. A file with no
# unittest tests is a script: one test, passed when it exits with status 0.
CHILD = r'''
import sys, os, unittest, signal, runpy, traceback
signal.signal(signal.SIGINT, signal.default_int_handler)
name = {name!r}
out = sys.__stdout__
def emit(kind, test_id):
    # One line per event, flushed at once: a file that hangs keeps what it reported.
    if test_id.startswith('__main__.'):    # run as __main__: name the ids by the file
        test_id = 'gevent.tests.' + name + test_id[8:]
    out.write('\n@@%s@@ %s\n' % (kind, test_id))
    out.flush()
R = unittest.TestResult
def rec(orig, kind):
    def hook(self, test, *a):
        emit(kind, test.id())
        return orig(self, test, *a)
    return hook
R.startTest = rec(R.startTest, 'START')
R.addSuccess = rec(R.addSuccess, 'OK')
R.addFailure = rec(R.addFailure, 'BAD')
R.addError = rec(R.addError, 'BAD')
R.addUnexpectedSuccess = rec(R.addUnexpectedSuccess, 'BAD')
R.addSkip = rec(R.addSkip, 'SKIP')
_orig_sub = R.addSubTest
def add_sub(self, test, subtest, err):
    if err is not None:
        emit('BAD', test.id())
    return _orig_sub(self, test, subtest, err)
R.addSubTest = add_sub
# Tests known to hang here are not run (they are listed as expected failures).
hangs = set({hangs!r})
hang_prefixes = tuple(p[:-1] for p in hangs if p.endswith('*'))
if hangs:
    _orig_run = unittest.TestCase.run
    def run(self, result=None):
        test_id = self.id()
        if test_id.startswith('__main__.'):
            test_id = 'gevent.tests.' + name + test_id[8:]
        if result is not None and (test_id in hangs or test_id.startswith(hang_prefixes)):
            result.startTest(self)
            result.addSkip(self, 'hangs on gevent_lite (expected_failures.txt)')
            result.stopTest(self)
            return result
        return _orig_run(self, result)
    unittest.TestCase.run = run
status = 0
try:
    runpy.run_module('gevent.tests.' + name, run_name='__main__', alter_sys=True)
except SystemExit as e:
    status = int(e.code) if isinstance(e.code, int) else (0 if e.code is None else 1)
except BaseException:
    traceback.print_exc()
    status = 1
sys.stderr.flush()
emit('EXIT', str(status))
os._exit(0)   # a leftover thread or greenlet must not hold the exit
'''


def gevent_dir():
    """The installed gevent's package folder (found without importing it)."""
    import importlib.util
    spec = importlib.util.find_spec('gevent')
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def all_files(root=None):
    root = root or gevent_dir()
    names = sorted(f[:-3] for f in os.listdir(os.path.join(root, 'tests'))
                   if f.startswith('test__') and f.endswith('.py'))
    return [n for n in names if n not in EXCLUDED]


def load_expected(path=EXPECTED):
    expected = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith('#'):
                    test_id, _, reason = line.partition('#')
                    expected[test_id.strip()] = reason.strip()
    return expected


def expected_reason(test_id, expected):
    reason = expected.get(test_id)
    if reason is None:
        for pattern, why in expected.items():
            if pattern.endswith('*') and test_id.startswith(pattern[:-1]):
                return why
    return reason


def load_baseline(path=BASELINE):
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def run_file(name, lite=True, python=sys.executable, timeout=None, log_dir=None):
    """Run one file; a dict with run/skipped/bad/ok/status, or hang/crash; plus seconds."""
    timeout = timeout or SLOW.get(name, DEFAULT_LIMIT)
    root = gevent_dir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(HERE, 'site'), ROOT]),
               GEVENTTEST_USE_RESOURCES='-network')
    env.pop('GEVENT_SUITE_ON_LITE', None)
    if lite:
        # site/sitecustomize.py installs the alias in the child and its subprocesses.
        env['GEVENT_SUITE_ON_LITE'] = root
    hangs = sorted(t for t, why in load_expected().items()
                   if lite and why.startswith('hang') and t.startswith('gevent.tests.%s.' % name))
    code = CHILD.format(name=name, hangs=hangs)
    t0 = time.monotonic()
    hang = False
    # cwd: the tests folder (files open their certificates relative to it). A session of
    # its own, ended whole afterwards: a test that fails before its cleanup can leave a
    # child running (test__subprocess's never-exiting Popen), which must not outlive the run.
    proc = subprocess.Popen([python, '-c', code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=os.path.join(root, 'tests'), stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        hang = True
        _end_session(proc)
        stdout, stderr = proc.communicate()
    _end_session(proc)
    stdout = stdout.decode('utf-8', 'replace')
    stderr = stderr.decode('utf-8', 'replace')
    seconds = round(time.monotonic() - t0, 1)
    _log(log_dir, name, stdout + '\n' + stderr)
    return parse(name, stdout, stderr, hang, seconds)


def _end_session(proc):
    """Kill whatever is left in the session of a file's interpreter (itself included)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def parse(name, stdout, stderr, hang, seconds):
    """The child's event lines -> {'run', 'skipped', 'bad', 'ok', 'status'[, 'hang', 'hung_in']}."""
    ok, bad, skipped = [], [], []
    status = None
    started = None
    for line in stdout.splitlines():
        if not line.startswith('@@'):
            continue
        kind, _, test_id = line[2:].partition('@@ ')
        if kind == 'START':
            started = test_id
        elif kind == 'OK':
            ok.append(test_id)
        elif kind == 'BAD':
            bad.append(test_id)
        elif kind == 'SKIP':
            skipped.append(test_id)
        elif kind == 'EXIT':
            status = int(test_id)
    bad_set = set(bad)
    ok = [t for t in dict.fromkeys(ok) if t not in bad_set]
    res = {'seconds': seconds, 'status': status}
    if hang:
        res['hang'] = True
        done = set(ok) | bad_set | set(skipped)
        res['hung_in'] = started if started not in done else None
    elif status is None:
        res['crash'] = stderr[-3000:]
    if not ok and not bad and not skipped:
        # A script: one test, passed when it ran to the end with status 0.
        (ok if status == 0 else bad).append('gevent.tests.%s.<script>' % name)
        bad_set = set(bad)
    res.update(run=len(ok) + len(bad_set) + len(skipped), skipped=len(skipped), bad=sorted(bad_set), ok=ok)
    return res


def _log(log_dir, name, text):
    if log_dir:
        os.makedirs(log_dir, exist_ok=True)
        with open(os.path.join(log_dir, name + '.log'), 'w') as f:
            f.write(text or '')


_BLOCK = re.compile(r'^(?:ERROR|FAIL): \S+ \((\S+)\)\n-+\n(.*?)(?=^=+$|^-+\nRan |\Z)', re.M | re.S)


def failure_reasons(name, log_text):
    """{test id: the last line of its traceback} from a file's unittest output."""
    reasons = {}
    for test_id, block in _BLOCK.findall(log_text):
        if test_id.startswith('__main__.'):
            test_id = 'gevent.tests.' + name + test_id[8:]
        lines = [ln.strip() for ln in block.strip().splitlines() if ln.strip()]
        reasons.setdefault(test_id, lines[-1][:200] if lines else '?')
    return reasons


def describe(res):
    if res.get('hang'):
        return 'HANG (>%ss) in %s after %d ok' % (res['seconds'], res.get('hung_in'), len(res['ok']))
    if 'crash' in res:
        return 'CRASH'
    return '%d ok / %d run (%d skip) %ss' % (len(res['ok']), res['run'], res['skipped'], res['seconds'])


def is_private(test_id):
    """True for a test of one of gevent's private modules: every test of a ``test___*`` file
    (gevent._config, _monitor, _ident...), and test__all__'s class for a module whose dotted
    name has a ``_``-prefixed part (``Test_gevent__ffi`` is gevent._ffi, ``Test_gevent_monkey__state``
    gevent.monkey._state: the dots became ``_``, so a private part shows as ``__``)."""
    parts = test_id.split('.')
    if len(parts) < 3:
        return False
    module = parts[2]
    if module.startswith('test___'):
        return True
    return module == 'test__all__' and len(parts) > 3 and '__' in parts[3][len('Test'):]


def compare_split(name, res, baseline):
    """{'public': (passing on gevent, passing here), 'private': (...)} for one file."""
    got = set(res.get('ok', ()))
    out = {'public': [0, 0], 'private': [0, 0]}
    for t in baseline.get(name, []):
        counts = out['private' if is_private(t) else 'public']
        counts[0] += 1
        counts[1] += t in got
    return out


def compare(name, res, baseline, expected):
    """(passing on gevent, of those passing here, unexpected failures) for one file."""
    want = baseline.get(name, [])
    got = set(res.get('ok', ()))
    both = [t for t in want if t in got]
    unexpected = [t for t in want if t not in got and expected_reason(t, expected) is None]
    return len(want), len(both), unexpected


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('files', nargs='*')
    ap.add_argument('--on', choices=('lite', 'gevent'), default='lite')
    ap.add_argument('--record', action='store_true', help='with --on gevent: write baseline_gevent.json')
    ap.add_argument('--all', action='store_true', help='the slow files too')
    ap.add_argument('--python', default=sys.executable)
    ap.add_argument('--timeout', type=float)
    ap.add_argument('--logs', help='write each file\'s test output to this folder')
    ap.add_argument('--json', help='write all results to this file')
    ap.add_argument('--suggest', help='with --logs: write the unexpected failures, each with the last '
                    'line of its traceback, to this file in expected_failures.txt form (to review)')
    args = ap.parse_args(argv)
    names = args.files or [n for n in all_files() if args.all or n not in SLOW]
    lite = args.on == 'lite'
    baseline = load_baseline()
    expected = load_expected()
    report = {}
    total_want = total_both = total_unexpected = 0
    split = {'public': [0, 0], 'private': [0, 0]}
    for name in names:
        res = run_file(name, lite, args.python, args.timeout, args.logs)
        report[name] = res
        if lite:
            want, both, unexpected = compare(name, res, baseline, expected)
            total_want += want
            total_both += both
            total_unexpected += len(unexpected)
            for kind, (w, b) in compare_split(name, res, baseline).items():
                split[kind][0] += w
                split[kind][1] += b
            print('%-44s %-34s passing on gevent: %4d, here: %4d, unexpected: %d' % (
                name, describe(res), want, both, len(unexpected)), flush=True)
            for t in unexpected[:40]:
                print('    ' + t, flush=True)
        else:
            print('%-44s %s' % (name, describe(res)), flush=True)
    if lite and args.suggest and args.logs:
        with open(args.suggest, 'w') as f:
            for name, res in report.items():
                want, both, unexpected = compare(name, res, baseline, expected)
                try:
                    with open(os.path.join(args.logs, name + '.log')) as log:
                        reasons = failure_reasons(name, log.read())
                except OSError:
                    reasons = {}
                for t in unexpected:
                    why = reasons.get(t) or ('file hangs in %s' % res.get('hung_in') if res.get('hang')
                                             else 'skipped or not run here')
                    f.write('%s  # %s\n' % (t, why))
    if lite:
        pct = 100.0 * total_both / total_want if total_want else 0.0
        print('TOTAL: %d of the %d tests that pass on gevent pass on gevent_lite (%.1f%%); %d unexpected failures'
              % (total_both, total_want, pct, total_unexpected))
        # The measure: gevent's public API only. Tests of gevent's private modules
        # (test___*.py, test__all__'s classes of private modules) are counted apart.
        for kind, label in (('public', 'PUBLIC API'), ('private', 'PRIVATE modules')):
            w, b = split[kind]
            print('%s: %d of %d (%.1f%%)' % (label, b, w, 100.0 * b / w if w else 0.0))
    if args.record and not lite:
        data = load_baseline() if args.files else {}
        for name, res in report.items():
            data[name] = sorted(res.get('ok', ()))
        with open(BASELINE, 'w') as f:
            json.dump(data, f, indent=0, sort_keys=True)
            f.write('\n')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=1)
    return 1 if total_unexpected else 0


if __name__ == '__main__':
    sys.exit(main())
