"""Cooperative ``socket``: the stdlib module with blocking calls that park only the greenlet.

:class:`socket` subclasses the stdlib ``socket.socket``. Its fd is always
non-blocking at the OS level; the timeout the user sets (``settimeout``,
``setblocking``, ``socket.getdefaulttimeout()``) is emulated: every operation is
tried first, and only on ``EAGAIN`` does the greenlet park in
``hub.wait_fd(fd, READ|WRITE, timeout)`` while the hub runs other greenlets, then
retries. A timeout of 0 raises ``BlockingIOError`` instead of parking, exactly as
the stdlib does (and so does ``MSG_DONTWAIT`` on a blocking socket); a positive
timeout raises ``socket.timeout('timed out')``.

``close()`` tells the hub (``cancel_wait``) before the fd is closed, so a greenlet
parked on the socket gets ``OSError(EBADF)`` instead of hanging on a number the OS
may reuse. Every other name of the stdlib ``socket`` module is re-exported
unchanged (captured at import, before any monkey-patching); host-name lookups go
through ``gevent_lite.resolver`` when that module exists.
"""

import _socket
import errno as _errno
import os as _os
import socket as _stdlib_socket
from operator import index as _index
from typing import Optional as _Optional

from . import _stdlib
from .hub import READ, WRITE, get_hub, get_hub_if_exists, retry_io
from .hub import ConcurrentObjectUseError
from .hub import wait_read, wait_readwrite, wait_write  # noqa: F401 (in __extensions__)
from .hub import now as _now
from .timeout import Timeout

__implements__ = [
    'socket', 'create_connection', 'create_server', 'socketpair', 'fromfd',
    'getaddrinfo', 'gethostbyname', 'gethostbyname_ex', 'gethostbyaddr', 'getnameinfo',
]
#: gevent's additions, which the stdlib module does not have (monkey does not copy them).
__extensions__ = ['wait', 'wait_read', 'wait_write', 'wait_readwrite', 'cancel_wait']
if hasattr(_stdlib_socket, 'fromshare'):
    __implements__.append('fromshare')

#: The stdlib module, as imported before any patching (monkey reads the originals here).
__stdlib__ = _stdlib_socket
__target__ = 'socket'

# Originals captured now: after patch_socket the stdlib module's attributes point at ours.
_stdsocket = _stdlib_socket.socket
_realsocket = _socket.socket
_std_getaddrinfo = _stdlib_socket.getaddrinfo
_std_gethostbyname = _stdlib_socket.gethostbyname
_std_create_server = _stdlib_socket.create_server
_getdefaulttimeout = _socket.getdefaulttimeout
_timeout_error = _socket.timeout
_inet_pton = _socket.inet_pton
_AF_INET = _socket.AF_INET
_AF_INET6 = getattr(_socket, 'AF_INET6', None)
_GLOBAL_DEFAULT_TIMEOUT = _stdlib_socket._GLOBAL_DEFAULT_TIMEOUT  # type: ignore[attr-defined]  # (private)
_CONNECT_PENDING = (_errno.EINPROGRESS, _errno.EWOULDBLOCK, _errno.EAGAIN, _errno.EALREADY)
_MSG_DONTWAIT = getattr(_socket, 'MSG_DONTWAIT', 0)
_NOT_GIVEN = object()   # marks an argument the caller did not pass

# Unbound C methods: calling ``_recv(self, n)`` skips attribute lookup on the hot path.
_recv = _realsocket.recv
_recv_into = _realsocket.recv_into
_send = _realsocket.send
_fileno = _realsocket.fileno


#: The smallest listen() backlog of a green socket (see socket.listen).
_MIN_BACKLOG = 128


def _timeout_exc():
    return _timeout_error('timed out')


