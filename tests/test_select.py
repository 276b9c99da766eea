"""gevent_lite.select: select() and poll() park only the calling greenlet, lose no wake-up."""

import os
import select as stdselect
import time

import pytest

import gevent_lite
from gevent_lite import select as gselect
from gevent_lite import socket as gsocket


def pair():
    return gsocket.socketpair()


def test_select_returns_ready_subsets_at_once_without_parking():
    a, b = pair()
    b.send(b'x')
    r, w, x = gselect.select([a, b], [a], [], 5)
    assert r == [a] and w == [a] and x == []
    # ints work as well as objects with fileno()
    r, w, x = gselect.select([a.fileno()], [], [], 0)
    assert r == [a.fileno()]
    a.close()
    b.close()


def test_select_timeout_zero_polls_and_timeout_expires():
    a, b = pair()
    assert gselect.select([a], [], [], 0) == ([], [], [])
    start = time.monotonic()
    assert gselect.select([a], [], [], 0.2) == ([], [], [])
    assert 0.15 <= time.monotonic() - start < 2.0
    a.close()
    b.close()


def test_twenty_greenlets_selecting_half_a_second_run_concurrently():
    socks = [pair() for _ in range(20)]

    def waiter(s):
        return gselect.select([s], [], [], 0.5)

    start = time.monotonic()
    jobs = [gevent_lite.spawn(waiter, a) for a, _ in socks]
    gevent_lite.joinall(jobs, raise_error=True)
    assert time.monotonic() - start < 2.0
    assert all(j.value == ([], [], []) for j in jobs)
    for a, b in socks:
        a.close()
        b.close()


def test_select_wakes_when_another_greenlet_makes_an_fd_ready():
    socks = [pair() for _ in range(5)]

    def later():
        gevent_lite.sleep(0.1)
        socks[3][1].send(b'x')

    gevent_lite.spawn(later)
    start = time.monotonic()
    r, w, x = gselect.select([a for a, _ in socks], [], [], 5)
    assert r == [socks[3][0]]
    assert time.monotonic() - start < 2.0
    # after the wake-up no registration is left behind: another greenlet may read
    assert socks[3][0].recv(1) == b'x'
    for a, b in socks:
        a.close()
        b.close()


def test_no_wake_up_lost_over_many_rounds():
    # A ping-pong through select 500 times: a lost wake-up would hang (then time out).
    a, b = pair()
    rounds = 500

    def pong():
        for _ in range(rounds):
            r, _, _ = gselect.select([b], [], [], 5)
            assert r == [b]
            b.send(b.recv(1))

    g = gevent_lite.spawn(pong)
    start = time.monotonic()
    for _ in range(rounds):
        a.send(b'p')
        r, _, _ = gselect.select([a], [], [], 5)
        assert r == [a]
        assert a.recv(1) == b'p'
    g.join(timeout=5)
    assert g.successful()
    assert time.monotonic() - start < 10
    a.close()
    b.close()


def test_select_bad_arguments_raise_the_stdlib_errors():
    a, b = pair()
    a.close()
    with pytest.raises(ValueError):
        gselect.select([a], [], [], 0)       # fileno() == -1
    r, w = os.pipe()
    os.close(r)
    with pytest.raises(OSError) as info:
        gselect.select([r], [], [], 1)
    with pytest.raises(OSError) as std:
        stdselect.select([r], [], [], 1)
    assert info.value.errno == std.value.errno
    os.close(w)
    with pytest.raises(TypeError):
        gselect.select(['x'], [], [], 0)
    with pytest.raises(ValueError):
        gselect.select([], [], [], -1)
    b.close()


def test_closing_an_fd_a_select_waits_on_raises_instead_of_hanging():
    a, b = pair()
    result = []

    def waiter():
        try:
            gselect.select([a], [], [], 5)
        except OSError as exc:
            result.append(exc)

    g = gevent_lite.spawn(waiter)
    gevent_lite.sleep(0.05)
    a.close()
    g.join(timeout=2)
    assert g.dead and len(result) == 1
    b.close()


def test_poll_register_modify_unregister_and_poll():
    a, b = pair()
    p = gselect.poll()
    p.register(a, gselect.POLLIN)
    assert p.poll(0) == []
    start = time.monotonic()
    assert p.poll(200) == []
    assert 0.15 <= time.monotonic() - start < 2.0

    def later():
        gevent_lite.sleep(0.05)
        b.send(b'x')

    gevent_lite.spawn(later)
    assert p.poll(5000) == [(a.fileno(), gselect.POLLIN)]
    p.modify(a, gselect.POLLOUT)
    assert p.poll() == [(a.fileno(), gselect.POLLOUT)]
    p.unregister(a)
    with pytest.raises(KeyError):
        p.unregister(a)
    with pytest.raises(OSError):
        p.modify(a, gselect.POLLIN)
    a.close()
    b.close()


