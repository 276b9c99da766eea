"""asyncio's event loop on the gevent_lite hub: :class:`HubEventLoop` (green stdlib floor).

Public names (re-exported by :mod:`gevent_lite.asyncio_bridge`, where they are
documented for users): ``HubEventLoop``, ``EventLoopPolicy``,
``new_event_loop``, ``install``. This module sits on the green-stdlib
floor, beside ``selectors``, so that ``monkey.patch_all()`` can make it asyncio's
default loop (``patch_asyncio``); the bridge functions (``await_``, ...) are a
floor up, in :mod:`gevent_lite.asyncio_bridge`.

How the loop cooperates with the hub
------------------------------------
:class:`HubEventLoop` is asyncio's own selector loop (its ``_run_once``, handles,
transports and servers are the stdlib's), run in whichever greenlet calls
``run_forever()`` -- the *loop greenlet*. Two things are the hub's:

* **waiting**: its selector is a private epoll object (the stdlib
  ``EpollSelector``). While callbacks are ready, ``select()`` asks it without
  blocking, as the stdlib loop does. When nothing is ready the loop greenlet
  parks at once in ``hub.wait_fds`` on that one epoll fd (readable whenever a
  registered fd has an event; kept registered in the hub between waits) with a
  :class:`~gevent_lite.hub.Waiter` the loop keeps, so that a greenlet or a hub
  callback that gives the loop work (``call_soon`` from outside the loop, a
  timer coming due, ``stop()``) wakes it with ``waiter.wake()`` -- no self-pipe
  write, no syscall. While parked, the other greenlets run. Woken by the hub's
  poll, it asks its epoll which fds are ready; woken by ``wake()``, it does not
  (that meant "callbacks are ready"; any ready fd is seen on the next round).
* **time**: ``call_at``/``call_later`` are hub timers (the loop's own timer heap
  stays empty) and ``time()`` is the hub's clock, ``gevent_lite.hub.now()``.

While its greenlet is parked the loop is not the thread's *running loop*: it sets
``asyncio``'s running loop back to None (and the async-generator hooks back to the
outer ones) and restores them when it resumes. So at any moment the running loop
is the one whose greenlet is executing, and other greenlets may run loops of
their own -- ``asyncio.run()`` in two green "threads" at once under
``patch_all``, as with real threads -- and a green "thread" that completes an
executor job hands the result over with ``call_soon_threadsafe`` (CPython
3.13.12+ decides that by comparing the running loop; gevent#2213). A loop that
never has to wait still yields to the hub every :data:`_YIELD_EVERY` iterations,
so that a busy loop does not starve the greenlets.

A loop whose ``_daemon`` flag is set (the bridge's background loop) keeps the hub
alive only while ``_nwaiting`` (greenlets waiting on it) is non-zero: its waits
and timers are otherwise ``ref=False``.
"""

from __future__ import annotations

import asyncio
import selectors as _selectors
import sys
from typing import Any
from asyncio import events as _events

from greenlet import getcurrent

from . import hub as _hubmod
from .hub import READ, Hub, Waiter, get_hub, sleep as _hub_sleep

__all__ = ['HubEventLoop', 'EventLoopPolicy', 'new_event_loop', 'install']


def _stdlib_class(name):
    # The stdlib's selector class even after patch_select replaced the module
    # attribute: the green classes derive from the stdlib ones.
    cls = getattr(_selectors, name, None)
    while cls is not None and cls.__module__ != 'selectors':
        cls = cls.__bases__[0]
    return cls if cls is not None and cls.__name__ == name else None


_WAKE = 0      # the value _wake() parks the loop's Waiter with (an fd wakes it with READ)

#: Iterations a loop may run without parking before it yields to the hub once.
_YIELD_EVERY = 20

# The stdlib's selector, never the green one: the loop parks through the hub
# itself and must not park twice.
_BaseSelector = _stdlib_class('EpollSelector')
_HAS_EPOLL_FD = _BaseSelector is not None
if _BaseSelector is None:  # pragma: no cover - no epoll (macOS, BSD)
    _BaseSelector = _stdlib_class('PollSelector') or _stdlib_class('SelectSelector')
#: The OS thread's id, never the per-greenlet one patch_thread installs.
_os_thread_ident = _hubmod._get_thread_ident

_set_running_loop = _events._set_running_loop
_get_running_loop = _events._get_running_loop
_get_asyncgen_hooks = sys.get_asyncgen_hooks
_set_asyncgen_hooks = sys.set_asyncgen_hooks