def _eagain_is_the_answer(timeout, args, index):
    # Called only after an EAGAIN: does the stdlib raise it instead of waiting?
    # With a timeout of 0, always; on a blocking socket (timeout None), when the
    # flags argument ``args[index]`` has MSG_DONTWAIT (the C layer sends without
    # polling first, so the flag decides). With a positive timeout the stdlib
    # polls and retries whatever the flags say, and so do we.
    if timeout == 0.0:
        return True
    if timeout is not None or len(args) <= index:
        return False
    try:
        return bool(_index(args[index]) & _MSG_DONTWAIT)
    except TypeError:
        return False     # sendto(data, address): the address is where flags would be


class socket(_stdsocket):
    """A stdlib socket whose blocking operations park only the calling greenlet."""

    __slots__ = ('_timeout', '_recv_waits')

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        _stdsocket.__init__(self, family, type, proto, fileno)
        self._recv_waits = False    # see recv()
        # The C layer computed the stdlib's initial timeout (the default timeout,
        # or the fd's own mode for fileno=); keep it as ours, then make the fd
        # non-blocking for good.
        self._timeout = _realsocket.gettimeout(self)
        _realsocket.settimeout(self, 0.0)

    # -- timeouts -------------------------------------------------------------------

    def settimeout(self, value):
        if value is not None:
            if isinstance(value, float):
                if value != value:  # noqa: PLR0124 -- NaN
                    raise ValueError('Invalid value NaN (not a number)')
            elif isinstance(value, int):
                value = float(value)
            else:
                # Let the C layer judge odd types, so errors read exactly like the
                # stdlib's of this Python version; then restore non-blocking mode.
                try:
                    _realsocket.settimeout(self, value)
                finally:
                    _realsocket.settimeout(self, 0.0)
                value = float(_index(value))
            if value < 0:
                raise ValueError('Timeout value out of range')
        # (Unlike the stdlib's, no syscall: an fd closed behind our back is not
        # reported here -- settimeout is called per request by servers.)
        self._timeout = value
        self._recv_waits = False

    def gettimeout(self):
        return self._timeout

    def setblocking(self, flag):
        # The fd stays non-blocking; this syscall (the stdlib's makes it too)
        # raises OSError for an fd that is no longer valid, as the stdlib does.
        _realsocket.setblocking(self, False)
        self._timeout = None if flag else 0.0
        self._recv_waits = False

    def getblocking(self):
        return self._timeout != 0.0

    @property
    def timeout(self):
        return self._timeout

    # -- parking --------------------------------------------------------------------

    def _wait(self, event, timeout=_GLOBAL_DEFAULT_TIMEOUT):
        # Park until the fd is ready for ``event``; raise socket.timeout if the
        # emulated timeout passes first. Called only after an EAGAIN.
        if timeout is _GLOBAL_DEFAULT_TIMEOUT:
            timeout = self._timeout
        if timeout is None:
            get_hub().wait_fd(_fileno(self), event)
        else:
            if timeout <= 0.0:
                raise _timeout_exc()
            get_hub().wait_fd(_fileno(self), event, timeout, _timeout_exc())

    def _io(self, method, event, flags_at, *args):
        # Generic "try, park on EAGAIN, retry" for the less hot calls. The flags
        # argument is args[flags_at]: with MSG_DONTWAIT the EAGAIN is raised.
        try:
            return method(self, *args)
        except BlockingIOError:
            if _eagain_is_the_answer(self._timeout, args, flags_at):
                raise
        return self._retry(method, event, args)

    def _retry(self, method, event, args):
        # The operation just failed with EAGAIN: park first (retrying at once
        # would only cost another failing syscall), then retry until it works,
        # within the socket's timeout for the whole call.
        return retry_io(_fileno(self), event, method, (self,) + args, self._timeout)

    # -- receiving (hot path: try, park on EAGAIN, retry) ----------------------------
    #
    # A request/response connection alternates: read a request, send the reply,
    # read again -- and that next read nearly always finds nothing yet, so trying
    # it first costs a failing syscall and a BlockingIOError, a good part of a
    # small request's whole cost. So a plain ``recv(n)``/``recv_into(buf)``
    # that had to wait, and then got less than it asked for (the kernel buffer was
    # empty), marks the socket ``_recv_waits``: the next plain read parks first and
    # reads when the hub reports the fd readable. That is always safe: the fd stays
    # registered level-triggered, so data that is already there wakes the reader on
    # the next poll. A full read clears the mark (more data is probably queued, as
    # in a bulk transfer), and so do a timeout of 0 and calls with flags, which
    # always try first.

    def recv(self, *args):
        if self._recv_waits and len(args) == 1 and self._timeout != 0.0:
            data = self._retry(_recv, READ, args)
        else:
            try:
                return _recv(self, *args)
            except BlockingIOError:
                if self._timeout == 0.0 or (args[1:] and _eagain_is_the_answer(self._timeout, args, 1)):
                    raise
            data = self._retry(_recv, READ, args)
            if len(args) != 1:
                return data
        self._recv_waits = len(data) < args[0]
        return data

    def recv_into(self, buffer, *args):
        if self._recv_waits and not args and self._timeout != 0.0:
            n = self._retry(_recv_into, READ, (buffer,))
        else:
            try:
                return _recv_into(self, buffer, *args)
            except BlockingIOError:
                if self._timeout == 0.0 or (args[1:] and _eagain_is_the_answer(self._timeout, args, 1)):
                    raise
            n = self._retry(_recv_into, READ, (buffer,) + args)
            if args:
                return n
        try:
            self._recv_waits = n < len(buffer)
        except TypeError:     # a buffer without len(): no hint, never a lost read
            self._recv_waits = False
        return n

    def recvfrom(self, *args):
        return self._io(_realsocket.recvfrom, READ, 1, *args)

    def recvfrom_into(self, *args):
        return self._io(_realsocket.recvfrom_into, READ, 2, *args)

    if hasattr(_realsocket, 'recvmsg'):
        def recvmsg(self, *args):
            return self._io(_realsocket.recvmsg, READ, 2, *args)

        def recvmsg_into(self, *args):
            return self._io(_realsocket.recvmsg_into, READ, 2, *args)

    # -- sending --------------------------------------------------------------------

    def send(self, *args, timeout=_NOT_GIVEN):
        # ``timeout=`` (gevent's extension) replaces the socket's timeout for this call.
        try:
            return _send(self, *args)
        except BlockingIOError:
            if timeout is _NOT_GIVEN:
                timeout = self._timeout
            if timeout == 0.0 or (args[1:] and _eagain_is_the_answer(timeout, args, 1)):
                raise
        return retry_io(_fileno(self), WRITE, _send, (self,) + args, timeout)

    def sendto(self, *args):
        # sendto(data, address) or sendto(data, flags, address)
        return self._io(_realsocket.sendto, WRITE, 1 if len(args) > 2 else 99, *args)

    if hasattr(_realsocket, 'sendmsg'):
        def sendmsg(self, *args):
            return self._io(_realsocket.sendmsg, WRITE, 2, *args)

    def sendall(self, data, flags=0):
        try:
            sent = _send(self, data, flags)
        except BlockingIOError:
            if self._timeout == 0.0 or (flags and _eagain_is_the_answer(self._timeout, (flags,), 0)):
                raise
            sent = 0
        else:
            if type(data) is bytes and sent == len(data):
                return      # the common case: one send did it
        # The timeout covers the whole call (stdlib >= 3.5), not each chunk.
        timeout = self._timeout
        deadline = None if timeout is None else _now() + timeout
        fd = _fileno(self)
        with memoryview(data) as view, view.cast('B') as chunk:
            total = len(chunk)
            while sent < total:
                try:
                    sent += _send(self, chunk[sent:], flags)
                    continue
                except BlockingIOError:
                    if timeout == 0.0 or (flags and _eagain_is_the_answer(timeout, (flags,), 0)):
                        raise
                sent += retry_io(fd, WRITE, _send, (self, chunk[sent:], flags),
                                 None if deadline is None else deadline - _now())

    def sendfile(self, file, offset=0, count=None):
        """Send a file, with ``os.sendfile`` when possible; parks while the socket is full."""
        self._check_sendfile_params(file, offset, count)
        if self._timeout == 0.0:
            raise ValueError('non-blocking sockets are not supported')
        try:
            fileno = file.fileno()
        except (AttributeError, _stdlib_socket.io.UnsupportedOperation):
            return self._sendfile_use_send(file, offset, count)
        if not hasattr(_os, 'sendfile'):
            return self._sendfile_use_send(file, offset, count)
        try:
            fsize = _os.fstat(fileno).st_size
        except OSError:
            return self._sendfile_use_send(file, offset, count)
        if not fsize:
            return 0
        blocksize = min(count or fsize, 2 ** 30)
        timeout = self._timeout
        deadline = None if timeout is None else _now() + timeout
        total_sent = 0
        sockno = _fileno(self)
        try:
            while True:
                if count:
                    blocksize = min(count - total_sent, blocksize)
                    if blocksize <= 0:
                        break
                try:
                    try:
                        sent = _os.sendfile(sockno, fileno, offset, blocksize)
                    except BlockingIOError:
                        sent = retry_io(sockno, WRITE, _os.sendfile, (sockno, fileno, offset, blocksize),
                                        None if deadline is None else deadline - _now())
                except OSError as err:
                    if total_sent == 0 and err.errno in (_errno.EINVAL, _errno.ENOSYS,
                                                         _errno.ENOTSOCK, _errno.EOPNOTSUPP):
                        return self._sendfile_use_send(file, offset, count)
                    raise
                if sent == 0:
                    break    # EOF
                offset += sent
                total_sent += sent
            return total_sent
        finally:
            if total_sent > 0 and hasattr(file, 'seek'):
                file.seek(offset)

    # -- connecting -----------------------------------------------------------------

    def connect(self, address):
        if self._timeout == 0.0:
            return _realsocket.connect(self, address)
        err = self._connect(address)
        if err:
            raise OSError(err, _os.strerror(err))

    def connect_ex(self, address):
        if self._timeout == 0.0:
            return _realsocket.connect_ex(self, address)
        try:
            return self._connect(address)
        except _timeout_error:
            return _errno.EAGAIN   # what the stdlib's connect_ex returns on timeout

    def _connect(self, address):
        # Returns an errno (0 on success) like connect_ex; raises socket.timeout.
        address = _resolve_for_connect(self.family, address)
        err = _realsocket.connect_ex(self, address)
        if err not in _CONNECT_PENDING:
            return err
        # The connection is being made: park until the fd is writable, then ask
        # the kernel how it went.
        self._wait(WRITE)
        return _realsocket.getsockopt(self, _stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_ERROR)

    def listen(self, *args):
        # A green server accepts only when the hub runs its greenlet, so a burst of
        # connects from greenlets of the same process (twenty clients spawned at
        # once) all arrive before its first accept. A small backlog -- socketserver's
        # request_queue_size is 5 -- then overflows: the kernel drops the extra SYNs,
        # so those clients stall a second for the retransmit, and with syncookies some
        # are reset. Threads accept while the others connect and rarely see this. So a
        # positive backlog below _MIN_BACKLOG is raised to it (the kernel still caps it
        # at net.core.somaxconn); 0 and the default are left alone.
        if args:
            try:
                backlog = _index(args[0])
            except TypeError:
                backlog = None          # let the C layer word the error
            if backlog is not None and 0 < backlog < _MIN_BACKLOG:
                args = (_MIN_BACKLOG,) + args[1:]
        _realsocket.listen(self, *args)

    def accept(self):
        try:
            fd, addr = self._accept()
        except BlockingIOError:
            if self._timeout == 0.0:
                raise
            fd, addr = self._retry(_realsocket._accept, READ, ())
        sock = socket(self.family, self.type, self.proto, fileno=fd)
        # stdlib (issue #7995): with no default timeout, a socket accepted from a
        # listener that had a timeout is blocking.
        if _getdefaulttimeout() is None and self._timeout:
            sock._timeout = None
        return sock, addr

    # -- closing --------------------------------------------------------------------

    def _drop_waiters(self):
        fd = _fileno(self)
        if fd >= 0:
            hub = get_hub_if_exists()
            if hub is not None:
                hub.cancel_wait(fd)

    def __del__(self, _finalize=_realsocket.__del__):
        # Collected unclosed: the C finalizer closes the fd (with its
        # ResourceWarning). Tell the hub first, as close() does: a registration
        # it kept for this fd would hide the next fd of that number from the poller.
        try:
            self._drop_waiters()
        except Exception:      # (interpreter shutdown: nothing left to tell)
            pass
        _finalize(self)

    def _real_close(self, _ss=_realsocket):
        # Wake greenlets parked on this fd with EBADF and make the hub forget it,
        # BEFORE the number is freed for reuse.
        self._drop_waiters()
        _ss.close(self)

    def detach(self):
        # The fd leaves in the OS mode the stdlib's would have: blocking for a
        # blocking socket (multiprocessing.Pipe() hands socketpair fds, after
        # setblocking(True), to plain os.read), non-blocking with a timeout. A
        # green socket that adopts the fd makes it non-blocking again.
        self._drop_waiters()
        if self._timeout is None:
            fd = _fileno(self)
            if fd >= 0:
                try:
                    _os.set_blocking(fd, True)
                except OSError:
                    pass       # an invalid fd: detach() itself does not fail on it
        return _stdsocket.detach(self)

    def __getstate__(self):
        raise TypeError(f"cannot pickle {self.__class__.__name__!r} object")


