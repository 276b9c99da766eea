"""``contextvars`` for code written against ``gevent.contextvars``: the standard library's own.

gevent ships its own ``gevent.contextvars`` for Pythons before 3.7. On every
Python gevent_lite supports, greenlet gives each greenlet its own context, so
the stdlib module already behaves per greenlet: a value a greenlet sets is
seen only there, and a greenlet spawned by gevent_lite starts with a copy of
its spawner's context (as an asyncio task does). This module re-exports the
stdlib's objects unchanged (``gevent_lite.contextvars.ContextVar is
contextvars.ContextVar``), so ``from gevent.contextvars import ContextVar``
keeps working after :func:`gevent_lite.install_as_gevent`.
"""

from contextvars import Context, ContextVar, Token, copy_context  # noqa: F401 (re-exported)

#: All four are the standard library's own objects.
__imports__ = ['ContextVar', 'Context', 'copy_context', 'Token']
__all__ = list(__imports__)
