"""The demo: ten 0.5 s requests served concurrently finish in well under their 5 s sum."""

import io
import os
import subprocess
import sys

from gevent_lite import demo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_demo_main_serves_ten_slow_requests_concurrently():
    out = io.StringIO()
    elapsed = demo.main(clients=10, out=out)
    text = out.getvalue()
    assert elapsed < 2.0, text
    for n in range(10):
        assert "client %d got 'echo: hello %d'" % (n, n) in text
    assert '10 requests in' in text


def test_demo_runs_as_a_module():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, '-m', 'gevent_lite.demo'], cwd=ROOT, env=env, check=False,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith('10 requests in '), proc.stdout
    elapsed = float(last.split()[3])
    assert elapsed < 2.0, proc.stdout
