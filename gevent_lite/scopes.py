"""Cancel scopes: :class:`CancelScope`, :func:`move_on_after`, :func:`fail_after`,
:func:`move_on_at`, :func:`fail_at`, and the :class:`Cancelled` exception.

A cancel scope is a ``with`` block that can be cancelled -- by calling
:meth:`CancelScope.cancel` or by reaching its deadline. Cancelling throws
:class:`Cancelled` into the greenlet that entered the scope, wherever it is
parked, and the scope's ``with`` catches it (only its own: a cancellation of an
outer scope passes through inner ones). The greenlet then goes on after the
block, with ``scope.cancelled_caught`` true.

How it cooperates with the hub: a scope's deadline is a hub timer (so it reads
the hub's clock, virtual or not); delivering a cancellation is a hub callback
that throws into the parked greenlet, exactly as ``Greenlet.kill`` and
``Timeout`` do. Delivery is edge-triggered, like gevent's kill: the exception is
thrown once, at the greenlet's current (or next) blocking call; a cleanup
``finally`` may block afterwards. A greenlet cancelled while it is running
(``scope.cancel()`` from inside the block) gets the exception at its next
blocking call, or not at all if it leaves the block first.

A *shielded* scope (``shield=True``) defers everything thrown in from outside
it -- kills, outer scopes' cancellations, ``Timeout``\\ s started before it --
until the shielded block exits, and then raises it there. Its own deadline and
``cancel()`` still apply. Each greenlet's stack of active scopes is kept on the
greenlet itself (``_gl_scopes``), where ``Greenlet.kill`` and ``Timeout`` look
for a shield through :func:`_deliver`.
"""

from __future__ import annotations

import math
from typing import Any

from greenlet import getcurrent

from .hub import _get_thread_ident, get_hub, now

__all__ = ['CancelScope', 'Cancelled', 'move_on_after', 'move_on_at', 'fail_after', 'fail_at']


class Cancelled(BaseException):
    """Thrown into a greenlet whose :class:`CancelScope` was cancelled.

    The scope's ``with`` block catches it; code inside should let it pass (it
    derives from ``BaseException`` so ``except Exception`` does). ``scope`` is
    the scope being cancelled.
    """

    def __init__(self, scope: CancelScope) -> None:
        BaseException.__init__(self, 'cancelled by %r' % (scope,))
        self.scope = scope


class CancelScope:
    """A block of code that can be cancelled, by :meth:`cancel` or at a deadline.

    ``CancelScope(deadline=math.inf, shield=False)``; ``deadline`` is absolute
    hub time (:func:`gevent_lite.hub.now`) and may be changed while the block
    runs. A scope is entered once, by one greenlet; use it in a ``with``.
    """

    __slots__ = ('_deadline', '_shield', '_owner', '_hub', '_index', '_active', '_timer',
                 '_cancel_called', '_delivered', '_deferred', '_expired', '_fail',
                 'cancelled_caught')

    def __init__(self, deadline: float | None = None, shield: bool = False) -> None:
        self._deadline = _deadline_value(deadline)
        self._shield = bool(shield)
        self._owner: Any = None        # the greenlet that entered the scope
        self._hub: Any = None
        self._index = -1               # our place in the owner's scope stack
        self._active = False
        self._timer: Any = None
        self._cancel_called = False
        self._delivered = False
        self._deferred: list[tuple[Any, int]] = []   # (exception, depth) a shield holds back
        self._expired = False
        self._fail = False
        #: True once the block was left because this scope's cancellation was caught.
        self.cancelled_caught = False

    def __repr__(self) -> str:
        state = 'active' if self._active else ('done' if self._owner is not None else 'new')
        extra = ''
        if self._deadline != math.inf:
            extra += ' deadline=%.3f' % self._deadline
        if self._shield:
            extra += ' shield'
        if self._cancel_called:
            extra += ' cancelled'
        return '<CancelScope at 0x%x %s%s>' % (id(self), state, extra)

    # -- properties ---------------------------------------------------------------------

    @property
    def deadline(self) -> float:
        """Absolute hub time at which the scope cancels itself (``math.inf``: never)."""
        return self._deadline

    @deadline.setter
    def deadline(self, value: float | None) -> None:
        self._deadline = _deadline_value(value)
        if self._active and not self._cancel_called:
            self._arm()

    @property
    def shield(self) -> bool:
        """While true, kills and outer cancellations wait until the block exits."""
        return self._shield

    @shield.setter
    def shield(self, value: bool) -> None:
        self._shield = bool(value)
        if not self._shield and self._active and self._deferred:
            # Unshielded while inside: deliver what was held back (or hand it to
            # an outer shield), from the hub, at the owner's next blocking call.
            deferred, self._deferred = self._deferred, []
            for exc, depth in deferred:
                self._hub.run_callback(_deliver, self._owner, exc, depth)

    @property
    def cancel_called(self) -> bool:
        """True once :meth:`cancel` was called or the deadline passed."""
        return self._cancel_called

    # -- cancelling ---------------------------------------------------------------------

    def cancel(self) -> None:
        """Cancel the scope: its greenlet gets :class:`Cancelled` at its blocking call.

        Idempotent; call it from any greenlet of the scope's thread, from the
        hub (a timer), or from another OS thread (it is then handed to the
        scope's hub). Cancelling a scope that was not entered yet makes it
        cancel itself as soon as it is entered.
        """
        if self._cancel_called:
            return
        hub = self._hub
        if hub is not None and hub.thread_ident != _get_thread_ident():
            # Another OS thread: hub state is touched only in the hub's thread.
            hub.run_callback_threadsafe(self.cancel)
            return
        self._cancel_called = True
        self._disarm()
        if self._active:
            # Always through the hub: if the owner is the caller, the throw lands
            # at its next blocking call (or never, if it leaves the block first).
            self._hub.run_callback(self._deliver_cancel)

    def _expire(self):
        # The deadline timer, run by the hub.
        self._timer = None
        self._expired = True
        self.cancel()

    def _deliver_cancel(self):
        if not self._active or self._delivered:
            return
        self._delivered = True
        _deliver(self._owner, Cancelled(self), self._index)

    def _disarm(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self):
        self._disarm()
        deadline = self._deadline
        if deadline != math.inf:
            hub = self._hub
            self._timer = hub.call_later(max(0.0, deadline - hub._clock()), self._expire)

    # -- the block ----------------------------------------------------------------------

    def __enter__(self) -> CancelScope:
        if self._owner is not None:
            raise RuntimeError('%r was already entered; a cancel scope is used once' % (self,))
        hub = get_hub()
        current = getcurrent()
        if current is hub:
            raise RuntimeError('a cancel scope cannot be entered in the hub (a callback)')
        stack = _scopes_of(current)
        self._owner = current
        self._hub = hub
        self._index = len(stack)
        stack.append(self)
        self._active = True
        if self._cancel_called:
            hub.run_callback(self._deliver_cancel)
        else:
            self._arm()
        return self

    def __exit__(self, typ: Any, value: Any, tb: Any) -> bool | None:
        if not self._active:
            raise RuntimeError('%r exited without being entered' % (self,))
        self._active = False
        self._disarm()
        stack = self._owner._gl_scopes
        if len(stack) <= self._index or stack[self._index] is not self:
            raise RuntimeError('cancel scopes exited out of order (%r)' % (self,))
        del stack[self._index:]
        caught = isinstance(value, Cancelled) and value.scope is self
        if caught:
            self.cancelled_caught = True
        if self._deferred:
            # What the shield held back is delivered now (raised here), unless an
            # outer shield still holds it back.
            deferred, self._deferred = self._deferred, []
            pending = _forward_to_shields(stack, deferred)
            if pending:
                raise _most_serious(pending)
        if caught:
            if self._fail and self._expired:
                raise TimeoutError('the deadline of %r passed' % (self,)) from None
            return True
        return None


