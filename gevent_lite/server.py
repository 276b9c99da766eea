"""TCP and UDP servers: :class:`StreamServer` and :class:`DatagramServer`.

A server owns a listening socket and one *accept greenlet*. That greenlet
accepts connections without blocking for as long as the kernel has some (at most
``max_accept`` in a row, then it yields with ``sleep(0)`` so handlers run), and
when ``accept`` says ``EAGAIN`` it parks in ``hub.wait_fd(listener, READ)`` until
the next connection arrives. Every accepted connection gets its own greenlet
running ``handle(socket, address)``, spawned through ``spawn``: a new
:class:`~gevent_lite.greenlet.Greenlet` by default, or a ``Pool`` (an int ``n``
means a pool of ``n``). ``spawn=None`` is gevent's "no greenlet": ``handle`` runs
in the hub itself, right after the accept, and must not block (a blocking call
there raises ``BlockingSwitchOutError``, which the hub prints). When the pool is full the accept greenlet parks until a
slot frees, so at most ``n`` connections are served at once and the rest wait in
the kernel's backlog.

An exception escaping ``handle`` ends that greenlet only: the hub prints it (with
the greenlet's repr) and the server keeps serving. ``EMFILE``/``ENFILE`` from
``accept`` (out of file descriptors) make the accept greenlet sleep a little,
longer each time, instead of spinning on a listener that stays readable.
Accepted TCP sockets get ``TCP_NODELAY``: Nagle's algorithm and the client's
delayed ACK would otherwise stall small request/response exchanges.

``stop(timeout)`` is graceful: stop accepting, give running handlers up to
``timeout`` seconds to finish, then kill the rest.
"""

import errno
import sys
from typing import Any, Callable, Optional

import _socket

from . import socket as _gsocket
from .event import Event
from .greenlet import Greenlet, joinall, killall
from .hub import get_hub, getcurrent, sleep, READ
from .pool import Pool

__all__ = ['StreamServer', 'DatagramServer', 'BaseServer']

#: accept() errors that mean "out of descriptors/memory for now": back off, retry later.
_BACKOFF_ERRNOS = frozenset(e for e in (
    getattr(errno, 'EMFILE', None), getattr(errno, 'ENFILE', None),
    getattr(errno, 'ENOBUFS', None), getattr(errno, 'ENOMEM', None)) if e is not None)
#: accept() errors about one aborted connection: just try the next one.
_TRANSIENT_ERRNOS = frozenset(e for e in (
    getattr(errno, 'ECONNABORTED', None), getattr(errno, 'EPROTO', None),
    getattr(errno, 'EPERM', None), getattr(errno, 'EINTR', None),
    getattr(errno, 'ENETDOWN', None), getattr(errno, 'ENOPROTOOPT', None),
    getattr(errno, 'EHOSTDOWN', None), getattr(errno, 'ENONET', None),
    getattr(errno, 'EHOSTUNREACH', None), getattr(errno, 'EOPNOTSUPP', None),
    getattr(errno, 'ENETUNREACH', None)) if e is not None)

_raw_accept = _socket.socket._accept  # type: ignore[attr-defined]  # (private)
_raw_setsockopt = _socket.socket.setsockopt
_IPPROTO_TCP = _socket.IPPROTO_TCP
_TCP_NODELAY = _socket.TCP_NODELAY
_SOCK_STREAM = _socket.SOCK_STREAM
_AF_UNIX = getattr(_socket, 'AF_UNIX', None)


def parse_address(address):
    """Turn ``('host', port)``, ``'host:port'``, ``':port'``, ``'[v6]:port'`` or
    ``port`` into ``(family, sockaddr)``."""
    if isinstance(address, tuple):
        if len(address) == 4 or ':' in str(address[0]):
            return _socket.AF_INET6, address
        return _socket.AF_INET, (address[0], _port(address[1], address))
    if isinstance(address, int) and not isinstance(address, bool):
        return _socket.AF_INET, ('', _port(address, address))
    if isinstance(address, bytes):
        address = address.decode('ascii')
    if not isinstance(address, str):
        raise TypeError('Expected tuple, "host:port" string or int, got %r' % (address,))
    host, sep, port = address.rpartition(':')
    if not sep:
        host, port = '', address
    if host.startswith('[') and host.endswith(']'):
        return _socket.AF_INET6, (host[1:-1], _port(port, address))
    if ':' in host:
        return _socket.AF_INET6, (host, _port(port, address))
    return _socket.AF_INET, (host, _port(port, address))


