"""requests under monkey.patch_all(): greenlets making HTTP calls overlap.

The server is the stdlib's ThreadingHTTPServer on 127.0.0.1, running in a real
OS thread of this (unpatched) test process, so nothing of gevent_lite helps it;
every response takes 0.5 s. The client runs in a fresh interpreter whose first
act is ``monkey.patch_all()``, and uses plain ``requests``: if a blocking
socket call in requests/urllib3/http.client held the hub, the calls would take
the sum of their delays.
"""

import http.server
import os
import threading
import time

import pytest

from _helpers import check_patched

pytest.importorskip('requests', reason='requests is in the test extra: pip install -e .[test]')

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DELAY = 0.5


class SlowHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'          # keep-alive, so a Session can reuse connections

    def do_GET(self):
        time.sleep(DELAY)                  # a real sleep in this request's OS thread
        body = ('%s from %d' % (self.path, self.client_address[1])).encode()
        try:
            self.send_response(200)
            self.send_header('Content-Type', 'text/plain')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except ConnectionError:             # a client that timed out has gone
            self.close_connection = True

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    # The default listen backlog of 5 overflows when ten clients connect at once: the
    # kernel drops the extra SYNs and the clients retry a second later, which would
    # be measured here as slowness of the client (1.5 s instead of 0.5 s).
    request_queue_size = 64


@pytest.fixture
def slow_server():
    srv = Server(('127.0.0.1', 0), SlowHandler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield 'http://127.0.0.1:%d' % srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def test_ten_concurrent_requests_get_calls_overlap_and_return_their_bodies(slow_server):
    out = check_patched('''
        import time, requests, gevent_lite
        def fetch(i):
            r = requests.get('%s/item/%d' % (BASE, i), timeout=10)
            r.raise_for_status()
            return r.text.split(' from ')[0]
        t0 = time.monotonic()
        jobs = [gevent_lite.spawn(fetch, i) for i in range(10)]
        gevent_lite.joinall(jobs, timeout=20, raise_error=True)
        elapsed = time.monotonic() - t0
        assert [j.value for j in jobs] == ['/item/%d' % i for i in range(10)], [j.value for j in jobs]
        print(elapsed)
    ''', header='BASE = %r\n' % slow_server)
    assert float(out) < 2.0          # one after another: 10 x 0.5 s = 5 s


def test_one_session_shared_by_ten_greenlets_overlaps_and_reuses_its_connections(slow_server):
    # urllib3's connection pool (a queue.LifoQueue with threading locks) is shared by
    # the greenlets; after patching it must neither serialize them nor deadlock, and a
    # second round must come over the same keep-alive connections (same client ports).
    out = check_patched('''
        import time, requests, gevent_lite
        from requests.adapters import HTTPAdapter
        session = requests.Session()
        session.mount('http://', HTTPAdapter(pool_connections=1, pool_maxsize=10, pool_block=True))
        def fetch(i):
            r = session.get('%s/s/%d' % (BASE, i), timeout=10)
            path, port = r.text.split(' from ')
            assert path == '/s/%d' % i, (path, i)
            return int(port)
        def one_round():
            t0 = time.monotonic()
            jobs = [gevent_lite.spawn(fetch, i) for i in range(10)]
            gevent_lite.joinall(jobs, timeout=20, raise_error=True)
            return time.monotonic() - t0, {j.value for j in jobs}
        first, ports1 = one_round()
        second, ports2 = one_round()
        print(first, second, len(ports1), ports2 <= ports1)
    ''', header='BASE = %r\n' % slow_server)
    first, second, nports, reused = out.split()
    assert float(first) < 2.0 and float(second) < 2.0, out
    assert int(nports) == 10, out         # ten requests in flight at once: ten connections
    assert reused == 'True', out


def test_read_timeouts_fire_per_greenlet_without_waiting_for_the_slow_server(slow_server):
    out = check_patched('''
        import time, requests, gevent_lite
        def fetch(i):
            t0 = time.monotonic()
            try:
                requests.get('%s/t/%d' % (BASE, i), timeout=(5, 0.2))
            except requests.exceptions.ReadTimeout:
                return time.monotonic() - t0
            return 'answered'
        t0 = time.monotonic()
        jobs = [gevent_lite.spawn(fetch, i) for i in range(10)]
        gevent_lite.joinall(jobs, timeout=20, raise_error=True)
        print(time.monotonic() - t0, max(j.value for j in jobs))
    ''', header='BASE = %r\n' % slow_server)
    total, slowest = map(float, out.split())
    assert slowest < 0.45, out         # each gave up after its 0.2 s, not the server's 0.5 s
    assert total < 1.5, out            # and they waited together
