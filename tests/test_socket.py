"""gevent_lite.socket: real sockets on 127.0.0.1, cooperative, with the stdlib's semantics."""

import errno
import http.client
import os
import socket as stdsocket
import sys
import tempfile
import time

import pytest

from _helpers import echo_handler, listener, serve

import gevent_lite
from gevent_lite import socket as gsocket
from gevent_lite.hub import ConcurrentObjectUseError


def open_fds():
    return len(os.listdir('/proc/self/fd'))


# -- concurrency --------------------------------------------------------------------

def test_twenty_clients_each_blocked_half_a_second_finish_together():
    srv, port = listener()

    def slow_echo(conn):
        with conn:
            data = conn.recv(100)
            gevent_lite.sleep(0.5)
            conn.sendall(data)

    server = gevent_lite.spawn(serve, srv, slow_echo)

    def client(i):
        with gsocket.create_connection(('127.0.0.1', port)) as s:
            s.sendall(b'%d' % i)
            return s.recv(100)

    start = time.monotonic()
    jobs = [gevent_lite.spawn(client, i) for i in range(20)]
    gevent_lite.joinall(jobs, raise_error=True)
    elapsed = time.monotonic() - start
    server.kill()
    srv.close()
    assert [j.value for j in jobs] == [b'%d' % i for i in range(20)]
    assert elapsed < 2.0, elapsed


def test_large_sendall_completes_while_peer_reads_in_another_greenlet():
    a, b = gsocket.socketpair()
    payload = os.urandom(4 * 1024 * 1024)
    received = bytearray()

    def reader():
        while len(received) < len(payload):
            chunk = b.recv(65536)
            assert chunk
            received.extend(chunk)

    r = gevent_lite.spawn(reader)
    a.sendall(payload)
    r.join(timeout=10)
    assert bytes(received) == payload
    a.close()
    b.close()


def test_sendall_accepts_memoryview_of_non_bytes_items():
    import array
    a, b = gsocket.socketpair()
    arr = array.array('i', range(1000))
    a.sendall(memoryview(arr))
    got = b''
    while len(got) < arr.itemsize * 1000:
        got += b.recv(65536)
    assert got == arr.tobytes()
    a.close()
    b.close()


# -- timeouts and blocking mode ------------------------------------------------------

def test_recv_with_timeout_raises_socket_timeout_after_the_timeout():
    a, b = gsocket.socketpair()
    a.settimeout(0.2)
    start = time.monotonic()
    with pytest.raises(gsocket.timeout) as info:
        a.recv(10)
    elapsed = time.monotonic() - start
    assert 0.15 <= elapsed < 2.0
    assert isinstance(info.value, OSError)
    assert str(info.value) == 'timed out'
    a.close()
    b.close()


def test_recv_timeout_does_not_block_other_greenlets():
    a, b = gsocket.socketpair()
    a.settimeout(0.3)
    ticks = []

    def ticker():
        for _ in range(5):
            ticks.append(time.monotonic())
            gevent_lite.sleep(0.02)

    t = gevent_lite.spawn(ticker)
    with pytest.raises(gsocket.timeout):
        a.recv(1)
    t.join()
    assert len(ticks) == 5
    a.close()
    b.close()


def test_accept_with_timeout_raises_timeout():
    srv, _ = listener()
    srv.settimeout(0.1)
    start = time.monotonic()
    with pytest.raises(gsocket.timeout):
        srv.accept()
    assert time.monotonic() - start >= 0.08
    srv.close()


def test_sendall_timeout_covers_the_whole_call():
    a, b = gsocket.socketpair()
    a.settimeout(0.3)
    start = time.monotonic()
    with pytest.raises(gsocket.timeout):
        a.sendall(b'x' * (64 * 1024 * 1024))    # nobody reads: the buffer fills
    elapsed = time.monotonic() - start
    assert 0.25 <= elapsed < 2.0
    a.close()
    b.close()


def test_nonblocking_socket_raises_blocking_io_error_instead_of_waiting():
    a, b = gsocket.socketpair()
    a.setblocking(False)
    assert a.gettimeout() == 0.0 and not a.getblocking()
    with pytest.raises(BlockingIOError):
        a.recv(10)
    with pytest.raises(BlockingIOError):
        a.recvfrom(10)
    srv, _ = listener()
    srv.settimeout(0)
    with pytest.raises(BlockingIOError):
        srv.accept()
    with pytest.raises(BlockingIOError):
        while True:          # bounded: the socket buffer is finite
            a.send(b'x' * 65536)
    for s in (a, b, srv):
        s.close()