def _port(port, address):
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise ValueError('failed to parse port in address %r' % (address,)) from None
    if not 0 <= port <= 65535:
        raise ValueError('port out of range in address %r' % (address,))
    return port


class BaseServer:
    """What StreamServer and DatagramServer share: address, spawn policy, lifetime."""

    _sock_type: int         # SOCK_STREAM or SOCK_DGRAM, set by the subclass

    #: Seconds ``stop()`` waits for handlers when called without a timeout.
    stop_timeout = 1.0
    #: Connections/datagrams taken per readiness event before yielding to handlers.
    max_accept = 100
    #: Backoff (seconds) after EMFILE/ENFILE: first sleep and upper bound.
    min_delay = 0.01
    max_delay = 1.0
    #: Set SO_REUSEADDR on listeners we create (as gevent does on POSIX).
    reuse_addr = 1
    family = _socket.AF_INET
    #: errno values of a read error after which the server closes (gevent's attribute).
    fatal_errors = (errno.EBADF, errno.EINVAL, errno.ENOTSOCK)

    def __init__(self, listener, handle: Optional[Callable] = None, spawn: Any = 'default'):
        self._stop_event_greenlets: set[Any] = set()    # handler greenlets we must join/kill on stop
        self._accept_greenlet: Greenlet | None = None
        self._started = False
        self._stopped = False
        self._changed = Event()     # pulsed by start_accepting, set by close (serve_forever)
        self.socket = None
        self.delay = self.min_delay
        self.pool = None
        self.set_listener(listener)
        self.set_handle(handle)
        self.set_spawn(spawn)

    def set_listener(self, listener: Any) -> None:
        """What to listen on: an address (``('host', port)``, ``'host:port'``, ``':port'``)
        or a socket already bound (and, for a stream server, listening)."""
        if hasattr(listener, 'fileno') and hasattr(listener, 'getsockname'):
            if listener.type != self._sock_type:
                raise TypeError('%s needs a %s socket, got %r' % (
                    type(self).__name__, 'stream' if self._sock_type == _SOCK_STREAM else 'datagram',
                    listener))
            self.socket = listener
            self.family = listener.family
            self.address = listener.getsockname()
        else:
            self.family, self.address = parse_address(listener)

    # -- configuration --------------------------------------------------------------------

    def set_handle(self, handle):
        if handle is not None:
            self.handle = handle
        if not callable(getattr(self, 'handle', None)):
            raise TypeError("'handle' must be provided (an argument or a subclass method)")

    def set_spawn(self, spawn):
        if spawn == 'default':
            self.pool = None
            self._spawn = self._spawn_greenlet
        elif spawn is None:
            self.pool = None
            self._spawn = self._spawn_in_hub
        elif isinstance(spawn, int) and not isinstance(spawn, bool):
            if spawn < 1:
                raise ValueError('spawn pool size must be >= 1, got %r' % (spawn,))
            self.pool = Pool(spawn)
            self._spawn = self._spawn_pool
        elif hasattr(spawn, 'spawn'):
            self.pool = spawn
            self._spawn = self._spawn_pool
        elif callable(spawn):
            self.pool = None
            self._custom_spawn = spawn
            self._spawn = self._spawn_custom
        else:
            raise TypeError('spawn must be "default", None, an int, a Pool or a callable, not %r'
                            % (spawn,))

    def _spawn_greenlet(self, func, *args):
        g = Greenlet(func, *args)
        self._track(g)
        g.start()
        return g

    def _spawn_in_hub(self, func, *args):
        # gevent's spawn=None: no greenlet per item; the handler runs in the hub
        # itself (a callback), so it must not block: a blocking call raises
        # BlockingSwitchOutError there, which the hub reports.
        get_hub().run_callback(func, *args)

    def _spawn_pool(self, func, *args):
        g = self.pool.spawn(func, *args)
        self._track(g)
        return g

    def _spawn_custom(self, func, *args):
        g = self._custom_spawn(func, *args)
        if hasattr(g, 'rawlink'):
            self._track(g)
        return g

    def _track(self, g):
        handlers = self._stop_event_greenlets
        handlers.add(g)
        g.rawlink(handlers.discard)

    def full(self):
        pool = self.pool
        return pool is not None and pool.full()

    # -- addresses --------------------------------------------------------------------------

    @property
    def server_host(self):
        addr = self.address
        return addr[0] if isinstance(addr, tuple) else None

    @property
    def server_port(self):
        addr = self.address
        return addr[1] if isinstance(addr, tuple) else None

    def _formatinfo(self):
        return 'address=%s' % (self._format_address(),)

    def _format_address(self):
        addr = self.address
        if isinstance(addr, tuple) and len(addr) >= 2:
            host = addr[0]
            if ':' in str(host):
                host = '[%s]' % host
            return '%s:%s' % (host, addr[1])
        return repr(addr)

    def __repr__(self):
        state = 'closed' if self.closed else ('started' if self.started else 'not started')
        info = self._formatinfo()
        handle = self.__dict__.get('handle')
        if handle is not None:
            # gevent shows the handler; a bound method of ours is named, not
            # repr'd (its repr would contain this one).
            if getattr(handle, '__self__', None) is self:
                info += ' handle=<bound method %s.%s of self>' % (type(self).__name__, handle.__name__)
            else:
                info += ' handle=%r' % (handle,)
        return '<%s at 0x%x %s %s>' % (type(self).__name__, id(self), info, state)

    # -- lifetime -------------------------------------------------------------------------------

    @property
    def started(self):
        """True from :meth:`start` until :meth:`stop`/:meth:`close` (also while not accepting)."""
        return self._started and not self._stopped

    @property
    def closed(self):
        return self._stopped or (self.socket is not None and self.socket.fileno() < 0)

    def pre_start(self):
        """Create and bind the socket if we were given an address (called by start)."""
        if self.socket is None:
            self.socket = self.init_socket()
        elif not isinstance(self.socket, _gsocket.socket):
            # Somebody else's socket: take over its fd as a green socket.
            self.socket = _gsocket._green(self.socket)
        self.address = self.socket.getsockname()

    def __enter__(self):
        """``with server:`` stops it (closing the socket) on the way out, as gevent's does."""
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def start(self):
        """Bind (if needed) and start serving in the background; returns at once."""
        if self.started:
            return
        if self._stopped:
            raise RuntimeError('%r was stopped; create a new server' % (self,))
        self.pre_start()
        self._started = True
        self.start_accepting()

    def start_accepting(self) -> None:
        """(Re)start taking connections: the serving greenlet runs until
        :meth:`stop_accepting`, :meth:`close` or :meth:`stop`."""
        if self._stopped or (self._accept_greenlet is not None and not self._accept_greenlet.dead):
            return
        self._accept_greenlet = Greenlet(self._serve_loop)
        self._accept_greenlet.name = '%s accept loop' % type(self).__name__
        self._accept_greenlet.start()
        self._changed.set()        # (wakes serve_forever parked while we did not accept)
        self._changed.clear()

    def stop_accepting(self) -> None:
        """Stop taking connections; the socket stays open (and the OS keeps queueing
        connections in its backlog) until :meth:`start_accepting` or :meth:`close`."""
        g = self._accept_greenlet
        self._accept_greenlet = None
        if g is not None and not g.dead and g is not getcurrent():
            g.kill(block=False)

    def do_handle(self, *args: Any) -> None:
        """Spawn the handler for one item that ``do_read()`` returned."""
        self._spawn(self._handler(), *args)

    def do_close(self, *args: Any) -> None:
        """Release one item ``do_read()`` returned when its handler could not be
        spawned (StreamServer closes the socket)."""

    def is_fatal_error(self, ex: BaseException) -> bool:
        """True if a read error means the listening socket is unusable (``fatal_errors``)."""
        return isinstance(ex, OSError) and ex.errno in self.fatal_errors

    def serve_forever(self, stop_timeout=None):
        """Start (if needed) and park until the server is stopped; then stop gracefully."""
        if stop_timeout is not None:
            self.stop_timeout = stop_timeout
        if not self.started:
            self.start()
        try:
            while not self._stopped:
                # Parks until stop()/close(); stop_accepting() ends one serving
                # greenlet and start_accepting() makes another (and wakes us).
                g = self._accept_greenlet
                if g is None:
                    self._changed.wait()
                    continue
                g.join()
                if g is self._accept_greenlet:
                    break          # the serving greenlet ended on its own (error, socket gone)
        finally:
            self.stop(timeout=stop_timeout)

    def close(self):
        """Stop accepting and close the listening socket (handlers keep running)."""
        self._stopped = True
        self._changed.set()
        g = self._accept_greenlet
        if g is not None and not g.dead and g is not getcurrent():
            g.kill(block=False)
        sock = self.socket
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def stop(self, timeout=None):
        """Close the listener, wait up to ``timeout`` (default ``stop_timeout``) for
        handlers to finish, then kill the ones still running."""
        self.close()
        if timeout is None:
            timeout = self.stop_timeout
        self._before_join()
        handlers = list(self._stop_event_greenlets)
        if handlers:
            joinall(handlers, timeout=timeout)
            alive = [g for g in handlers if not g.dead]
            if alive:
                killall(alive, block=True, timeout=1)

    def _before_join(self):
        """Hook: let idle handlers finish early (pywsgi closes idle keep-alive connections)."""

    def _handler(self):  # pragma: no cover - both server kinds override it
        """What the serving loop spawns for each item ``do_read()`` returns."""
        raise NotImplementedError

    def _ignore_read_error(self, exc: OSError) -> bool:
        """Hook: True if ``do_read`` failing with ``exc`` only concerns one item (serve on)."""
        return False

    def _serve_loop(self):
        # The serving greenlet of both kinds of server: take what is pending
        # without parking (do_read returns None when nothing is), at most
        # max_accept in a row, a handler greenlet for each; then park on the
        # socket until more arrives (hub.wait_fd: the registration is kept), or
        # on the pool while it is full.
        wait_fd = get_hub().wait_fd
        fd = self.socket.fileno()
        do_read = self.do_read
        do_handle = self.do_handle
        pool = self.pool
        max_accept = self.max_accept
        me = getcurrent()
        while not self._stopped and self._accept_greenlet is me:
            if pool is not None and pool.full():
                pool.wait_available()
                continue
            n = 0
            try:
                while n < max_accept:
                    args = do_read()
                    if args is None:
                        break
                    n += 1
                    self.delay = self.min_delay
                    try:
                        do_handle(*args)
                    except Exception:
                        # The handler could not be spawned (a custom spawn or
                        # do_handle failed): report it to the hub as gevent does,
                        # release the item, back off, and serve on.
                        get_hub().handle_error((args[1:], self), *sys.exc_info())
                        self.do_close(*args)
                        sleep(self.delay)
                        self.delay = min(self.max_delay, self.delay * 2)
                        break
                    if pool is not None and pool.full():
                        break
            except OSError as exc:
                if self._stopped:
                    return
                if self.is_fatal_error(exc):
                    if exc.errno != errno.EBADF:
                        get_hub().handle_error(self, *sys.exc_info())
                        sys.stderr.write('ERROR: %s failed with %s\n' % (self, exc))
                    self.close()
                    return
                if exc.errno in _BACKOFF_ERRNOS:
                    # Out of fds: the socket stays readable, so waiting on it would
                    # spin. Sleep, longer each time, until handlers free some.
                    if self.delay == self.min_delay:
                        sys.stderr.write('%r: out of resources (%s); backing off\n' % (self, exc))
                    sleep(self.delay)
                    self.delay = min(self.max_delay, self.delay * 2)
                    continue
                if self._ignore_read_error(exc):
                    continue
                raise
            if n == 0:
                try:
                    wait_fd(fd, READ)          # park until something arrives
                except OSError:
                    if self._stopped:
                        return
                    raise
            elif n >= max_accept:
                sleep(0)                      # let the handlers we spawned run


