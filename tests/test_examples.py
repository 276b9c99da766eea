"""Every program in examples/ runs, as its own process, and prints what the docs say it prints.

The tutorial includes these files verbatim, so these tests are what keeps the
documentation from rotting. Each example talks only to 127.0.0.1 (servers it
starts itself, on a free port) and is bounded by a timeout here.
"""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, 'examples')
TIMEOUT = 60


def run_example(name):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''),
               PYTHONWARNINGS='default')
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, name)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert proc.returncode == 0, 'exit %s\nstdout:\n%s\nstderr:\n%s' % (
        proc.returncode, proc.stdout, proc.stderr)
    # An exception printed by the hub (a greenlet that died) is a failure even if main() exited 0.
    assert 'Traceback' not in proc.stderr, proc.stderr
    return proc.stdout


def elapsed_of(out):
    match = re.search(r'elapsed: ([0-9.]+) s', out)
    assert match, out
    return float(match.group(1))


def check_three_greenlets(out):
    lines = out.splitlines()
    # All three start before any finishes, and they finish in order of their sleeps.
    assert lines[:3] == ['a: start', 'b: start', 'c: start'], out
    assert lines[3:6] == ['b: done after 0.1 s', 'c: done after 0.2 s', 'a: done after 0.3 s'], out
    assert "results: ['a', 'b', 'c']" in out
    assert 0.25 <= elapsed_of(out) < 0.55, out     # 0.3 s, not the 0.6 s sum


def check_echo_accept_loop(out):
    assert re.search(r'echo server on 127\.0\.0\.1:\d+', out), out
    assert 'clients finished: [0, 1, 2, 3, 4]' in out, out


def check_stream_server(out):
    assert re.search(r'serving on 127\.0\.0\.1:\d+', out), out
    for n in range(3):
        assert 'echo: hello from client %d' % n in out, out
    assert 'stopped: True' in out, out


def check_threadpool_blocking(out):
    assert 'results: [0, 1, 4, 9]' in out, out
    assert elapsed_of(out) < 1.0, out              # four 0.3 s calls at once, not 1.2 s
    assert 'ticks meanwhile: several' in out, out


def check_wsgi_app(out):
    assert re.search(r'serving on http://127\.0\.0\.1:\d+/', out), out
    assert 'HTTP/1.1 200 OK\nHello, user3!' in out, out
    assert '10 responses' in out, out
    assert elapsed_of(out) < 1.0, out              # ten 0.2 s requests at once, not 2 s


def check_downloads(out):
    for n in range(5):
        assert 'page /%d' % n in out, out
    assert elapsed_of(out) < 1.2, out              # five 0.3 s answers at once, not 1.5 s


def check_xmlrpc_threads(out):
    assert 'results: [0, 1, 4, 9, 16]' in out, out
    assert elapsed_of(out) < 1.2, out              # five 0.3 s calls at once, not 1.5 s


def check_blocking_monitor(out):
    assert 'max_blocking_time: 0.1 s' in out, out
    # One blocking incident, one report, naming the blocking function and line.
    assert 'reports after the blocking call: 1' in out, out
    assert out.count('appears to be blocked') == 1, out
    # (gevent's repr: a function called without arguments shows without parentheses)
    assert re.search(r'Greenlet <Greenlet at 0x[0-9a-f]+: read_settings_from_disk> appears to be '
                     r'blocked: no greenlet switch for at least [0-9.]+ s \(max_blocking_time=0\.1\)',
                     out), out
    assert 'Blocked Stack (for thread id 0x' in out, out
    assert 'in read_settings_from_disk' in out and 'blocking_sleep(0.3)' in out, out
    # Cooperative waits only: no report.
    assert 'workers: [0, 1, 2]' in out, out
    assert 'reports while only cooperative waits ran: 0' in out, out


