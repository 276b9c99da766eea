"""The virtual clock and the pytest plugin of gevent_lite.testing."""

import os
import random
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import gevent_lite
from gevent_lite import Timeout, sleep, spawn, spawn_later, move_on_after, with_timeout
from gevent_lite import socket
from gevent_lite.event import Event
from gevent_lite.hub import get_hub, now, LoopExit
from gevent_lite.queue import Queue, Empty
from gevent_lite.testing import VirtualClock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_sleeping_an_hour_takes_milliseconds_and_advances_hub_time_by_an_hour(virtual_clock):
    started_real = time.monotonic()
    started = now()
    sleep(3600)
    assert now() - started == 3600
    assert virtual_clock.now() == now()
    assert time.monotonic() - started_real < 5     # real time is not faked (and barely moved)


def test_ten_thousand_sleepers_wake_in_deadline_order_within_two_seconds_of_cpu(virtual_clock):
    rng = random.Random(15)
    delays = [rng.uniform(0, 3600) for _ in range(10000)]
    woken = []

    def sleeper(delay):
        sleep(delay)
        woken.append((now(), delay))

    cpu, wall = time.process_time(), time.monotonic()
    greenlets = [spawn(sleeper, d) for d in delays]
    gevent_lite.joinall(greenlets)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    assert len(woken) == 10000
    assert [d for _, d in woken] == sorted(delays)          # deadline order
    assert all(t == d for t, d in woken)                    # each exactly at its deadline
    assert now() == max(delays)
    # The CPU bound holds on a loaded machine; the wall bound only says "no real hour".
    assert cpu < 2, cpu
    assert wall < 60, wall


def test_retry_with_exponential_backoff_over_a_simulated_day(virtual_clock):
    attempts = []

    def flaky():
        attempts.append(now())
        if now() < 86400:
            raise ConnectionError('still down')
        return 'up'

    def retry(fn, first_delay=1.0, factor=2.0, max_delay=3600.0):
        delay = first_delay
        while True:
            try:
                return fn()
            except ConnectionError:
                sleep(delay)
                delay = min(delay * factor, max_delay)

    started = time.monotonic()
    assert retry(flaky) == 'up'
    assert attempts[0] == 0 and attempts[-1] >= 86400
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert gaps[:5] == [1, 2, 4, 8, 16]
    assert max(gaps) == 3600
    assert time.monotonic() - started < 10


def test_every_timer_based_wait_reads_the_virtual_clock(virtual_clock):
    t0 = now()
    with Timeout(10, False):
        Event().wait()
    assert now() - t0 == 10

    assert Event().wait(timeout=5) is False
    assert now() - t0 == 15

    with pytest.raises(Empty):
        Queue().get(timeout=7)
    assert now() - t0 == 22

    assert gevent_lite.wait([Event()], timeout=3) == []
    assert now() - t0 == 25

    g = spawn_later(100, now)
    assert g.get() == t0 + 125

    with move_on_after(30):
        sleep(1000)
    assert now() - t0 == 155

    assert with_timeout(2, sleep, 50, timeout_value='late') == 'late'
    assert now() - t0 == 157

    g = gevent_lite.spawn(sleep, 5)
    assert g.join(timeout=1) is None and not g.dead
    assert now() - t0 == 158
    g.join()
    assert now() - t0 == 162


def test_manual_jump_wakes_due_timers_when_autojump_is_off(isolated_hub):
    with VirtualClock(start=50, autojump_threshold=float('inf')) as clock:
        g = spawn(sleep, 10)
        sleep(0)
        clock.jump(9)
        sleep(0)
        assert not g.dead
        clock.jump(1)
        sleep(0)
        sleep(0)
        assert g.dead
        assert now() == 60


def test_without_autojump_waiting_only_for_time_is_a_loop_exit_not_a_hang(isolated_hub):
    with VirtualClock(autojump_threshold=float('inf')):
        started = time.monotonic()
        with pytest.raises(LoopExit, match='clock.jump'):
            sleep(10)
        assert time.monotonic() - started < 5


def _send_later_script(port, delay):
    return textwrap.dedent('''
        import socket, time
        time.sleep(%r)
        s = socket.create_connection(('127.0.0.1', %d))
        s.sendall(b'ping')
        s.recv(1)
    ''' % (delay, port))


def _listener():
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    return listener


def test_real_io_wakes_its_waiter_before_the_clock_jumps_past_it(isolated_hub):
    # With a positive threshold the hub waits that long in real time for I/O
    # before jumping, so a peer that answers within it wins the 60 s deadline.
    listener = _listener()
    proc = subprocess.Popen([sys.executable, '-c', _send_later_script(listener.getsockname()[1], 0.3)])
    try:
        with VirtualClock(autojump_threshold=5.0):
            listener.settimeout(60)
            conn, _ = listener.accept()
            conn.settimeout(60)
            assert conn.recv(4) == b'ping'
            assert now() == 0          # no virtual time passed: the I/O came first
            conn.sendall(b'x')
            conn.close()
    finally:
        listener.close()
        proc.wait(timeout=30)


def test_with_threshold_zero_the_clock_jumps_past_pending_io(isolated_hub):
    listener = _listener()
    started = time.monotonic()
    with VirtualClock():
        listener.settimeout(60)
        with pytest.raises(socket.timeout):
            listener.accept()
        assert now() == 60
    listener.close()
    assert time.monotonic() - started < 10


