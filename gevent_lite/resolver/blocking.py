"""``gevent_lite.resolver.blocking.Resolver``: the path gevent users write for the resolver
that calls the C functions directly and blocks the whole thread while it resolves.

It is :class:`gevent_lite.resolver.BlockingResolver`; see :mod:`gevent_lite.resolver`.
"""

from . import BlockingResolver as Resolver

__all__ = ['Resolver']
