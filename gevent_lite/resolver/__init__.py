"""Name resolution that does not block the hub: :class:`Resolver`, :class:`BlockingResolver`.

Public names: :class:`Resolver` (a.k.a. ``ThreadResolver``), :class:`BlockingResolver`,
:func:`get_resolver`, :func:`set_resolver`.

How it cooperates with the hub
------------------------------
The C library's resolver (``getaddrinfo`` and friends) blocks its calling
thread and cannot be driven by an event loop. :class:`Resolver` therefore runs
each lookup in the hub's thread pool (``get_hub().threadpool``, real OS
threads) and parks the calling greenlet on the returned
:class:`~gevent_lite.event.AsyncResult`; the hub runs other greenlets until the
answer arrives. Numeric addresses (``'127.0.0.1'``, ``'::1'``, ``None``) need no
lookup and are answered directly, without a thread hop.

Results and errors are exactly the stdlib's: the same tuples (with
``AddressFamily``/``SocketKind`` enums) and ``socket.gaierror``/``socket.herror``.
The lookups call the ``_socket`` C functions, which monkey-patching never
replaces, so a patched ``socket.getaddrinfo`` that delegates here cannot recurse.

One resolver per hub (``hub.resolver``), so a forked child, which gets a fresh
hub, also gets a fresh resolver and thread pool. ``config.resolver`` chooses
the kind a hub gets: ``thread`` (default) or ``block``; set it in the program
or with ``GEVENT_LITE_RESOLVER`` (or gevent's ``GEVENT_RESOLVER``). A value
naming neither raises :class:`ValueError` from :mod:`gevent_lite.config`, naming
the variable, when the first lookup needs a resolver.
"""

import _socket

# Imported now, in the hub's thread: getaddrinfo() of a non-ASCII-clean name
# imports this codec lazily, and an import inside a pool thread after
# monkey-patching takes importlib's (then green) module lock in a thread that
# has no running hub.
import encodings.idna  # noqa: F401
import socket as _stdsocket

from .. import threadpool as _threadpool  # noqa: F401 -- registers hub.threadpool
from ..config import config
from ..hub import get_hub
from ..socket import _is_numeric

__all__ = ['BlockingResolver', 'Resolver', 'ThreadResolver', 'get_resolver', 'set_resolver']
#: All of them gevent_lite's own (there is no stdlib ``resolver``).
__extensions__ = list(__all__)

_AddressFamily = _stdsocket.AddressFamily
_SocketKind = _stdsocket.SocketKind


def _enum(value, enum_class):
    try:
        return enum_class(value)
    except ValueError:
        return value


def _getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    """The stdlib's ``socket.getaddrinfo``, built on ``_socket`` so patching cannot touch it."""
    return [(_enum(af, _AddressFamily), _enum(socktype, _SocketKind), proto_, canon, sa)
            for af, socktype, proto_, canon, sa
            in _socket.getaddrinfo(host, port, family, type, proto, flags)]


def _is_numeric_host(host):
    """True when ``host`` needs no lookup: None, or a literal IPv4/IPv6 address
    (``str``, or ASCII ``bytes``)."""
    if host is None:
        return True
    if isinstance(host, bytes):
        try:
            host = host.decode('ascii')
        except UnicodeDecodeError:
            return False
    return _is_numeric(host)


def _is_numeric_port(port):
    if port is None or isinstance(port, int):
        return True
    if isinstance(port, bytes):
        port = port.decode('ascii', 'replace')
    return isinstance(port, str) and port.isdigit()


class BlockingResolver:
    """Calls the stdlib resolver directly, blocking the hub while it waits.

    Useful where a thread pool is unwanted or the lookups are known to be local.
    """

    def __init__(self, hub=None):
        self.hub = hub

    def close(self):
        pass

    getaddrinfo = staticmethod(_getaddrinfo)
    gethostbyname = staticmethod(_socket.gethostbyname)
    gethostbyname_ex = staticmethod(_socket.gethostbyname_ex)
    gethostbyaddr = staticmethod(_socket.gethostbyaddr)
    getnameinfo = staticmethod(_socket.getnameinfo)


class Resolver:
    """Runs each lookup in the hub's thread pool; the calling greenlet parks meanwhile."""

    def __init__(self, hub=None):
        self.hub = hub if hub is not None else get_hub()

    def __repr__(self):
        return '<%s at 0x%x hub=%r>' % (type(self).__name__, id(self), self.hub)

    def close(self):
        pass

    def _in_thread(self, func, *args):
        # Parks the current greenlet on the pool's AsyncResult until a worker
        # thread has the answer; exceptions (gaierror, herror) are re-raised here.
        return self.hub.threadpool.spawn(func, *args).get()

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if _is_numeric_host(host) and _is_numeric_port(port):
            return _getaddrinfo(host, port, family, type, proto, flags)
        return self._in_thread(_getaddrinfo, host, port, family, type, proto, flags)

    def gethostbyname(self, hostname):
        if isinstance(hostname, str) and ':' not in hostname and _is_numeric(hostname):
            return _socket.gethostbyname(hostname)
        return self._in_thread(_socket.gethostbyname, hostname)

    def gethostbyname_ex(self, hostname):
        return self._in_thread(_socket.gethostbyname_ex, hostname)

    def gethostbyaddr(self, ip_address):
        # Even a numeric address needs a (reverse) lookup here.
        return self._in_thread(_socket.gethostbyaddr, ip_address)

    def getnameinfo(self, sockaddr, flags):
        numeric = _socket.NI_NUMERICHOST | _socket.NI_NUMERICSERV
        if (flags & numeric) == numeric and isinstance(sockaddr, tuple) and sockaddr \
                and _is_numeric_host(sockaddr[0]):
            return _socket.getnameinfo(sockaddr, flags)
        return self._in_thread(_socket.getnameinfo, sockaddr, flags)


ThreadResolver = Resolver

_KINDS = {'thread': Resolver, 'block': BlockingResolver}


def _resolver_class():
    # config is the one place settings are read: GEVENT_LITE_RESOLVER, then gevent's
    # GEVENT_RESOLVER (a preference list such as 'ares,thread' picks the first kind we
    # have); a value naming no kind of ours raises config's ValueError naming the variable.
    return _KINDS[config.resolver]


def get_resolver():
    """The current hub's resolver (created on first use; stored as ``hub.resolver``)."""
    hub = get_hub()
    resolver = hub.resolver
    if resolver is None:
        resolver = hub.resolver = _resolver_class()(hub)
    return resolver


def set_resolver(resolver):
    """Make ``resolver`` the current hub's resolver."""
    get_hub().resolver = resolver