class StreamServer(BaseServer):
    """A TCP (or UNIX stream) server: ``handle(socket, address)`` per connection.

    ``listener`` is an address (``('127.0.0.1', 0)``, ``'host:port'``, ``':port'``)
    or a listening socket. ``ssl_context`` or ``keyfile``/``certfile`` wrap each
    accepted connection in TLS through ``gevent_lite.ssl``.
    """

    backlog = 256
    _sock_type = _SOCK_STREAM

    def __init__(self, listener, handle: Optional[Callable] = None, spawn: Any = 'default',
                 backlog: Optional[int] = None, ssl_context=None, **ssl_args):
        BaseServer.__init__(self, listener, handle=handle, spawn=spawn)
        if backlog is not None:
            if hasattr(listener, 'accept'):
                raise TypeError('backlog must be None when a socket instance is passed')
            self.backlog = backlog
        self.ssl_context = ssl_context
        self.ssl_args = ssl_args
        if ssl_context is not None or ssl_args:
            try:
                from . import ssl as _gssl
            except ImportError:     # a Python built without OpenSSL has no ssl module
                raise NotImplementedError('TLS needs the ssl module, which this Python lacks') from None
            if ssl_context is None:
                ctx = _gssl.SSLContext(_gssl.PROTOCOL_TLS_SERVER)  # type: ignore[attr-defined]
                ctx.load_cert_chain(ssl_args.get('certfile'), ssl_args.get('keyfile'))  # type: ignore[arg-type]
                self.ssl_context = ctx

    @property
    def ssl_enabled(self):
        return self.ssl_context is not None

    def init_socket(self):
        """Create, bind and listen on a green socket for ``self.address``."""
        return self.get_listener(self.address, self.backlog, self.family)

    def do_read(self):
        """Accept one connection without parking: ``(socket, address)`` or None (EAGAIN)."""
        try:
            fd, address = _raw_accept(self.socket)
        except BlockingIOError:
            return None
        sock = _gsocket.socket(self.family, _SOCK_STREAM, 0, fileno=fd)
        sock._timeout = None
        if self.family != _AF_UNIX:
            try:
                _raw_setsockopt(sock, _IPPROTO_TCP, _TCP_NODELAY, 1)
            except OSError:
                pass
        return sock, address

    def wrap_socket(self, sock):
        return self.ssl_context.wrap_socket(sock, server_side=True)

    def wrap_socket_and_handle(self, client_socket: Any, address: Any) -> Any:
        """gevent's TLS path: wrap ``client_socket``, call ``handle`` with it, close it."""
        sock = self.wrap_socket(client_socket)
        try:
            return self.handle(sock, address)
        finally:
            sock.close()

    def do_close(self, sock: Any, *args: Any) -> None:
        sock.close()

    @classmethod
    def get_listener(cls, address: Any, backlog: Optional[int] = None, family: Optional[int] = None) -> Any:
        """A green socket bound to ``address`` and listening (what :meth:`~BaseServer.start` makes)."""
        fam, addr = parse_address(address)
        sock = _gsocket.socket(family or fam, _SOCK_STREAM)
        try:
            if cls.reuse_addr and sys.platform != 'win32':
                sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            sock.bind(addr)
            sock.listen(cls.backlog if backlog is None else backlog)
        except BaseException:
            sock.close()
            raise
        return sock

    def _handle_and_close(self, sock, address):
        # The connection's greenlet: run the handler, then close the socket (as
        # gevent does), so a handler that just returns never leaks the fd.
        try:
            if self.ssl_context is not None:
                try:
                    sock = self.wrap_socket(sock)
                except OSError:
                    return       # failed handshake: nothing to serve
            return self.handle(sock, address)
        finally:
            sock.close()

    def _handler(self):
        return self._handle_and_close

    def _ignore_read_error(self, exc):
        # accept() errors about one aborted connection: take the next one.
        return exc.errno in _TRANSIENT_ERRNOS