# --------------------------------------------------------------------------------------
# Module functions

def _is_numeric(host):
    for family in (_AF_INET, _AF_INET6):
        if family is None:
            continue
        try:
            _inet_pton(family, host)
            return True
        except (OSError, TypeError, ValueError):
            pass
    return False


def _resolve_for_connect(family, address):
    # Only IP sockets with a host name need a (green) lookup; numeric addresses
    # go straight to connect without a thread hop.
    if family not in (_AF_INET, _AF_INET6) or not isinstance(address, tuple) or not address:
        return address
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode('idna')
    if not isinstance(host, str) or _is_numeric(host.partition('%')[0]):
        return address
    results = getaddrinfo(host, address[1], family, _stdlib_socket.SOCK_STREAM)
    if not results:
        raise _socket.gaierror('getaddrinfo returned an empty list')
    sockaddr = results[0][4]
    if family == _AF_INET6 and len(address) > 2:
        sockaddr = sockaddr[:2] + tuple(address[2:])
    return sockaddr


def _resolver():
    from . import resolver      # on first use: most programs never resolve a name
    return resolver.get_resolver()


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    """Resolve ``host``/``port`` like the stdlib, without blocking the hub.

    Numeric hosts are answered at once; names go to ``gevent_lite.resolver``.
    """
    if host is None or (isinstance(host, str) and _is_numeric(host.partition('%')[0])):
        return _std_getaddrinfo(host, port, family, type, proto, flags)
    return _resolver().getaddrinfo(host, port, family, type, proto, flags)


