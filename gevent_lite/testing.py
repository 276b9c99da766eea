"""Test helpers: a virtual clock for the hub, and a pytest plugin.

Public names: :class:`VirtualClock`, and the pytest fixtures ``virtual_clock``
and ``isolated_hub`` (registered through the ``pytest11`` entry point; they do
nothing unless a test asks for them).

How the clock cooperates with the hub
-------------------------------------
The hub reads its time through one function (:func:`gevent_lite.hub.now`, the
same one inside the loop); every timer -- ``sleep``, ``Timeout``,
``wait(timeout=)``, cancel scopes, ``Event.wait(timeout)``, queue timeouts,
``spawn_later`` -- is scheduled and fired in that time. Installing a
:class:`VirtualClock` swaps that function for the clock's :meth:`~VirtualClock.now`
on the current thread's hub (:meth:`Hub.set_clock <gevent_lite.hub.Hub.set_clock>`),
and gives the loop one more thing to do when every greenlet is parked and the
next event is a timer: poll I/O for ``autojump_threshold`` seconds of real time
and, if nothing happened, jump the clock to that timer's deadline (trio's ``MockClock`` autojump model). No second
scheduler: the hub runs the same loop, only its idea of "now" moves in jumps.

``time.time()`` and ``time.monotonic()`` are not faked: code that measures time
with them sees real time.
"""

from __future__ import annotations

import gc
import math
from time import monotonic as _monotonic
from typing import Any, Iterator

from greenlet import greenlet, getcurrent, GreenletExit

from . import hub as _hubmod
from .hub import get_hub, Hub
from .scopes import _deliver, _number as _check_number

__all__ = ['VirtualClock', 'leaked_greenlets']


