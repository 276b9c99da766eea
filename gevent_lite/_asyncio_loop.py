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

* **waiting**: its selector is the hub's poller. The loop has no OS selector of
  its own: ``add_reader``/``add_writer`` (transports, servers, the self-pipe)
  put a standing watcher (:class:`~gevent_lite.hub.FdWatcher`, through
  :meth:`Hub.watch_fd <gevent_lite.hub.Hub.watch_fd>`) in the hub's reader/writer
  slot of the fd, so the hub's one ``epoll_wait`` covers asyncio's fds with every
  green socket's. When the hub's poll reports such an fd, the watcher records it
  and wakes the loop greenlet; ``select()`` returns what was recorded.
  ``remove_reader``/``remove_writer`` and closing the loop unregister the fd
  from the hub at once (:meth:`Hub.unwatch_fd
  <gevent_lite.hub.Hub.unwatch_fd>`), not lazily as green sockets' kept
  registrations are: asyncio closes its sockets with a plain ``close()`` the hub
  never hears of. When nothing is ready the loop greenlet parks at once on a
  :class:`~gevent_lite.hub.Waiter` the loop keeps, so that a greenlet or a hub
  callback that gives the loop work (``call_soon`` from outside the loop, a timer
  coming due, ``stop()``) wakes it with ``waiter.wake()`` -- no self-pipe write,
  no syscall. While parked, the other greenlets run. While callbacks are ready,
  ``select()`` does not park: it asks the hub's poller without blocking
  (:meth:`Hub.poll_watchers <gevent_lite.hub.Hub.poll_watchers>`, which calls
  only standing watchers), as the stdlib loop asks its own selector, and every
  :data:`_YIELD_EVERY` such rounds it lets the hub run (and poll) once instead.
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

A parked loop keeps the hub alive (``hub.ref()`` while parked: the standing
watchers of its fds do not count as waiters). A loop whose ``_daemon`` flag is
set (the bridge's background loop) does so only while ``_nwaiting`` (greenlets
waiting on it) is non-zero, and its timers are ``ref=False``.

The hub has one reader and one writer slot per fd, so an fd's event is watched by
one party: a second loop, or a greenlet, waiting for the same event on an fd a
loop watches gets :class:`~gevent_lite.hub.ConcurrentObjectUseError` (with one
epoll per loop it would have been allowed).
"""

from __future__ import annotations

import asyncio
import selectors as _selectors
import sys
from typing import Any
from asyncio import events as _events

from greenlet import getcurrent

from . import hub as _hubmod
from .hub import FdWatcher, Hub, Waiter, get_hub, sleep as _hub_sleep

__all__ = ['HubEventLoop', 'EventLoopPolicy', 'new_event_loop', 'install']


_WAKE = 0      # the value _wake() parks the loop's Waiter with

#: Iterations a loop may run without parking before it yields to the hub once.
_YIELD_EVERY = 20

#: The OS thread's id, never the per-greenlet one patch_thread installs.
_os_thread_ident = _hubmod._get_thread_ident

_set_running_loop = _events._set_running_loop
_get_running_loop = _events._get_running_loop
_get_asyncgen_hooks = sys.get_asyncgen_hooks
_set_asyncgen_hooks = sys.set_asyncgen_hooks

# The stdlib's key bookkeeping (register/unregister/get_map, file object -> fd),
# 3.9-3.13, without any OS selector: ours is the hub's. Captured from the class,
# whatever patch_select did to the module's public names.
_BaseSelectorImpl = _selectors._BaseSelectorImpl


class _FdSlot(FdWatcher):
    """The loop's standing watcher of one fd in the hub: records readiness, wakes the loop."""

    __slots__ = ('_fd', '_selector')

    def __init__(self, selector, fd):
        super().__init__()
        self._selector = selector
        self._fd = fd

    def switch(self, events):
        # Run by the hub's loop when its poll reports the fd (level-triggered: again
        # on every poll while the fd stays ready, so nothing is lost).
        sel = self._selector
        ready = sel._ready_fds
        ready[self._fd] = ready.get(self._fd, 0) | events
        if sel._loop._parked is not None:
            sel._loop._wake()

    def throw(self, *exc):
        # The fd was closed under the loop (hub.cancel_wait, e.g. a green socket
        # closed by a greenlet): report it ready, so that asyncio's callback meets
        # the error, as with the stdlib selector.
        key = self._selector._fd_to_key.get(self._fd)
        if key is not None:
            self.switch(key.events)