def gethostbyname(hostname):
    """``socket.gethostbyname`` through the green resolver."""
    if isinstance(hostname, str) and _is_numeric(hostname):
        return _std_gethostbyname(hostname)
    return _resolver().gethostbyname(hostname)


def gethostbyname_ex(hostname):
    """``socket.gethostbyname_ex`` through the green resolver."""
    return _resolver().gethostbyname_ex(hostname)


def gethostbyaddr(ip_address):
    """``socket.gethostbyaddr`` through the green resolver."""
    return _resolver().gethostbyaddr(ip_address)


def getnameinfo(sockaddr, flags):
    """``socket.getnameinfo`` through the green resolver."""
    if not isinstance(sockaddr, tuple):
        # The C function's error, at once; the traceback keeps this frame, which
        # must not keep the caller's argument alive (CPython checks the refcount).
        del sockaddr
        raise TypeError('getnameinfo() argument 1 must be a tuple')
    return _resolver().getnameinfo(sockaddr, flags)


def create_connection(address, timeout=_GLOBAL_DEFAULT_TIMEOUT, source_address=None,
                      *, all_errors=False):
    """Connect to ``(host, port)`` trying each address in turn; return a green socket."""
    host, port = address
    exceptions = []
    # After patching, stdlib ``socket.socket`` is our class; if it has been
    # replaced since by a subclass of it (a test's mock, an application's
    # subclass), build that, as the stdlib's create_connection would.
    cls = _stdlib_socket.socket
    if cls is not socket and not (isinstance(cls, type) and issubclass(cls, socket)):
        cls = socket
    for family, type_, proto, _canon, sockaddr in getaddrinfo(host, port, 0, _stdlib_socket.SOCK_STREAM):
        sock = None
        try:
            sock = cls(family, type_, proto)
            if timeout is not _GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            exceptions.clear()
            return sock
        except OSError as exc:
            if not all_errors:
                exceptions.clear()
            exceptions.append(exc)
            if sock is not None:
                sock.close()
    if exceptions:
        try:
            if not all_errors:
                raise exceptions[0]
            raise ExceptionGroup('create_connection failed', exceptions)  # noqa: F821 (3.11+)
        finally:
            exceptions.clear()
    raise OSError('getaddrinfo returns an empty list')


