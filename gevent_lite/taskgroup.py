"""Structured concurrency for greenlets: :class:`TaskGroup` (a nursery).

``with TaskGroup() as tg: tg.spawn(fn, *args)`` -- leaving the block waits for
every child. The first child that fails kills its siblings and cancels the
block's body (its :class:`~gevent_lite.scopes.CancelScope`), the group waits
until all children have finished (their ``finally`` blocks run), then raises an
``ExceptionGroup`` of the failures. A child killed by the group is not a
failure; an exception in the body cancels the children the same way and is part
of the group.

How it cooperates with the hub: children are ordinary :class:`~gevent_lite.greenlet.Greenlet`\\ s; a
link (run by the hub when a child dies) records the outcome and, when the last
child is gone, wakes the owner, which parks in ``__exit__`` on a
:class:`~gevent_lite.hub.ParkingLot`. Killing uses ``Greenlet.kill`` and
interrupting the body uses a cancel scope: no scheduler of its own.

On Python 3.9 and 3.10 ``ExceptionGroup`` comes from the ``exceptiongroup``
backport (pure Python, what anyio and trio use there), so ``except*`` code on
3.11+ and ``exceptiongroup.catch`` before it see the same classes.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from .greenlet import Greenlet
from .hub import ParkingLot, Waiter, _get_thread_ident, get_hub
from .lock import Semaphore
from .scopes import CancelScope

# What a TaskGroup raises: the built-in exception groups on Python 3.11+, the
# ``exceptiongroup`` backport's before.
if sys.version_info >= (3, 11):
    from builtins import BaseExceptionGroup, ExceptionGroup
else:  # pragma: no cover - exercised by the 3.9 CI run
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup

__all__ = ['TaskGroup', 'TaskStatus', 'BaseExceptionGroup', 'ExceptionGroup']

_NEW, _OPEN, _CLOSING, _CLOSED = 'new', 'open', 'closing', 'closed'
_EXITED = object()


class TaskStatus:
    """Passed as ``task_status`` to a function started with :meth:`TaskGroup.start`."""

    __slots__ = ('_waiter', '_started', '_value')

    def __init__(self, waiter: Waiter) -> None:
        self._waiter = waiter
        self._started = False
        self._value = None

    def started(self, value: Any = None) -> None:
        """Tell the greenlet waiting in ``start()`` that we are ready; it returns ``value``."""
        if self._started:
            raise RuntimeError('task_status.started() was already called')
        self._started = True
        self._value = value
        self._waiter.wake(value)


class _Child(Greenlet):
    """A group's child: its failure goes to the group (raised there), not to stderr."""

    _task_status = None

    def _report_error(self, exc_info):
        if issubclass(exc_info[0], self.hub.SYSTEM_ERROR):
            # SystemExit/KeyboardInterrupt still reach the main greenlet.
            return Greenlet._report_error(self, exc_info)
        self._exc_info = exc_info
        if self._links or self._lot:
            self._notify()         # wake joiners, run links (Linkable)