def check_run_info(out):
    overview, detailed = out.split("--- with the greenlets' stacks (the default)\n")
    lines = overview.splitlines()

    def line_of(text):
        return next(ln for ln in lines if text in ln)
    assert line_of('Main greenlet: ').endswith('[running]'), out
    # The spawn tree: the handlers hang below the server that spawned them.
    assert re.match(r'\+--- <Greenlet "server" at 0x[0-9a-f]+: server\(.*\)>  \[suspended\]$',
                    line_of('"server"')), out
    for n in (0, 1):
        assert re.match(r'\|   \+--- <Greenlet "handler-%d" at .*\[suspended\]$' % n,
                        line_of('"handler-%d"' % n)), out
    assert line_of('"janitor"').startswith('+--- '), out
    assert line_of('"reader"').startswith('+--- '), out
    assert 'Suspended at:' not in overview, out
    # The hub: one timer (the janitor's sleep) and one watched fd (the reader's).
    assert '  Pending timers: 1\n' in overview, out
    assert re.search(r'    in 29\.\d+ s: Greenlet\.switch of <Greenlet "janitor"',
                     overview), out
    assert '  Watched fds: 1\n' in overview, out
    assert re.search(r'    fd \d+ registered READ: reader <Greenlet "reader"', overview), out
    # With stacks: where each is parked, where it was spawned, the tree's locals.
    assert 'Suspended at:' in detailed and 'Spawned at:' in detailed, out
    assert 'in handler\n' in detailed and 'done.wait()' in detailed, out
    assert 'h = gevent_lite.spawn(handler, n, done)' in detailed, out
    assert "Spawn Tree Locals: {'request_id': 'req-42'}" in detailed, out
    assert "server: [0, 1], reader: b'ping'" in out, out


def check_backdoor_session(out):
    assert re.search(r'backdoor on 127\.0\.0\.1:\d+', out), out
    assert 'backdoor into the example process\n>>> ' in out, out
    assert '>>> print(6 * 7)\n42\n>>> ' in out, out
    assert '>>> state["ticks"] > 0\nTrue\n' in out, out
    assert '>>> worker.dead\nFalse\n' in out, out
    assert '>>> state["ticks"] - before >= 5\nTrue\n' in out, out    # the session parked, not blocked
    assert '>>> 1 / 0\nTraceback (most recent call last):\n' in out, out
    assert 'ZeroDivisionError: division by zero\n>>> exit()\n' in out, out
    assert 'session closed by the server: True' in out, out
    assert 'server stopped: True' in out, out


def check_config_and_events(out):
    assert 'gevent variable only:       max_blocking_time = 0.5\n' in out, out
    assert 'both variables:             max_blocking_time = 0.25\n' in out, out
    assert 'assigned in the program:    max_blocking_time = 0.05\n' in out, out
    assert ('setting monitor_thread: default False, from GEVENT_LITE_MONITOR_THREAD or '
            'GEVENT_MONITOR_THREAD_ENABLE') in out, out
    assert "ValueError: GEVENT_LITE_THREADPOOL_SIZE='lots': expected a positive integer" in out, out
    assert ('ValueError: config.max_blocking_time=-1: expected a positive, finite number of '
            'seconds') in out, out
    assert 'PeriodicMonitorThreadStartedEvent: monitor is ours: True' in out, out
    assert out.count('EventLoopBlocked:') == 1, out
    assert 'EventLoopBlocked: greenlet is the blocker: True, blocking_time >= 0.05 s: True' in out, out
    assert 'its stack ends in compress_in_c(): blocking_sleep(0.2)' in out, out
    assert ('child with GEVENT_LITE_MONITOR_THREAD=1: exit 0, 1 report(s) on its stderr, '
            'naming blocker(): True') in out, out


