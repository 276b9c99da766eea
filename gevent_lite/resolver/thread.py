"""``gevent_lite.resolver.thread.Resolver``: the path gevent users write for the resolver
that runs ``getaddrinfo`` and friends in the hub's thread pool (the default).

It is :class:`gevent_lite.resolver.Resolver` itself; see :mod:`gevent_lite.resolver`.
"""

from . import Resolver

__all__ = ['Resolver']
