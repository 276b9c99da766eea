"""gevent_lite.worker.GeventLiteWorker under a real gunicorn arbiter (subprocesses)."""

import http.client
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

gunicorn = pytest.importorskip('gunicorn', reason='gunicorn is not installed (pip install gunicorn)')

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

APP = textwrap.dedent('''
    import os, time

    def app(environ, start_response):
        delay = float(environ.get('QUERY_STRING') or 0)
        if delay:
            time.sleep(delay)          # patched: parks only this greenlet
        start_response('200 OK', [('Content-Type', 'text/plain')])
        if environ['PATH_INFO'] == '/scheme':
            return [environ['wsgi.url_scheme'].encode()]
        return [str(os.getpid()).encode()]
''')


class Gunicorn:
    def __init__(self, tmp_path, *args, https=False):
        self.https = https
        (tmp_path / 'slowapp.py').write_text(APP)
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + str(tmp_path))
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'gunicorn', '-k', 'gevent_lite.worker.GeventLiteWorker',
             '-b', '127.0.0.1:0', '--log-level', 'info', *args, 'slowapp:app'],
            cwd=str(tmp_path), env=env, stderr=subprocess.PIPE, text=True)
        self.log = []
        self.port = None
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                line = self.proc.stderr.readline()
                if not line:
                    break
                self.log.append(line)
                m = re.search(r'Listening at: https?://127\.0\.0\.1:(\d+)', line)
                if m:
                    self.port = int(m.group(1))
                if self.port and 'Booting worker' in line:
                    break
            assert self.port, ''.join(self.log)
            threading.Thread(target=self._drain, daemon=True).start()
            self.wait_ready()
        except BaseException:
            self.stop()                 # never leave an arbiter behind a failed start
            raise

    def _drain(self):
        for line in self.proc.stderr:
            self.log.append(line)

    def wait_ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                return self.get('/', timeout=1)
            except (ConnectionError, OSError):
                time.sleep(0.1)
        raise AssertionError('gunicorn never answered:\n' + ''.join(self.log))

    def get(self, path, timeout=10):
        if self.https:
            import ssl
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            c = http.client.HTTPSConnection('127.0.0.1', self.port, timeout=timeout, context=ctx)
        else:
            c = http.client.HTTPConnection('127.0.0.1', self.port, timeout=timeout)
        try:
            c.request('GET', path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def concurrent_gets(server, path, n):
    results = [None] * n

    def one(i):
        results[i] = server.get(path)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    return results, time.monotonic() - t0


def test_one_worker_serves_20_sleeping_requests_concurrently_and_heartbeats(tmp_path):
    server = Gunicorn(tmp_path, '-w', '1', '--timeout', '2', '--worker-connections', '100')
    try:
        pid_before = server.get('/')[1]
        results, elapsed = concurrent_gets(server, '/?0.5', 20)
        assert all(r is not None and r[0] == 200 for r in results), results
        assert elapsed < 4, 'requests ran one after another (%.2f s)' % elapsed
        # Heartbeat: the arbiter kills a worker that stays silent for --timeout (2 s).
        time.sleep(3)
        assert server.get('/')[1] == pid_before
        assert 'WORKER TIMEOUT' not in ''.join(server.log)
    finally:
        server.stop()


def test_worker_connections_bounds_the_requests_one_worker_serves_at_once(tmp_path):
    # --worker-connections 2: six 0.5 s requests are served two at a time (about
    # 1.5 s), never all six together (0.5 s) -- and none is refused.
    server = Gunicorn(tmp_path, '-w', '1', '--worker-connections', '2')
    try:
        results, elapsed = concurrent_gets(server, '/?0.5', 6)
        assert all(r is not None and r[0] == 200 for r in results), results
        assert elapsed >= 1.4, 'more than 2 requests ran at once (%.2f s)' % elapsed
        assert elapsed < 8, elapsed
    finally:
        server.stop()


def test_two_workers_both_serve(tmp_path):
    server = Gunicorn(tmp_path, '-w', '2')
    try:
        pids = set()
        for _ in range(5):
            results, _ = concurrent_gets(server, '/?0.3', 16)
            pids.update(r[1] for r in results if r and r[0] == 200)
            if len(pids) >= 2:
                break
        assert len(pids) == 2, pids
    finally:
        server.stop()


def test_sigterm_lets_in_flight_requests_finish(tmp_path):
    server = Gunicorn(tmp_path, '-w', '1', '--graceful-timeout', '10')
    try:
        box = {}

        def slow():
            box['result'] = server.get('/?1.0')
        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)     # arbiter: TERM to workers, wait graceful
        server.proc.wait(15)
        elapsed = time.monotonic() - t0
        t.join(5)
        assert box.get('result', (None,))[0] == 200
        assert elapsed < 6
        assert server.proc.returncode == 0
    finally:
        server.stop()


def test_worker_keeps_heartbeating_while_draining_a_request_longer_than_timeout(tmp_path):
    # max_requests makes the worker itself start its graceful shutdown while the
    # arbiter keeps running its main loop, which kills a worker that stays silent
    # for --timeout (2 s). The in-flight request takes 4 s: the drain must notify.
    server = Gunicorn(tmp_path, '-w', '1', '--timeout', '2', '--graceful-timeout', '10',
                      '--max-requests', '2', '--max-requests-jitter', '0')
    try:
        # Gunicorn() already made request 1 (wait_ready); this is request 2.
        status, body = server.get('/?4.0', timeout=15)
        assert status == 200 and body.isdigit(), (status, body)
        time.sleep(0.5)
        log = ''.join(server.log)
        assert 'WORKER TIMEOUT' not in log, log
        assert 'Autorestarting worker after current request' in log, log
    finally:
        server.stop()


def test_certfile_and_keyfile_make_the_worker_serve_https(tmp_path, cert):
    # gunicorn's --certfile/--keyfile must reach the server (they were ignored: the
    # worker served plain HTTP on the port meant for HTTPS).
    certfile, keyfile = cert
    server = Gunicorn(tmp_path, '-w', '1', '--certfile', certfile, '--keyfile', keyfile, https=True)
    try:
        assert server.get('/scheme') == (200, b'https')
        results, elapsed = concurrent_gets(server, '/?0.5', 10)
        assert all(r is not None and r[0] == 200 for r in results), results
        assert elapsed < 4, elapsed
        server.https = False
        with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
            server.get('/scheme', timeout=5)        # no plaintext answer on the TLS port
    finally:
        server.stop()


def test_sigint_is_a_quick_shutdown_that_does_not_wait_for_in_flight_requests(tmp_path):
    # gunicorn: TERM is graceful, INT/QUIT are quick (the arbiter sends QUIT to its
    # workers, whose handler ends in sys.exit). A 5 s request must not hold the exit.
    server = Gunicorn(tmp_path, '-w', '1', '--graceful-timeout', '10')
    try:
        box = {}

        def slow():
            try:
                box['result'] = server.get('/?5.0')
            except (http.client.HTTPException, OSError) as exc:
                box['error'] = exc
        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        server.proc.send_signal(signal.SIGINT)
        server.proc.wait(15)
        elapsed = time.monotonic() - t0
        t.join(10)
        assert elapsed < 3.0, ('quick shutdown took %.1f s' % elapsed, ''.join(server.log))
        assert 'error' in box, box          # the request was cut off, not answered
    finally:
        server.stop()
