"""gevent_lite.ssl: TLS over green sockets on 127.0.0.1, both sides, timeouts, non-blocking."""

import os
import shutil
import socket as stdsocket
import ssl as stdssl
import struct
import sys
import threading
import time

import pytest

from _helpers import echo_handler, listener, serve

import gevent_lite
from gevent_lite import socket as gsocket
from gevent_lite import ssl as gssl

pytestmark = pytest.mark.skipif(shutil.which('openssl') is None,
                                reason='the openssl command is needed to make a test certificate')


def server_context(cert):
    ctx = gssl.SSLContext(gssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert)
    return ctx


def client_context(cert):
    return gssl.create_default_context(cafile=cert[0])


def tls_listener(cert):
    raw, port = listener(128)
    return server_context(cert).wrap_socket(raw, server_side=True), port


def connect(cert, port, timeout=5):
    raw = gsocket.create_connection(('127.0.0.1', port), timeout=timeout)
    return client_context(cert).wrap_socket(raw, server_hostname='localhost')


def test_green_client_and_green_server_exchange_data_and_verify_the_certificate(cert):
    srv, port = tls_listener(cert)
    assert type(srv) is gssl.SSLSocket
    server = gevent_lite.spawn(serve, srv, echo_handler)
    with connect(cert, port) as c:
        assert type(c) is gssl.SSLSocket and c.server_side is False
        assert dict(x[0] for x in c.getpeercert()['subject'])['commonName'] == 'localhost'
        assert c.version() is not None
        payload = b'x' * 200000
        got = bytearray()

        def reader():
            while len(got) < len(payload):
                got.extend(c.recv(65536))

        r = gevent_lite.spawn(reader)
        c.sendall(payload)
        r.join(timeout=5)
        assert bytes(got) == payload
    server.kill()
    srv.close()


def test_ten_tls_clients_each_served_after_half_a_second_finish_together(cert):
    srv, port = tls_listener(cert)

    def slow(conn):
        with conn:
            data = conn.recv(100)
            gevent_lite.sleep(0.5)
            conn.sendall(data)

    server = gevent_lite.spawn(serve, srv, slow)

    def client(i):
        with connect(cert, port) as c:
            c.sendall(b'%d' % i)
            return c.recv(100)

    start = time.monotonic()
    jobs = [gevent_lite.spawn(client, i) for i in range(10)]
    gevent_lite.joinall(jobs, raise_error=True)
    elapsed = time.monotonic() - start
    server.kill()
    srv.close()
    assert [j.value for j in jobs] == [b'%d' % i for i in range(10)]
    assert elapsed < 3.0, elapsed


def test_green_client_against_a_stdlib_ssl_server_in_a_thread(cert):
    ctx = stdssl.SSLContext(stdssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert)
    lsock = stdsocket.socket()
    lsock.bind(('127.0.0.1', 0))
    lsock.listen(5)
    port = lsock.getsockname()[1]

    def thread_server():
        conn, _ = lsock.accept()
        with ctx.wrap_socket(conn, server_side=True) as tls:
            data = tls.recv(100)
            time.sleep(0.3)                  # the green client must not block its hub meanwhile
            tls.sendall(data.upper())

    t = threading.Thread(target=thread_server, daemon=True)
    t.start()
    ticks = []

    def ticker():
        for _ in range(10):
            ticks.append(1)
            gevent_lite.sleep(0.02)

    tick = gevent_lite.spawn(ticker)
    with connect(cert, port) as c:
        c.sendall(b'hello')
        assert c.recv(100) == b'HELLO'
    tick.join(timeout=2)
    assert len(ticks) == 10
    t.join(timeout=5)
    lsock.close()


def test_recv_timeout_raises_socket_timeout(cert):
    srv, port = tls_listener(cert)

    def silent(conn):
        with conn:
            gevent_lite.sleep(2)

    server = gevent_lite.spawn(serve, srv, silent)
    with connect(cert, port) as c:
        c.settimeout(0.2)
        start = time.monotonic()
        with pytest.raises(gsocket.timeout):
            c.recv(10)
        assert 0.15 <= time.monotonic() - start < 2.0
    server.kill()
    srv.close()


def test_handshake_timeout_against_a_peer_that_never_answers(cert):
    plain = gsocket.socket()
    plain.bind(('127.0.0.1', 0))
    plain.listen(5)
    raw = gsocket.create_connection(plain.getsockname(), timeout=0.2)
    start = time.monotonic()
    with pytest.raises(gsocket.timeout):
        client_context(cert).wrap_socket(raw, server_hostname='localhost')
    assert 0.15 <= time.monotonic() - start < 2.0
    plain.close()


def test_nonblocking_tls_send_raises_and_never_returns_zero(cert):
    srv, port = tls_listener(cert)
    accepted = []

    def hold(conn):
        accepted.append(conn)
        gevent_lite.sleep(3)       # never reads: the client's buffers fill up

    server = gevent_lite.spawn(serve, srv, hold)
    c = connect(cert, port)
    c.setblocking(False)
    with pytest.raises(gssl.SSLWantReadError):
        c.recv(10)
    results = []
    with pytest.raises((gssl.SSLWantWriteError, BlockingIOError)):
        for _ in range(10000):      # bounded; the kernel buffers fill long before
            results.append(c.send(b'y' * 16384))
    assert results and 0 not in results
    c.close()
    server.kill()
    srv.close()


