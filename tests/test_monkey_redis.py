"""redis-py under monkey.patch_all(): a real ``redis-server`` on 127.0.0.1, driven by greenlets.

The server is a separate process this module starts itself (free port, no
persistence, in a temporary directory) and stops by its PID. Each test runs its
client code in a fresh interpreter whose first act is ``monkey.patch_all()``,
so redis-py's sockets and its ConnectionPool's ``threading`` locks are the green
ones. Concurrency is proven with server-side waits (``BLPOP`` with a timeout),
never with ``time.sleep`` in the client: if a blocking read held the hub, the
waits would add up instead of overlapping.
"""

import shutil

import pytest

from _helpers import check_patched, redis_server

REDIS_SERVER = shutil.which('redis-server')

pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None,
    reason='redis-server is not installed (apt-get install redis-server; .ci/run does)')


@pytest.fixture(scope='module')
def redis_port(tmp_path_factory):
    """A real ``redis-server`` for this module's tests (tests/_helpers.py)."""
    with redis_server(tmp_path_factory.mktemp('redis')) as port:
        yield port


def test_20_greenlets_blpop_with_half_second_server_timeouts_overlap(redis_port):
    # Each greenlet has its own client and waits 0.5 s in the server for a key nobody
    # pushes; one after another that would be 10 s.
    out = check_patched('''
        import time, redis, gevent_lite
        def wait_empty(i):
            r = redis.Redis(host='127.0.0.1', port=PORT, socket_timeout=10)
            try:
                return r.blpop(['gl:empty:%d' % i], timeout=0.5)
            finally:
                r.close()
        t0 = time.monotonic()
        jobs = [gevent_lite.spawn(wait_empty, i) for i in range(20)]
        gevent_lite.joinall(jobs, timeout=15, raise_error=True)
        elapsed = time.monotonic() - t0
        assert [j.value for j in jobs] == [None] * 20, [j.value for j in jobs]
        print(elapsed)
    ''', header='PORT = %d\n' % redis_port)
    elapsed = float(out)
    assert 0.4 < elapsed < 2.0, elapsed


def test_blpop_waiters_are_woken_with_the_values_another_greenlet_pushes(redis_port):
    out = check_patched('''
        import time, redis, gevent_lite
        def waiter(i):
            r = redis.Redis(host='127.0.0.1', port=PORT, socket_timeout=10)
            try:
                return r.blpop(['gl:wake:%d' % i], timeout=5)
            finally:
                r.close()
        def pusher():
            time.sleep(0.3)               # patched: lets every waiter reach BLPOP first
            r = redis.Redis(host='127.0.0.1', port=PORT)
            for i in reversed(range(20)):
                r.rpush('gl:wake:%d' % i, 'value-%d' % i)
            r.close()
        t0 = time.monotonic()
        jobs = [gevent_lite.spawn(waiter, i) for i in range(20)] + [gevent_lite.spawn(pusher)]
        gevent_lite.joinall(jobs, timeout=15, raise_error=True)
        elapsed = time.monotonic() - t0
        got = [j.value for j in jobs[:20]]
        want = [(b'gl:wake:%d' % i, b'value-%d' % i) for i in range(20)]
        assert got == want, got
        print(elapsed)
    ''', header='PORT = %d\n' % redis_port)
    assert float(out) < 2.0       # not the 5 s BLPOP timeout


def test_one_client_shared_by_50_greenlets_pools_connections_and_reuses_them(redis_port):
    # redis-py's ConnectionPool guards its lists with threading.Lock, green after patching:
    # 50 greenlets blocked at once on one client need 50 connections, and a second
    # round reuses them instead of opening more.
    out = check_patched('''
        import time, redis, gevent_lite
        r = redis.Redis(host='127.0.0.1', port=PORT, socket_timeout=10)
        monitor = redis.Redis(host='127.0.0.1', port=PORT)
        base = monitor.info('clients')['connected_clients']
        def one_round(tag):
            def worker(i):
                key = 'gl:pool:%s:%d' % (tag, i)
                if i % 2:
                    r.rpush(key, i)       # odd ones find their value at once
                return r.blpop([key], timeout=0.5)
            t0 = time.monotonic()
            jobs = [gevent_lite.spawn(worker, i) for i in range(50)]
            gevent_lite.joinall(jobs, timeout=15, raise_error=True)
            want = [(b'gl:pool:%s:%d' % (tag.encode(), i), b'%d' % i) if i % 2 else None
                    for i in range(50)]
            assert [j.value for j in jobs] == want, [j.value for j in jobs]
            return time.monotonic() - t0, monitor.info('clients')['connected_clients'] - base
        first, opened1 = one_round('a')
        second, opened2 = one_round('b')
        print(first, second, opened1, opened2)
    ''', header='PORT = %d\n' % redis_port)
    first, second, opened1, opened2 = out.split()
    assert float(first) < 2.0 and float(second) < 2.0, out     # 25 waits of 0.5 s each round
    assert 25 <= int(opened1) <= 50, out    # at least the 25 greenlets blocked together
    assert int(opened2) == int(opened1), out                     # round two reused them


