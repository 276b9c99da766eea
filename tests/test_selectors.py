"""gevent_lite.selectors: a DefaultSelector that parks only the greenlet; socketserver on it."""

import os
import socket
import selectors as stdselectors
import socketserver
import subprocess
import sys
import tempfile
import time

import pytest

import gevent_lite
from gevent_lite import selectors as gselectors
from gevent_lite import socket as gsocket


def test_default_selector_waits_cooperatively_and_reports_keys():
    a, b = gsocket.socketpair()
    sel = gselectors.DefaultSelector()
    key = sel.register(a, gselectors.EVENT_READ, data='A')
    assert isinstance(key, gselectors.SelectorKey)
    ticks = []

    def ticker():
        for _ in range(5):
            ticks.append(1)
            gevent_lite.sleep(0.02)
        b.send(b'x')

    gevent_lite.spawn(ticker)
    start = time.monotonic()
    events = sel.select(5)
    assert time.monotonic() - start < 2
    assert len(ticks) == 5
    assert [(k.fileobj, k.data, ev) for k, ev in events] == [(a, 'A', gselectors.EVENT_READ)]
    sel.modify(a, gselectors.EVENT_WRITE)
    assert [ev for _, ev in sel.select(0)] == [gselectors.EVENT_WRITE]
    sel.unregister(a)
    start = time.monotonic()
    assert sel.select(0.1) == []
    assert time.monotonic() - start >= 0.08
    sel.close()
    a.close()
    b.close()


def test_aliases_and_reexports():
    assert gselectors.DefaultSelector is gselectors.PollSelector is gselectors.SelectSelector
    assert gselectors.GreenSelector is gselectors.PollSelector
    # The stdlib's name: CPython's test_selectors picks its mock target by it.
    assert gselectors.PollSelector.__name__ == 'PollSelector'
    for name in ('KqueueSelector', 'DevpollSelector'):
        assert not hasattr(gselectors, name)
    assert hasattr(gselectors, 'EpollSelector') == hasattr(stdselectors, 'EpollSelector')
    for name in ('BaseSelector', 'SelectorKey', 'EVENT_READ', 'EVENT_WRITE'):
        assert getattr(gselectors, name) is getattr(stdselectors, name)
    assert issubclass(gselectors.DefaultSelector, stdselectors.BaseSelector)


@pytest.mark.timeout(20)
@pytest.mark.parametrize('name', [n for n in ('DefaultSelector', 'EpollSelector', 'PollSelector', 'SelectSelector')
                                  if hasattr(gselectors, n)])
def test_twenty_selectors_waiting_half_a_second_overlap(name):
    socks = [gsocket.socketpair() for _ in range(20)]

    def wait(s):
        with getattr(gselectors, name)() as sel:
            sel.register(s, gselectors.EVENT_READ)
            return sel.select(0.5)

    start = time.monotonic()
    jobs = [gevent_lite.spawn(wait, a) for a, _ in socks]
    gevent_lite.joinall(jobs, raise_error=True)
    assert time.monotonic() - start < 2.0
    assert all(j.value == [] for j in jobs)
    for a, b in socks:
        a.close()
        b.close()


class _GreenTCPServer(socketserver.TCPServer):
    """socketserver with the green socket and selector, as monkey-patching would give."""

    allow_reuse_address = True

    def __init__(self, addr, handler):
        socketserver.TCPServer.__init__(self, addr, handler, bind_and_activate=False)
        self.socket.close()
        self.socket = gsocket.socket(self.address_family, self.socket_type)
        self.server_bind()
        self.server_activate()