def test_poll_waits_cooperatively():
    a, b = pair()
    ticks = []

    def ticker():
        for _ in range(5):
            ticks.append(1)
            gevent_lite.sleep(0.02)

    gevent_lite.spawn(ticker)
    p = gselect.poll()
    p.register(a.fileno(), gselect.POLLIN)
    assert p.poll(300) == []
    assert len(ticks) == 5
    a.close()
    b.close()


def test_module_drops_epoll_and_reexports_the_rest():
    for name in ('epoll', 'kqueue', 'devpoll', 'kevent'):
        assert not hasattr(gselect, name)
        assert name not in gselect.__all__
    assert gselect.error is stdselect.error
    for name in dir(stdselect):
        if not name.startswith('_') and name not in gselect.__drop__:
            assert hasattr(gselect, name), name
    assert gselect.select is not stdselect.select


# -- bugs seen in gevent/eventlet ------------------------------------------------------

def test_no_spurious_wakeup_of_a_later_sleep_after_select():
    # eventlet#551: after select() on a ready fd, a following sleep returned at once.
    a = gsocket.socket(gsocket.AF_INET, gsocket.SOCK_DGRAM)
    a.bind(('127.0.0.1', 0))
    a.sendto(b'test', a.getsockname())
    gselect.select([a], [], [])
    gselect.select([a], [a], [a], 0)
    start = time.monotonic()
    gevent_lite.sleep(0.3)
    assert time.monotonic() - start >= 0.25
    a.close()


def test_select_is_not_readable_after_all_data_was_read():
    # gevent#1779/#1886: select kept reporting a drained socket readable.
    a, b = pair()
    b.send(b'test')
    assert gselect.select([a], [], [], 1)[0] == [a]
    assert a.recv(4) == b'test'
    assert gselect.select([a], [], [], 0.1) == ([], [], [])
    a.close()
    b.close()


def test_select_on_an_fd_another_greenlet_reads_fails_fast_instead_of_hanging():
    # gevent#2142: select hung when another greenlet was reading the same fd.
    from gevent_lite.hub import ConcurrentObjectUseError
    a, b = pair()
    reader = gevent_lite.spawn(a.recv, 10)
    gevent_lite.sleep(0.02)
    start = time.monotonic()
    with pytest.raises(ConcurrentObjectUseError):
        gselect.select([a], [], [], 5)
    assert time.monotonic() - start < 1
    b.send(b'x')
    assert reader.get(timeout=2) == b'x'
    a.close()
    b.close()


# -- loops that never park ----------------------------------------------------------

@pytest.mark.timeout(20)
@pytest.mark.parametrize('how', ['select', 'select0', 'poll', 'poll0'])
def test_a_loop_over_always_ready_fds_lets_other_greenlets_run(how):
    # An asyncore-style loop in a green "thread" polls a socket that is always
    # writable (test_ftplib's TLS server): select()/poll() never need to park, so
    # without a periodic yield the loop would starve the greenlet it waits for.
    a, b = pair()
    done = []

    def busy_loop():
        p = gselect.poll()
        p.register(a, gselect.POLLOUT)
        while not done:
            if how == 'select':
                assert gselect.select([], [a], [], 0.1)[1] == [a]
            elif how == 'select0':
                gselect.select([a], [], [], 0)
            elif how == 'poll':
                assert p.poll(100)
            else:
                p.poll(0)

    loop = gevent_lite.spawn(busy_loop)
    gevent_lite.sleep(0.01)          # the loop is running now
    b.send(b'x')                     # parks nothing; the main greenlet must get back
    gevent_lite.sleep(0.01)
    done.append(True)
    loop.get(timeout=5)
    a.close()
    b.close()


def test_select_and_poll_on_ready_fds_let_the_other_ready_greenlets_run_first():
    # As gevent's do: every call answered without parking yields once.
    a, b = pair()
    switches = []
    other = gevent_lite.spawn(lambda: [switches.append(1) or gevent_lite.sleep(0) for _ in range(10000)])
    gevent_lite.sleep(0)
    for _ in range(100):
        gselect.select([], [a], [], 1)
    assert 95 <= len(switches) <= 105, len(switches)
    p = gselect.poll()
    p.register(a, gselect.POLLOUT)
    for _ in range(100):
        assert p.poll(1000)
    assert 195 <= len(switches) <= 205, len(switches)
    other.kill()
    a.close()
    b.close()