class DatagramServer(BaseServer):
    """A UDP server: ``handle(data, address)`` runs in a greenlet per datagram."""

    _sock_type = _socket.SOCK_DGRAM
    reuse_addr = 1
    max_datagram = 65536

    def init_socket(self):
        return self.get_listener(self.address, self.family)

    @classmethod
    def get_listener(cls, address: Any, family: Optional[int] = None) -> Any:
        """A green datagram socket bound to ``address`` (what :meth:`~BaseServer.start` makes)."""
        fam, addr = parse_address(address)
        sock = _gsocket.socket(family or fam, _socket.SOCK_DGRAM)
        try:
            if cls.reuse_addr and sys.platform != 'win32':
                sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            sock.bind(addr)
        except BaseException:
            sock.close()
            raise
        return sock

    def do_read(self):
        """Read one datagram without parking: ``(data, address)`` or None."""
        try:
            return _socket.socket.recvfrom(self.socket, self.max_datagram)
        except BlockingIOError:
            return None

    def sendto(self, data, address):
        """Send ``data`` to ``address`` from the server's socket."""
        return self.socket.sendto(data, address)

    def _handler(self):
        return self.handle

    def _ignore_read_error(self, exc):
        # ICMP errors (ECONNREFUSED from an earlier sendto) etc.: keep serving.
        return True