def test_timeout_settings_match_the_stdlib():
    g = gsocket.socket()
    s = stdsocket.socket()
    try:
        for value in (None, 0, 0.0, 1, 2.5, True):
            g.settimeout(value)
            s.settimeout(value)
            assert (g.gettimeout(), g.getblocking(), g.timeout) == \
                (s.gettimeout(), s.getblocking(), s.timeout)
        for flag in (True, False):
            g.setblocking(flag)
            s.setblocking(flag)
            assert (g.gettimeout(), g.getblocking()) == (s.gettimeout(), s.getblocking())
        for bad in (-1, -0.5, 'x', float('nan'), object()):
            with pytest.raises(Exception) as gi:
                g.settimeout(bad)
            with pytest.raises(Exception) as si:
                s.settimeout(bad)
            assert (type(gi.value), str(gi.value)) == (type(si.value), str(si.value))
        # the OS-level fd stays non-blocking whatever the emulated mode
        g.settimeout(None)
        assert not os.get_blocking(g.fileno())
    finally:
        g.close()
        s.close()


def test_default_timeout_applies_to_new_and_accepted_sockets():
    old = gsocket.getdefaulttimeout()
    gsocket.setdefaulttimeout(0.25)
    try:
        s = gsocket.socket()
        assert s.gettimeout() == 0.25
        s.close()
    finally:
        gsocket.setdefaulttimeout(old)
    srv, port = listener()
    srv.settimeout(5)
    c = gsocket.create_connection(('127.0.0.1', port))
    conn, _ = srv.accept()
    # stdlib issue #7995: no default timeout -> accepted socket is blocking
    assert conn.gettimeout() is None
    assert isinstance(conn, gsocket.socket)
    for x in (c, conn, srv):
        x.close()


# -- closing and errors ---------------------------------------------------------------

def test_close_wakes_a_greenlet_parked_on_the_socket_with_ebadf():
    a, b = gsocket.socketpair()
    result = []

    def reader():
        try:
            a.recv(10)
        except OSError as exc:
            result.append(exc)

    g = gevent_lite.spawn(reader)
    gevent_lite.sleep(0.05)
    a.close()
    g.join(timeout=2)
    assert g.dead
    assert len(result) == 1 and result[0].errno == errno.EBADF
    b.close()


def test_closed_socket_raises_the_stdlib_error():
    s = gsocket.socket()
    s.close()
    with pytest.raises(OSError) as info:
        s.recv(1)
    assert info.value.errno == errno.EBADF
    with pytest.raises(OSError):
        s.send(b'x')


def test_connect_to_a_closed_port_raises_connection_refused():
    srv, port = listener()
    srv.close()
    with pytest.raises(ConnectionRefusedError):
        gsocket.create_connection(('127.0.0.1', port), timeout=2)
    s = gsocket.socket()
    assert s.connect_ex(('127.0.0.1', port)) == errno.ECONNREFUSED
    s.close()


def test_bad_address_raises_the_stdlib_error():
    s = gsocket.socket()
    with pytest.raises(OSError):
        s.connect(('256.1.1.1', 80))
    with pytest.raises(TypeError):
        s.connect('not a tuple')
    s.close()


def test_two_greenlets_reading_one_socket_is_concurrent_use():
    a, b = gsocket.socketpair()
    errors = []

    def reader():
        try:
            a.recv(1)
        except ConcurrentObjectUseError as exc:
            errors.append(exc)

    g1 = gevent_lite.spawn(reader)
    g2 = gevent_lite.spawn(reader)
    gevent_lite.sleep(0.05)
    b.sendall(b'x')
    gevent_lite.joinall([g1, g2], timeout=2)
    assert len(errors) == 1
    a.close()
    b.close()