class VirtualClock:
    """A hub clock that only moves when the program is idle (or is told to move).

    ``VirtualClock(start=0.0, autojump_threshold=0.0)``. Use it as a context
    manager: ``with VirtualClock() as clock:`` installs it on the current
    thread's hub for the block; :func:`gevent_lite.hub.now` and ``clock.now()``
    then agree.

    ``autojump_threshold`` is how long, in real seconds, the hub waits for I/O
    once every greenlet is parked on a timer before it jumps the clock to the
    next deadline. ``0`` jumps at once (pending I/O is polled but not waited
    for); a positive value lets real I/O that arrives within that time wake its
    greenlet first; ``math.inf`` never jumps: time moves only by :meth:`jump`.
    """

    __slots__ = ('_now', '_threshold', '_hub')

    def __init__(self, start: float = 0.0, autojump_threshold: float = 0.0) -> None:
        self._now = _number('start', start)
        self._threshold = 0.0
        self.autojump_threshold = autojump_threshold
        self._hub: Any = None       # the hub it is installed on

    def __repr__(self) -> str:
        return '<VirtualClock now=%.6f autojump_threshold=%s%s>' % (
            self._now, self._threshold, ' installed' if self._hub is not None else '')

    def now(self) -> float:
        """The virtual time, in seconds."""
        return self._now

    @property
    def autojump_threshold(self) -> float:
        """Real seconds of idleness (no ready greenlet, no I/O) before the clock jumps."""
        return self._threshold

    @autojump_threshold.setter
    def autojump_threshold(self, value: float) -> None:
        value = _number('autojump_threshold', value)
        if value < 0:
            raise ValueError('autojump_threshold must be >= 0, not %r' % (value,))
        self._threshold = value

    def jump(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``; due timers fire when the hub next runs."""
        seconds = _number('seconds', seconds)
        if seconds < 0:
            raise ValueError('time can only move forward: jump(%r)' % (seconds,))
        self._now += seconds

    # -- installing ---------------------------------------------------------------------

    def __enter__(self) -> VirtualClock:
        hub = get_hub()
        if self._hub is not None:
            raise RuntimeError('%r is already installed' % (self,))
        if hub.virtual_clock is not None:
            raise RuntimeError('a VirtualClock is already installed on this thread\'s hub: %r'
                               % (hub.virtual_clock,))
        # Timers already pending keep their remaining delays (in virtual time now).
        hub.set_clock(self.now, self)
        self._hub = hub
        return self

    def __exit__(self, *exc_info: Any) -> None:
        hub = self._hub
        if hub is None:
            return
        if hub.thread_ident != _hubmod._get_thread_ident():
            raise RuntimeError('a VirtualClock must be removed in the thread that installed it')
        self._hub = None
        if hub.virtual_clock is self:
            # Back to real time; pending timers keep their remaining (virtual) delays.
            hub.set_clock(_monotonic)

    # -- called by the hub loop ---------------------------------------------------------

    def _idle(self, hub: Hub, poll: Any, deadline: float) -> float | None:
        """Every greenlet is parked and the next timer is due at ``deadline``.

        Returns the poll timeout the loop should use: 0 after a jump (or when
        I/O arrived, which the loop's own poll then reports: readiness is
        level-triggered), -1 to wait for I/O only, None when nothing can ever
        wake anybody.
        """
        threshold = self._threshold
        if threshold == math.inf:
            stats = hub.statistics()
            if stats['fd_waiters'] or stats['keepalive']:
                return -1
            return None
        if poll(threshold):
            return 0
        if deadline > self._now:
            self._now = deadline
        return 0


def _number(name, value):
    # The cancel scopes' check (same messages), as a float.
    return float(_check_number(value, name, 'a number'))


def leaked_greenlets(hub: Hub) -> list:
    """The greenlets of ``hub`` that were started (or scheduled) and have not finished.

    The hub's own services, which live as long as the hub, are not counted: the
    asyncio bridge's background loop.
    """
    services = {id(hub)}
    loop: Any = getattr(hub, '_asyncio_loop', None)
    if loop is not None and getattr(loop, '_greenlet', None) is not None:
        services.add(id(loop._greenlet))
    leaked = []
    for obj in gc.get_objects():
        if isinstance(obj, greenlet) and obj.parent is hub and id(obj) not in services and bool(obj):
            leaked.append(obj)
    return leaked


def _fresh_hub() -> Iterator[Hub]:
    """Run the caller in a new hub of its own; afterwards fail on leaked greenlets."""
    if getcurrent().parent is not None:
        raise RuntimeError('isolated_hub must be used from the main greenlet')
    state = _hubmod._state
    old = getattr(state, 'hub', None)
    if old is not None:
        del state.hub
    hub = get_hub()
    try:
        yield hub
        leaked = leaked_greenlets(hub)
        if leaked:
            # Kill them, so that they leave nothing behind, then fail the test.
            for g in leaked:
                if hasattr(g, 'kill'):
                    g.kill(block=False)
                else:
                    # A raw greenlet: killed as gevent_lite.kill() does it.
                    hub.run_callback(_deliver, g, GreenletExit, -1)
            hub.join(timeout=2)
            names = ', '.join(repr(g) for g in leaked[:10])
            more = ' and %d more' % (len(leaked) - 10) if len(leaked) > 10 else ''
            raise AssertionError('%d greenlet(s) still running when the test ended: %s%s'
                                 % (len(leaked), names, more))
    finally:
        if hub.virtual_clock is not None:
            hub.virtual_clock.__exit__(None, None, None)
        hub.destroy()
        if old is not None:
            state.hub = old


try:
    import pytest
except ImportError:  # pragma: no cover - the clock works without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:
    @pytest.fixture
    def isolated_hub() -> Iterator[Hub]:
        """The test runs in a hub of its own, and fails if it leaves greenlets running."""
        yield from _fresh_hub()

    @pytest.fixture
    def virtual_clock(isolated_hub: Hub) -> Iterator[VirtualClock]:
        """A :class:`VirtualClock` (autojump at once) installed on a fresh hub for the test."""
        with VirtualClock() as clock:
            yield clock