class _Echo(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline()
        self.wfile.write(b'echo ' + line)


def test_socketserver_serve_forever_in_a_greenlet_answers_clients_and_shuts_down():
    orig = socketserver._ServerSelector
    socketserver._ServerSelector = gselectors.DefaultSelector
    try:
        server = _GreenTCPServer(('127.0.0.1', 0), _Echo)
        port = server.server_address[1]
        g = gevent_lite.spawn(server.serve_forever, 0.5)

        def client(i):
            with gsocket.create_connection(('127.0.0.1', port), timeout=5) as c:
                c.sendall(b'%d\n' % i)
                return c.makefile('rb').readline()

        for _ in range(3):      # serve_forever must keep waking for each new client
            jobs = [gevent_lite.spawn(client, i) for i in range(5)]
            gevent_lite.joinall(jobs, raise_error=True)
            assert [j.value for j in jobs] == [b'echo %d\n' % i for i in range(5)]
        start = time.monotonic()
        # shutdown() would block the thread on a native threading.Event (not patched
        # here); set the flag it sets: serve_forever sees it within its 0.5 s poll.
        server._BaseServer__shutdown_request = True
        g.join(timeout=5)
        assert g.dead and time.monotonic() - start < 3
        server.server_close()
    finally:
        socketserver._ServerSelector = orig


# -- EpollSelector: the stdlib's on a cooperative epoll object ------------------------

needs_epoll = pytest.mark.skipif(not hasattr(stdselectors, 'EpollSelector'), reason='needs epoll')


@needs_epoll
@pytest.mark.timeout(20)
def test_epoll_selector_parks_only_the_greenlet_and_reports_keys():
    a, b = gsocket.socketpair()
    sel = gselectors.EpollSelector()
    assert isinstance(sel, stdselectors.EpollSelector) and sel.fileno() >= 0
    sel.register(a, gselectors.EVENT_READ, data='A')
    ticks = []

    def ticker():
        for _ in range(5):
            ticks.append(1)
            gevent_lite.sleep(0.02)
        b.send(b'x')

    gevent_lite.spawn(ticker)
    start = time.monotonic()
    events = sel.select(5)
    assert time.monotonic() - start < 2 and len(ticks) == 5
    assert [(k.fileobj, k.data, ev) for k, ev in events] == [(a, 'A', gselectors.EVENT_READ)]
    sel.modify(a, gselectors.EVENT_READ | gselectors.EVENT_WRITE)
    assert [ev for _, ev in sel.select(0)] == [gselectors.EVENT_READ | gselectors.EVENT_WRITE]
    a.recv(1)
    sel.modify(a, gselectors.EVENT_READ)
    start = time.monotonic()
    assert sel.select(0.1) == []
    assert 0.08 <= time.monotonic() - start < 2
    sel.close()
    a.close()
    b.close()


@needs_epoll
@pytest.mark.timeout(20)
def test_closing_an_epoll_selector_another_greenlet_waits_on_wakes_it():
    a, b = gsocket.socketpair()
    sel = gselectors.EpollSelector()
    sel.register(a, gselectors.EVENT_READ)
    waiter = gevent_lite.spawn(sel.select, 10)
    gevent_lite.sleep(0.05)
    sel.close()
    with pytest.raises((OSError, ValueError)):
        waiter.get(timeout=5)
    a.close()
    b.close()


@needs_epoll
def test_epoll_selector_refuses_a_regular_file_like_the_stdlib():
    sel = gselectors.EpollSelector()
    with tempfile.TemporaryFile() as f:
        with pytest.raises(PermissionError):
            sel.register(f, gselectors.EVENT_READ)
        with pytest.raises(KeyError):
            sel.get_key(f)
    sel.close()


@needs_epoll
def test_green_epoll_object_validates_like_the_c_one():
    from gevent_lite import select as gselect
    ep = gselect._epoll()
    with pytest.raises(TypeError):
        ep.poll('1')
    with pytest.raises(ValueError):
        ep.poll(float('nan'))
    with pytest.raises(ValueError):
        ep.poll(0, -2)
    assert ep.poll(0) == [] and ep.poll(0.001) == []
    ep.close()
    assert ep.closed
    with pytest.raises(ValueError):
        ep.poll(0)
    ep.close()    # twice is fine


@needs_epoll
@pytest.mark.timeout(60)
def test_after_patch_all_selectors_epollselector_is_green_and_select_epoll_is_gone():
    code = """if True:
        from gevent_lite import monkey; monkey.patch_all()
        import select, selectors, socket, time, gevent_lite
        import gevent_lite.selectors as gs
        assert not hasattr(select, 'epoll')
        assert selectors.EpollSelector is gs.EpollSelector
        assert selectors.DefaultSelector is gs.DefaultSelector is gs.PollSelector
        a, b = socket.socketpair()
        ticks = []
        def tick():
            for _ in range(5):
                ticks.append(1); time.sleep(0.02)
            b.send(b'x')
        gevent_lite.spawn(tick)
        with selectors.EpollSelector() as sel:
            sel.register(a, selectors.EVENT_READ)
            assert len(sel.select(5)) == 1 and len(ticks) == 5
        print('ok')
    """
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=50, env=env)
    assert out.stdout.strip() == 'ok', out.stderr


def test_gevent_selector_is_gevents_name_of_the_cooperative_default():
    assert gselectors.GeventSelector is gselectors.DefaultSelector is gselectors.GreenSelector
    assert 'GeventSelector' in gselectors.__all__


def test_registering_an_fd_that_is_not_open_fails_at_once_with_ebadf():
    # As the stdlib's DefaultSelector (epoll) on Linux: OSError(EBADF) from
    # register(), and the key is gone; gevent's selector raises ValueError, and
    # the error is that too.
    import errno
    a, b = socket.socketpair()
    fd = a.fileno()
    a.close()
    b.close()
    sel = gselectors.DefaultSelector()
    with pytest.raises(OSError) as info:
        sel.register(fd, gselectors.EVENT_READ)
    assert info.value.errno == errno.EBADF and isinstance(info.value, ValueError)
    assert 'Invalid file descriptor' in str(info.value)
    with pytest.raises(KeyError):
        sel.get_key(fd)
    r, w = socket.socketpair()           # the selector is still usable
    sel.register(r, gselectors.EVENT_READ)
    w.send(b'x')
    assert [key.fileobj for key, _ in sel.select(timeout=5)] == [r]
    sel.close()
    r.close()
    w.close()