def test_no_fd_leak_after_a_thousand_connections():
    srv, port = listener()
    server = gevent_lite.spawn(serve, srv)

    def client(n):
        for _ in range(n):
            with gsocket.create_connection(('127.0.0.1', port)) as c:
                c.sendall(b'ping')
                assert c.recv(10) == b'ping'

    gevent_lite.joinall([gevent_lite.spawn(client, 10)], raise_error=True)  # warm up
    gevent_lite.sleep(0.05)
    before = open_fds()
    gevent_lite.joinall([gevent_lite.spawn(client, 100) for _ in range(10)], raise_error=True)
    gevent_lite.sleep(0.1)          # let the handlers see EOF and close
    after = open_fds()
    server.kill()
    srv.close()
    assert after - before <= 5, (before, after)
    hub = gevent_lite.get_hub()
    assert hub.statistics()['fds'] <= 5       # closed fds were forgotten by the hub


# -- the rest of the API ----------------------------------------------------------------

def test_accepted_socket_is_green_with_family_type_and_repr():
    srv, port = listener()
    c = gsocket.create_connection(('127.0.0.1', port))
    conn, addr = srv.accept()
    assert type(conn) is gsocket.socket
    assert conn.family == gsocket.AF_INET and conn.type == gsocket.SOCK_STREAM
    assert isinstance(conn.type, gsocket.SocketKind)
    assert repr(conn).startswith('<gevent_lite.socket.socket fd=%d, family=' % conn.fileno())
    assert addr == c.getsockname()
    for x in (c, conn, srv):
        x.close()
    assert '[closed]' in repr(conn)


def test_udp_recvfrom_sendto_and_recvfrom_into():
    a = gsocket.socket(gsocket.AF_INET, gsocket.SOCK_DGRAM)
    b = gsocket.socket(gsocket.AF_INET, gsocket.SOCK_DGRAM)
    a.bind(('127.0.0.1', 0))
    b.bind(('127.0.0.1', 0))

    def later():
        gevent_lite.sleep(0.05)
        b.sendto(b'hello', a.getsockname())
        b.sendto(b'world', a.getsockname())

    gevent_lite.spawn(later)
    data, addr = a.recvfrom(100)
    assert (data, addr) == (b'hello', b.getsockname())
    buf = bytearray(10)
    n, addr = a.recvfrom_into(buf)
    assert bytes(buf[:n]) == b'world'
    a.close()
    b.close()


@pytest.mark.skipif(not hasattr(stdsocket.socket, 'recvmsg'), reason='no recvmsg')
def test_recvmsg_sendmsg_and_recv_into():
    a, b = gsocket.socketpair()

    def later():
        gevent_lite.sleep(0.05)
        b.sendmsg([b'ab', b'cd'])
        gevent_lite.sleep(0.05)
        b.send(b'efgh')
        gevent_lite.sleep(0.05)
        b.send(b'ijkl')

    gevent_lite.spawn(later)
    data, anc, flags, addr = a.recvmsg(100)
    assert data == b'abcd'
    buf = bytearray(4)
    assert a.recv_into(buf) == 4 and buf == b'efgh'
    nbytes = a.recvmsg_into([buf])[0]
    assert nbytes == 4 and buf == b'ijkl'
    a.close()
    b.close()


def test_makefile_round_trip_with_http_client_against_a_green_server():
    srv, port = listener()

    def http_handler(conn):
        with conn, conn.makefile('rb') as rfile:
            while True:
                line = rfile.readline()
                if not line:
                    return
                while rfile.readline() not in (b'\r\n', b''):
                    pass
                body = b'you asked for ' + line.split()[1]
                conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s' % (len(body), body))

    server = gevent_lite.spawn(serve, srv, http_handler)

    def fetch(path):
        # http.client builds its socket with socket.create_connection; give it ours.
        h = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
        h.sock = gsocket.create_connection(('127.0.0.1', port), timeout=5)
        try:
            results = []
            for p in (path, path + '/again'):     # keep-alive: two requests, one socket
                h.request('GET', p)
                results.append(h.getresponse().read())
            return results
        finally:
            h.close()

    jobs = [gevent_lite.spawn(fetch, '/x%d' % i) for i in range(5)]
    gevent_lite.joinall(jobs, raise_error=True)
    server.kill()
    srv.close()
    assert [j.value for j in jobs] == [[b'you asked for /x%d' % i, b'you asked for /x%d/again' % i]
                                      for i in range(5)]


def test_text_makefile_readline():
    a, b = gsocket.socketpair()
    with a.makefile('w', encoding='utf-8') as w, b.makefile('r', encoding='utf-8') as r:
        gevent_lite.spawn(lambda: (w.write('héllo\nworld\n'), w.flush()))
        assert r.readline() == 'héllo\n'
        assert r.readline() == 'world\n'
    a.close()
    b.close()


