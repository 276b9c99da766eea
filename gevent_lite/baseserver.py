"""gevent's ``gevent.baseserver`` name for :class:`gevent_lite.server.BaseServer`.

The server classes live in :mod:`gevent_lite.server`; this module only gives the
base class the import path gevent programs (and their subclasses) use.
"""

from .server import BaseServer  # noqa: F401 (re-exported)

__all__ = ['BaseServer']
