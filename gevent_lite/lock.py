"""Locks for greenlets: :class:`Semaphore`, :class:`BoundedSemaphore`, :class:`DummySemaphore`,
:class:`RLock` and :class:`Lock`.

How they cooperate with the hub
-------------------------------
A :class:`Semaphore` keeps a ``counter`` of free permits and parks acquirers on a
:class:`~gevent_lite.hub.ParkingLot`. ``release()`` does not increment the counter
when somebody waits: it *hands the permit* to the longest-waiting greenlet
(``ParkingLot.unpark``), so a greenlet that calls ``acquire()`` later cannot barge
in ahead of it (FIFO, no starvation). If that greenlet is killed or times out
after it was handed the permit but before it ran, the lot passes the permit to
the next waiter or gives it back through ``on_unclaimed`` (:meth:`_unclaimed`):
a dead waiter never swallows a permit. Timeouts and kill clean-up live in the
lot; nothing here re-implements them.

``wait()`` and ``rawlink()`` watch for "a permit is free" without taking one:
they come from the core's :class:`~gevent_lite.hub.Linkable` base, for which a
Semaphore is "ready" while a permit is free.
:class:`RLock` and :class:`Lock` are built on a ``Semaphore(1)``; their owner is
the greenlet, and they offer what ``threading.Condition`` needs once
``threading`` is monkey-patched.
"""

from _thread import TIMEOUT_MAX as _TIMEOUT_MAX

from greenlet import getcurrent

from .hub import (TIMED_OUT, Linkable, LoopExit, ParkingLot, _check_timeout, _native_thread_count, get_hub,
                  get_hub_if_exists, other_os_threads, sleep)

__all__ = ['BoundedSemaphore', 'DummySemaphore', 'Lock', 'RLock', 'Semaphore']


def _norm_timeout(timeout):
    """threading's conventions: -1 means forever; any other negative means 'do not wait'."""
    if timeout is None:
        return None
    timeout = _check_timeout(timeout)
    if timeout < 0:
        return None if timeout == -1 else 0
    return timeout


def _lock_timeout(blocking, timeout):
    """``_thread.lock.acquire``'s argument rules, for a ``timeout`` that is not None.

    Returns the timeout for :meth:`Semaphore.acquire`: None (forever), 0 (do not
    wait) or a positive number. -1 means "no timeout"; a timeout together with
    ``blocking=False`` and any other negative value raise ``ValueError``, a value
    above ``threading.TIMEOUT_MAX`` raises ``OverflowError``. Only called when a
    timeout was passed, so the default ``acquire()`` pays nothing for it.
    """
    timeout = _check_timeout(timeout)
    if timeout == -1:
        return None if blocking else 0
    if not blocking:
        raise ValueError("can't specify a timeout for a non-blocking call")
    if timeout < 0:
        raise ValueError('timeout value must be a non-negative number')
    if timeout > _TIMEOUT_MAX:
        raise OverflowError('timeout value is too large')
    return timeout


