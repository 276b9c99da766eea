"""The hub: one event loop per OS thread, and the one way to park a greenlet.

Public names: :func:`get_hub`, :func:`get_hub_if_exists`, :class:`Hub`, the parking
primitive (:class:`Waiter`, :class:`ParkingLot`) and the base of everything
``wait()`` accepts (:class:`Linkable`), :func:`sleep`, :func:`idle`, :func:`wait`,
:func:`iwait`, :func:`reinit`, :func:`wait_read`, :func:`wait_write`,
:func:`wait_readwrite`, :func:`retry_io`, :func:`getcurrent`, :func:`now` (the hub's
clock, which a ``gevent_lite.testing.VirtualClock`` can replace), and the errors
:class:`LoopExit`, :class:`BlockingSwitchOutError`, :class:`ConcurrentObjectUseError`,
:class:`InvalidSwitchError` (also importable from :mod:`gevent_lite.exceptions`, as
gevent spells it).

How everything cooperates with the hub: the hub is a greenlet, every greenlet the
library spawns is its child, and a greenlet that has to wait parks on a ticket
(:class:`Waiter`, or a :class:`ParkingLot` of them) that only the hub switches back
through. Only this module knows the poller: everything else asks the hub to wait
for "fd readable", "fd writable", "time passed" or "someone woke me". The design --
the loop, kept fd registrations, the parking primitive, how a wake-up travels, the
fast paths -- is written down once, in docs/internals.rst.
"""

from __future__ import annotations

import errno
import gc
import heapq
import math
import os
import sys
import traceback
from typing import TYPE_CHECKING, Any, Callable, Container, Iterable, Iterator
from collections import deque
from contextlib import contextmanager
from itertools import count as _count, repeat
from reprlib import recursive_repr
from time import monotonic as _monotonic

import _thread
import select as _select
import selectors as _selectors

from greenlet import getcurrent, greenlet, GreenletExit

__all__ = [
    'get_hub', 'get_hub_if_exists', 'Hub', 'Waiter', 'ParkingLot', 'Linkable', 'sleep', 'idle',
    'wait', 'iwait', 'reinit', 'wait_read', 'wait_write', 'wait_readwrite', 'getcurrent',
    'LoopExit', 'BlockingSwitchOutError', 'ConcurrentObjectUseError', 'InvalidSwitchError',
    'InvalidThreadUseError', 'set_default_hub_class',
    'GreenletExit', 'READ', 'WRITE', 'now', 'retry_io',
]

#: Event bits for :meth:`Hub.wait_fd` (the same values as ``selectors``).
READ = _selectors.EVENT_READ
WRITE = _selectors.EVENT_WRITE


def now() -> float:
    """The current thread's hub time, in seconds: what every timer, timeout and deadline reads.

    It is ``time.monotonic()`` unless a :class:`gevent_lite.testing.VirtualClock`
    is installed on this thread's hub; then it is that clock's (virtual) time.
    """
    try:
        return _state.hub._clock()
    except AttributeError:
        return _monotonic()


_UNSET = object()      # Waiter not woken yet
_THROWN = object()     # Waiter woken with an exception


class LoopExit(Exception):
    """Raised in a greenlet that waits when the hub has nothing left that could wake it.

    The message names the waiting greenlets and where they wait.
    """


class BlockingSwitchOutError(AssertionError):
    """A blocking call was made from inside the hub greenlet itself.

    The hub cannot wait for itself; such a call would deadlock.
    """


def _blocking_in_hub():
    # Every parking path checks ``getcurrent() is hub`` inline (one comparison on
    # the hot path) and raises this: the hub cannot park itself.
    return BlockingSwitchOutError('Impossible to call blocking function in the event loop callback')


class ConcurrentObjectUseError(AssertionError):
    """Two greenlets tried to wait for the same event on the same fd at once."""


class InvalidSwitchError(AssertionError):
    """A parked greenlet was resumed in a way its parking ticket does not allow."""


class InvalidThreadUseError(RuntimeError):
    """An object bound to one OS thread's hub was used from another thread in a way
    that is not thread-safe (gevent's name; a RuntimeError)."""


# --------------------------------------------------------------------------------------
# The parking ticket

_new_object = object.__new__


def _raise_thrown(typ, val=None, tb=None):
    # greenlet.throw()'s arguments (a class, or an instance, with an optional value
    # and traceback) raised here instead.
    if val is None:
        val = typ() if isinstance(typ, type) else typ
    elif not isinstance(val, BaseException):
        val = typ(val)
    raise val.with_traceback(tb) if tb is not None else val


class Waiter:
    """A one-shot ticket on which exactly one greenlet parks until something wakes it.

    ``get()`` parks the calling greenlet and returns the value it was woken with
    (or raises the exception it was woken with). The waking side calls
    ``switch(value)`` / ``throw(exc)`` from the hub, or ``wake(value)`` from any
    greenlet of the hub's thread (which marks the ticket as woken at once and
    resumes the greenlet from a hub callback). The first wake-up wins; later ones
    are ignored. ``woken`` tells whether a value was delivered: if the parked
    greenlet is killed after a value was delivered but before it ran, the value is
    still in ``value`` and the owner (e.g. :class:`ParkingLot`) can hand it on.
    """

    # exc_info is set only by a throw() that came before get() (left unset otherwise,
    # so creating a Waiter, which every park does, costs no extra store).
    __slots__ = ('hub', 'greenlet', 'value', 'exc_info')

    def __init__(self, hub=None):
        self.hub = hub if hub is not None else get_hub()
        self.greenlet = None
        self.value = _UNSET

    @recursive_repr()   # a greenlet parked in waiter.get shows this waiter in its repr
    def __repr__(self):
        # gevent's format: who is parked, then what woke it (if anything did).
        text = '<Waiter greenlet=%r' % (self.greenlet,)
        if self.value is _THROWN:
            text += ' exc_info=%r' % (getattr(self, 'exc_info', None),)
        elif self.value is not _UNSET:
            text += ' value=%r' % (self.value,)
        return text + '>'

    @property
    def woken(self):
        """True once a value (not an exception) was delivered."""
        v = self.value
        return v is not _UNSET and v is not _THROWN

    def get(self) -> Any:
        """Park the current greenlet until the ticket is woken; return the value."""
        value = self.value
        if value is not _UNSET:
            if value is _THROWN:
                exc = getattr(self, 'exc_info', None)
                if exc is None:
                    raise InvalidSwitchError('this Waiter was already woken with an exception')
                # Thrown before anybody parked: get() raises it, once.
                del self.exc_info
                _raise_thrown(*exc)
            return value
        hub = self.hub
        current = getcurrent()
        if current is hub:
            raise _blocking_in_hub()
        self.greenlet = current
        try:
            # Park: the hub runs other greenlets; it switches back here only through
            # switch()/throw() on this ticket (or a kill/Timeout thrown at us).
            return hub.switch()
        finally:
            # Disarm on every path, so a late wake-up finds nobody to resume.
            self.greenlet = None

    def switch(self, value: Any = None) -> None:
        """Wake the parked greenlet now with ``value``. Call only from the hub."""
        g = self.greenlet
        if g is not None and self.value is _UNSET:
            self.value = value
            g.switch(value)
        elif self.value is _UNSET:
            # Not parked yet (woken before get()): remember the value.
            self.value = value

    def throw(self, *exc):
        """Wake the parked greenlet now by raising ``exc`` in it. Hub only."""
        g = self.greenlet
        if g is not None and self.value is _UNSET:
            self.value = _THROWN
            g.throw(*exc)
        elif self.value is _UNSET:
            # Not parked yet: the next get() raises it, as gevent's Waiter does.
            self.value = _THROWN
            self.exc_info = exc

    def wake(self, value: Any = None) -> bool:
        """Deliver ``value`` from any greenlet of this thread; resume from the hub.

        Returns False if the ticket had already been woken.
        """
        if self.value is not _UNSET:
            return False
        self.value = value
        self.hub._ready.append((self._resume, ()))
        return True

    def _resume(self):
        g = self.greenlet
        if g is not None:
            g.switch(self.value)