def test_close_while_a_greenlet_waits_in_recv_wakes_it(cert):
    srv, port = tls_listener(cert)
    server = gevent_lite.spawn(serve, srv, lambda conn: gevent_lite.sleep(2))
    c = connect(cert, port)
    errors = []

    def reader():
        try:
            c.recv(10)
        except OSError as exc:
            errors.append(exc)

    g = gevent_lite.spawn(reader)
    gevent_lite.sleep(0.05)
    c.close()
    g.join(timeout=2)
    assert g.dead and errors
    server.kill()
    srv.close()


def test_unwrap_on_both_sides_returns_a_working_plain_socket(cert):
    srv, port = tls_listener(cert)

    def handler(conn):
        assert conn.recv(5) == b'start'
        plain = conn.unwrap()
        assert isinstance(plain, gsocket.socket)   # the stdlib returns the socket itself
        plain.sendall(b'plain:' + plain.recv(10))
        plain.close()

    server = gevent_lite.spawn(serve, srv, handler)
    c = connect(cert, port)
    c.sendall(b'start')
    plain = c.unwrap()
    plain.sendall(b'abc')
    assert plain.recv(100) == b'plain:abc'
    plain.close()
    server.kill()
    srv.close()


def test_makefile_readline_over_tls(cert):
    srv, port = tls_listener(cert)

    def lines(conn):
        with conn, conn.makefile('rwb') as f:
            for line in f:
                f.write(b'> ' + line)
                f.flush()

    server = gevent_lite.spawn(serve, srv, lines)
    with connect(cert, port) as c, c.makefile('rwb') as f:
        for i in range(3):
            f.write(b'line %d\n' % i)
            f.flush()
            assert f.readline() == b'> line %d\n' % i
    server.kill()
    srv.close()


def test_module_wrap_socket_client_without_verification(cert):
    srv, port = tls_listener(cert)
    server = gevent_lite.spawn(serve, srv, echo_handler)
    raw = gsocket.create_connection(('127.0.0.1', port), timeout=5)
    c = gssl.wrap_socket(raw)
    assert type(c) is gssl.SSLSocket
    c.sendall(b'ping')
    assert c.recv(10) == b'ping'
    c.close()
    server.kill()
    srv.close()