class TaskGroup:
    """Run greenlets as children of a ``with`` block, which waits for all of them.

    ``TaskGroup(limit=None)``: with ``limit=N`` at most N children run at once
    and :meth:`spawn` waits for a free slot, as ``Pool(N).spawn`` does.
    """

    def __init__(self, limit: int | None = None) -> None:
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int):
                raise TypeError('limit must be a positive int or None, not %r' % (limit,))
            if limit < 1:
                raise ValueError('limit must be at least 1, not %d' % limit)
        self._limit = limit
        self._slots = Semaphore(limit) if limit is not None else None
        self._children: dict[Greenlet, None] = {}     # insertion-ordered set of live children
        self._errors: list[BaseException] = []
        self._scope = CancelScope()
        self._lot = ParkingLot()
        self._state = _NEW
        self._cancelling = False

    def __repr__(self) -> str:
        return '<TaskGroup at 0x%x %s children=%d%s>' % (
            id(self), self._state, len(self._children), ' cancelling' if self._cancelling else '')

    @property
    def cancel_scope(self) -> CancelScope:
        """The scope around the block's body (cancelled when a child fails)."""
        return self._scope

    @property
    def children(self) -> list:
        """The children still running."""
        return list(self._children)

    def cancel(self) -> None:
        """Kill every child and cancel the body; the block then exits without error.

        Callable from another OS thread too (it is then handed to the group's hub).
        """
        hub = self._scope._hub
        if hub is not None and hub.thread_ident != _get_thread_ident():
            hub.run_callback_threadsafe(self._abort)
            return
        self._abort()

    # -- spawning -----------------------------------------------------------------------

    def spawn(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Greenlet:
        """Start ``function(*args, **kwargs)`` in a child greenlet; returns it.

        While the group is being cancelled (a child failed, or :meth:`cancel`),
        the child is killed before it starts, as trio does: a fetch spawning the
        fetches of its links need not know that the crawl is over.
        """
        self._check_open()
        if self._slots is not None and not self._cancelling:
            self._slots.acquire()
            if self._cancelling:
                self._slots.release()
        return self._spawn(function, args, kwargs)

    def _spawn(self, function, args, kwargs, status=None):
        g = _Child(function, *args, **kwargs)
        if self._cancelling:
            g.kill(block=False)      # it never runs; it counts as killed, not failed
            return g
        g._task_status = status
        g.rawlink(self._child_done)
        self._children[g] = None
        g.start()
        return g

    def _check_open(self):
        if self._state is _NEW:
            raise RuntimeError('use the TaskGroup in a with block before spawning into it')
        if self._state is _CLOSED:
            raise RuntimeError('this TaskGroup has finished; it cannot take new children')

    def start(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Start ``function(*args, task_status=..., **kwargs)`` and wait until it is ready.

        Returns the value the child passes to ``task_status.started(value)`` (a
        server reports its bound port this way). If the child fails before
        that, its exception is raised here (not by the group); if it returns
        without calling ``started()``, RuntimeError.
        """
        self._check_open()
        if not self._cancelling and self._slots is not None:
            self._slots.acquire()
            if self._cancelling:
                self._slots.release()
        if self._cancelling:
            raise RuntimeError('this TaskGroup is being cancelled; start() has nothing to wait for')
        waiter = Waiter()
        status = TaskStatus(waiter)

        def exited(child):
            waiter.wake(_EXITED)

        g = self._spawn(function, args, dict(kwargs, task_status=status), status)
        g.rawlink(exited)
        try:
            # Park until started() or the child's death wakes us.
            result = waiter.get()
        except BaseException:
            if not status._started:
                g.kill(block=False)
            raise
        finally:
            g.unlink(exited)
        if result is _EXITED and not status._started:
            exc_info = g.exc_info
            if exc_info is not None:
                raise exc_info[1].with_traceback(exc_info[2])
            raise RuntimeError('%r returned without calling task_status.started()' % (g,))
        return status._value

    # -- children finishing (links, run by the hub) -------------------------------------

    def _child_done(self, child):
        del self._children[child]
        if self._slots is not None:
            self._slots.release()
        exc = child.exception
        status = child._task_status
        if exc is not None and (status is None or status._started):
            # (A child that fails before started() is reported by start().)
            self._errors.append(exc)
            self._abort()
        if not self._children:
            self._lot.unpark_all()

    def _abort(self):
        if self._cancelling:
            return
        self._cancelling = True
        for child in list(self._children):
            child.kill(block=False)
        # Interrupts the body if it is still running (a no-op once it has left).
        self._scope.cancel()

    # -- the block ----------------------------------------------------------------------

    def __enter__(self) -> TaskGroup:
        if self._state is not _NEW:
            raise RuntimeError('a TaskGroup can be used in one with block only')
        self._scope.__enter__()
        self._state = _OPEN
        return self

    def __exit__(self, typ: Any, value: Any, tb: Any) -> bool | None:
        self._state = _CLOSING
        scope = self._scope
        caught = scope.__exit__(typ, value, tb)
        foreign = None
        if value is not None and not caught:
            if isinstance(value, Exception):
                self._errors.insert(0, value)
            else:
                # A kill, an outer scope's cancellation, a Timeout, Ctrl-C: it
                # propagates unchanged once the children are gone.
                foreign = value
            self._abort()
        if self._children:
            try:
                while self._children:
                    self._lot.park()
            except BaseException as e:
                # Killed or cancelled while waiting: cancel the children and wait
                # for their cleanup, which nothing from outside may cut short.
                if foreign is None:
                    foreign = e
                self._abort()
                with CancelScope(shield=True):
                    while self._children:
                        self._lot.park()
        self._state = _CLOSED
        errors = self._errors
        if foreign is not None:
            # The exception that unwinds us wins; the children's failures are
            # reported the way a plain greenlet's are, never dropped.
            for err in errors:
                _report(err)
            if foreign is value:
                return None
            raise foreign
        if errors:
            raise BaseExceptionGroup('%d unhandled exception(s) in a TaskGroup' % len(errors),
                                     errors) from None
        return True if caught else None


def _report(exc):
    get_hub().print_exception('a TaskGroup child', type(exc), exc, exc.__traceback__)