class ParkingLot(deque):
    """A FIFO queue of parked greenlets: the wait queue under every primitive.

    ``park(timeout)`` parks the current greenlet at the end of the queue;
    ``unpark(value)`` wakes the one that has waited longest and hands it
    ``value``; ``unpark_all(value)`` wakes them all. ``len(lot)`` and
    ``bool(lot)`` say how many wait (the lot *is* the deque of their tickets, so
    "is anybody waiting?" costs no method call on the hot paths of queues and
    locks; its other deque methods are not part of its interface). Timeouts and
    kills are cleaned up here, once: a greenlet that leaves the queue early is
    removed from it, and if it had already been handed a value that it never
    received (it was killed between being woken and running), the value goes to
    the next parked greenlet, or back to the owner through ``on_unclaimed``. So a
    killed waiter never swallows a permit, an item or a wake-up.

    A ``broadcast`` lot (every wake-up is ``unpark_all``: events, "is it ready?"
    watchers) hands nothing on: each waiter got a wake-up of its own, and passing
    a dead one's on would wake a greenlet that started waiting after the event
    was cleared. So such a lot can be kept for the owner's lifetime.
    """

    # The deque's own append/popleft, bound once: a C method looked up on an
    # instance of a Python subclass is not specialized by the interpreter and
    # costs several times as much per call (it is the hot path of every lock and
    # queue hand-off). The price is a reference cycle per lot, which the cyclic
    # collector frees; lots live as long as their owner anyway.
    __slots__ = ('on_unclaimed', 'broadcast', '_append', '_popleft')

    # Identity semantics, not a deque's element-wise equality: two empty lots
    # are different lots.
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__  # type: ignore[assignment]  # (a deque is unhashable)

    def __init__(self, on_unclaimed: Callable[[Any], Any] | None = None, broadcast: bool = False) -> None:
        deque.__init__(self)
        self._append = self.append
        self._popleft = self.popleft
        self.on_unclaimed = on_unclaimed
        self.broadcast = broadcast

    def __repr__(self) -> str:
        return '<ParkingLot waiting=%d>' % len(self)

    def statistics(self) -> dict[str, int]:
        """``{'waiting': parked greenlets}``."""
        return {'waiting': len(self)}

    def park(self, timeout: float | None = None, timeout_exc: Any = None, ref: bool = True) -> Any:
        """Park until unparked; return the value handed over.

        On timeout raise ``timeout_exc`` (an exception instance or class), or
        return :data:`TIMED_OUT` when ``timeout_exc`` is None. ``ref=False``: the
        timeout timer alone does not keep the loop running (see :meth:`Hub.join`).
        """
        try:
            hub = _state.hub
        except AttributeError:
            hub = get_hub()
        current = getcurrent()
        if current is hub:
            raise _blocking_in_hub()
        # Our ticket: Waiter(hub) with the greenlet already set, built without
        # the __init__ call (every lock, queue and event waits here).
        waiter = _new_object(Waiter)
        waiter.hub = hub
        waiter.value = _UNSET
        waiter.greenlet = current
        append = self._append
        append(waiter)
        timer = None
        if timeout is not None:
            if isinstance(timeout, BaseException):
                timer = _adopt_timeout(timeout)
            else:
                timer = hub.call_later(timeout, waiter.throw, _ParkTimeout, ref=ref)
        # Park (Waiter.get() inlined). Only this ticket resumes us: unpark()
        # through wake(), the timer through throw().
        try:
            return hub.switch()
        except _ParkTimeout:
            if timeout_exc is None:
                return TIMED_OUT
            raise timeout_exc
        except BaseException:
            if waiter.woken and not self.broadcast:
                # Handed a value we will never use (killed while runnable): pass it on.
                self._hand_on(waiter.value)
            raise
        finally:
            waiter.greenlet = None      # disarm: a late wake-up finds nobody to resume
            if timer is not None:
                timer.cancel()
            value = waiter.value
            if value is _UNSET or value is _THROWN:
                try:
                    self.remove(waiter)
                except ValueError:
                    pass

    def unpark(self, value: Any = True) -> bool:
        """Wake the longest-waiting greenlet with ``value``. Returns False if none waits."""
        while self:
            if self._popleft().wake(value):
                return True
        return False

    def unpark_now(self, value: Any = True) -> bool:
        """:meth:`unpark`, but switch into the woken greenlet at once instead of
        queueing its resume, when called from the hub (a link callback): the greenlet
        runs before the rest of the hub's queue, and the hub resumes here when it
        parks again. From any other greenlet it is :meth:`unpark`: a switch from
        there would leave the caller with nobody to resume it."""
        popleft = self._popleft
        current = getcurrent()
        while self:
            waiter = popleft()
            if waiter.greenlet is not None and waiter.value is _UNSET and current is waiter.hub:
                waiter.switch(value)
                return True
            if waiter.wake(value):
                return True
        return False

    def unpark_all(self, value: Any = True) -> int:
        """Wake every parked greenlet with ``value``; returns how many were woken."""
        n = 0
        popleft = self._popleft
        while self:
            if popleft().wake(value):
                n += 1
        return n

    def cancel(self, greenlet: Any, exc: Any) -> bool:
        """Raise ``exc`` in ``greenlet`` if it is parked here and not woken yet. Hub only.

        Returns False if it is not parked here (or was already handed a value).
        """
        for waiter in self:
            if waiter.greenlet is greenlet and waiter.value is _UNSET:
                waiter.throw(exc)
                return True
        return False

    def unpark_greenlet(self, greenlet: Any, value: Any = True) -> bool:
        """Wake ``greenlet`` with ``value`` if it is parked here and not woken yet
        (out of turn: for a lot whose waiters are told apart, e.g. by what each
        offers). False if it is not parked here."""
        for waiter in self:
            if waiter.greenlet is greenlet and waiter.value is _UNSET:
                self.remove(waiter)
                return waiter.wake(value)
        return False

    def _hand_on(self, value):
        # The next waiter may be parked in another OS thread's hub (a lock shared
        # between threads): wake it through that hub's thread-safe queue.
        if not self.unpark_threadsafe(value) and self.on_unclaimed is not None:
            self.on_unclaimed(value)

    # -- across OS threads ----------------------------------------------------------------
    # A lock or semaphore may be released by another OS thread than the one that
    # waits for it (code written for threads does that). The two methods below are
    # the lot's thread-aware entry points; the owner uses them only on its slow
    # paths (somebody is waiting, or the waiter has no hub of its own), so the
    # single-thread hand-off above keeps its speed.

    def unpark_threadsafe(self, value: Any = True) -> bool:
        """:meth:`unpark`, callable from any OS thread: a greenlet parked in another
        thread's hub is resumed through that hub's thread-safe queue (which wakes
        its loop); an OS thread parked with :meth:`park_thread` is released."""
        me = _get_thread_ident()
        popleft = self._popleft
        while self:
            waiter = popleft()
            hub = waiter.hub
            if hub is None or hub.thread_ident == me:
                if waiter.wake(value):
                    return True
            elif waiter.value is _UNSET:
                waiter.value = value
                hub.run_callback_threadsafe(waiter._resume)
                return True
        return False

    def park_thread(self, timeout: float | None = None, queued: Callable[[], Any] | None = None) -> bool:
        """Block the calling OS thread (not a greenlet: it has no hub that could run
        anything else) until another thread unparks it; False on timeout.

        Its ticket waits in the same queue, in turn, and is released with a
        native lock by :meth:`unpark` or :meth:`unpark_threadsafe`. ``queued``, if
        given, is called once the ticket is in the queue, before the thread blocks
        (the owner re-checks there what another thread may have changed meanwhile).
        """
        ticket = _ThreadTicket()
        self._append(ticket)
        if queued is not None:
            queued()
        if ticket.lock.acquire(True, -1 if timeout is None else max(timeout, 0.0)):
            return True
        try:
            self.remove(ticket)
        except ValueError:
            # Popped by an unpark that is waking us right now: take what it hands over.
            ticket.lock.acquire()
            return True
        return False


class _ThreadTicket:
    """A :class:`ParkingLot` ticket for an OS thread without a hub (see
    :meth:`ParkingLot.park_thread`): woken by releasing a native lock."""

    __slots__ = ('lock', 'value')
    hub = None          # no hub: unpark_threadsafe calls wake() from any thread
    greenlet = None     # (ParkingLot.cancel looks for greenlets; there is none)

    def __init__(self):
        self.lock = _native_allocate_lock()
        self.lock.acquire()
        self.value = _UNSET

    def wake(self, value=None):
        if self.value is not _UNSET:
            return False
        self.value = value
        self.lock.release()
        return True


#: The interpreter's own lock and thread count, captured before any patching.
_native_allocate_lock = _thread.allocate_lock
_native_thread_count = _thread._count

#: Idents of the OS threads gevent_lite runs for itself (preemption watchers, the
#: monitor, thread-pool workers): they release no lock of the program's while this
#: thread's hub has nothing left to run (a pool task keeps its hub alive until it is
#: delivered), so :func:`other_os_threads` leaves them out. Each is added when it
#: starts and removed when it ends; a forked child clears the set.
_helper_threads: set[int] = set()
if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_helper_threads.clear)


def other_os_threads() -> bool:
    """True if an OS thread other than the calling one runs Python code (gevent_lite's
    own helper threads left out): only then can a lock this thread waits for be
    released by somebody else."""
    if not _native_thread_count():
        return False            # no thread was ever started: the main thread is alone
    # _thread._count() is no answer after a fork: the child keeps the parent's
    # count, though only the forking thread lives on. The interpreter's list of
    # thread states is (a fork's child drops the others); this is a slow path.
    me = _get_thread_ident()
    helpers = _helper_threads
    return any(ident != me and ident not in helpers for ident in sys._current_frames())


def _adopt_timeout(timeout):
    """A Timeout object given as ``timeout=`` (gevent allows it): start it unless it
    already runs, and return it as the wait's timer. It raises itself (or its
    exception) into the parked greenlet when due, as a raised Timeout does
    anywhere, and the waiter cancels it on the way out, as gevent's ``with`` does."""
    if not timeout.pending:
        timeout.start()
    return timeout


def _deadline(timeout):
    """The end of a wait that may park more than once, for :func:`_remaining`: None
    (never), a hub time, or a Timeout object as is (it keeps its own deadline)."""
    if timeout is None or isinstance(timeout, BaseException):
        return timeout
    return now() + timeout


def _remaining(deadline):
    """What is left of a :func:`_deadline`, as the next park's timeout (0 once past)."""
    if deadline is None or isinstance(deadline, BaseException):
        return deadline
    left = deadline - now()
    return left if left > 0 else 0


class _ParkTimeout(BaseException):
    """Internal: a ParkingLot wait ran out of time."""


#: Returned by :meth:`ParkingLot.park` on timeout when no exception was requested.
TIMED_OUT = object()


# --------------------------------------------------------------------------------------
# The linkable base: everything a greenlet can wait for