def _scopes_of(g):
    try:
        return g._gl_scopes
    except AttributeError:
        stack = g._gl_scopes = []
        return stack


def _deliver(target: Any, exc: Any, depth: int) -> None:
    """Throw ``exc`` into the parked greenlet ``target`` (from the hub).

    ``depth`` is the index, in the target's scope stack, of the scope the
    exception belongs to (-1: it comes from outside every scope, like a kill).
    A shielded scope deeper than that holds it back until the shield exits.
    """
    if target.dead:
        return
    stack = getattr(target, '_gl_scopes', None)
    if stack and _hold_in_shield(stack, exc, depth):
        return
    target.throw(exc)


def _hold_in_shield(stack: list, exc: Any, depth: int) -> bool:
    """Defer ``exc`` in the innermost shielded scope of ``stack`` deeper than
    ``depth``; False if there is none (nothing holds it back)."""
    for i in range(len(stack) - 1, depth, -1):
        scope = stack[i]
        if scope._shield:
            scope._deferred.append((exc, depth))
            return True
    return False


def _scope_depth(g: Any) -> int:
    """Index of the innermost active scope of ``g`` (-1 if none), for Timeout."""
    stack = getattr(g, '_gl_scopes', None)
    return len(stack) - 1 if stack else -1


def _forward_to_shields(stack, deferred):
    # What an exiting shield held back goes to the next shield out, or is pending.
    return [(exc, depth) for exc, depth in deferred if not _hold_in_shield(stack, exc, depth)]


def _most_serious(pending):
    # A kill or Timeout unwinds further than any scope's cancellation, and an
    # outer scope's cancellation further than an inner one's.
    for exc, _ in pending:
        if not isinstance(exc, Cancelled):
            return exc
    return min(pending, key=lambda item: item[1])[0]


def _deadline_value(deadline):
    if deadline is None:
        return math.inf
    return float(_number(deadline, 'deadline', 'a number (hub time) or None'))


def _seconds(seconds):
    return _number(seconds, 'seconds', 'a number')


def _number(value, name, expected):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError('%s must be %s, not %r' % (name, expected, value))
    if value != value:
        raise ValueError('%s must not be NaN' % name)
    return value


def move_on_at(deadline: float, shield: bool = False) -> CancelScope:
    """A scope cancelled at absolute hub time ``deadline``; the block is just left."""
    return CancelScope(deadline=deadline, shield=shield)


def move_on_after(seconds: float, shield: bool = False) -> CancelScope:
    """A scope cancelled ``seconds`` from now; the block is just left.

    ``with move_on_after(5) as scope: ...``; afterwards ``scope.cancelled_caught``
    tells whether time ran out.
    """
    return CancelScope(deadline=now() + _seconds(seconds), shield=shield)


def fail_at(deadline: float, shield: bool = False) -> CancelScope:
    """Like :func:`move_on_at`, but raise ``TimeoutError`` when the deadline passes."""
    scope = CancelScope(deadline=deadline, shield=shield)
    scope._fail = True
    return scope


def fail_after(seconds: float, shield: bool = False) -> CancelScope:
    """Like :func:`move_on_after`, but raise ``TimeoutError`` when time runs out.

    An explicit :meth:`~CancelScope.cancel` just leaves the block.
    """
    return fail_at(now() + _seconds(seconds), shield=shield)
