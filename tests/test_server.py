"""gevent_lite.server: StreamServer and DatagramServer on real 127.0.0.1 sockets."""

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import gevent_lite as gevent
from gevent_lite import socket as gsocket
from gevent_lite.server import StreamServer, DatagramServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def echo(sock, address):
    while True:
        data = sock.recv(1024)
        if not data:
            return
        sock.sendall(data)


def green_roundtrip(port, payload=b'ping'):
    c = gsocket.create_connection(('127.0.0.1', port))
    try:
        c.sendall(payload)
        return c.recv(1024)
    finally:
        c.close()


def test_echo_with_address_tuple_and_properties():
    server = StreamServer(('127.0.0.1', 0), echo)
    assert not server.started
    server.start()
    try:
        assert server.started and not server.closed
        assert server.server_host == '127.0.0.1' and server.server_port > 0
        assert server.address == ('127.0.0.1', server.server_port)
        assert 'address=127.0.0.1:%d' % server.server_port in repr(server)
        assert green_roundtrip(server.server_port) == b'ping'
    finally:
        server.stop()
    assert server.closed and not server.started and 'closed' in repr(server)


@pytest.mark.parametrize('form', ['host:port', ':port', 'socket'])
def test_listener_may_be_a_string_or_a_socket(form):
    if form == 'socket':
        listener = socket.socket()
        listener.bind(('127.0.0.1', 0))
        listener.listen(10)
    else:
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            port = probe.getsockname()[1]
        listener = '127.0.0.1:%d' % port if form == 'host:port' else ':%d' % port
    server = StreamServer(listener, echo)
    server.start()
    try:
        assert green_roundtrip(server.server_port, b'x') == b'x'
    finally:
        server.stop()


def test_handler_exception_is_printed_and_server_keeps_serving(capsys):
    def handle(sock, address):
        if sock.recv(10) == b'boom':
            raise ValueError('handler failed')
        sock.sendall(b'fine')

    server = StreamServer(('127.0.0.1', 0), handle)
    server.start()
    try:
        assert green_roundtrip(server.server_port, b'boom') == b''   # closed after the error
        assert green_roundtrip(server.server_port, b'ok') == b'fine'
    finally:
        server.stop()
    err = capsys.readouterr().err
    assert 'ValueError: handler failed' in err


def test_spawn_none_runs_the_handler_in_the_hub_where_it_must_not_block(capsys):
    # gevent's spawn=None: no greenlet per connection; the handler runs in the
    # hub, so a handler that would block gets BlockingSwitchOutError (printed)
    # and its connection is closed, while a non-blocking one serves normally.
    from gevent_lite.hub import BlockingSwitchOutError, get_hub
    where = []

    def handle(sock, address):
        where.append(gevent.getcurrent() is get_hub())
        sock.sendall(b'hello')               # a fresh socket has room: no wait
        if address and where[-1] and len(where) == 2:
            gevent.sleep(0.01)               # blocking in the hub: refused

    server = StreamServer(('127.0.0.1', 0), handle, spawn=None)
    server.start()
    try:
        c = gsocket.create_connection(('127.0.0.1', server.server_port))
        assert c.recv(10) == b'hello'
        c.close()
        c = gsocket.create_connection(('127.0.0.1', server.server_port))
        assert c.recv(10) == b'hello'
        c.settimeout(5)
        assert c.recv(10) == b''             # the failed handler's connection was closed
        c.close()
    finally:
        server.stop()
    assert where == [True, True]
    err = capsys.readouterr().err
    assert BlockingSwitchOutError.__name__ in err
    assert 'Impossible to call blocking function in the event loop callback' in err


def test_connection_is_closed_when_handler_returns_and_nodelay_is_set():
    seen = []

    def handle(sock, address):
        seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        sock.sendall(b'bye')

    server = StreamServer(('127.0.0.1', 0), handle)
    server.start()
    try:
        c = gsocket.create_connection(('127.0.0.1', server.server_port))
        data = b''
        while True:
            chunk = c.recv(100)
            if not chunk:
                break
            data += chunk
        c.close()
    finally:
        server.stop()
    assert data == b'bye' and seen[0] != 0


