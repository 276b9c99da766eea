"""Libraries built on gevent, unchanged, on gevent_lite: gunicorn's own ``-k gevent`` worker,
Celery ``-P gevent`` with a real redis broker and result backend, grequests.

Each program is started the way the docs say (``python -m gevent_lite.monkey --as-gevent ...``
or ``install_as_gevent()`` first), in its own process, against real servers on 127.0.0.1;
every process a test starts is stopped by its PID.
"""

import http.server
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request

import pytest
from _helpers import free_port, redis_server

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def env_with(*paths, **extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join((ROOT,) + paths), **extra)
    return env


def stop(proc, sig=signal.SIGTERM, timeout=20):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def wait_for_port(port, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


# -- gunicorn -k gevent ----------------------------------------------------------------------

SLOW_APP = textwrap.dedent('''
    import time

    def app(environ, start_response):
        time.sleep(float(environ.get('QUERY_STRING') or 0))   # patched: parks one greenlet
        import gevent
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [('%s %s' % (gevent.__name__, gevent.__version__)).encode()]
''')


def test_gunicorn_gevent_worker_serves_concurrent_slow_requests_on_one_worker(tmp_path):
    gconfig = pytest.importorskip('gunicorn.config')
    (tmp_path / 'slowapp.py').write_text(SLOW_APP)
    port = free_port()
    log = open(tmp_path / 'gunicorn.log', 'w+')
    # Newer gunicorn opens a control socket by default: keep it in tmp_path. gunicorn 23
    # (the newest for Python 3.9) has no such option and rejects the flag.
    control = (['--control-socket', str(tmp_path / 'ctl.sock')]
               if any(s.name == 'control_socket' for s in gconfig.KNOWN_SETTINGS) else [])
    proc = subprocess.Popen(
        [sys.executable, '-m', 'gevent_lite.monkey', '--as-gevent', '-m', 'gunicorn', '-k', 'gevent',
         '-w', '1', '--worker-connections', '100', '-b', '127.0.0.1:%d' % port]
        + control + ['slowapp:app'],
        cwd=str(tmp_path), env=env_with(str(tmp_path)), stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_for_port(port, proc), open(tmp_path / 'gunicorn.log').read()
        urllib.request.urlopen('http://127.0.0.1:%d/' % port, timeout=10).read()   # worker is up
        bodies = []

        def get():
            bodies.append(urllib.request.urlopen('http://127.0.0.1:%d/?1' % port, timeout=30).read())

        threads = [threading.Thread(target=get) for _ in range(20)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        elapsed = time.monotonic() - t0
        # 20 requests of 1 s each, one worker process: concurrent, so far below 20 s.
        assert len(bodies) == 20 and elapsed < 6, (len(bodies), elapsed)
        name, version = bodies[0].decode().split()
        assert name == 'gevent_lite' and tuple(map(int, version.split('.'))) >= (24, 10, 1)
    finally:
        stop(proc)
    text = open(tmp_path / 'gunicorn.log').read()
    assert 'Using worker: gevent' in text and 'Traceback' not in text, text


# -- Celery -P gevent with redis ------------------------------------------------------------

CELERY_APP = textwrap.dedent('''
    import os, time
    from celery import Celery

    url = os.environ['BROKER_URL']
    app = Celery('proj', broker=url, backend=url)
    app.conf.update(broker_connection_retry_on_startup=True)

    @app.task
    def nap(i):
        time.sleep(0.5)          # patched: parks one greenlet
        return i
''')


@pytest.fixture
def redis_url(tmp_path):
    if shutil.which('redis-server') is None:
        pytest.skip('redis-server is not installed (.ci/run installs it)')
    with redis_server(tmp_path) as port:
        yield 'redis://127.0.0.1:%d/0' % port


@pytest.mark.timeout(300)
def test_celery_gevent_pool_runs_bursts_of_100_sleeping_tasks_concurrently_losing_none(tmp_path, redis_url):
    pytest.importorskip('celery')
    pytest.importorskip('redis')
    (tmp_path / 'proj.py').write_text(CELERY_APP)
    env = env_with(str(tmp_path), BROKER_URL=redis_url)
    log = open(tmp_path / 'worker.log', 'w+')
    worker = subprocess.Popen(
        [sys.executable, '-m', 'gevent_lite.monkey', '--as-gevent', '-m', 'celery', '-A', 'proj', 'worker',
         '-P', 'gevent', '-c', '100', '--loglevel', 'info', '--without-mingle', '--without-gossip'],
        cwd=str(tmp_path), env=env, stdout=log, stderr=subprocess.STDOUT)
    # The client: a plain process (no gevent), sending bursts and collecting results.
    client = textwrap.dedent('''
        import sys, time
        from proj import nap
        for burst in range(4):
            t0 = time.time()
            results = [nap.delay(i) for i in range(100)]
            got = []
            for r in results:
                try:
                    got.append(r.get(timeout=30))
                except Exception as e:
                    got.append(repr(e))
            print('burst', burst, got == list(range(100)), round(time.time() - t0, 2), flush=True)
    ''')
    try:
        deadline = time.monotonic() + 60
        while 'ready.' not in open(tmp_path / 'worker.log').read():
            assert worker.poll() is None and time.monotonic() < deadline, open(tmp_path / 'worker.log').read()
            time.sleep(0.2)
        res = subprocess.run([sys.executable, '-c', client], cwd=str(tmp_path), env=env, capture_output=True,
                             text=True, timeout=240)
    finally:
        stop(worker)
    text = open(tmp_path / 'worker.log').read()
    lines = [ln.split() for ln in res.stdout.splitlines() if ln.startswith('burst')]
    assert len(lines) == 4, res.stdout + res.stderr + text[-3000:]
    for _word, _burst, ok, seconds in lines:
        # every result arrived; 100 tasks of 0.5 s ran concurrently, not one after another (50 s)
        assert ok == 'True' and float(seconds) < 10, (lines, text[-3000:])
    # The failure gevent_lite had (issue 14): acks that ran out of pooled connections.
    for bad in ('MaxConnectionsError', 'Connection to broker lost', "Couldn't ack", 'Traceback'):
        assert bad not in text, text[-5000:]
    assert re.search(r'Task proj\.nap\[.*\] succeeded', text)


# -- grequests -------------------------------------------------------------------------------

class _SlowHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.5)
        body = self.path.encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_grequests_map_runs_requests_concurrently(tmp_path):
    # (Not imported here: importing grequests monkey-patches with whatever gevent it finds.)
    if importlib.util.find_spec('grequests') is None:
        pytest.skip('grequests is not installed (it is in the test extra)')
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _SlowHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code = textwrap.dedent('''
            import gevent_lite
            gevent_lite.install_as_gevent()
            import sys, time, grequests, gevent
            assert gevent is gevent_lite
            url = 'http://127.0.0.1:%d/' % int(sys.argv[1])
            t0 = time.time()
            responses = grequests.map([grequests.get(url + str(i)) for i in range(20)], size=20)
            print([r.text for r in responses] == ['/' + str(i) for i in range(20)], round(time.time() - t0, 2))
            bad = [m for m in sys.modules if m == 'gevent._config' or m.startswith('gevent.libev')]
            print(bad)
        ''')
        res = subprocess.run([sys.executable, '-c', code, str(server.server_address[1])], env=env_with(),
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        ok, seconds = res.stdout.split('\n')[0].split()
        # 20 requests of 0.5 s: concurrent, far below 10 s
        assert ok == 'True' and float(seconds) < 4, res.stdout
        assert res.stdout.split('\n')[1] == '[]'    # no module of the real gevent was loaded
    finally:
        server.shutdown()
        server.server_close()