class _HubSelector(_BaseSelectorImpl):
    """The loop's selector: its registrations are the hub's; it parks the loop greenlet.

    ``register``/``modify``/``unregister`` put a :class:`_FdSlot` in (or take it
    out of) the hub's per-fd reader/writer slots (:meth:`Hub.watch_fd`), so the
    hub's one poller watches asyncio's fds along with every green socket's.
    ``select()`` returns what the hub reported since the last call.
    """

    def __init__(self, loop):
        super().__init__()
        self._loop = loop
        self._hub = loop._hub
        self._slots = {}      # fd -> _FdSlot
        self._ready_fds = {}  # fd -> events reported by the hub, not yet returned
        self._busy = 0        # selects in a row that did not park

    def register(self, fileobj, events, data=None):
        key = super().register(fileobj, events, data)
        slot = self._slots[key.fd] = _FdSlot(self, key.fd)
        try:
            self._hub.watch_fd(key.fd, events, slot)
        except BaseException:
            del self._slots[key.fd]
            super().unregister(fileobj)
            raise
        return key

    def unregister(self, fileobj):
        key = super().unregister(fileobj)
        slot = self._slots.pop(key.fd, None)
        self._ready_fds.pop(key.fd, None)
        if slot is not None and not self._hub._destroyed:
            self._hub.unwatch_fd(key.fd, key.events, slot)
        return key

    def modify(self, fileobj, events, data=None):
        # asyncio adds/removes a writer next to a reader this way: change only the
        # events that differ (the stdlib base would unregister and register again).
        try:
            old = self._fd_to_key[self._fileobj_lookup(fileobj)]
        except KeyError:
            raise KeyError('%r is not registered' % (fileobj,)) from None
        if events != old.events:
            if not events or events & ~(_selectors.EVENT_READ | _selectors.EVENT_WRITE):
                raise ValueError('Invalid events: %r' % (events,))
            slot = self._slots[old.fd]
            hub = self._hub
            added = events & ~old.events
            if added:
                hub.watch_fd(old.fd, events, slot)
            removed = old.events & ~events
            if removed:
                hub.unwatch_fd(old.fd, removed, slot)
                ready = self._ready_fds.get(old.fd)
                if ready is not None:
                    self._ready_fds[old.fd] = ready & events
        key = self._fd_to_key[old.fd] = old._replace(events=events, data=data)
        return key

    def select(self, timeout=None):
        if timeout == 0:
            # Callbacks are ready: no parking. Every _YIELD_EVERY times in a row,
            # first let the hub run the other greenlets (and poll) once: a busy
            # loop must not starve them. Otherwise ask the hub's poller without
            # blocking, as the stdlib loop asks its own: I/O that is ready now is
            # seen now, between callbacks (only our fds; the rest waits for the hub).
            self._busy += 1
            if self._busy >= _YIELD_EVERY:
                self._busy = 0
                self._loop._park(0)
            else:
                self._hub.poll_watchers()
        elif not self._ready_fds:
            # Nothing to run: park until the hub reports one of our fds (its one
            # poll covers them with everything else), someone gives the loop work
            # (_wake) or the timeout passes.
            self._busy = 0
            self._loop._park(timeout)
        ready = self._ready_fds
        if not ready:
            return []
        self._ready_fds = {}
        fd_to_key = self._fd_to_key
        result = []
        for fd, events in ready.items():
            key = fd_to_key.get(fd)
            if key is not None:
                events &= key.events
                if events:
                    result.append((key, events))
        return result

    def close(self):
        # Drop every registration still in the hub (a transport left open): its fd
        # may be closed later with a plain close() the hub never hears of.
        hub = self._hub
        if not hub._destroyed:
            for fd, slot in self._slots.items():
                key = self._fd_to_key.get(fd)
                if key is not None:
                    hub.unwatch_fd(fd, key.events, slot)
        self._slots.clear()
        self._ready_fds.clear()
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

    def _park(self, timeout):
        """Park the loop greenlet until its selector's fds are reported ready, someone
        calls :meth:`_wake` or ``timeout`` passed (asyncio's own timer heap, which our
        call_at leaves empty, is all that could ask for one); ``timeout=0``: just let
        the hub run the others (and poll) once."""
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
                # A parked loop keeps the hub alive (unless it is the idle background
                # loop): its fds are the hub's standing watchers, which do not count.
                ref = not self._daemon or self._nwaiting > 0
                if ref:
                    hub.ref()
                try:
                    hub.wait_fds((), timeout, waiter=waiter)
                finally:
                    if ref:
                        hub.unref()
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