def test_handlers_run_concurrently():
    def handle(sock, address):
        gevent.sleep(0.5)
        sock.sendall(b'done')

    server = StreamServer(('127.0.0.1', 0), handle)
    server.start()
    try:
        t0 = time.monotonic()
        results = [gevent.spawn(green_roundtrip, server.server_port, b'') for _ in range(20)]
        gevent.joinall(results, timeout=5)
        elapsed = time.monotonic() - t0
    finally:
        server.stop()
    assert [g.value for g in results] == [b'done'] * 20
    assert elapsed < 2


def test_spawn_int_limits_concurrent_handlers():
    active = [0, 0]      # current, max

    def handle(sock, address):
        active[0] += 1
        active[1] = max(active[1], active[0])
        gevent.sleep(0.1)
        active[0] -= 1
        sock.sendall(b'k')

    server = StreamServer(('127.0.0.1', 0), handle, spawn=2)
    server.start()
    try:
        clients = [gevent.spawn(green_roundtrip, server.server_port, b'') for _ in range(6)]
        gevent.joinall(clients, timeout=5)
    finally:
        server.stop()
    assert [g.value for g in clients] == [b'k'] * 6
    assert active[1] == 2


def test_stop_waits_for_handlers_then_kills_the_slow_ones():
    finished = []

    def handle(sock, address):
        delay = float(sock.recv(10))
        gevent.sleep(delay)
        finished.append(delay)

    server = StreamServer(('127.0.0.1', 0), handle)
    server.start()
    conns = []
    for delay in (b'0.2', b'30'):
        c = gsocket.create_connection(('127.0.0.1', server.server_port))
        c.sendall(delay)
        conns.append(c)
    gevent.sleep(0.05)
    t0 = time.monotonic()
    server.stop(timeout=0.6)
    elapsed = time.monotonic() - t0
    for c in conns:
        c.close()
    assert finished == [0.2]
    assert 0.5 < elapsed < 2.5
    with pytest.raises(OSError):
        green_roundtrip(server.server_port)


def test_serve_forever_returns_after_stop_from_another_greenlet():
    server = StreamServer(('127.0.0.1', 0), echo)
    gevent.spawn_later(0.1, server.stop)
    t0 = time.monotonic()
    server.serve_forever()
    assert time.monotonic() - t0 < 2 and server.closed


def test_set_handle_and_set_spawn_validate():
    with pytest.raises(TypeError, match='handle'):
        StreamServer(('127.0.0.1', 0))
    with pytest.raises(ValueError):
        StreamServer(('127.0.0.1', 0), echo, spawn=0)
    with pytest.raises(TypeError, match='spawn'):
        StreamServer(('127.0.0.1', 0), echo, spawn='lots')
    with pytest.raises(ValueError, match='port'):
        StreamServer('127.0.0.1:99999', echo)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with pytest.raises(TypeError, match='stream'):
        StreamServer(udp, echo)
    udp.close()


def test_datagram_server_echo():
    class Echo(DatagramServer):
        def handle(self, data, address):
            self.sendto(data.upper(), address)

    server = Echo(('127.0.0.1', 0))
    server.start()
    try:
        c = gsocket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.settimeout(5)
        c.sendto(b'hello', ('127.0.0.1', server.server_port))
        data, _ = c.recvfrom(100)
        c.close()
    finally:
        server.stop()
    assert data == b'HELLO'


def test_accept_backs_off_instead_of_spinning_when_out_of_fds():
    # In a child with a tiny RLIMIT_NOFILE, hold connections open until accept()
    # fails with EMFILE; the server must sleep (low CPU), then serve again once
    # handlers release their fds.
    child = textwrap.dedent('''
        import os, resource, sys, time
        import gevent_lite as gevent
        from gevent_lite.server import StreamServer
        from gevent_lite.event import Event
        release = Event()
        def handle(sock, addr):
            release.wait()
            sock.sendall(b'ok')
        server = StreamServer(('127.0.0.1', 0), handle)
        server.start()
        nfds = len(os.listdir('/proc/self/fd'))
        resource.setrlimit(resource.RLIMIT_NOFILE, (nfds + 3, nfds + 3))
        print(server.server_port, flush=True)
        sys.stdin.readline()                # parent opened its connections
        gevent.sleep(0.3)                   # accept hits EMFILE meanwhile
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        gevent.sleep(1.0)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
        release.set()
        gevent.sleep(1.5)                   # back-off sleeps are at most 1 s
        print('cpu %.3f' % cpu, flush=True)
        gevent.sleep(2)
    ''')
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, '-c', child], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)
    conns = []
    try:
        port = int(proc.stdout.readline())
        for _ in range(8):
            conns.append(socket.create_connection(('127.0.0.1', port), timeout=10))
        proc.stdin.write('go\n')
        proc.stdin.flush()
        cpu = float(proc.stdout.readline().split()[1])
        got = []
        for c in conns:
            try:
                got.append(c.recv(10))
            except OSError:
                got.append(None)
    finally:
        for c in conns:
            c.close()
        proc.kill()
        _, err = proc.communicate(timeout=10)
    assert cpu < 0.3, 'accept loop spun while out of fds (cpu %.3f s)' % cpu
    assert 'backing off' in err
    assert got.count(b'ok') >= 4      # the ones left in the backlog were served later