def test_timers_keep_their_remaining_delay_when_the_clock_is_removed(isolated_hub):
    with VirtualClock(start=1000.0):
        sleeper = spawn(sleep, 0.2)
        sleep(0)
    started = time.monotonic()
    sleeper.join(timeout=30)
    elapsed = time.monotonic() - started
    assert sleeper.dead
    assert 0.1 < elapsed < 10


def test_the_clock_is_per_thread(isolated_hub):
    seen = {}

    def other_thread():
        # A thread of its own gets a hub of its own, on the real clock.
        from gevent_lite.hub import now as other_now, sleep as other_sleep
        t = other_now()
        other_sleep(0.05)
        seen['elapsed'] = other_now() - t

    with VirtualClock(start=5):
        t = threading.Thread(target=other_thread)
        t.start()
        t.join(30)
        assert now() == 5
    assert 0.04 <= seen['elapsed'] < 10


def test_misuse_is_reported_clearly(isolated_hub):
    with pytest.raises(ValueError):
        VirtualClock(autojump_threshold=-1)
    with pytest.raises(TypeError):
        VirtualClock(start='0')
    clock = VirtualClock()
    with pytest.raises(ValueError):
        clock.jump(-1)
    with pytest.raises(ValueError):
        clock.jump(float('nan'))
    with clock:
        with pytest.raises(RuntimeError, match='already installed'):
            with VirtualClock():
                pass
        with pytest.raises(RuntimeError, match='already installed'):
            clock.__enter__()
        errors = []

        def remove_from_another_thread():
            try:
                clock.__exit__(None, None, None)
            except RuntimeError as e:
                errors.append(e)

        t = threading.Thread(target=remove_from_another_thread)
        t.start()
        t.join(30)
        assert errors and 'thread that installed it' in str(errors[0])
        assert get_hub().virtual_clock is clock
    assert get_hub().virtual_clock is None


# -- the pytest plugin ------------------------------------------------------------------------

PLUGIN_TESTS = '''
import gevent_lite
from gevent_lite.hub import now

def test_uses_the_virtual_clock(virtual_clock):
    gevent_lite.sleep(86400)
    assert now() == 86400

def test_clean(isolated_hub):
    g = gevent_lite.spawn(gevent_lite.sleep, 0.01)
    g.join()

def test_leaks_a_greenlet(isolated_hub):
    def forever():
        gevent_lite.sleep(10 ** 6)
    g = gevent_lite.spawn(forever)
    g.name = 'the-leaked-one'
    gevent_lite.sleep(0)

def test_without_fixtures_runs_as_usual():
    gevent_lite.sleep(0)
'''


def test_pytest_plugin_fixtures_in_a_real_pytest_run(tmp_path):
    (tmp_path / 'test_plugin_user.py').write_text(PLUGIN_TESTS)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, '-m', 'pytest', '-p', 'gevent_lite.testing', '-p', 'no:cacheprovider',
         '-q', 'test_plugin_user.py'],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert '4 passed, 1 error' in out, out   # the leaking test's body passes; its teardown fails
    assert 'ERROR at teardown of test_leaks_a_greenlet' in out, out
    assert 'still running when the test ended' in out and 'the-leaked-one' in out, out
    assert time.monotonic() - started < 60


def test_the_plugin_is_declared_as_a_pytest11_entry_point():
    with open(os.path.join(ROOT, 'pyproject.toml')) as f:
        text = f.read()
    section = text.split('[project.entry-points.pytest11]', 1)
    assert len(section) == 2, 'pyproject.toml declares no pytest11 entry point'
    assert '"gevent_lite.testing" = "gevent_lite.testing"' in section[1].split('[', 1)[0]


def test_asyncio_on_the_hub_loop_reads_the_virtual_clock_too(isolated_hub):
    bridge = pytest.importorskip('gevent_lite.asyncio_bridge')
    import asyncio
    started = time.monotonic()
    with VirtualClock():
        bridge.await_(asyncio.sleep(3600))
        assert now() == 3600
    assert time.monotonic() - started < 10


def test_leaked_greenlets_lists_the_unfinished_ones_and_not_the_finished_or_the_hub(isolated_hub):
    from gevent_lite.testing import leaked_greenlets
    done = spawn(lambda: None)
    parked = spawn(sleep, 60)
    later = spawn_later(60, lambda: None)
    sleep(0)
    leaked = leaked_greenlets(get_hub())
    assert parked in leaked and later in leaked
    assert done not in leaked and get_hub() not in leaked
    gevent_lite.killall([parked, later])
    assert leaked_greenlets(get_hub()) == []


def test_isolated_hub_kills_a_leaked_raw_greenlet_and_fails_naming_it():
    from gevent_lite import spawn_raw
    from gevent_lite.testing import _fresh_hub
    cleaned = []

    def parked():
        try:
            sleep(60)
        finally:
            cleaned.append(True)

    fixture = _fresh_hub()
    next(fixture)
    raw = spawn_raw(parked)
    sleep(0)
    with pytest.raises(AssertionError, match=r'1 greenlet\(s\) still running'):
        next(fixture)
    assert raw.dead and cleaned == [True]