class Semaphore(Linkable):
    """A counting semaphore: ``acquire()`` takes a permit, waiting if none is free.

    ``Semaphore(value=1)``; a negative value raises ``ValueError``. Waiters are
    served in arrival order. ``release()`` returns the new counter.
    """

    __slots__ = ('__weakref__', '_acquirers', '_links', '_lot', '_notify_scheduled', 'counter', 'hub')

    def __init__(self, value=1):
        if value is None:
            value = 1
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError('semaphore initial value must be an int, not %r' % (value,))
        if value < 0:
            raise ValueError('semaphore initial value must be >= 0, got %d' % value)
        Linkable.__init__(self)     # its lot: wait()ers, who watch without taking
        self.counter = value
        self._acquirers = ParkingLot(self._unclaimed)

    def __repr__(self):
        return '<%s at 0x%x counter=%d waiting=%d links=%d>' % (
            type(self).__name__, id(self), self.counter, len(self._acquirers), len(self._links))

    def statistics(self):
        """``{'counter', 'waiting' (acquirers), 'watchers' (wait()ers), 'links'}``."""
        w = self._lot
        return {'counter': self.counter, 'waiting': len(self._acquirers),
                'watchers': len(w) if w is not None else 0, 'links': len(self._links)}

    # -- state ---------------------------------------------------------------------------

    def locked(self) -> bool:
        """True if ``acquire()`` would have to wait."""
        return self.counter <= 0

    def linkcount(self) -> int:
        """Link callbacks plus greenlets waiting (in ``acquire()`` or ``wait()``), as gevent's."""
        return Linkable.linkcount(self) + len(self._acquirers)

    # -- acquiring and releasing -----------------------------------------------------------

    def acquire(self, blocking=True, timeout=None) -> bool:
        """Take a permit; True on success, False if non-blocking or timed out."""
        if self.counter > 0:
            # Free permits exist only while nobody waits (release hands permits to
            # waiters directly), so taking one here never jumps the queue.
            self.counter -= 1
            return True
        if not blocking:
            return False
        timeout = _norm_timeout(timeout)
        if timeout == 0:
            return False
        return self._park(timeout)

    def _park(self, timeout):
        """Wait for release() to hand us a permit; True if it did, False on timeout."""
        hub = get_hub_if_exists()
        if hub is None and other_os_threads():
            # An OS thread with no hub (code written for threads, sharing the lock
            # with another thread): nothing in this thread could release it, and a
            # hub made here would only find nothing to run. Block the thread.
            return self._acquirers.park_thread(timeout, self._settle)
        if hub is not None and _native_thread_count():
            # Another thread may release (the cheap test: any thread was started).
            # Runs once we are parked (in the queue): see _settle.
            hub.run_callback(self._settle)
        try:
            # Park until release() hands us a permit; the lot cleans up on timeout/kill.
            return self._acquirers.park(timeout) is not TIMED_OUT
        except LoopExit:
            # This thread's hub has nothing left that could release us; another OS
            # thread still may (without any other thread: a deadlock, LoopExit says so).
            if timeout is not None or getcurrent() is not get_hub().parent or not other_os_threads():
                raise
            return self._acquirers.park_thread(None, self._settle)

    def _settle(self):
        # A release() in another OS thread can run between our acquire()'s look at
        # the counter and our ticket's arrival in the queue: it finds nobody waiting
        # and raises the counter, and we would park with a permit free (for good if
        # that was the last release). Once queued, we hand such a permit to the
        # first waiter, as that release() would have: a free permit and a waiter
        # never coexist.
        acquirers = self._acquirers
        while self.counter > 0 and acquirers:
            self.counter -= 1
            if not acquirers.unpark_threadsafe(True):
                self.counter += 1
                break

    def release(self) -> int:
        """Give a permit back: to the first waiter if any, else to the counter.

        Callable from any OS thread: a waiter in another thread is woken through
        its own hub (or, without one, its native lock).
        """
        acquirers = self._acquirers
        if acquirers and acquirers.unpark_threadsafe(True):
            return self.counter          # handed over: the counter stays as it is
        self.counter += 1
        if self._lot or self._links:
            self._check_and_notify()     # wake wait()ers, run links
        return self.counter

    def _unclaimed(self, _value):
        # A waiter was handed a permit but died (killed/timed out) before it ran,
        # and nobody else waits: the permit goes back to the counter.
        self.counter += 1
        if self._lot or self._links:
            self._check_and_notify()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, typ, val, tb):
        self.release()

    # -- watching without acquiring --------------------------------------------------------

    def wait(self, timeout=None) -> int:
        """Wait until a permit is free (without taking it); return the counter."""
        if self.counter > 0:
            return self.counter
        self._wait_ready(_norm_timeout(timeout))
        return self.counter

    def ready(self) -> bool:
        """True if a permit is free (what ``gevent_lite.wait`` watches)."""
        return self.counter > 0


class BoundedSemaphore(Semaphore):
    """A :class:`Semaphore` whose ``release()`` raises ``ValueError`` above the initial value."""

    __slots__ = ('_initial_value',)

    def __init__(self, value=1):
        Semaphore.__init__(self, value)
        self._initial_value = self.counter

    def release(self) -> int:
        if self.counter >= self._initial_value:
            raise ValueError('Semaphore released too many times (bound is %d)'
                             % self._initial_value)
        return Semaphore.release(self)


class DummySemaphore:
    """A semaphore that never blocks: for code that takes an optional limit."""

    def __init__(self, value=None):
        self.value = value

    def __repr__(self):
        return '<%s>' % type(self).__name__

    counter = 1

    def statistics(self):
        return {'counter': 1, 'waiting': 0, 'watchers': 0, 'links': 0}

    def locked(self) -> bool:
        return False

    def ready(self) -> bool:
        return True

    def acquire(self, blocking=True, timeout=None) -> bool:
        return True

    def release(self):
        pass

    def wait(self, timeout=None) -> int:
        return 1

    def rawlink(self, callback):
        if not callable(callback):
            raise TypeError('Expected callable: %r' % (callback,))
        get_hub().run_callback(callback, self)

    def unlink(self, callback):
        pass

    def __enter__(self):
        return self

    def __exit__(self, typ, val, tb):
        pass


def _yield_after_failed_try():
    # Not from the hub itself (a thread's repr, printed by the hub, tries its
    # tstate lock), where nothing may park.
    hub = get_hub_if_exists()
    if hub is None or getcurrent() is not hub:
        sleep(0)


