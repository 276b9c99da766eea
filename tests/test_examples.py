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


# example file -> (modules it needs, checker of its stdout)
CASES = {
    'three_greenlets.py': ((), check_three_greenlets),
    'echo_accept_loop.py': (('gevent_lite.socket',), check_echo_accept_loop),
    'stream_server.py': (('gevent_lite.server',), check_stream_server),
    'downloads.py': (('gevent_lite.monkey',), check_downloads),
    'xmlrpc_threads.py': (('gevent_lite.monkey',), check_xmlrpc_threads),
    'wsgi_app.py': (('gevent_lite.pywsgi',), check_wsgi_app),
    'threadpool_blocking.py': (('gevent_lite.threadpool',), check_threadpool_blocking),
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