class _HubSelector(_BaseSelector):  # type: ignore[valid-type,misc]  # (chosen at import)
    """The loop's selector: polls without blocking, parks the loop greenlet in the hub."""

    def __init__(self, loop):
        super().__init__()
        self._loop = loop
        self._busy = 0        # selects in a row that did not park
        if _HAS_EPOLL_FD:
            # What the loop parks on: the epoll fd, kept registered in the hub
            # between waits (close() below tells the hub).
            fd = self.fileno()
            self._wait_pairs = ((fd, READ),)
            self._keep = (fd,)

    def select(self, timeout=None):
        if timeout == 0:
            # Callbacks are ready: poll without parking (as the stdlib loop does).
            # Every _YIELD_EVERY times in a row, first let the hub run the other
            # greenlets once: a busy loop must not starve them.
            self._busy += 1
            if self._busy >= _YIELD_EVERY:
                self._busy = 0
                self._loop._park(self, 0)
            return super().select(0)
        # Nothing to run: park at once. The hub polls our epoll fd with everything
        # else, so a ready fd wakes us in the same hub iteration; only then is there
        # anything to ask the epoll (a wake-up by _wake() means "callbacks ready").
        self._busy = 0
        if self._loop._park(self, timeout):
            return super().select(0)
        return []

    def _wait_for(self):
        """``(pairs, keep)`` for ``hub.wait_fds``."""
        if _HAS_EPOLL_FD:
            return self._wait_pairs, self._keep
        # Portable fallback: every registered fd, registered anew with each wait
        # (they may be closed behind the hub's back, so none is kept).
        return [(key.fd, key.events) for key in self.get_map().values()], ()

    def close(self):
        if _HAS_EPOLL_FD and self._selector is not None:
            # The hub keeps the epoll fd registered between waits: forget it first,
            # or a reused fd number would stay hidden from the hub's poller.
            hub = self._loop._hub
            if not hub._destroyed:
                hub.cancel_wait(self.fileno())
        super().close()


_base_call_soon = asyncio.BaseEventLoop._call_soon  # type: ignore[attr-defined]  # (private)


class _HubTimerHandle(asyncio.TimerHandle):
    """An asyncio TimerHandle that is due when its hub timer fires."""

    __slots__ = ('_hub_timer',)


class HubEventLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop that runs on the gevent_lite hub of its thread.

    Create it in the thread whose hub it should use (``new_event_loop()``, or as the
    ``loop_factory`` of ``asyncio.run``/``asyncio.Runner``); run it with any of
    asyncio's ``run_*`` methods from any greenlet of that thread: while it waits,
    the other greenlets run. Everything else is a standard selector loop.
    """

    def __init__(self, hub: Hub | None = None) -> None:
        self._hub = hub if hub is not None else get_hub()
        self._parked = None           # the Waiter the loop greenlet is parked on
        self._greenlet = None         # the greenlet inside run_forever()
        self._daemon = False          # the hub's background loop (see module doc)
        self._nwaiting = 0            # greenlets parked in await_() on this loop
        self._outer_agen_hooks: Any = None
        super().__init__(_HubSelector(self))

    # -- the loop greenlet parks -----------------------------------------------------

    def _park(self, selector, timeout):
        """Park the loop greenlet until an fd of the selector is ready (returns
        True), someone calls :meth:`_wake` (False) or ``timeout`` passed (True:
        asyncio's own timer heap, which our call_at leaves empty, is all that
        could ask for one); ``timeout=0``: just let the hub run the others once."""
        hub = self._hub
        # Not the running loop while other greenlets run (see the module doc).
        hooks = _get_asyncgen_hooks()
        _set_running_loop(None)
        if self._outer_agen_hooks is not None:
            _set_asyncgen_hooks(*self._outer_agen_hooks)
        try:
            if timeout == 0:
                _hub_sleep(0)
            else:
                waiter = self._parked = Waiter(hub)
                ref = not self._daemon or self._nwaiting > 0
                pairs, keep = selector._wait_for()
                hub.wait_fds(pairs, timeout, keep=keep, waiter=waiter, ref=ref)
                return waiter.value != _WAKE
            return False
        finally:
            self._parked = None
            _set_asyncgen_hooks(*hooks)
            _set_running_loop(self)

    def _wake(self):
        """Resume the loop greenlet if it is parked waiting (from any greenlet or the hub)."""
        waiter = self._parked
        if waiter is not None:
            self._parked = None
            waiter.wake(_WAKE)

    # -- scheduling: wake the loop when work arrives from outside it ----------------

    def _call_soon(self, callback, args, context):
        # Every call_soon/call_soon_threadsafe (and so every future callback) comes
        # through here (BaseEventLoop._call_soon, same signature in 3.9-3.13). From
        # another greenlet, or the hub, the loop may be parked: wake it.
        handle = _base_call_soon(self, callback, args, context)
        if self._parked is not None:
            self._wake()
        return handle

    def call_at(self, when, callback, *args, context=None):
        if when is None:
            raise TypeError('when cannot be None')
        self._check_closed()
        if self._debug:
            self._check_thread()
            self._check_callback(callback, 'call_at')
        handle = _HubTimerHandle(when, callback, args, self, context)
        if handle._source_traceback:
            del handle._source_traceback[-1]
        handle._scheduled = True
        # A hub timer makes the handle ready; the loop's own heap stays empty, so
        # its select() never computes a timeout (it waits for a wake-up instead).
        handle._hub_timer = self._hub.call_later(
            max(0.0, when - self.time()), self._timer_due, handle, ref=not self._daemon)
        return handle

    def stop(self) -> None:
        super().stop()
        self._wake()          # stop() from another greenlet: the loop must see it now

    def _timer_due(self, handle):
        # Runs in the hub.
        handle._scheduled = False
        handle._hub_timer = None
        if not handle._cancelled:
            self._ready.append(handle)
            self._wake()

    def _timer_handle_cancelled(self, handle):
        timer = getattr(handle, '_hub_timer', None)
        if timer is not None:
            handle._hub_timer = None
            timer.cancel()

    def time(self) -> float:
        """The hub's clock (``gevent_lite.hub.now()``, a virtual clock's when one is installed)."""
        # Read from our hub directly (now() finds the thread's hub first): every
        # loop iteration asks.
        return self._hub._clock()

    # -- running ----------------------------------------------------------------------

    def run_forever(self) -> None:
        if self.is_running():
            raise RuntimeError('This event loop is already running')
        self._outer_agen_hooks = _get_asyncgen_hooks()
        self._greenlet = getcurrent()
        # Listed (newest last) for get_loop(): await_() from a greenlet uses it.
        running = self._hub.__dict__.setdefault('_asyncio_running', [])
        running.append(self)
        try:
            super().run_forever()
        finally:
            running.remove(self)
            self._greenlet = None
            self._outer_agen_hooks = None

    def _check_running(self):
        # Called first by run_forever and run_until_complete (3.9-3.13), so a wrong
        # thread is refused before a task is made of the coroutine.
        if _os_thread_ident() != self._hub.thread_ident:
            raise RuntimeError('a HubEventLoop runs only in the thread whose hub it uses '
                               '(the thread that created it)')
        super()._check_running()

    def _check_thread(self):
        # Debug-mode check: any greenlet of the loop's OS thread may call us (with
        # threading patched, threading.get_ident() is per greenlet).
        if self._thread_id is None:
            return
        if _os_thread_ident() != self._hub.thread_ident:
            raise RuntimeError('Non-thread-safe operation invoked on an event loop other '
                               'than the current one')

    def close(self) -> None:
        if getattr(self._hub, '_asyncio_loop', None) is self:
            del self._hub._asyncio_loop
        super().close()


if sys.platform == 'win32':  # pragma: no cover
    _DefaultPolicy = asyncio.DefaultEventLoopPolicy
else:
    from asyncio import unix_events as _unix_events
    _DefaultPolicy = _unix_events.DefaultEventLoopPolicy


class EventLoopPolicy(_DefaultPolicy):
    """asyncio's default policy, making :class:`HubEventLoop` loops.

    For Pythons before 3.12, whose ``asyncio.run`` takes no ``loop_factory``:
    ``asyncio.set_event_loop_policy(EventLoopPolicy())`` (or :func:`install`).
    """

    _loop_factory = HubEventLoop


def new_event_loop() -> HubEventLoop:
    """A new :class:`HubEventLoop` on the current thread's hub (a ``loop_factory``)."""
    return HubEventLoop()


def install() -> None:
    """Make :class:`EventLoopPolicy` asyncio's policy: ``asyncio.run()`` then runs on the hub."""
    asyncio.set_event_loop_policy(EventLoopPolicy())