def check_patch_events(out):
    lines = out.splitlines()
    assert lines[0] == 'GeventWillPatchAllEvent', out
    for module in ('os', 'time', '_thread', 'threading', 'socket', 'select', 'signal', 'queue'):
        assert any(ln.startswith('will patch %s: ' % module) for ln in lines), out
        assert 'did patch %s' % module in lines, out
    # The veto: subprocess is announced, vetoed, and never reported as patched.
    will = next(i for i, ln in enumerate(lines) if ln.startswith('will patch subprocess: '))
    assert lines[will + 1] == '  vetoed', out
    assert 'did patch subprocess' not in lines, out
    end = lines.index('GeventDidPatchBuiltinModulesEvent')
    assert lines[end + 1] == 'GeventDidPatchAllEvent', out
    assert 'patch_all() returned True' in lines, out
    assert 'socket patched: True' in lines, out
    assert 'subprocess patched: False' in lines, out


def check_cooperative_files(out):
    assert 'FileObject is FileObjectPosix: True' in out, out
    assert "read from the pipe: ['line 0', 'line 1', 'line 2']" in out, out
    assert 'ticks while the reader waited: several' in out, out
    assert "read back: 'written in a worker thread\\n'" in out, out


def check_crawler(out):
    # The budget cuts off the page that never answers; everything else was fetched.
    assert 'crawled 7 pages: / /blog /blog/1 /blog/2 /docs /docs/api /docs/intro' in out, out
    match = re.search(r'budget ran out: True \(after ([0-9.]+) s\)', out)
    assert match and 0.9 <= float(match.group(1)) < 10, out
    # The 403 kills the sibling stuck on /slow at once: no 30 s wait.
    match = re.search(r'fatal: banned at /admin; other errors: None \(after ([0-9.]+) s\)', out)
    assert match and float(match.group(1)) < 10, out



def check_flask_asyncio(out):
    assert re.search(r'flask app on http://127\.0\.0\.1:\d+/', out), out
    assert '200 {"price":104,"symbol":"ACME"}' in out, out
    assert '10 answers with status 200' in out, out
    assert elapsed_of(out) < 1.5, out       # ten upstream waits of 0.2 s overlap (2 s in sequence)


# example file -> (modules it needs, checker of its stdout)
CASES = {
    'three_greenlets.py': ((), check_three_greenlets),
    'echo_accept_loop.py': (('gevent_lite.socket',), check_echo_accept_loop),
    'stream_server.py': (('gevent_lite.server',), check_stream_server),
    'downloads.py': (('gevent_lite.monkey',), check_downloads),
    'xmlrpc_threads.py': (('gevent_lite.monkey',), check_xmlrpc_threads),
    'wsgi_app.py': (('gevent_lite.pywsgi',), check_wsgi_app),
    'threadpool_blocking.py': (('gevent_lite.threadpool',), check_threadpool_blocking),
    'blocking_monitor.py': (('gevent_lite.monitor',), check_blocking_monitor),
    'run_info.py': (('gevent_lite.util',), check_run_info),
    'backdoor_session.py': (('gevent_lite.backdoor',), check_backdoor_session),
    'config_and_events.py': (('gevent_lite.monitor', 'gevent_lite.events'), check_config_and_events),
    'patch_events.py': (('gevent_lite.monkey', 'gevent_lite.events'), check_patch_events),
    'cooperative_files.py': (('gevent_lite.fileobject',), check_cooperative_files),
    'crawler.py': (('gevent_lite.taskgroup', 'gevent_lite.monkey'), check_crawler),
    'flask_asyncio.py': (('gevent_lite.asyncio_bridge', 'flask', 'aiohttp'), check_flask_asyncio),
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_example_runs_and_prints_expected_output(name):
    needs, check = CASES[name]
    for module in needs:
        pytest.importorskip(module, reason='%s needs %s' % (name, module))
    check(run_example(name))


def test_every_example_file_is_tested():
    on_disk = {f for f in os.listdir(EXAMPLES) if f.endswith('.py')}
    assert on_disk == set(CASES), 'untested: %s; missing: %s' % (
        sorted(on_disk - set(CASES)), sorted(set(CASES) - on_disk))
