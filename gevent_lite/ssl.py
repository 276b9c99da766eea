"""Cooperative ``ssl``: TLS sockets whose handshake, reads and writes park only the greenlet.

:class:`SSLSocket` is the stdlib ``ssl.SSLSocket`` on top of the green
:class:`gevent_lite.socket.socket` (its fd is non-blocking, its timeout emulated).
Every TLS operation (handshake, read, write, unwrap) is tried first; when OpenSSL
answers ``SSLWantReadError``/``SSLWantWriteError`` the greenlet parks in
``hub.wait_fd`` for that event and retries. With a timeout of 0 the want-error is
raised to the caller, exactly like the stdlib (a non-blocking ``send`` never
returns 0). :class:`SSLContext` makes ``wrap_socket`` return the green socket.

Every other name of the stdlib ``ssl`` module is re-exported unchanged. The stdlib
``SSLContext`` property setters name ``SSLContext`` as a module global, which after
monkey-patching would be this class and recurse forever (gevent#1016); the green
class re-binds those setters to the original class.
"""

import errno as _errno
import ssl as _stdlib_ssl
import types as _types

from . import _stdlib
from . import socket as _gsocket
from .hub import READ, WRITE, retry_io

__implements__ = [
    'SSLContext', 'SSLSocket', 'wrap_socket', 'create_default_context',
    '_create_unverified_context', '_create_default_https_context', '_create_stdlib_context',
    'get_server_certificate', 'create_connection',
]
__stdlib__ = _stdlib_ssl
__target__ = 'ssl'

_OrigSSLContext = _stdlib_ssl.SSLContext
_OrigSSLSocket = _stdlib_ssl.SSLSocket
_SSLWantReadError = _stdlib_ssl.SSLWantReadError
_SSLWantWriteError = _stdlib_ssl.SSLWantWriteError
#: What a TLS operation raises to say which event it waits for (see hub.retry_io).
_WANTS = {_SSLWantReadError: READ, _SSLWantWriteError: WRITE}
_SSLError = _stdlib_ssl.SSLError
_SSL_ERROR_EOF = _stdlib_ssl.SSL_ERROR_EOF
_realsocket = _gsocket._realsocket
# Captured now: after patch_ssl these stdlib attributes are ours (calling them would recurse).
_std_create_default_context = _stdlib_ssl.create_default_context
_std_create_unverified_context = _stdlib_ssl._create_unverified_context

create_connection = _gsocket.create_connection

# A snapshot of the stdlib module's globals taken now, before any patching: stdlib
# functions re-bound to it see the original classes (see _rebind).
_snapshot = dict(vars(_stdlib_ssl))


def _rebind(func, **overrides):
    """A copy of stdlib ``func`` whose globals are the pre-patching snapshot (+ overrides)."""
    namespace = _snapshot if not overrides else dict(_snapshot, **overrides)
    new = _types.FunctionType(func.__code__, namespace, func.__name__, func.__defaults__,
                              func.__closure__)
    new.__kwdefaults__ = func.__kwdefaults__
    new.__doc__ = func.__doc__
    new.__qualname__ = func.__qualname__
    return new


class SSLContext(_OrigSSLContext):
    """An ``ssl.SSLContext`` whose ``wrap_socket`` returns the green :class:`SSLSocket`."""

    sslsocket_class = None   # type: ignore[assignment]  # set below, once SSLSocket exists


# Setters that say super(SSLContext, SSLContext): point them at the original class.
for _name, _prop in list(vars(_OrigSSLContext).items()):
    if (isinstance(_prop, property) and _prop.fset is not None
            and 'SSLContext' in _prop.fset.__code__.co_names):
        setattr(SSLContext, _name, property(_prop.fget, _rebind(_prop.fset), _prop.fdel, _prop.__doc__))
del _name, _prop