def test_stream_server_accepts_many_connections_from_threads():
    server = StreamServer(('127.0.0.1', 0), echo)
    server.start()
    port = server.server_port
    results = []

    def client():
        for i in range(10):
            with socket.create_connection(('127.0.0.1', port), timeout=5) as c:
                c.sendall(b'%d' % i)
                results.append(c.recv(10))
    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        gevent.sleep(0.005)
    server.stop()
    assert sorted(results) == sorted([b'%d' % i for i in range(10)] * 4)


def test_stop_accepting_leaves_connections_queued_until_start_accepting():
    server = StreamServer(('127.0.0.1', 0), echo)
    server.start()
    try:
        server.stop_accepting()
        assert server.started
        gevent.sleep(0.01)
        client = gsocket.create_connection(('127.0.0.1', server.server_port))   # queued by the OS
        client.sendall(b'hi')
        with pytest.raises(socket.timeout):
            client.settimeout(0.3)
            client.recv(10)
        server.start_accepting()
        client.settimeout(5)
        assert client.recv(10) == b'hi'
        client.close()
    finally:
        server.stop()
    assert not server.started


def test_serve_forever_survives_stop_and_start_accepting_and_returns_on_stop():
    server = StreamServer(('127.0.0.1', 0), echo)
    g = gevent.spawn(server.serve_forever)
    gevent.sleep(0.05)
    server.stop_accepting()
    gevent.sleep(0.05)
    assert not g.dead
    server.start_accepting()
    gevent.sleep(0.01)
    assert green_roundtrip(server.server_port) == b'ping'
    server.stop()
    g.join(timeout=5)
    assert g.dead


def test_an_error_spawning_a_handler_goes_to_the_hub_and_the_server_serves_on():
    calls = []

    def bad_spawn(func, *args):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError('spawn failed')
        return gevent.spawn(func, *args)

    errors = []
    hub = gevent.get_hub()
    hub.handle_error = lambda context, *exc_info: errors.append((context, exc_info[0]))
    server = StreamServer(('127.0.0.1', 0), echo, spawn=bad_spawn)
    server.start()
    try:
        first = gsocket.create_connection(('127.0.0.1', server.server_port))
        first.settimeout(5)
        assert first.recv(10) == b''                     # closed by do_close
        first.close()
        assert len(errors) == 1 and errors[0][1] is RuntimeError and errors[0][0][1] is server
        assert green_roundtrip(server.server_port) == b'ping'
    finally:
        server.stop()
        del hub.handle_error


def test_gevent_listener_helpers_and_repr():
    listener = StreamServer.get_listener(('127.0.0.1', 0), backlog=5)
    try:
        server = StreamServer(listener, echo)
        assert server.server_port == listener.getsockname()[1]
        assert 'handle=' in repr(server) and 'echo' in repr(server)
        assert errno_fatal(server)
        server.start()
        assert green_roundtrip(server.server_port) == b'ping'
        server.stop()
    finally:
        listener.close()
    udp = DatagramServer.get_listener(('127.0.0.1', 0))
    assert udp.type == socket.SOCK_DGRAM
    udp.close()


def errno_fatal(server):
    import errno
    return server.is_fatal_error(OSError(errno.EBADF, 'x')) and not server.is_fatal_error(OSError(errno.EAGAIN, 'y'))


def test_server_as_context_manager_stops_on_exit():
    with StreamServer(('127.0.0.1', 0), echo) as server:
        server.start()
        assert green_roundtrip(server.server_port) == b'ping'
    assert server.closed and not server.started