def _green(sock):
    """Turn a stdlib socket into a green one owning the same fd."""
    if isinstance(sock, socket):
        return sock
    timeout = sock.gettimeout()
    green = socket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    green._timeout = timeout
    return green


def create_server(address, *, family=_AF_INET, backlog=None, reuse_port=False,
                  dualstack_ipv6=False):
    """``socket.create_server`` returning a green listening socket."""
    return _green(_std_create_server(address, family=family, backlog=backlog,
                                     reuse_port=reuse_port, dualstack_ipv6=dualstack_ipv6))


def socketpair(family=None, type=_socket.SOCK_STREAM, proto=0):
    """``socket.socketpair`` returning two connected green sockets."""
    if family is None:
        family = getattr(_socket, 'AF_UNIX', _AF_INET)
    a, b = _socket.socketpair(family, type, proto)
    return (socket(a.family, a.type, a.proto, fileno=a.detach()),
            socket(b.family, b.type, b.proto, fileno=b.detach()))


def fromfd(fd, family, type, proto=0):
    """A green socket on a duplicate of ``fd``."""
    return socket(family, type, proto, _os.dup(fd))


if hasattr(_stdlib_socket, 'fromshare'):  # pragma: no cover - Windows
    _std_fromshare = _stdlib_socket.fromshare

    def fromshare(info):
        return _green(_std_fromshare(info))


def cancel_wait(fileno, exc=None):
    """Wake greenlets parked on ``fileno`` with ``exc`` (default ``OSError(EBADF)``)."""
    hub = get_hub_if_exists()
    if hub is not None:
        hub.cancel_wait(fileno, exc)


def wait(watcher, timeout: _Optional[float] = None, timeout_exc=_NOT_GIVEN) -> None:
    """Park until ``watcher`` (a ``get_hub().loop.io(fd, events)`` watcher) fires, as gevent's.

    After ``timeout`` seconds ``timeout_exc`` is raised instead (default
    ``socket.timeout('timed out')``); a watcher another greenlet already waits on
    raises :class:`~gevent_lite.hub.ConcurrentObjectUseError`.
    """
    if watcher.callback is not None:
        raise ConcurrentObjectUseError('%r is already used by another greenlet (callback %r)'
                                       % (watcher, watcher.callback))
    hub = get_hub()
    if timeout is None:
        hub.wait(watcher)
        return
    if timeout_exc is _NOT_GIVEN:
        timeout_exc = _timeout_error('timed out')
    with Timeout(timeout, timeout_exc):
        hub.wait(watcher)


__all__ = _stdlib.reexport(_stdlib_socket, globals(), __implements__ + __extensions__)