class SSLSocket(_OrigSSLSocket, _gsocket.socket):
    """``ssl.SSLSocket`` over a green socket: TLS operations park only the greenlet.

    The MRO puts the green socket under the stdlib class, so the stdlib's
    ``super().connect()``, ``super().accept()``, ``super().recv()`` (unwrapped) are
    the cooperative ones. Created by :meth:`SSLContext.wrap_socket`.
    """

    @classmethod
    def _create(cls, sock, server_side=False, do_handshake_on_connect=True,
                suppress_ragged_eofs=True, server_hostname=None, context=None, session=None):
        # The stdlib's _create calls super(SSLSocket, self) by global name, which
        # recurses once ssl.SSLSocket is patched to this class; so build it here.
        if sock.getsockopt(_gsocket.SOL_SOCKET, _gsocket.SO_TYPE) != _gsocket.SOCK_STREAM:
            raise NotImplementedError('only stream sockets are supported')
        if server_side:
            if server_hostname:
                raise ValueError('server_hostname can only be specified in client mode')
            if session is not None:
                raise ValueError('session can only be specified in client mode')
        if context.check_hostname and not server_hostname:
            raise ValueError('check_hostname requires server_hostname')
        timeout = sock.gettimeout()
        family, type_, proto = sock.family, sock.type, sock.proto
        self = cls.__new__(cls)
        # Detach first: a blocking green socket leaves its fd OS-blocking, and
        # adopting it (green socket __init__) makes it non-blocking again.
        _gsocket.socket.__init__(self, family, type_, proto, sock.detach())
        # From here on the fd is ours: any error closes it (as in CPython 3.13;
        # a bad server_hostname used to leak it with a ResourceWarning).
        try:
            self._timeout = timeout
            self._context = context
            self._session = session
            self._closed = False
            self._sslobj = None
            self.server_side = server_side
            self.server_hostname = context._encode_hostname(server_hostname)
            self.do_handshake_on_connect = do_handshake_on_connect
            self.suppress_ragged_eofs = suppress_ragged_eofs
            try:
                self.getpeername()
                connected = True
            except OSError as exc:
                if exc.errno != _errno.ENOTCONN:
                    raise
                connected = False
                # Bytes queued on a not-yet-connected socket must not later pass for
                # TLS-protected data (CPython gh-108310).
                try:
                    early = _realsocket.recv(self, 1)
                except OSError as exc2:
                    if exc2.errno not in (_errno.ENOTCONN, _errno.EINVAL, _errno.EAGAIN):
                        raise
                    early = b''
                if early:
                    reason = 'Closed before TLS handshake with data in recv buffer.'
                    error = _SSLError(_errno.ENOTCONN, reason)
                    error.reason = reason     # the attributes _ssl.c always sets
                    error.library = None
                    try:
                        raise error
                    finally:
                        error = None          # no frame <-> traceback cycle
            self._connected = connected
            if connected:
                self._sslobj = context._wrap_socket(
                    self, server_side, self.server_hostname, owner=self, session=session)
                if do_handshake_on_connect:
                    if timeout == 0.0:
                        raise ValueError('do_handshake_on_connect should not be specified '
                                         'for non-blocking sockets')
                    self.do_handshake()
        except BaseException:
            try:
                self.close()
            except OSError:
                pass
            raise
        return self

    def _ssl_io(self, func, *args):
        # Try the TLS operation; on want-read/want-write park for that event and
        # retry. The timeout covers the whole operation (several round trips).
        try:
            return func(*args)
        except _SSLWantReadError:
            if self._timeout == 0.0:
                raise
            event = READ
        except _SSLWantWriteError:
            if self._timeout == 0.0:
                raise
            event = WRITE
        return retry_io(self.fileno(), event, func, args, self._timeout, wants=_WANTS)

    def do_handshake(self, block=False):
        """Perform the TLS handshake, parking while the peer answers."""
        self._check_connected()
        if block and self._timeout == 0.0:
            saved, self._timeout = self._timeout, None
            try:
                return self._ssl_io(self._sslobj.do_handshake)
            finally:
                self._timeout = saved
        return self._ssl_io(self._sslobj.do_handshake)

    def read(self, len=1024, buffer=None):
        """Read up to ``len`` decrypted bytes (into ``buffer`` if given)."""
        self._checkClosed()
        sslobj = self._sslobj
        if sslobj is None:
            raise ValueError('Read on closed or unwrapped SSL socket.')
        try:
            if buffer is not None:
                return self._ssl_io(sslobj.read, len, buffer)
            return self._ssl_io(sslobj.read, len)
        except _SSLError as exc:
            if exc.args[0] == _SSL_ERROR_EOF and self.suppress_ragged_eofs:
                return 0 if buffer is not None else b''
            raise

    def write(self, data):
        """Encrypt and send ``data``; returns the number of bytes written."""
        self._checkClosed()
        if self._sslobj is None:
            raise ValueError('Write on closed or unwrapped SSL socket.')
        return self._ssl_io(self._sslobj.write, data)

    def send(self, data, flags=0):
        self._checkClosed()
        if self._sslobj is None:
            return _gsocket.socket.send(self, data, flags)
        if flags != 0:
            raise ValueError('non-zero flags not allowed in calls to send() on %s' % self.__class__)
        return self._ssl_io(self._sslobj.write, data)

    def unwrap(self):
        """Shut TLS down (close_notify both ways) and return the plain socket."""
        if not self._sslobj:
            raise ValueError('No SSL wrapper around ' + str(self))
        sock = self._ssl_io(self._sslobj.shutdown)
        self._sslobj = None
        return sock


