"""Timeouts for any block of code: :class:`Timeout` and :func:`with_timeout`.

A started :class:`Timeout` is a hub timer that, when it fires, throws an
exception into the greenlet that started it -- wherever that greenlet is parked.
It works with every blocking call because every blocking call parks on a
:class:`~gevent_lite.hub.Waiter`, which disarms itself when the exception passes
through. Cancelling (leaving the ``with`` block) cancels the timer, so a timeout
never fires into code that has moved on.
"""

from __future__ import annotations

from typing import Any, Callable

from greenlet import getcurrent

from .hub import get_hub, _check_timeout
from .scopes import _deliver, _scope_depth

__all__ = ['Timeout', 'with_timeout']

_NONE = object()


class Timeout(BaseException):
    """Raise an exception in the current greenlet after ``seconds``.

    ``Timeout(seconds=None, exception=None)``: with ``exception=None`` the
    Timeout itself is raised; with ``exception=False`` it is raised too, but a
    ``with`` block swallows it (a silent timeout); any other exception class or
    instance is raised instead. ``seconds=None`` never fires.

    It derives from ``BaseException`` so that ``except Exception`` in the code it
    interrupts does not swallow it.
    """

    def __init__(self, seconds: float | None = None, exception: Any = None, ref: bool = True,
                 priority: int = -1) -> None:
        BaseException.__init__(self)
        self.seconds = _check_timeout(seconds)
        self.exception = exception
        self._ref = ref
        self.timer = None

    # -- starting and stopping --------------------------------------------------------

    def start(self):
        """Start the countdown in the current greenlet. Starting twice is an error."""
        if self.pending:
            raise AssertionError('%r is already started; to restart it, cancel it first' % self)
        if self.seconds is None:
            return   # an infinite timeout: nothing to schedule
        target = getcurrent()
        # The cancel scopes active now are outside this Timeout: a shielded scope
        # entered later holds it back until that scope exits (see scopes).
        self.timer = get_hub().call_later(self.seconds, self._fire, target, _scope_depth(target),
                                          ref=self._ref)

    @classmethod
    def start_new(cls, timeout: float | Timeout | None = None, exception: Any = None,
                  ref: bool = True) -> Timeout:
        """Create and start a Timeout; a Timeout instance passed in is started as is."""
        if isinstance(timeout, Timeout):
            if not timeout.pending:
                timeout.start()
            return timeout
        t = cls(timeout, exception, ref=ref)
        t.start()
        return t

    @staticmethod
    def _start_new_or_dummy(timeout, exception=None):
        if timeout is None:
            return _DUMMY
        return Timeout.start_new(timeout, exception)

    @property
    def pending(self):
        """True while the timer runs."""
        return self.timer is not None and self.timer.pending

    def cancel(self):
        """Stop the countdown. Safe to call any number of times."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    close = cancel

    def _fire(self, target, depth=-1):
        # Runs in the hub. The target is parked (the hub is running), unless it
        # died without cancelling us, in which case there is nobody to interrupt.
        self.timer = None
        if target.dead:
            return
        exc = self.exception
        # (A string is a message: ``Timeout(5, "no reply")`` raises the Timeout
        # saying it, as gevent's does.)
        _deliver(target, self if exc is None or exc is False or isinstance(exc, str) else exc, depth)

    # -- context manager ----------------------------------------------------------------

    def __enter__(self):
        if not self.pending:
            self.start()
        return self

    def __exit__(self, typ, value, tb):
        self.cancel()
        if value is self and self.exception is False:
            return True
        return None

    # -- display ------------------------------------------------------------------------

    def __repr__(self):
        classname = type(self).__name__
        if self.pending:
            pending = ' pending'
        else:
            pending = ''
        if self.exception is None:
            exception = ''
        else:
            exception = ' exception=%r' % (self.exception,)
        return '<%s at 0x%x seconds=%s%s%s>' % (classname, id(self), self.seconds, exception, pending)

    def __str__(self):
        if self.seconds is None:
            return ''
        suffix = '' if self.seconds == 1 else 's'
        if self.exception is None:
            return '%s second%s' % (self.seconds, suffix)
        if self.exception is False:
            return '%s second%s (silent)' % (self.seconds, suffix)
        return '%s second%s: %s' % (self.seconds, suffix, self.exception)

    def __bool__(self):
        # An exception instance is always true, whatever BaseException says.
        return True


class _DummyTimeout:
    """Stands in for ``Timeout(None)`` where allocating one would be waste."""

    pending = False
    seconds = None

    def start(self):
        pass

    def cancel(self):
        pass

    close = cancel

    def __enter__(self):
        return self

    def __exit__(self, *args):
        return None


_DUMMY = _DummyTimeout()


def with_timeout(seconds: float | None, function: Callable[..., Any], *args: Any, **kwds: Any) -> Any:
    """Call ``function(*args, **kwds)`` with a :class:`Timeout` of ``seconds``.

    If it times out, return ``timeout_value`` when that keyword was given,
    else raise the Timeout.
    """
    timeout_value = kwds.pop('timeout_value', _NONE)
    timeout = Timeout.start_new(seconds)
    try:
        return function(*args, **kwds)
    except Timeout as ex:
        if ex is timeout and timeout_value is not _NONE:
            return timeout_value
        raise
    finally:
        timeout.cancel()