def test_sendfile_sends_the_file_cooperatively():
    a, b = gsocket.socketpair()
    payload = os.urandom(1024 * 1024)
    got = bytearray()

    def reader():
        while len(got) < len(payload):
            got.extend(b.recv(65536))

    with tempfile.TemporaryFile() as f:
        f.write(payload)
        f.seek(0)
        r = gevent_lite.spawn(reader)
        assert a.sendfile(f) == len(payload)
        r.join(timeout=5)
        assert f.tell() == len(payload)
    assert bytes(got) == payload
    a.close()
    b.close()


def test_dup_detach_fromfd_socketpair_and_create_server_give_green_sockets():
    a, b = gsocket.socketpair()
    assert type(a) is gsocket.socket and type(b) is gsocket.socket
    a.settimeout(3)
    d = a.dup()
    assert type(d) is gsocket.socket and d.gettimeout() == 3
    f = gsocket.fromfd(b.fileno(), b.family, b.type)
    assert type(f) is gsocket.socket
    fd = d.detach()
    assert d.fileno() == -1
    os.close(fd)
    srv = gsocket.create_server(('127.0.0.1', 0))
    assert type(srv) is gsocket.socket
    for s in (a, b, f, srv):
        s.close()


def test_create_connection_resolves_a_host_name():
    srv, port = listener()
    with gsocket.create_connection(('localhost', port), timeout=5) as c:
        conn, _ = srv.accept()
        c.sendall(b'hi')
        assert conn.recv(2) == b'hi'
        conn.close()
    srv.close()
    assert any(ai[4][0] == '127.0.0.1' for ai in gsocket.getaddrinfo('localhost', 80))
    assert gsocket.gethostbyname('127.0.0.1') == '127.0.0.1'


def test_module_reexports_every_stdlib_name():
    for name in stdsocket.__all__:
        assert hasattr(gsocket, name), name
        if name not in gsocket.__implements__:
            assert getattr(gsocket, name) is getattr(stdsocket, name), name
    assert issubclass(gsocket.socket, stdsocket.socket)
    assert gsocket.socket is not stdsocket.socket
    assert 'socket' in gsocket.__all__ and 'create_connection' in gsocket.__all__


def test_gevent_helpers_are_extensions_that_patching_does_not_copy_into_socket():
    # gevent's split: the stdlib names we replace, and our additions beside them.
    assert set(gsocket.__extensions__) == {'wait', 'wait_read', 'wait_write', 'wait_readwrite',
                                           'cancel_wait'}
    assert not set(gsocket.__extensions__) & set(gsocket.__implements__)
    assert all(name in gsocket.__all__ for name in gsocket.__extensions__)
    assert all(hasattr(stdsocket, name) for name in gsocket.__implements__)


def test_socketpair_has_the_stdlib_signature_and_default_family():
    import inspect
    assert list(inspect.signature(gsocket.socketpair).parameters) == ['family', 'type', 'proto']
    a, b = gsocket.socketpair()
    assert isinstance(a, gsocket.socket) and a.family == stdsocket.AF_UNIX
    c, d = gsocket.socketpair(stdsocket.AF_UNIX, stdsocket.SOCK_DGRAM)
    assert c.type == stdsocket.SOCK_DGRAM
    for s in (a, b, c, d):
        s.close()


def test_send_timeout_argument_overrides_the_socket_timeout_for_one_call():
    a, b = gsocket.socketpair()
    a.setblocking(True)              # the socket itself would wait forever
    chunk = b'x' * 65536
    start = time.monotonic()
    with pytest.raises(gsocket.timeout):
        for _ in range(10000):       # bounded: fills the buffer, then times out
            a.send(chunk, timeout=0.1)
    assert time.monotonic() - start < 5
    assert a.gettimeout() is None    # the call's timeout did not stick
    a.close()
    with pytest.raises(OSError) as info:
        a.send(b'a', timeout=1)      # a closed socket: EBADF, not a wait
    assert info.value.errno == errno.EBADF
    b.close()