SSLContext.sslsocket_class = SSLSocket  # type: ignore[assignment]  # (mypy took None above)


def _green_context(ctx):
    # The stdlib factories build an ssl.SSLContext; same layout, so re-class it.
    if type(ctx) is _OrigSSLContext:
        ctx.__class__ = SSLContext
    return ctx


def create_default_context(*args, **kwargs):
    """``ssl.create_default_context`` returning a green :class:`SSLContext`."""
    return _green_context(_std_create_default_context(*args, **kwargs))


def _create_unverified_context(*args, **kwargs):
    return _green_context(_std_create_unverified_context(*args, **kwargs))


_create_default_https_context = create_default_context
_create_stdlib_context = _create_unverified_context

get_server_certificate = _rebind(
    _stdlib_ssl.get_server_certificate, create_connection=_gsocket.create_connection,
    _create_stdlib_context=_create_unverified_context)


def wrap_socket(sock, keyfile=None, certfile=None, server_side=False, cert_reqs=None,
                ssl_version=None, ca_certs=None, do_handshake_on_connect=True,
                suppress_ragged_eofs=True, ciphers=None, server_hostname=None):
    """The old module-level ``ssl.wrap_socket`` (gone from the stdlib in 3.12), green.

    Without ``cert_reqs`` no certificate is verified, as in the old function.
    """
    if server_side and not certfile:
        raise ValueError('certfile must be specified for server-side operations')
    if keyfile and not certfile:
        raise ValueError('certfile must be specified')
    if ssl_version is None:
        ssl_version = _stdlib_ssl.PROTOCOL_TLS_SERVER if server_side else _stdlib_ssl.PROTOCOL_TLS_CLIENT
    context = SSLContext(ssl_version)
    if not server_side:
        context.check_hostname = False
    context.verify_mode = _stdlib_ssl.CERT_NONE if cert_reqs is None else cert_reqs
    if ca_certs:
        context.load_verify_locations(ca_certs)
    if certfile:
        context.load_cert_chain(certfile, keyfile)
    if ciphers:
        context.set_ciphers(ciphers)
    return context.wrap_socket(sock, server_side=server_side,
                               do_handshake_on_connect=do_handshake_on_connect,
                               suppress_ragged_eofs=suppress_ragged_eofs,
                               server_hostname=server_hostname)


__all__ = _stdlib.reexport(_stdlib_ssl, globals(), __implements__)