class Lock(Semaphore):
    """A non-reentrant lock (``threading.Lock``-shaped) for greenlets.

    Releasing an unlocked Lock raises ``RuntimeError``, as ``threading.Lock`` does.
    Any greenlet may release it (it has no owner). ``acquire`` checks its
    arguments as ``_thread.lock.acquire`` does (see :func:`_lock_timeout`);
    ``timeout=None``, gevent's spelling, also means "no timeout".
    """

    __slots__ = ()

    def __init__(self):
        Semaphore.__init__(self, 1)

    def __repr__(self):
        # Shaped like _thread.lock's: "<unlocked _thread.lock object at 0x...>".
        cls = type(self)
        return '<%s %s.%s object waiting=%d at 0x%x>' % (
            'locked' if self.counter <= 0 else 'unlocked', cls.__module__, cls.__qualname__,
            len(self._acquirers), id(self))

    def acquire(self, blocking=True, timeout=None) -> bool:
        """Take the lock; True on success, False if non-blocking or timed out.

        A non-blocking attempt that fails lets the other greenlets run once (a
        ``sleep(0)``), as gevent's thread lock does: code written for threads
        spins on ``while not lock.acquire(False)``, and the holder must get to run.
        """
        if timeout is None:
            # Semaphore.acquire with nothing to check (the default arguments).
            if self.counter > 0:
                self.counter -= 1
                return True
            if not blocking:
                _yield_after_failed_try()
                return False
            return self._park(None)
        if Semaphore.acquire(self, blocking, _lock_timeout(blocking, timeout)):
            return True
        if not blocking:
            _yield_after_failed_try()
        return False

    def release(self):
        if self.counter >= 1:
            raise RuntimeError('release unlocked lock')
        Semaphore.release(self)

    __enter__ = acquire

    def __exit__(self, typ, val, tb):
        self.release()

    def locked(self) -> bool:
        return self.counter <= 0

    def _is_owned(self) -> bool:
        # threading.Condition's question. Without this method it asks it with a
        # non-blocking acquire(), which, failing, would yield (see acquire) on
        # every wait() and notify(): the same answer, "held", without the try.
        return self.counter <= 0

    def _at_fork_reinit(self):
        # threading calls this in a forked child: start unlocked, with nobody waiting.
        Semaphore.__init__(self, 1)

    # _thread.LockType spellings
    acquire_lock = acquire
    release_lock = release
    locked_lock = locked


_semaphore_acquire = Semaphore.acquire


class RLock:
    """A reentrant lock owned by a greenlet: the owner may acquire it again.

    ``release()`` by a greenlet that does not own it raises ``RuntimeError``.
    """

    __slots__ = ('__weakref__', '_block', '_count', '_owner')

    def __init__(self, *args, **kwargs):
        # A Lock (what _thread.allocate_lock gives once patched), as in gevent,
        # where code that inspects ``rlock._block`` expects one.
        self._block = Lock()
        self._owner = None
        self._count = 0

    def __repr__(self):
        # Shaped like _thread.RLock's: "<locked _thread.RLock object owner=IDENT count=N at 0x...>";
        # the owner's ident is id() of its greenlet, what green get_ident() returns there.
        cls = type(self)
        owner = self._owner
        return '<%s %s.%s object owner=%d count=%d waiting=%d at 0x%x>' % (
            'locked' if owner is not None else 'unlocked', cls.__module__, cls.__qualname__,
            0 if owner is None else id(owner), self._count, len(self._block._acquirers), id(self))

    def statistics(self):
        return {'owner': self._owner, 'count': self._count,
                'waiting': len(self._block._acquirers)}

    def acquire(self, blocking=True, timeout=None) -> bool:
        """Take the lock, or count one more level if this greenlet owns it.

        The arguments are checked as ``_thread.RLock.acquire`` checks them (see
        :func:`_lock_timeout`); ``timeout=None`` also means "no timeout".
        """
        if timeout is not None:
            timeout = _lock_timeout(blocking, timeout)
        me = getcurrent()
        if self._owner is me:
            self._count += 1
            return True
        # (Semaphore's acquire: the timeout was already checked and normalised above.)
        if _semaphore_acquire(self._block, blocking, timeout):
            self._owner = me
            self._count = 1
            return True
        return False

    def release(self):
        if self._owner is not getcurrent():
            raise RuntimeError('cannot release un-acquired lock (owner: %r, current: %r)'
                               % (self._owner, getcurrent()))
        self._count = count = self._count - 1
        if not count:
            self._owner = None
            self._block.release()

    __enter__ = acquire

    def __exit__(self, typ, value, tb):
        self.release()

    def locked(self) -> bool:
        return self._block.locked()

    # -- what threading.Condition uses ------------------------------------------------------

    def _is_owned(self) -> bool:
        return self._owner is getcurrent()

    def _release_save(self):
        """Release completely, whatever the recursion depth; return the state to restore."""
        if self._owner is not getcurrent():
            raise RuntimeError('cannot release un-acquired lock')
        state = (self._count, self._owner)
        self._count = 0
        self._owner = None
        self._block.release()
        return state

    def _acquire_restore(self, state):
        self._block.acquire()
        self._count, self._owner = state

    def _recursion_count(self) -> int:
        return self._count if self._owner is getcurrent() else 0

    def _at_fork_reinit(self):
        self._block = Lock()
        self._owner = None
        self._count = 0