def test_wait_parks_on_a_loop_io_watcher_until_it_fires_or_times_out():
    from gevent_lite import get_hub
    a, b = gsocket.socketpair()
    watcher = get_hub().loop.io(a.fileno(), 1)
    with pytest.raises(gsocket.timeout):
        gsocket.wait(watcher, timeout=0.05)
    assert not watcher.active        # stopped again after the timeout
    gevent_lite.spawn_later(0.05, b.send, b'x')
    gsocket.wait(watcher, timeout=5)
    assert a.recv(1) == b'x'

    class Mine(Exception):
        pass
    with pytest.raises(Mine):
        gsocket.wait(get_hub().loop.io(a.fileno(), 1), timeout=0.05, timeout_exc=Mine('late'))
    watcher.start(lambda: None)
    with pytest.raises(ConcurrentObjectUseError):
        gsocket.wait(watcher)
    watcher.stop()
    a.close()
    b.close()


def test_context_manager_closes():
    with gsocket.socket() as s:
        pass
    assert s.fileno() == -1


def test_wait_read_and_wait_write_helpers():
    a, b = gsocket.socketpair()
    gsocket.wait_write(a.fileno(), timeout=1)
    with pytest.raises(gsocket.timeout):
        gsocket.wait_read(a.fileno(), timeout=0.05)
    b.send(b'x')
    gsocket.wait_read(a.fileno(), timeout=1)
    assert a.recv(1) == b'x'
    a.close()
    b.close()


@pytest.mark.skipif(sys.platform != 'linux', reason='/proc/self/fd')
def test_close_while_writer_parked_wakes_writer():
    a, b = gsocket.socketpair()
    result = []

    def writer():
        try:
            a.sendall(b'x' * (32 * 1024 * 1024))
        except OSError as exc:
            result.append(exc.errno)

    g = gevent_lite.spawn(writer)
    gevent_lite.sleep(0.05)
    a.close()
    g.join(timeout=2)
    assert result == [errno.EBADF]
    b.close()


# -- bugs seen in gevent/eventlet ------------------------------------------------------

def test_fd_number_reused_after_close_works_for_the_new_socket():
    # gevent#26/#117: a recv parked on a closed fd must not hang or steal the number.
    a, b = gsocket.socketpair()
    errors = []

    def reader():
        try:
            a.recv(10)
        except OSError as exc:
            errors.append(exc.errno)

    g = gevent_lite.spawn(reader)
    gevent_lite.sleep(0.02)
    a.close()
    c, d = gsocket.socketpair()          # the lowest free number: usually old_fd again
    gevent_lite.spawn(lambda: (gevent_lite.sleep(0.05), d.send(b'new')))
    c.settimeout(2)
    assert c.recv(10) == b'new'
    g.join(timeout=2)
    assert errors == [errno.EBADF]
    for s in (b, c, d):
        s.close()


def test_send_on_a_full_buffer_parks_instead_of_returning_zero():
    # gevent#184: send() returned 0 on EWOULDBLOCK.
    a, b = gsocket.socketpair()
    a.setblocking(False)
    try:
        while True:          # bounded by the socket buffer size
            a.send(b'x' * 65536)
    except BlockingIOError:
        pass
    a.setblocking(True)

    def drain():
        gevent_lite.sleep(0.05)
        b.setblocking(False)
        try:
            while True:
                b.recv(1 << 20)
        except BlockingIOError:
            pass

    gevent_lite.spawn(drain)
    a.settimeout(5)
    assert a.send(b'y' * 1000) > 0
    a.close()
    b.close()


# -- reads after a wait park first (socket.recv's _recv_waits hint) -----------------------

def _waited_short_read(a, b):
    # a reads in a greenlet, waits (nothing there), then gets a short read: a is marked.
    reader = gevent_lite.spawn(a.recv, 100)
    gevent_lite.sleep(0.01)
    b.sendall(b'x')
    assert reader.get(timeout=5) == b'x'
    assert a._recv_waits


def test_recv_after_a_waited_short_read_still_gets_data_that_is_already_there():
    a, b = gsocket.socketpair()
    with a, b:
        _waited_short_read(a, b)
        b.sendall(b'already here')      # arrives before the next recv: no poll saw it
        with gevent_lite.Timeout(2):
            assert a.recv(100) == b'already here'
        b.sendall(b'into')
        buf = bytearray(100)
        with gevent_lite.Timeout(2):
            assert a.recv_into(buf) == 4 and buf[:4] == b'into'