def test_context_setters_do_not_recurse_once_ssl_is_patched(monkeypatch):
    monkeypatch.setattr(stdssl, 'SSLContext', gssl.SSLContext)
    monkeypatch.setattr(stdssl, 'SSLSocket', gssl.SSLSocket)
    monkeypatch.setattr(stdssl, 'create_default_context', gssl.create_default_context)
    monkeypatch.setattr(stdssl, '_create_unverified_context', gssl._create_unverified_context)
    assert type(gssl.create_default_context()) is gssl.SSLContext
    assert type(gssl._create_unverified_context()) is gssl.SSLContext
    ctx = gssl.SSLContext(gssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = gssl.CERT_REQUIRED
    ctx.options |= gssl.OP_NO_COMPRESSION
    ctx.minimum_version = gssl.TLSVersion.TLSv1_2
    ctx.verify_flags = gssl.VERIFY_DEFAULT
    assert ctx.verify_mode == gssl.CERT_REQUIRED
    assert ctx.minimum_version == gssl.TLSVersion.TLSv1_2
    assert type(stdssl.create_default_context()) is gssl.SSLContext


def test_wrap_socket_after_patching_still_builds_green_sockets(cert, monkeypatch):
    monkeypatch.setattr(stdssl, 'SSLSocket', gssl.SSLSocket)
    monkeypatch.setattr(stdssl, 'SSLContext', gssl.SSLContext)
    test_green_client_and_green_server_exchange_data_and_verify_the_certificate(cert)


def test_module_reexports_the_stdlib():
    for name in stdssl.__all__ if hasattr(stdssl, '__all__') else dir(stdssl):
        if not name.startswith('_'):
            assert hasattr(gssl, name), name
    assert gssl.SSLError is stdssl.SSLError and gssl.CERT_NONE is stdssl.CERT_NONE
    assert issubclass(gssl.SSLContext, stdssl.SSLContext)
    assert issubclass(gssl.SSLSocket, stdssl.SSLSocket) and issubclass(gssl.SSLSocket, gsocket.socket)


def test_empty_sendall_over_tls(cert):
    # gevent#719: sendall(b'') on a TLS socket raised SSLEOFError. (send(b'') itself
    # raises SSLEOFError with the stdlib ssl of 3.9 too, so only sendall is checked.)
    srv, port = tls_listener(cert)
    server = gevent_lite.spawn(serve, srv, echo_handler)
    with connect(cert, port) as c:
        c.sendall(b'')
        c.sendall(b'after')
        assert c.recv(10) == b'after'
    server.kill()
    srv.close()


def test_megabytes_over_tls_to_a_slow_reader(cert):
    # urllib3#412: large TLS writes hit WANT_WRITE; they must park, not fail.
    srv, port = tls_listener(cert)
    total = 3 * 1024 * 1024
    got = []

    def slow_reader(conn):
        n = 0
        while n < total:
            gevent_lite.sleep(0.001)
            data = conn.recv(65536)
            if not data:
                break
            n += len(data)
        got.append(n)
        conn.close()

    server = gevent_lite.spawn(serve, srv, slow_reader)
    with connect(cert, port) as c:
        c.sendall(b'z' * total)
        for _ in range(200):
            if got:
                break
            gevent_lite.sleep(0.02)
    assert got == [total]
    server.kill()
    srv.close()


def test_explicit_handshake_and_ragged_eof_handling(cert):
    srv, port = tls_listener(cert)

    def rude(conn):
        conn.recv(10)
        # Close the TCP connection without a TLS close_notify: a "ragged" EOF.
        raw = gsocket.socket(fileno=conn.detach())
        raw.close()

    server = gevent_lite.spawn(serve, srv, rude)
    for suppress in (True, False):
        raw = gsocket.create_connection(('127.0.0.1', port), timeout=5)
        c = client_context(cert).wrap_socket(raw, server_hostname='localhost',
                                             do_handshake_on_connect=False,
                                             suppress_ragged_eofs=suppress)
        assert c.do_handshake_on_connect is False and c.suppress_ragged_eofs is suppress
        c.do_handshake()
        assert c.getpeercert() and c.server_side is False
        c.sendall(b'hi')
        if suppress or sys.version_info < (3, 10):
            assert c.recv(10) == b''     # (the stdlib ssl of 3.9 reports b'' here too)
        else:
            with pytest.raises((gssl.SSLEOFError, ConnectionResetError, gssl.SSLError)):
                c.recv(10)
        c.close()
    server.kill()
    srv.close()


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='Linux keeps the data of a reset peer readable')
def test_plaintext_then_reset_before_the_handshake_raises_sslerror_with_reason(cert):
    # CPython gh-108310: bytes queued by a peer that then reset the connection
    # must not pass for TLS data; the SSLError carries .reason/.library as _ssl's do.
    raw = gsocket.socket()
    raw.bind(('127.0.0.1', 0))
    raw.listen(1)
    client = gsocket.create_connection(raw.getsockname(), timeout=5)
    conn, _ = raw.accept()
    client.setsockopt(gsocket.SOL_SOCKET, gsocket.SO_LINGER, struct.pack('ii', 1, 0))
    client.send(b'DELETE /data HTTP/1.0\r\n\r\n')
    client.close()    # RST
    gevent_lite.sleep(0.05)
    with pytest.raises(gssl.SSLError) as info:
        server_context(cert).wrap_socket(conn, server_side=True)
    assert 'before TLS handshake with data' in info.value.args[1]
    assert 'before TLS handshake with data' in info.value.reason
    assert info.value.args[0] != 0 and info.value.library is None
    raw.close()


def test_wrap_socket_with_a_bad_server_hostname_closes_the_socket_it_took(cert):
    # CPython 3.13's test_check_hostname_idn: the UnicodeError must not leak the fd
    # (a ResourceWarning) that wrap_socket took over from the plain socket.
    import gc
    import warnings
    for bad, exc in (('.pythontest.net', UnicodeError), (b'k\xf6nig.idn.example', UnicodeDecodeError)):
        raw = gsocket.socket()
        fd = raw.fileno()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            with pytest.raises(exc):
                client_context(cert).wrap_socket(raw, server_hostname=bad)
            gc.collect()
        assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
        with pytest.raises(OSError):
            os.fstat(fd)


def test_wrapping_a_blocking_green_socket_keeps_the_fd_non_blocking(cert):
    # detach() makes a blocking socket's fd OS-blocking (as the stdlib's); the
    # SSLSocket adopting it must still have a non-blocking fd, or OpenSSL would
    # block the hub in read().
    srv, port = tls_listener(cert)
    server = gevent_lite.spawn(serve, srv, echo_handler)
    raw = gsocket.create_connection(('127.0.0.1', port))
    assert raw.gettimeout() is None
    c = client_context(cert).wrap_socket(raw, server_hostname='localhost')
    assert os.get_blocking(c.fileno()) is False and c.gettimeout() is None
    ticks = []
    ticker = gevent_lite.spawn(lambda: [ticks.append(1) or gevent_lite.sleep(0.01) for _ in range(5)])
    reader = gevent_lite.spawn(c.recv, 10)     # parks: nothing sent yet
    gevent_lite.sleep(0.1)
    assert len(ticks) == 5 and not reader.dead
    c.sendall(b'ping')
    assert reader.get(timeout=5) == b'ping'
    ticker.join()
    c.close()
    server.kill()
    srv.close()