class Linkable:
    """The base of every object greenlets wait for and ``wait()``/``iwait()`` watch:
    :class:`~gevent_lite.greenlet.Greenlet`, :class:`~gevent_lite.event.Event`,
    :class:`~gevent_lite.event.AsyncResult`, :class:`~gevent_lite.lock.Semaphore`
    (and its locks), :class:`~gevent_lite.subprocess.Popen`.

    A subclass says when it is ready (:meth:`ready`) and calls ``_notify()``
    (hub thread) or ``_check_and_notify()`` (any OS thread) when it becomes so.
    This base does the rest, once:

    * link callbacks: :meth:`rawlink` adds ``callback``, which the hub calls as
      ``callback(obj)`` once the object is ready -- one-shot, in the order they
      were added, from a hub callback (never inside ``set()``), an error in one
      reported and the others still called; :meth:`unlink`, :meth:`unlink_all`,
      :meth:`linkcount`, :meth:`has_links`;
    * waiting: ``_wait_ready(timeout)`` parks the current greenlet on a broadcast
      :class:`ParkingLot` until the object is ready or the timeout passes; the
      lot owns the timeout and kill clean-up.

    The state lives in the subclass, because :class:`~gevent_lite.greenlet.Greenlet`
    (whose memory layout the C ``greenlet`` type fixes) cannot take slots from a
    base: ``hub`` (the :class:`Hub` that runs the links; bound on first use),
    ``_links`` (a list, or an empty tuple before the first link), ``_lot`` (the
    broadcast lot, made on the first wait) and ``_notify_scheduled``.
    """

    if not TYPE_CHECKING:
        # Hidden from mypy, which would reject this base's assignments to the
        # attributes its subclasses declare.
        __slots__ = ()

    hub: Hub | None
    _links: list[Callable[[Any], Any]]      # (Greenlet's class default is an empty tuple)
    _lot: ParkingLot | None
    _notify_scheduled: bool

    def __init__(self, hub: Hub | None = None) -> None:
        # For subclasses with slots; Greenlet and Popen use class defaults instead.
        self.hub = hub
        self._links = []
        self._lot = None
        self._notify_scheduled = False

    def ready(self) -> bool:  # pragma: no cover - every subclass overrides it
        """True once the object is what waiters wait for (set, finished, free...)."""
        raise NotImplementedError

    def _bind(self) -> Hub:
        """The hub to park on or schedule links with; binds on first use. Hub thread only."""
        hub = self.hub
        if hub is None:
            hub = self.hub = get_hub()
        elif hub.thread_ident != _get_thread_ident():
            raise InvalidThreadUseError(
                '%s is bound to the hub of another OS thread; only set()/set_exception() '
                'may be called from other threads' % type(self).__name__)
        return hub

    # -- links ---------------------------------------------------------------------------

    def rawlink(self, callback: Callable[[Any], Any]) -> None:
        """Have the hub call ``callback(self)`` once this object is ready (once per link)."""
        if not callable(callback):
            raise TypeError('Expected callable: %r' % (callback,))
        hub = self.hub
        if hub is None or hub.thread_ident != _get_thread_ident():
            hub = self._bind()
        links = self._links
        if links:
            links.append(callback)
        else:       # the class's empty tuple, or an empty list: start a fresh list
            self._links = [callback]
        if not self._notify_scheduled and self.ready():
            self._notify_scheduled = True
            hub._ready.append((self._notify_links, ()))

    def unlink(self, callback: Callable[[Any], Any]) -> None:
        """Remove a callback added with :meth:`rawlink`; unknown callbacks are ignored."""
        links = self._links
        if links:               # (often empty: notified links are gone already)
            try:
                links.remove(callback)
            except ValueError:
                pass

    def unlink_all(self) -> None:
        """Remove every link callback."""
        if self._links:
            del self._links[:]

    def linkcount(self) -> int:
        """How many link callbacks are registered plus how many greenlets wait here
        (gevent counts a waiter as a link: it is one there)."""
        lot = self._lot
        return len(self._links) + (len(lot) if lot else 0)

    def has_links(self) -> int:
        """:meth:`linkcount`: true if any link or waiter, as gevent's."""
        return self.linkcount()

    def statistics(self) -> dict[str, Any]:
        """``{'waiting': parked greenlets, 'links': link callbacks}`` (for debugging)."""
        lot = self._lot
        return {'waiting': len(lot) if lot is not None else 0, 'links': len(self._links)}

    # -- notification --------------------------------------------------------------------

    def _check_and_notify(self) -> None:
        """``_notify()``, callable from any OS thread."""
        hub = self.hub
        if hub is None:
            # Nobody has waited or linked yet. A waiter that binds a hub after this
            # point re-checks ready() before parking (_wait_ready), so nothing is lost.
            return
        if hub.thread_ident != _get_thread_ident():
            hub.run_callback_threadsafe(self._notify)
        else:
            self._notify()

    def _notify(self) -> None:
        """Wake the parked greenlets and schedule the links. Hub thread only."""
        # Links first, then the parked greenlets (both run from the ready queue, in
        # this order), as in gevent, where join() is itself a link added last: when
        # g.join() returns, the links added before it have run.
        if self._links and not self._notify_scheduled:
            self._notify_scheduled = True
            self.hub._ready.append((self._notify_links, ()))  # type: ignore[union-attr]  # bound: links exist
        # The lot is a broadcast one: a waiter woken here and killed before it ran
        # hands nothing on, so it can never wake one that started waiting later.
        lot = self._lot
        if lot:
            lot.unpark_all(True)

    def _notify_links(self) -> None:
        # Runs as a hub callback. Links are one-shot; ones added while we run are
        # called too, as long as the object is still ready.
        self._notify_scheduled = False
        links = self._links
        while links and self.ready():
            link = links.pop(0)
            try:
                link(self)
            except:  # noqa: E722 -- we run in the hub: report, never escape
                self.hub.handle_error((link, self), *sys.exc_info())  # type: ignore[union-attr]

    # -- waiting -------------------------------------------------------------------------

    def _wait_ready(self, timeout: float | None) -> bool:
        """Park until ready; True if it is, False when ``timeout`` (checked) passed first."""
        hub = self.hub
        if hub is None or hub.thread_ident != _get_thread_ident():
            self._bind()
        if self.ready():
            # Also covers a set() by another thread between the caller's check and binding.
            return True
        lot = self._lot
        if lot is None:
            lot = self._lot = ParkingLot(broadcast=True)
        # Parks here; the lot removes us on timeout or kill.
        return lot.park(timeout) is not TIMED_OUT


# --------------------------------------------------------------------------------------
# Timers

class Timer:
    """A scheduled call; ``cancel()`` is O(1) (the heap entry is skipped when due)."""

    __slots__ = ('hub', 'when', 'callback', 'args', 'ref')

    def __init__(self, hub, when, callback, args, ref):
        self.hub = hub
        self.when = when
        self.callback = callback
        self.args = args
        self.ref = ref

    @property
    def pending(self):
        return self.callback is not None

    def cancel(self):
        if self.callback is not None:
            self.callback = self.args = None
            hub = self.hub
            if self.ref:
                hub._nref_timers -= 1
            hub._ncancelled += 1

    # gevent's watcher name
    stop = close = cancel

    def set_ref(self, ref: bool) -> None:
        """Change whether this pending timer keeps the loop running."""
        if self.callback is not None and ref != self.ref:
            self.hub._nref_timers += 1 if ref else -1
        self.ref = ref

    def __repr__(self):
        return '<Timer when=%.3f %s>' % (self.when, self.callback if self.callback else 'cancelled')


class FdDeadline:
    """A time limit for the waits one greenlet makes on one fd, kept by one lazily re-armed Timer.

    For a connection that waits on its socket over and over (a keep-alive HTTP
    connection waits for every request head and every slow body read), a
    ``wait_fd(..., timeout)`` per wait allocates a :class:`Timer`, pushes it on
    the heap and cancels it again, request after request. Here a wait only
    stores its deadline (hub time, see :func:`now`) and parks with no timer of
    its own; one Timer per fd, armed by the first wait, does the timing. When it
    comes due it looks at the wait in progress: nobody waits (the greenlet is
    busy between waits), so it lapses and the next wait arms it again; the
    deadline moved later (later waits), so it re-arms for it -- at most once per
    timeout period, not once per wait; or the deadline passed, so the fd's
    waiters are woken with ``exc`` through :meth:`Hub.cancel_wait` (which also
    forgets the fd: a timed-out wait ends the connection, whose owner closes it).

    Call :meth:`close` when the fd is done with, so the Timer does not keep the
    owner alive until it comes due.
    """

    __slots__ = ('_hub', '_fd', '_exc', '_when', '_timer', '_due')

    def __init__(self, fd: int, exc: BaseException, hub: Hub | None = None) -> None:
        self._hub = hub if hub is not None else get_hub()
        self._fd = fd
        self._exc = exc
        self._when: float | None = None   # the deadline of the wait in progress (None: nobody waits)
        self._timer: Timer | None = None
        self._due = 0.0                     # when the armed timer comes due

    def wait(self, events: int, when: float | None) -> int:
        """Park until the fd is ready for ``events`` (as :meth:`Hub.wait_fd`), or
        until hub time ``when`` (None: no limit), when ``exc`` is raised."""
        hub = self._hub
        if when is not None:
            timer = self._timer
            if timer is None or self._due > when:
                # No timer yet (or it lapsed), or this deadline is earlier than the one
                # the timer was armed for: arm for this one.
                if timer is not None:
                    timer.cancel()
                self._timer = hub.call_later(when - hub._clock(), self._fire)
                self._due = when
            self._when = when
        try:
            return hub.wait_fd(self._fd, events)
        finally:
            self._when = None

    def _fire(self):
        self._timer = None
        when = self._when
        if when is None:
            return                     # nobody waits now; the next wait re-arms
        hub = self._hub
        left = when - hub._clock()
        if left > 0:
            self._timer = hub.call_later(left, self._fire)
            self._due = when
        else:
            hub.cancel_wait(self._fd, self._exc)

    def close(self) -> None:
        """Cancel the Timer (the fd is closed or handed over)."""
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()