def test_nonblocking_recv_never_parks_after_a_waited_read():
    a, b = gsocket.socketpair()
    with a, b:
        _waited_short_read(a, b)
        a.settimeout(0.0)
        assert not a._recv_waits
        with pytest.raises(BlockingIOError):
            a.recv(10)
        with pytest.raises(BlockingIOError):
            a.recv_into(bytearray(10))


def test_recv_after_a_waited_read_honours_timeout_and_eof():
    a, b = gsocket.socketpair()
    with a, b:
        _waited_short_read(a, b)
        a.settimeout(0.2)
        _waited_short_read(a, b)
        with pytest.raises(stdsocket.timeout):
            a.recv(10)
        b.close()
        assert a.recv(10) == b''


def test_full_read_clears_the_park_first_hint_and_bulk_data_arrives_intact():
    a, b = gsocket.socketpair()
    payload = os.urandom(1 << 20)
    with a, b:
        _waited_short_read(a, b)
        b.sendall(b'y' * 10)
        assert a.recv(10) == b'y' * 10 and not a._recv_waits    # asked 10, got 10
        sender = gevent_lite.spawn(b.sendall, payload)
        got = bytearray()
        while len(got) < len(payload):
            chunk = a.recv(65536)
            assert chunk
            got += chunk
        sender.get(timeout=5)
        assert bytes(got) == payload


def test_small_listen_backlog_takes_a_burst_of_greenlet_connects_without_stalls():
    # socketserver listens with a backlog of 5; under greenlets all these connects
    # arrive before the server's first accept. Dropped SYNs would cost each a 1 s
    # retransmit (or a reset); the green listen() keeps a queue large enough.
    srv = gsocket.socket()
    srv.bind(('127.0.0.1', 0))
    srv.listen(5)
    port = srv.getsockname()[1]

    def serve():
        while True:
            conn, _ = srv.accept()
            gevent_lite.spawn(echo_handler, conn)

    def client(i):
        with gsocket.create_connection(('127.0.0.1', port), timeout=5) as c:
            c.sendall(b'%d' % i)
            return c.recv(100)

    server = gevent_lite.spawn(serve)
    try:
        t0 = time.monotonic()
        clients = [gevent_lite.spawn(client, i) for i in range(60)]
        gevent_lite.joinall(clients, timeout=10)
        assert [c.value for c in clients] == [b'%d' % i for i in range(60)]
        assert time.monotonic() - t0 < 0.9        # no client waited for a SYN retransmit
    finally:
        server.kill()
        srv.close()


# -- stdlib details CPython's test_socket checks under patching ---------------------

@pytest.mark.timeout(20)
@pytest.mark.skipif(not hasattr(stdsocket, 'MSG_DONTWAIT'), reason='needs MSG_DONTWAIT')
def test_msg_dontwait_on_a_blocking_socket_raises_at_once_instead_of_parking():
    DW = gsocket.MSG_DONTWAIT
    a, b = gsocket.socketpair()
    assert a.gettimeout() is None
    reads = [lambda: a.recv(10, DW), lambda: a.recv_into(bytearray(10), 10, DW),
             lambda: a.recvfrom(10, DW), lambda: a.recvfrom_into(bytearray(10), 10, DW)]
    if hasattr(a, 'recvmsg'):
        reads += [lambda: a.recvmsg(10, 0, DW), lambda: a.recvmsg_into([bytearray(10)], 0, DW)]
    for read in reads:
        with pytest.raises(BlockingIOError):
            read()
    # Fill the send buffer: the next MSG_DONTWAIT send must raise, not park.
    writes = [lambda: b.send(b'x' * 65536, DW), lambda: b.sendall(b'x' * 65536, DW)]
    if hasattr(b, 'sendmsg'):
        writes.append(lambda: b.sendmsg([b'x' * 65536], [], DW))
    for write in writes:
        with pytest.raises(BlockingIOError):
            while True:
                write()
    # ... also when sendall() got part of the data out first.
    c, d = gsocket.socketpair()
    with pytest.raises(BlockingIOError):
        c.sendall(b'x' * (1 << 22), DW)
    c.close()
    d.close()
    # Without the flag a blocking socket still parks until there is data.
    c, d = gsocket.socketpair()
    reader = gevent_lite.spawn(c.recv, 10)
    gevent_lite.sleep(0.05)
    assert not reader.dead
    d.send(b'y')
    assert reader.get(timeout=5) == b'y'
    c.close()
    d.close()
    a.close()
    b.close()