def test_a_loop_that_reads_one_message_and_spawns_a_handler_lets_each_handler_run_first():
    # The shape of kombu's consumer under Celery -P gevent: select, read one
    # message, spawn a handler that needs a pooled resource; the next select must
    # not return before the handler ran, or all handlers start at once.
    a, b = pair()
    b.sendall(b'x' * 100)
    counts = {'spawned': 0, 'ran': 0}
    lag = []

    def handler():
        counts['ran'] += 1

    for _ in range(100):
        r, _w, _x = gselect.select([a], [], [], 1)
        assert r == [a]
        lag.append(counts['spawned'] - counts['ran'])   # handlers not yet run
        a.recv(1)
        gevent_lite.spawn(handler)
        counts['spawned'] += 1
    assert max(lag) == 0, lag
    a.close()
    b.close()


# -- details CPython's test_select checks --------------------------------------------

def test_select_reads_a_list_that_fileno_mutates_as_the_c_select_does():
    a, b = pair()
    objs = []

    class Shrinking:
        def fileno(self):
            del objs[-1]
            return a.fileno()

    objs[:] = [Shrinking()] * 10
    # The C select reads the list as it goes: 5 calls, 5 objects left, 5 ready.
    assert gselect.select([], objs, [], 5) == ([], objs[:5], [])
    assert len(objs) == 5
    a.close()
    b.close()


@pytest.mark.timeout(20)
def test_select_takes_iterators_also_when_it_parks():
    a, b = pair()
    gevent_lite.spawn_later(0.05, b.send, b'x')
    r, w, x = gselect.select(iter([a]), (s for s in []), iter(()), 5)
    assert r == [a] and w == [] and x == []
    a.close()
    b.close()


def test_the_type_of_poll_objects_cannot_be_instantiated():
    p = gselect.poll()
    assert isinstance(p, gselect.poll)
    with pytest.raises(TypeError, match="cannot create '.*' instances"):
        type(p)()

    class Holder:                # poll stays a class: stored on a class it does not bind
        factory = gselect.poll
    assert isinstance(Holder().factory(), gselect.poll)


# -- fds closed behind the hub's back ------------------------------------------------

@pytest.mark.timeout(20)
@pytest.mark.parametrize('how', ['select', 'poll'])
def test_a_pipe_closed_with_os_close_after_a_select_does_not_hide_the_next_fd_of_that_number(how):
    # select/poll register arbitrary fds with the hub; a pipe is then closed with
    # os.close (the hub never hears of it). A registration kept for it would make
    # the hub skip registering the socket that reuses the number: recv hung forever.
    r, w = os.pipe()
    gevent_lite.spawn_later(0.05, os.write, w, b'x')
    if how == 'select':
        assert gselect.select([r], [], [], 5)[0] == [r]
    else:
        p = gselect.poll()
        p.register(r, gselect.POLLIN)
        assert p.poll(5000) == [(r, gselect.POLLIN)]
    os.close(r)
    os.close(w)
    a, b = pair()
    assert {a.fileno(), b.fileno()} & {r, w}     # the numbers were reused
    gevent_lite.spawn_later(0.05, b.send, b'y')
    with gevent_lite.Timeout(5):
        assert a.recv(1) == b'y'
    a.close()
    b.close()


def test_poll_timeout_is_checked_like_the_c_poll():
    a, b = pair()
    p = gselect.poll()
    p.register(a)
    for bad, exc in ((1 << 64, OverflowError), (1 << 31, OverflowError), (-(1 << 31) - 1, OverflowError),
                     (2147483647.5, OverflowError), (float('inf'), OverflowError),
                     (float('nan'), ValueError), ('x', TypeError), (1j, TypeError)):
        with pytest.raises(exc):
            p.poll(bad)
    for fine in ((1 << 31) - 1, -(1 << 31), 1.5, True, 0, None):
        assert p.poll(fine) == [(a.fileno(), gselect.POLLOUT)]
    a.close()
    b.close()


@pytest.mark.timeout(20)
def test_a_second_greenlet_polling_the_same_poll_object_gets_runtimeerror():
    a, b = pair()
    p = gselect.poll()
    p.register(a, gselect.POLLIN)
    first = gevent_lite.spawn(p.poll)
    gevent_lite.sleep(0.05)
    with pytest.raises(RuntimeError, match='concurrent poll'):
        p.poll()
    b.send(b'x')
    assert first.get(timeout=5) == [(a.fileno(), gselect.POLLIN)]
    assert p.poll(0) == [(a.fileno(), gselect.POLLIN)]     # usable again
    a.close()
    b.close()


def test_select_on_ready_fds_in_a_hub_callback_never_tries_to_yield():
    # The fairness yield is for greenlets; the hub itself (a callback) cannot park.
    a, b = pair()
    results = []

    def callback():
        for _ in range(150):
            results.append(gselect.select([], [a], [], 0)[1] == [a])

    gevent_lite.get_hub().call_later(0, callback)
    gevent_lite.sleep(0.05)
    assert len(results) == 150 and all(results)
    a.close()
    b.close()