class FdWatcher:
    """A standing occupant of an fd's reader/writer slot, for :meth:`Hub.watch_fd`.

    Unlike a :class:`Waiter`, it is never used up: the loop calls its
    ``switch(events)`` (in the hub; it must not block) each time the fd is ready,
    until :meth:`Hub.unwatch_fd`. ``throw(exc)`` is called (from a hub callback)
    if the fd is closed through :meth:`Hub.cancel_wait`. Subclasses define both.
    """

    __slots__ = ('greenlet',)

    #: Whether :meth:`Hub.poll_watchers` may call ``switch`` from the greenlet that
    #: polls (a loop running its own callbacks). False for watchers whose callbacks
    #: must run in the hub itself (gevent's ``loop.io`` watchers): the hub's own poll
    #: reports their fds again.
    from_any_greenlet = True

    def __init__(self) -> None:
        # The loop treats a slot's occupant as a parked Waiter: it calls
        # ``occupant.greenlet.switch(events)`` while ``occupant.value`` reads unset,
        # then stores the value. Ours always reads unset, and we are our own "greenlet".
        self.greenlet = self

    value = property(lambda self: _UNSET, lambda self, value: None)

    def switch(self, events: int) -> None:  # pragma: no cover - subclasses define it
        raise NotImplementedError

    def throw(self, *exc: Any) -> None:  # pragma: no cover - subclasses define it
        raise NotImplementedError


# --------------------------------------------------------------------------------------
# The poller: the only place that touches the OS readiness API.

class _FdWatch:
    """What the hub knows about one fd: who waits to read, who waits to write, and
    which events the poller currently has registered (kept after wake-ups)."""

    __slots__ = ('reader', 'writer', 'mask')

    def __init__(self):
        self.reader = None
        self.writer = None
        self.mask = 0


if hasattr(_select, 'epoll'):
    # On Linux we drive epoll directly. selectors.EpollSelector wraps exactly this
    # object but builds a SelectorKey per event and maps fds back to file objects;
    # that costs more than the epoll_wait itself on a busy echo server.
    _IN, _OUT = _select.EPOLLIN, _select.EPOLLOUT
    _ERR = _select.EPOLLERR | _select.EPOLLHUP
    _READ_BITS = _IN | _select.EPOLLPRI | _ERR | getattr(_select, 'EPOLLRDHUP', 0)
    _WRITE_BITS = _OUT | _ERR
    # Captured: monkey.patch_select removes select.epoll, and hubs are still
    # created after patching (in thread-pool worker threads).
    _epoll = _select.epoll

    class _Poller:
        def __init__(self):
            self._ep = _epoll()
            self.poll = self._ep.poll

        @staticmethod
        def _native(mask):
            return (_IN if mask & READ else 0) | (_OUT if mask & WRITE else 0)

        def register(self, fd, mask):
            try:
                self._ep.register(fd, self._native(mask))
            except FileExistsError:
                self._ep.modify(fd, self._native(mask))

        def modify(self, fd, mask):
            try:
                self._ep.modify(fd, self._native(mask))
            except FileNotFoundError:
                # The fd was closed and its number reused behind our back: the
                # kernel forgot the old registration, so register afresh.
                self._ep.register(fd, self._native(mask))

        def unregister(self, fd):
            try:
                self._ep.unregister(fd)
            except (OSError, ValueError):
                pass

        def close(self):
            self._ep.close()
else:
    _READ_BITS = READ
    _WRITE_BITS = WRITE

    class _Poller:  # type: ignore[no-redef]
        """Portable fallback over selectors.DefaultSelector, with the same surface."""

        def __init__(self):
            self._sel = _selectors.DefaultSelector()

        def register(self, fd, mask):
            try:
                self._sel.register(fd, mask)
            except KeyError:
                self._sel.modify(fd, mask)

        def modify(self, fd, mask):
            try:
                self._sel.modify(fd, mask)
            except KeyError:
                self._sel.register(fd, mask)

        def unregister(self, fd):
            try:
                self._sel.unregister(fd)
            except (KeyError, ValueError, OSError):
                pass

        def poll(self, timeout=None):
            if timeout is not None and timeout < 0:
                timeout = None
            return [(key.fd, ev) for key, ev in self._sel.select(timeout)]

        def close(self):
            self._sel.close()


def _poller_wait_codes() -> frozenset:
    """Code objects on top of a hub's thread while the hub waits in its poller:
    ``Hub._loop`` (epoll's ``poll`` is C), and with the portable fallback its
    Python-level ``poll`` and the stdlib selectors' ``select``. The watchers in
    other threads (the monitor, preemption) read a hub's top frame against them:
    there the hub is idle, not blocked."""
    codes = {Hub._loop.__code__}
    poll: Any = getattr(_Poller, 'poll', None)
    if getattr(poll, '__code__', None) is not None:
        codes.add(poll.__code__)
        for cls in vars(_selectors).values():
            select: Any = getattr(cls, 'select', None)
            if getattr(select, '__code__', None) is not None:
                codes.add(select.__code__)
    return frozenset(codes)


# --------------------------------------------------------------------------------------
# The hub

_SYSTEM_ERRORS = (SystemExit, KeyboardInterrupt, SystemError)

# The plain syscalls for the wake-up pipe, captured before ``monkey.patch_os``
# makes ``os.read``/``os.write`` check the fd's kind on every call.
_os_read = os.read
_os_write = os.write

#: The OS thread's ident, captured before ``monkey.patch_thread`` can make
#: ``_thread.get_ident`` per-greenlet: a hub belongs to an OS thread.
_get_thread_ident = _thread.get_ident


_hub_idents = _count()      # Hub.minimal_ident