@pytest.mark.timeout(20)
@pytest.mark.skipif(not hasattr(stdsocket, 'MSG_DONTWAIT'), reason='needs MSG_DONTWAIT')
def test_msg_dontwait_with_a_timeout_waits_like_the_stdlib():
    # The C layer polls before each try when the socket has a timeout, so the
    # flag does not matter there: it times out.
    a, b = gsocket.socketpair()
    a.settimeout(0.2)
    start = time.monotonic()
    with pytest.raises(gsocket.timeout):
        a.recv(10, gsocket.MSG_DONTWAIT)
    assert 0.15 <= time.monotonic() - start < 2.0
    a.close()
    b.close()


def test_setblocking_on_an_invalid_fd_raises_oserror():
    first = gsocket.socket()
    sock = gsocket.socket(fileno=first.fileno())
    first.close()
    try:
        for call in (lambda: sock.setblocking(False), lambda: sock.setblocking(True)):
            with pytest.raises(OSError) as info:
                call()
            assert info.value.errno == errno.EBADF
    finally:
        sock.detach()


def test_create_connection_builds_whatever_subclass_stdlib_socket_socket_now_is(monkeypatch):
    # CPython's test_create_connection_timeout swaps socket.socket for a mock
    # (a subclass of the patched class) and expects create_connection to use it.
    class Refusing(gsocket.socket):
        def connect(self, address):
            raise TimeoutError('timed out')

    srv, port = listener()
    monkeypatch.setattr(stdsocket, 'socket', Refusing)
    with pytest.raises(TimeoutError):
        gsocket.create_connection(('127.0.0.1', port))
    # The stdlib's own class (not ours, e.g. unpatched) is not used: still green.
    monkeypatch.setattr(stdsocket, 'socket', gsocket._stdsocket)
    with gsocket.create_connection(('127.0.0.1', port), timeout=5) as conn:
        assert type(conn) is gsocket.socket
    srv.close()


def test_getnameinfo_with_a_bad_address_raises_typeerror_without_keeping_it_alive():
    name = 'some-string-%d' % os.getpid()
    before = sys.getrefcount(name)
    try:
        gsocket.getnameinfo(name, 0)
    except TypeError as exc:
        assert 'must be a tuple' in str(exc)
        assert sys.getrefcount(name) == before
    else:
        pytest.fail('no TypeError')


@pytest.mark.timeout(20)
def test_a_socket_collected_unclosed_does_not_hide_the_next_socket_with_its_fd_number():
    # The hub keeps an fd registered after a wait; a socket dropped without
    # close() has its fd closed by the finalizer, which must tell the hub too,
    # or a new socket reusing the number is never registered and recv hangs.
    import gc
    import warnings
    a, b = gsocket.socketpair()
    gevent_lite.spawn_later(0.05, b.send, b'x')
    assert a.recv(1) == b'x'          # parked: a's fd is registered with the hub
    numbers = {a.fileno(), b.fileno()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        del a, b
        gc.collect()
    # ... and the stdlib's ResourceWarning is still given.
    assert [w for w in caught if issubclass(w.category, ResourceWarning)]
    c, d = gsocket.socketpair()
    assert {c.fileno(), d.fileno()} & numbers
    gevent_lite.spawn_later(0.05, d.send, b'y')
    with gevent_lite.Timeout(5):
        assert c.recv(1) == b'y'
    c.close()
    d.close()


def test_detach_leaves_the_fd_in_the_os_mode_the_stdlib_would():
    # multiprocessing.Pipe(): socketpair, setblocking(True), detach, then plain
    # os.read on the fd -- which raised BlockingIOError while the fd stayed O_NONBLOCK.
    a, b = gsocket.socketpair()
    a.setblocking(True)
    b.settimeout(5)
    fa, fb = a.detach(), b.detach()
    try:
        assert os.get_blocking(fa) is True       # blocking socket: blocking fd
        assert os.get_blocking(fb) is False      # a timeout: non-blocking, as the stdlib's
        os.write(fb, b'x')
        assert os.read(fa, 1) == b'x'
        # Adopted again by a green socket, the fd is non-blocking for the hub.
        g = gsocket.socket(fileno=fa)
        assert os.get_blocking(fa) is False and g.gettimeout() is None
        g.close()
    finally:
        os.close(fb)