def test_pipeline_and_pubsub_round_trips_return_the_right_values(redis_port):
    out = check_patched('''
        import time, redis, gevent_lite
        r = redis.Redis(host='127.0.0.1', port=PORT, decode_responses=True)
        r.delete('gl:counter', 'gl:list')
        pipe = r.pipeline(transaction=True)
        pipe.set('gl:counter', 40).incr('gl:counter').incrby('gl:counter', 1)
        pipe.rpush('gl:list', 'a', 'b', 'c').lrange('gl:list', 0, -1).get('gl:counter')
        assert pipe.execute() == [True, 41, 42, 3, ['a', 'b', 'c'], '42']

        # pub/sub: a subscriber greenlet parked in listen() (a blocking socket read)
        # while a ticker and a publisher greenlet keep running.
        ps = r.pubsub()
        ps.subscribe('gl:chan')
        assert ps.get_message(timeout=5)['type'] == 'subscribe'
        received, ticks = [], []
        def subscriber():
            for msg in ps.listen():
                if msg['type'] == 'message':
                    received.append(msg['data'])
                    if msg['data'] == 'stop':
                        return
        def ticker():
            while True:
                ticks.append(1)
                time.sleep(0.02)
        def publisher():
            time.sleep(0.2)
            counts = [r.publish('gl:chan', 'msg-%d' % i) for i in range(10)]
            r.publish('gl:chan', 'stop')
            return counts
        t = gevent_lite.spawn(ticker)
        sub, pub = gevent_lite.spawn(subscriber), gevent_lite.spawn(publisher)
        gevent_lite.joinall([sub, pub], timeout=10, raise_error=True)
        t.kill()
        assert pub.value == [1] * 10, pub.value       # one subscriber got each message
        assert received == ['msg-%d' % i for i in range(10)] + ['stop'], received
        assert len(ticks) >= 5, len(ticks)           # the hub ran while listen() waited
        ps.close()
        print('ok')
    ''', header='PORT = %d\n' % redis_port)
    assert out.strip() == 'ok'


def test_socket_timeout_fires_in_its_own_greenlet_while_the_others_keep_working(redis_port):
    # redis-py's socket_timeout is a green socket timeout after patching: a BLPOP that
    # would wait 5 s in the server raises TimeoutError after 0.3 s, and while it waits
    # another greenlet's commands go through on their own connection. (No retries:
    # redis-py 6+ retries a timed-out command with backoff by default, ~7 s in all.)
    out = check_patched('''
        import time, redis, gevent_lite
        from redis.backoff import NoBackoff
        from redis.retry import Retry
        def stuck():
            r = redis.Redis(host='127.0.0.1', port=PORT, socket_timeout=0.3, retry=Retry(NoBackoff(), 0))
            t0 = time.monotonic()
            try:
                r.blpop(['gl:never'], timeout=5)
            except redis.TimeoutError:
                return time.monotonic() - t0
            return 'no timeout'
        def busy():
            r = redis.Redis(host='127.0.0.1', port=PORT)
            done = 0
            for i in range(10):
                assert r.set('gl:busy', i) and r.get('gl:busy') == b'%d' % i
                done += 1
                time.sleep(0.02)
            return done
        g1, g2 = gevent_lite.spawn(stuck), gevent_lite.spawn(busy)
        gevent_lite.joinall([g1, g2], timeout=10, raise_error=True)
        print(g1.value, g2.value)
    ''', header='PORT = %d\n' % redis_port)
    waited, done = out.split()
    assert 0.2 < float(waited) < 2.0, out
    assert done == '10', out