class Hub(greenlet):
    """The event loop of one OS thread. Create it with :func:`get_hub`."""

    #: Exceptions that escape greenlets/callbacks and must reach the main greenlet.
    SYSTEM_ERROR = _SYSTEM_ERRORS
    #: Exceptions printed without a traceback.
    NOT_ERROR = (GreenletExit, SystemExit)

    # Slots for the state every wake-up, timer and fd wait touches: CPython
    # specializes slot reads, not reads from a greenlet's instance dict (which
    # holds the rest, and what other modules attach).
    __slots__ = ('_clock', '_fds', '_handoffs', '_idle_waiters', '_keepalive', '_ncancelled',
                 '_nfd_waiters', '_nref_timers', '_poller', '_ready', '_seq', '_start_batch',
                 '_threadsafe', '_timers', '_virtual', '_wake_pending', 'thread_ident')

    def __init__(self):
        root = getcurrent()
        while root.parent is not None:
            root = root.parent
        greenlet.__init__(self, parent=root)
        self.thread_ident = _get_thread_ident()
        self._ready = deque()            # (callable, args) run in FIFO order
        self._handoffs = _HANDOFFS       # sleep(0) hand-offs left before the loop runs again
        self._start_batch = None         # the ready entry that starts greenlets (greenlet.spawn)
        # The hub's clock: every timer reads it (see now()). A virtual clock
        # (gevent_lite.testing) replaces it and sets _virtual while installed.
        self._clock = _monotonic
        self._virtual = None
        self._timers = []                # heap of (when, seq, Timer)
        self._seq = _count()
        self._nref_timers = 0            # live timers that keep the loop running
        self._ncancelled = 0             # cancelled entries still in the heap
        self._fds = {}                   # fd -> _FdWatch
        self._nfd_waiters = 0            # greenlets parked on fds
        self._idle_waiters = ParkingLot()    # idle() parks here
        self._keepalive = 0              # outstanding work in other threads
        self._threadsafe = deque()       # callbacks handed over by other threads
        self._wake_pending = False
        self._poller = _Poller()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._poller.register(self._wake_r, READ)
        self._destroyed = False
        self.threadpool_factory = None   # set by gevent_lite.threadpool
        self._threadpool = None
        self.resolver = None

    @property
    def minimal_ident(self) -> int:
        """A small integer naming this hub (gevent's attribute), assigned on first use."""
        ident = self.__dict__.get('_minimal_ident')
        if ident is None:
            ident = self.__dict__['_minimal_ident'] = next(_hub_idents)
        return ident

    def __repr__(self):
        return '<Hub at 0x%x ready=%d timers=%d fds=%d>' % (
            id(self), len(self._ready), self._nref_timers, len(self._fds))

    # -- scheduling ---------------------------------------------------------------------

    def run_callback(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` from the hub soon (FIFO). This thread only."""
        self._ready.append((callback, args))

    def run_callback_first(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` from the hub before anything already queued. This thread only."""
        self._ready.appendleft((callback, args))

    def run_callback_threadsafe(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` in this hub's thread; callable from any OS thread."""
        self._threadsafe.append((callback, args))
        if not self._wake_pending:
            self._wake_pending = True
            try:
                _os_write(self._wake_w, b'\0')
            except (BlockingIOError, OSError):
                pass  # pipe full (a wake-up is pending anyway) or hub destroyed

    def call_later(self, seconds: float, callback: Callable[..., Any], *args: Any, ref: bool = True) -> Timer:
        """Call ``callback(*args)`` from the hub after ``seconds``; returns a :class:`Timer`.

        ``ref=False`` timers do not keep :meth:`join` from returning.
        """
        if seconds != seconds:
            raise ValueError('timer delay must not be NaN')
        timer = Timer(self, self._clock() + seconds, callback, args, ref)
        heapq.heappush(self._timers, (timer.when, next(self._seq), timer))
        if ref:
            self._nref_timers += 1
        return timer

    # gevent spells it like this on the loop
    timer = call_later

    def set_clock(self, clock: Callable[[], float], virtual: Any = None) -> None:
        """Make ``clock`` the hub's time; ``virtual``: the clock's owner when it only
        moves when told (a :class:`gevent_lite.testing.VirtualClock`, which the loop
        asks to jump when everybody waits for a timer), else None.

        Pending timers keep their remaining delays: the heap is shifted by the
        difference of the two clocks (a uniform shift keeps it a heap).
        """
        delta = clock() - self._clock()
        timers = self._timers
        for entry in timers:
            entry[2].when += delta
        timers[:] = [(timer.when, seq, timer) for _, seq, timer in timers]
        self._clock = clock
        self._virtual = virtual

    @property
    def virtual_clock(self) -> Any:
        """The virtual clock installed by :meth:`set_clock`, or None."""
        return self._virtual

    def ref(self):
        """Keep the loop alive for work another thread will hand back (or a ref'd loop watcher)."""
        self._keepalive += 1

    def unref(self):
        self._keepalive -= 1

    # -- waiting for fds ----------------------------------------------------------------

    def wait_fd(self, fd: Any, events: int, timeout: float | None = None, timeout_exc: Any = None) -> int:
        """Park the current greenlet until ``fd`` is ready for ``events`` (READ|WRITE).

        Returns the ready events. On timeout raises ``timeout_exc`` (default:
        ``socket.timeout('timed out')``). A greenlet already waiting for the same
        event on the same fd makes this raise :class:`ConcurrentObjectUseError`.
        """
        watch = self._fds.get(fd)
        if watch is None:
            if not isinstance(fd, int):
                fd = fd.fileno()
            if fd < 0:
                raise ValueError('file descriptor cannot be a negative integer (%d)' % fd)
            watch = self._fds.get(fd)
            if watch is None:
                watch = self._fds[fd] = _FdWatch()
        if events & READ and watch.reader is not None:
            raise ConcurrentObjectUseError(
                'This fd (%d) is already being read by %r' % (fd, watch.reader.greenlet))
        if events & WRITE and watch.writer is not None:
            raise ConcurrentObjectUseError(
                'This fd (%d) is already being written by %r' % (fd, watch.writer.greenlet))
        mask = watch.mask
        # Register (or widen) only when needed: after a wake-up the fd stays
        # registered, so a busy connection's next wait costs no syscall.
        if mask | events != mask and not self._widen(fd, watch, events):
            return events            # a regular file: always ready
        current = getcurrent()
        if current is self:
            raise _blocking_in_hub()
        waiter = Waiter(self)
        if events & READ:
            watch.reader = waiter
        if events & WRITE:
            watch.writer = waiter
        self._nfd_waiters += 1
        timer = None
        if timeout is not None:
            if timeout_exc is None:
                timeout_exc = _default_timeout_exc()
            timer = self.call_later(timeout, waiter.throw, timeout_exc)
        # Park (Waiter.get() inlined: this is the hot path of every socket).
        waiter.greenlet = current
        try:
            ready = self.switch()
        finally:
            waiter.greenlet = None
            self._nfd_waiters -= 1
            if timer is not None:
                timer.cancel()
            if watch.reader is waiter:
                watch.reader = None
            if watch.writer is waiter:
                watch.writer = None
        if ready is None:
            # Only the loop resumes us normally, always with the ready events: this
            # was somebody's stray greenlet.switch(). Say so, as gevent does,
            # rather than let the caller read from an fd that is not ready.
            raise InvalidSwitchError('Invalid switch into %r: got None (expected the ready events of fd %d)'
                                     % (current, fd))
        return ready

    def _widen(self, fd, watch, events):
        """Have the poller report ``events`` of ``fd`` too; False if ``fd`` is a
        regular file (it cannot be polled: it is always ready)."""
        mask = watch.mask
        try:
            if mask:
                self._poller.modify(fd, mask | events)
            else:
                self._poller.register(fd, events)
        except PermissionError:
            return False
        except OSError:
            if not mask and watch.reader is None and watch.writer is None:
                del self._fds[fd]
            raise
        watch.mask = mask | events
        return True

    def cancel_wait(self, fd: int, exc: BaseException | None = None) -> None:
        """Forget ``fd`` (call it before closing the fd) and wake its waiters with ``exc``.

        Greenlets parked on the fd get ``exc`` (default: ``OSError(EBADF)``)
        instead of waiting forever on a number the OS may hand to someone else.
        """
        if not isinstance(fd, int):
            fd = fd.fileno()
        watch = self._fds.pop(fd, None)
        if watch is None:
            return
        if watch.mask:
            self._poller.unregister(fd)
            watch.mask = 0
        if exc is None:
            exc = OSError(errno.EBADF, 'File descriptor was closed in another greenlet')
        for waiter in (watch.reader, watch.writer):
            if waiter is not None:
                self._ready.append((waiter.throw, (exc,)))
                if watch.reader is watch.writer:
                    break

    close_fd = cancel_wait

    def watch_fd(self, fd: int, events: int, watcher: FdWatcher) -> None:
        """Make ``watcher`` the standing reader (``READ``) and/or writer (``WRITE``) of ``fd``.

        For a loop that dispatches readiness itself (asyncio's selector loop on the
        hub): the hub's poller reports ``fd`` and calls ``watcher.switch(events)``
        from the hub, every time, until :meth:`unwatch_fd`. A standing watcher does
        not keep the loop alive by itself. Raises :class:`ConcurrentObjectUseError`
        if someone else waits for that event on ``fd``, ``PermissionError`` for a
        regular file (it cannot be polled), ``OSError`` for a bad fd.
        """
        if fd < 0:
            raise ValueError('file descriptor cannot be a negative integer (%d)' % fd)
        watch = self._fds.get(fd)
        if watch is None:
            watch = self._fds[fd] = _FdWatch()
        for bit, taken in ((READ, watch.reader), (WRITE, watch.writer)):
            if events & bit and taken is not None and taken is not watcher:
                raise ConcurrentObjectUseError(
                    'This fd (%d) is already waited on by %r' % (fd, taken.greenlet))
        added = events & ~watch.mask
        if added and not self._widen(fd, watch, added):
            if not watch.mask and watch.reader is None and watch.writer is None:
                del self._fds[fd]
            raise PermissionError(errno.EPERM, 'fd %d cannot be polled (a regular file?)' % fd)
        if events & READ:
            watch.reader = watcher
        if events & WRITE:
            watch.writer = watcher

    def poll_watchers(self) -> None:
        """Poll without blocking, from the calling greenlet, and call the standing
        watchers (:meth:`watch_fd`) of the fds that are ready.

        For a loop that runs its own callbacks between the hub's iterations and must
        see fresh I/O each time, as a selector loop's ``select(0)`` does. Nothing
        else the poll reports is touched: parked greenlets, io watchers, unknown fds
        and the wake-up pipe are left to the hub, whose next poll reports them again
        (level-triggered).
        """
        fds = self._fds
        try:
            events = self._poller.poll(0)
        except InterruptedError:
            return
        for fd, ev in events:
            watch = fds.get(fd)
            if watch is None:
                continue
            if ev & _READ_BITS:
                watcher = watch.reader
                if isinstance(watcher, FdWatcher) and watcher.from_any_greenlet:
                    watcher.switch(READ)
            if ev & _WRITE_BITS:
                watcher = watch.writer
                if isinstance(watcher, FdWatcher) and watcher.from_any_greenlet:
                    watcher.switch(WRITE)

    def unwatch_fd(self, fd: int, events: int, watcher: FdWatcher) -> None:
        """Undo :meth:`watch_fd` for ``events``, and drop the registration now.

        Not kept as after a wake-up: the owner may close the fd with a plain
        ``close()`` next, which the hub never hears of (docs/internals.rst).
        """
        watch = self._fds.get(fd)
        if watch is None:
            return
        if events & READ and watch.reader is watcher:
            watch.reader = None
        if events & WRITE and watch.writer is watcher:
            watch.writer = None
        drop = watch.mask & ~((READ if watch.reader is not None else 0)
                              | (WRITE if watch.writer is not None else 0))
        if drop:
            try:
                self._shrink(fd, watch, drop)
            except OSError:          # closed already: forget it all the same
                watch.mask = 0
        if not watch.mask and watch.reader is None and watch.writer is None:
            self._fds.pop(fd, None)

    def wait_fds(self, pairs: Iterable[tuple[int, int]], timeout: float | None = None,
                 keep: Container[int] = (), waiter: Waiter | None = None, ref: bool = True) -> bool:
        """Park until one of several fds is ready; for green ``select``/``poll``.

        ``pairs`` is an iterable of ``(fd, events)``. One :class:`Waiter` is
        registered as reader/writer of every fd, so the first ready fd wakes the
        greenlet exactly once. Returns True when woken by an fd, False when
        ``timeout`` passed. It does not say which fd: the caller re-checks all of
        them without blocking (level-triggered, so nothing is lost). Registrations
        are undone on every path, in the poller too -- except for the fds in
        ``keep``, which the caller knows are closed through :meth:`cancel_wait`
        (green sockets): any other fd may be closed with a plain ``os.close`` the
        hub never hears of, and a registration kept for it would hide the next fd
        of that number from the poller. An fd closed meanwhile (``cancel_wait``)
        raises its error here.

        ``waiter``: a fresh :class:`Waiter` of this hub to park on, so that the
        caller can also be woken by ``waiter.wake(value)`` from another greenlet
        (any value but None counts as "woken": the caller re-checks its fds).
        ``ref=False``: this wait does not keep :meth:`join` from returning (a
        background loop that serves fds whenever the hub runs, but is no reason
        for it to run).
        """
        fds = self._fds
        if waiter is None:
            waiter = Waiter(self)
        armed = []
        try:
            for fd, events in pairs:
                watch = fds.get(fd)
                if watch is None:
                    watch = fds[fd] = _FdWatch()
                if (events & READ and watch.reader is not None) or (
                        events & WRITE and watch.writer is not None):
                    raise ConcurrentObjectUseError(
                        'This fd (%d) is already waited on by %r'
                        % (fd, (watch.reader or watch.writer).greenlet))
                added = events & ~watch.mask
                if added and not self._widen(fd, watch, added):
                    return True          # a regular file: always ready
                if events & READ:
                    watch.reader = waiter
                if events & WRITE:
                    watch.writer = waiter
                armed.append((fd, watch, added))
            timer = None
            if timeout is not None:
                timer = self.call_later(timeout, waiter.switch, None)
            counted = bool(armed) and ref
            if counted:
                self._nfd_waiters += 1
            try:
                return waiter.get() is not None
            finally:
                if counted:
                    self._nfd_waiters -= 1
                if timer is not None:
                    timer.cancel()
        finally:
            for fd, watch, added in armed:
                if watch.reader is waiter:
                    watch.reader = None
                if watch.writer is waiter:
                    watch.writer = None
                if added and fd not in keep and fds.get(fd) is watch:
                    # Drop what this call registered, unless someone waits for it now.
                    drop = added & watch.mask & ~((READ if watch.reader is not None else 0)
                                                  | (WRITE if watch.writer is not None else 0))
                    if drop:
                        try:
                            self._shrink(fd, watch, drop)
                        except OSError:      # closed meanwhile: forget it all the same
                            watch.mask = 0
                            if watch.reader is None and watch.writer is None:
                                del fds[fd]

    # -- the loop -----------------------------------------------------------------------

    def run(self):
        """The loop. Runs forever; when no work is left it throws LoopExit to the parent."""
        while True:
            try:
                self._loop()
            except _SYSTEM_ERRORS as e:
                # Raised by a signal handler that ran on top of the hub (SIGINT's
                # default handler while we sit in the poller): hand it to the main
                # greenlet and keep looping -- a dead hub would make every later
                # wait return at once.
                err = e
            else:
                # Nothing can ever wake anybody: tell the main greenlet (it is parked in a
                # Waiter, hub.join() or a LoopExit catcher), then wait to be needed again.
                err = LoopExit(self._describe_deadlock())
            try:
                self.parent.throw(err)
            finally:
                del err

    def _loop(self):
        # State lives in locals and bound methods are hoisted: this is the hottest
        # code in the library.
        ready = self._ready
        popleft = ready.popleft
        timers = self._timers
        heappop = heapq.heappop
        fds = self._fds
        threadsafe = self._threadsafe
        idle_waiters = self._idle_waiters
        poll = self._poller.poll
        read_bits = _READ_BITS
        write_bits = _WRITE_BITS
        wake_r = self._wake_r
        while True:
            # sleep(0) may switch straight to the next parked sleeper this many
            # times before one of them must come back here (see sleep()).
            self._handoffs = _HANDOFFS
            # 1. The callbacks ready now. Ones they add wait for the next iteration.
            for _ in repeat(None, len(ready)):
                callback, args = popleft()
                try:
                    callback(*args)
                except:  # noqa: E722 -- every error is reported, none kills the loop
                    self._loop_error(callback)
            # Drop the last callback: a suspended hub must not keep its objects alive.
            callback = args = None

            if threadsafe:
                self._drain_threadsafe()

            # 2. How long may we block?
            if ready:
                timeout = 0
            elif idle_waiters:
                # The loop is idle: release one idle() waiter, then poll without blocking.
                idle_waiters.unpark(None)
                timeout = 0
            elif timers:
                if self._ncancelled > 256 and self._ncancelled * 2 > len(timers):
                    self._compact_timers()
                    if not timers:
                        continue
                # The clock is read through self on every use, not hoisted: a
                # virtual clock can be installed while this loop is suspended.
                timeout = timers[0][0] - self._clock()
                if timeout < 0:
                    timeout = 0
                elif not self._nref_timers and not self._nfd_waiters and not self._keepalive:
                    return   # only unref'd timers left: nothing keeps us running
                elif self._virtual is not None:
                    # Everybody waits and a timer is next: a virtual clock polls
                    # I/O for its autojump threshold of real time and, if nothing
                    # happened, jumps to the deadline (then timeout is 0).
                    timeout = self._virtual._idle(self, poll, timers[0][0])
                    if timeout is None:
                        return   # no autojump and nothing else can wake anybody
            elif self._nfd_waiters or self._keepalive:
                timeout = -1
            else:
                return

            # 3. I/O. With callbacks pending and nobody waiting on an fd there is
            # nothing to learn from the poller, so skip the syscall.
            if timeout or len(fds):
                try:
                    events = poll(timeout)
                except InterruptedError:
                    events = ()
                for fd, ev in events:
                    watch = fds.get(fd)
                    if watch is None:
                        if fd == wake_r:
                            self._drain_wake_pipe()
                        else:
                            self._poller.unregister(fd)
                        continue
                    try:
                        if ev & read_bits:
                            waiter = watch.reader
                            if waiter is not None:
                                # waiter.switch(READ), inlined
                                g = waiter.greenlet
                                if g is not None and waiter.value is _UNSET:
                                    waiter.value = READ
                                    g.switch(READ)
                            elif watch.mask & READ:
                                # An event nobody waits for: only now drop the
                                # registration (docs/internals.rst: kept registrations).
                                self._shrink(fd, watch, READ)
                        if ev & write_bits:
                            waiter = watch.writer
                            if waiter is not None:
                                waiter.switch(WRITE)
                            elif watch.mask & WRITE and fds.get(fd) is watch:
                                self._shrink(fd, watch, WRITE)
                    except:  # noqa: E722
                        self._loop_error(watch)

            # 4. Timers that are due.
            if timers and timers[0][0] <= self._clock():
                t_now = self._clock()
                while timers and timers[0][0] <= t_now:
                    timer = heappop(timers)[2]
                    callback = timer.callback
                    if callback is None:
                        self._ncancelled -= 1
                        continue
                    args = timer.args
                    timer.callback = timer.args = None
                    if timer.ref:
                        self._nref_timers -= 1
                    try:
                        callback(*args)
                    except:  # noqa: E722
                        self._loop_error(callback)

    def _shrink(self, fd, watch, event):
        mask = watch.mask & ~event
        watch.mask = mask
        if mask:
            self._poller.modify(fd, mask)
        else:
            self._poller.unregister(fd)
            if watch.reader is None and watch.writer is None:
                del self._fds[fd]

    def _compact_timers(self):
        # Lazy cancellation leaves dead entries; when they are most of the heap,
        # rebuild it so a server with many cancelled socket timeouts stays small.
        self._timers[:] = [e for e in self._timers if e[2].callback is not None]
        heapq.heapify(self._timers)
        self._ncancelled = 0

    def _drain_wake_pipe(self):
        try:
            while _os_read(self._wake_r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _drain_threadsafe(self):
        self._wake_pending = False
        threadsafe = self._threadsafe
        ready = self._ready
        while threadsafe:
            ready.append(threadsafe.popleft())

    def _describe_deadlock(self):
        lines = ['This operation would block forever: the hub has no timers, '
                 'no I/O waiters and no callbacks left that could wake anybody.']
        if self._virtual is not None and self._nref_timers:
            lines = ['This operation would block forever: everybody waits for a timer, and '
                     '%r never jumps by itself; move it with clock.jump().' % (self._virtual,)]
        waiting = []
        try:
            for obj in gc.get_objects():
                if (isinstance(obj, greenlet) and obj.parent is self
                        and obj.gr_frame is not None):
                    waiting.append(obj)
        except Exception:  # pragma: no cover - best effort diagnostics
            pass
        main = self.parent
        if main not in waiting and main.gr_frame is not None:
            waiting.insert(0, main)
        for g in waiting[:10]:
            lines.append('\t%s waits at %s' % (
                'the main greenlet' if g is main else repr(g), _user_frame(g.gr_frame)))
        if len(waiting) > 10:
            lines.append('\t... and %d more' % (len(waiting) - 10))
        return '\n'.join(lines)

    # -- errors ---------------------------------------------------------------------------

    def _loop_error(self, context):
        # The loop's except clauses land here. handle_error is looked up now, not
        # hoisted: one set on the instance while the loop runs (gevent's hook, used
        # by tests and frameworks) must get the errors. One that raises itself must
        # not kill the loop: the error and its own failure go to Hub.handle_error.
        t, v, tb = sys.exc_info()
        try:
            self.handle_error(context, t, v, tb)
        except BaseException:  # noqa: BLE001 -- reported just below
            Hub.handle_error(self, context, t, v, tb)
            Hub.handle_error(self, self.handle_error, *sys.exc_info())
        finally:
            del tb

    def handle_error(self, context, type, value, tb):
        """Report an exception that escaped ``context`` (a greenlet or callback).

        ``SystemExit``/``KeyboardInterrupt`` are re-raised in the main greenlet;
        anything else is printed once and the loop goes on.
        """
        if type is None:
            return
        if issubclass(type, self.SYSTEM_ERROR):
            current = getcurrent()
            if current is self or current is self.parent:
                self.parent.throw(value)
            else:
                self._ready.append((self.parent.throw, (value,)))
            return
        self.print_exception(context, type, value, tb)

    @property
    def exception_stream(self) -> Any:
        """Where errors (and the monitor's blocking reports) are written: ``sys.stderr``
        at the time of writing unless a stream is assigned (gevent's attribute);
        ``del`` goes back to that."""
        stream = self.__dict__.get('_exception_stream')
        return stream if stream is not None else sys.stderr

    @exception_stream.setter
    def exception_stream(self, stream: Any) -> None:
        self.__dict__['_exception_stream'] = stream

    @exception_stream.deleter
    def exception_stream(self) -> None:
        self.__dict__.pop('_exception_stream', None)

    def print_exception(self, context, type, value, tb):
        stderr = self.exception_stream
        try:
            if issubclass(type, self.NOT_ERROR):
                pass
            else:
                traceback.print_exception(type, value, tb, file=stderr)
            del tb
            if context is not None:
                if not isinstance(context, str):
                    try:
                        context = repr(context)
                    except Exception:
                        context = object.__repr__(context)
                import datetime
                stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
                stderr.write('%s %s failed with %s\n\n' % (stamp, context, getattr(type, '__name__', type)))
            stderr.flush()
        except Exception:  # pragma: no cover - stderr closed at exit
            pass

    # -- lifetime -------------------------------------------------------------------------

    def join(self, timeout: float | None = None) -> bool:
        """Run the loop from the main greenlet until it has no work left.

        Returns True when the loop ran out of work, False if ``timeout`` expired.
        """
        if getcurrent() is not self.parent:
            raise BlockingSwitchOutError('only the main greenlet can join the hub')
        try:
            # Nobody unparks this lot: we leave it through LoopExit (the loop ran
            # out of work) or the timeout, whose timer must not itself keep the
            # loop running.
            ParkingLot().park(timeout, ref=False)
        except LoopExit:
            return True
        return False

    def statistics(self) -> dict[str, int]:
        """What the loop holds now, for debugging and tests (no private fields needed).

        ``ready`` callbacks queued, ``timers`` live timers, ``cancelled_timers``
        cancelled ones whose heap entries are not dropped yet, ``fds``
        descriptors the hub knows (registered or kept), ``fd_waiters`` greenlets
        parked on fds, ``idle_waiters`` greenlets in :func:`idle`, ``threadsafe``
        callbacks handed over by other threads and not yet queued, ``keepalive``
        outstanding work in other threads (:meth:`ref`), ``ref_timers`` live
        timers that keep the loop running (not ``ref=False`` ones).
        """
        return {'ready': len(self._ready), 'timers': len(self._timers) - self._ncancelled,
                'cancelled_timers': self._ncancelled, 'ref_timers': self._nref_timers,
                'fds': len(self._fds),
                'fd_waiters': self._nfd_waiters, 'idle_waiters': len(self._idle_waiters),
                'threadsafe': len(self._threadsafe), 'keepalive': self._keepalive}

    def watched_fds(self) -> list[int]:
        """The fds the hub knows now (registered with the poller, kept, or waited on), sorted."""
        return sorted(self._fds)

    def fd_info(self, fd: int) -> dict[str, Any] | None:
        """What the hub holds for ``fd``, for debugging and tests; None when nothing.

        ``events``: the READ/WRITE bits registered with the poller (kept after
        wake-ups: see docs/internals.rst); ``reader``/``writer``: the greenlet
        parked to read/write (a standing :class:`FdWatcher` is its own), or None.
        """
        watch = self._fds.get(fd)
        if watch is None:
            return None
        reader, writer = watch.reader, watch.writer
        return {'events': watch.mask,
                'reader': reader.greenlet if reader is not None else None,
                'writer': writer.greenlet if writer is not None else None}

    @property
    def threadpool(self):
        """The hub's thread pool (created on first use by ``gevent_lite.threadpool``)."""
        if self._threadpool is None:
            factory = self.threadpool_factory or _default_threadpool_factory
            if factory is None:
                raise RuntimeError('import gevent_lite.threadpool to use the hub thread pool')
            self._threadpool = factory(self)
        return self._threadpool

    @threadpool.setter
    def threadpool(self, value):
        self._threadpool = value

    @threadpool.deleter
    def threadpool(self):
        # gevent's spelling for "kill this hub's pool; make a new one on next use".
        pool, self._threadpool = self._threadpool, None
        if pool is not None:
            pool.kill()

    @property
    def loop(self):
        """gevent's loop object (watchers: ``timer``, ``async_``, ``io``; ``run_callback``,
        ``now``), a face on this hub made on first use; see :mod:`gevent_lite._loop`."""
        loop = self.__dict__.get('_loop_face')
        if loop is None:
            from ._loop import Loop
            loop = self.__dict__['_loop_face'] = Loop(self)
        return loop

    def wait(self, watcher) -> None:
        """Park the current greenlet until ``watcher`` (from :attr:`loop`) fires once."""
        from ._loop import hub_wait
        hub_wait(self, watcher)

    #: The blocking detector watching this hub, once started (gevent's attribute).
    periodic_monitoring_thread = None

    def start_periodic_monitoring_thread(self, stream=None):
        """Start (or return the running) blocking detector for this hub; see
        :mod:`gevent_lite.monitor`. Call it from the hub's thread."""
        # The monitor is a tool, floors above: it plugs in through this hook.
        return _start_monitor(self, stream)

    def destroy(self, destroy_loop=None):
        """Close the poller and forget this hub; the next get_hub() makes a new one."""
        if self._destroyed:
            return
        self._destroyed = True
        if self._threadpool is not None:
            try:
                self._threadpool.kill()
            except Exception:
                pass
        self._poller.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        if getattr(_state, 'hub', None) is self:
            del _state.hub


def _user_frame(frame):
    """The innermost frame outside gevent_lite, formatted ``file:line in func``."""
    here = os.path.dirname(os.path.abspath(__file__))
    best = frame
    f = frame
    while f is not None:
        if not os.path.abspath(f.f_code.co_filename).startswith(here):
            best = f
            break
        f = f.f_back
    if best is None:
        return '<unknown>'
    return '%s:%d in %s' % (best.f_code.co_filename, best.f_lineno, best.f_code.co_name)


def _default_timeout_exc():
    import socket
    return socket.timeout('timed out')


#: Set by gevent_lite.threadpool on import: ``factory(hub) -> ThreadPool``.
_default_threadpool_factory: Callable[[Hub], Any] | None = None


def _start_monitor(hub: Hub, stream: Any) -> Any:
    """Hub.start_periodic_monitoring_thread's hook. The package replaces it at import
    with one that imports gevent_lite.monitor on first use (the hub never imports it)."""
    raise RuntimeError('gevent_lite.monitor is not plugged in')

_state = _thread._local()


def get_hub() -> Hub:
    """Return the hub of the current OS thread, creating it on first use."""
    try:
        return _state.hub
    except AttributeError:
        hub = _state.hub = _hub_class()
        for hook in new_hub_hooks:
            hook(hub)
        return hub


_hub_class = Hub


def set_default_hub_class(hubtype: type) -> None:
    """Make hubs created from now on (by :func:`get_hub`) instances of ``hubtype``,
    a :class:`Hub` subclass (gevent's hook; its test helpers install a quieter hub)."""
    global _hub_class
    if not (isinstance(hubtype, type) and issubclass(hubtype, Hub)):
        raise TypeError('the hub class must be a subclass of Hub, not %r' % (hubtype,))
    _hub_class = hubtype


#: Callables run with each new hub, in its thread, right after it is created.
#: Upper floors hook in here instead of the hub importing them (e.g. the
#: blocking monitor when ``config.monitor_thread`` is on).
new_hub_hooks: list[Callable[[Hub], Any]] = []


def get_hub_if_exists() -> Hub | None:
    """The hub of the current OS thread, or None if it has none (never creates one)."""
    return getattr(_state, 'hub', None)



def set_hub(hub):
    _state.hub = hub


# --------------------------------------------------------------------------------------
# Waiting, for everybody

def sleep(seconds: float = 0, ref: bool = True) -> None:
    """Park the current greenlet for ``seconds``.

    ``sleep(0)`` (or a negative value, as gevent treats it) lets every greenlet
    that was ready before the call run once, then returns.
    """
    try:
        hub = _state.hub
    except AttributeError:
        hub = get_hub()
    try:
        zero = seconds <= 0
    except TypeError:
        raise TypeError('sleep() needs a number of seconds, not %r' % (seconds,)) from None
    if zero:
        # The hottest path of cooperative code, so it parks without a Waiter: the
        # ready-queue entry itself is the ticket. Nothing but this entry resumes us
        # normally (every other wake-up goes through a Waiter we are not parked on);
        # if a kill or Timeout is thrown in first, the entry is defused so it cannot
        # resume us later somewhere else.
        current = getcurrent()
        if current is hub:
            raise _blocking_in_hub()
        ready = hub._ready
        entry = [current.switch, ()]
        if hub._handoffs and ready:
            head = ready[0]
            # Hand-off: when the next ready entry is another sleeper's armed
            # ticket (only sleep(0) queues lists), the hub would pop it next and
            # just switch to it; do that switch ourselves, one switch instead of
            # two (us -> hub -> it). FIFO order is the hub's, so everything ready
            # before us still runs before us. The budget, reset by every loop
            # iteration, makes some sleeper go back to the hub after a bounded
            # number of hand-offs, so I/O, timers and threadsafe callbacks are
            # never starved. The sleeper's parent stays the hub: what escapes it
            # still lands there.
            if type(head) is list and head[0] is not _noop:
                hub._handoffs -= 1
                ready.popleft()
                ready.append(entry)
                try:
                    head[0]()
                finally:
                    entry[0] = _noop
                return
        ready.append(entry)
        try:
            hub.switch()
        finally:
            # Defuse on every path: resumed by anything but the entry (a kill, a
            # Timeout, a raw switch), we must leave nothing that resumes us later.
            entry[0] = _noop
        return
    if seconds != seconds:
        raise ValueError('sleep length must not be NaN')
    # Parks on the timer itself, as sleep(0) does on its ready entry: only the
    # timer resumes us normally; if anything else resumes us first (a kill, a
    # Timeout, a raw switch), the timer is cancelled, so it cannot resume us
    # later somewhere else.
    current = getcurrent()
    if current is hub:
        raise _blocking_in_hub()
    timer = hub.call_later(seconds, current.switch, ref=ref)
    try:
        woken_by = hub.switch()
    finally:
        if timer.callback is not None:     # resumed early: the timer must not fire
            timer.cancel()
    # The timer's switch() passes no value, which greenlet delivers as the empty
    # tuple (a singleton in CPython): anything else came from somebody else.
    if woken_by is not _NOTHING:
        # A stray greenlet.switch() into a sleeping greenlet: gevent raises too.
        raise InvalidSwitchError('Invalid switch into %r: got %r (expected the end of sleep(%r))'
                                 % (current, woken_by, seconds))


def _noop(*args):
    pass


_NOTHING = ()      # what greenlet.switch() with no arguments delivers


# How many sleep(0) hand-offs (see sleep()) one loop iteration allows: enough to
# make the loop's own pass rare in a ping-pong of sleepers, few enough that a
# wake-up from I/O, a timer or another thread waits at most this many
# greenlet runs longer.
_HANDOFFS = 32


def idle(priority: int = 0) -> None:
    """Park until the loop is idle: no callbacks are pending."""
    # The loop unparks one idle() waiter per iteration that finds nothing ready.
    get_hub()._idle_waiters.park()


def wait_read(fileno: Any, timeout: float | None = None, timeout_exc: Any = None) -> int:
    """Park until ``fileno`` is readable."""
    return get_hub().wait_fd(fileno, READ, timeout, timeout_exc)


def wait_write(fileno: Any, timeout: float | None = None, timeout_exc: Any = None, event: Any = None) -> int:
    """Park until ``fileno`` is writable."""
    return get_hub().wait_fd(fileno, WRITE, timeout, timeout_exc)


def wait_readwrite(fileno: Any, timeout: float | None = None, timeout_exc: Any = None,
                   event: Any = None) -> int:
    """Park until ``fileno`` is readable or writable."""
    return get_hub().wait_fd(fileno, READ | WRITE, timeout, timeout_exc)


def retry_io(fd: int, event: int, attempt: Callable[..., Any], args: tuple = (),
             timeout: float | None = None, timeout_exc: Any = None,
             wants: dict[type, int] | None = None,
             fd_deadline: FdDeadline | None = None, when: float | None = None) -> Any:
    """The one "park while it would block, retry until the deadline" loop of green I/O.

    Call it after ``attempt(*args)`` was tried once and raised
    ``BlockingIOError`` (the non-blocking attempt comes first, inline, in every
    caller: most calls never get here). It parks until ``fd`` is ready for
    ``event`` (:meth:`Hub.wait_fd`; the registration is kept for the next call),
    tries again, and repeats until the attempt returns (its result is returned)
    or raises something else (raised). ``timeout`` (seconds, None: forever)
    covers the whole call, spurious wake-ups included; when it passes,
    ``timeout_exc`` is raised (default ``socket.timeout('timed out')``).
    ``wants`` maps other exception classes to the event to wait for next (TLS:
    ``SSLWantWriteError`` -> WRITE while reading).

    ``fd_deadline`` (an :class:`FdDeadline` of ``fd``) with ``when`` (hub time,
    None: no limit) replaces ``timeout``: the waits are timed by its one timer
    and its exception is raised at ``when`` (a keep-alive connection's waits).
    """
    if fd_deadline is not None:
        fd_wait = fd_deadline.wait
        while True:
            fd_wait(event, when)            # parks until ready (or fd_deadline's exc at `when`)
            try:
                return attempt(*args)
            except BlockingIOError:
                pass                        # a spurious wake-up: park again
    try:
        hub = _state.hub
    except AttributeError:
        hub = get_hub()
    wait_fd = hub.wait_fd
    deadline = None if timeout is None else now() + timeout
    while True:
        if deadline is None:
            wait_fd(fd, event)              # parks until the fd is ready
        else:
            remaining = deadline - now()
            if remaining <= 0:
                raise timeout_exc if timeout_exc is not None else _default_timeout_exc()
            wait_fd(fd, event, remaining, timeout_exc)
        try:
            return attempt(*args)
        except BlockingIOError:
            pass
        except Exception as exc:
            if wants is None or type(exc) not in wants:
                raise
            event = wants[type(exc)]


class _Gatherer:
    """Collects objects as they become ready (it is their link callback), for wait/iwait."""

    __slots__ = ('done', 'need', 'lot', 'deadline')

    def __init__(self, timeout):
        self.done = deque()
        self.need = 1
        self.lot = ParkingLot()
        self.deadline = _deadline(timeout)

    def __call__(self, obj):       # the link callback, run by the hub
        done = self.done
        done.append(obj)
        if len(done) >= self.need:
            # Straight into the waiter, as gevent's iwait does: it gets this object
            # before the links of objects that became ready with it have run (they
            # stay linked until then, and a with-block's exit unlinks them).
            self.lot.unpark_now(None)

    def collect(self, need):
        """Park until ``need`` objects are ready or the deadline passed."""
        self.need = need
        while len(self.done) < need:
            timeout = _remaining(self.deadline)
            if timeout == 0:
                # Out of time, but objects that were already ready have their
                # link calls queued on the hub: sleep(0) lets them run first.
                sleep(0)
                return
            if self.lot.park(timeout) is TIMED_OUT:
                return


@contextmanager
def _gathering(objects, timeout):
    """Link a :class:`_Gatherer` to every object for the body of a ``with``;
    unlink it from them all on every way out."""
    gatherer = _Gatherer(_check_timeout(timeout))
    linked = []
    try:
        for obj in objects:
            try:
                rawlink = obj.rawlink
            except AttributeError:
                raise TypeError('wait()/iwait()/joinall() need greenlets or other objects with '
                                'rawlink() (events, results, ...), not %r' % (obj,)) from None
            rawlink(gatherer)
            linked.append(obj)
        yield gatherer
    finally:
        for obj in linked:
            obj.unlink(gatherer)


def iwait(objects: Iterable[Any] | None, timeout: float | None = None,
          count: int | None = None) -> Iterator[Any]:
    """Yield objects (greenlets, events, results) as they become ready.

    Stops after ``count`` objects or when ``timeout`` seconds have passed. The
    iterator is also a context manager, as gevent's is: ``with iwait(objs) as it:``
    unlinks from every object on the way out, even when the loop stops early.
    """
    return _IWait(_iwait(objects, timeout, count))


class _IWait:
    """What :func:`iwait` returns: an iterator that a ``with`` closes (unlinking all)."""

    __slots__ = ('_gen',)

    def __init__(self, gen):
        self._gen = gen

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._gen)

    def close(self):
        # Closing the generator runs its ``with _gathering`` exit: every link undone.
        self._gen.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _iwait(objects, timeout, count):
    objects = list(objects) if objects is not None else []
    total = len(objects) if count is None else min(count, len(objects))
    if total <= 0:
        return
    with _gathering(objects, timeout) as gatherer:
        for _ in range(total):
            gatherer.collect(1)
            if not gatherer.done:
                return
            yield gatherer.done.popleft()


def wait(objects: Iterable[Any] | None = None, timeout: float | None = None,
         count: int | None = None) -> Any:
    """Wait for ``objects`` to become ready; return the list of ready ones.

    With ``objects=None``, run the hub until it has no work (or ``timeout``).
    """
    if objects is None:
        return get_hub().join(timeout=timeout)
    objects = list(objects)
    total = len(objects) if count is None else min(count, len(objects))
    if total <= 0:
        return []
    with _gathering(objects, timeout) as gatherer:
        gatherer.collect(total)
        return list(gatherer.done)[:total]


def reinit(hub: Hub | None = None) -> Hub | None:
    """Give the current process a fresh hub after ``fork()``.

    The child starts with a new poller, wake-up pipe and empty run queue; the
    parent's greenlets are not resumed in the child. Threads do not survive fork,
    so the thread pool and resolver are recreated on first use.
    """
    old = getattr(_state, 'hub', None)
    if old is None:
        return None
    current = getcurrent()
    _abandoned.append(old)     # keep its suspended greenlets from being collected (and run)
    try:
        old._poller.close()
    except Exception:
        pass
    for fd in (old._wake_r, old._wake_w):
        try:
            os.close(fd)
        except OSError:
            pass
    old._destroyed = True
    del _state.hub
    new = get_hub()
    if current is not new.parent and current is not old:
        _adopt_as_main(current, new)
    for callback in _fork_hooks:
        callback()
    return new


def _adopt_as_main(current, hub):
    """Make ``current``, a greenlet that forked, the main greenlet of the child.

    The thread's root greenlet is the copy of the parent's main greenlet, frozen
    where the parent was. Whatever the hub hands to its parent -- ``LoopExit``
    when nothing can wake anybody, an escaping ``SystemExit`` -- or whatever
    ``current`` switches to when it ends would resume that copy, and the child
    would run the parent's main code again (seen in ProcessPoolExecutor workers
    forked from a green thread). So the hub's parent becomes ``current``, and
    ``current``'s parent a started guard greenlet that, when ``current`` ends,
    ends the process as a thread that forked ends: its body returned (exit 0),
    raised ``SystemExit`` (its code) or raised something else (printed, exit 1).
    The root greenlet is never switched into again.
    """
    def guard(main):
        try:
            main.switch()          # park here until current ends (its parent is us)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if e.code is not None and not isinstance(e.code, int):
                _print_safely(str(e.code))
        except BaseException:
            code = 1
            _print_safely(traceback.format_exc())
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)

    keeper = greenlet(guard, parent=hub.parent)
    keeper.switch(current)         # start it: it switches straight back to us
    current.parent = keeper
    hub.parent = current


def _print_safely(text):
    try:
        sys.stderr.write(text.rstrip('\n') + '\n')
    except Exception:  # pragma: no cover - stderr closed
        pass


_abandoned: list[Hub] = []
#: Callables run in the child by reinit() (e.g. the resolver resets itself).
_fork_hooks: list[Callable[[], Any]] = []


def _check_timeout(seconds, negative_ok=True):
    """Validate a timeout argument: None, a real non-NaN number, or a Timeout object.

    gevent lets a blocking call take a :class:`~gevent_lite.timeout.Timeout` as its
    ``timeout=``; it is passed through as is (see :func:`_adopt_timeout`). With
    ``negative_ok=False`` a negative number is a ``ValueError``, as in stdlib ``queue``.
    """
    if seconds is None:
        return None
    if isinstance(seconds, BaseException) and hasattr(seconds, 'pending'):
        return seconds
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        try:
            seconds = float(seconds)
        except (TypeError, ValueError):
            raise TypeError('timeout must be a number or None, not %r' % (seconds,)) from None
    if math.isnan(seconds):
        raise ValueError('timeout must not be NaN')
    if seconds < 0 and not negative_ok:
        raise ValueError("'timeout' must be a non-negative number")
    return seconds
