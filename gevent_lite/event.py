"""One-shot and resettable signals between greenlets: :class:`Event`, :class:`AsyncResult`.

Both are *linkable*: greenlets park on them with ``wait()``/``get()`` and
callbacks subscribe with ``rawlink(callback)``; the hub calls ``callback(obj)``
once the object is ready (that is how :func:`gevent_lite.wait` and ``iwait``
watch them).

How they cooperate with the hub
-------------------------------
Both are built on the core's :class:`~gevent_lite.hub.Linkable`: waiting
greenlets park on its broadcast :class:`~gevent_lite.hub.ParkingLot`, which owns
FIFO wake-up and the timeout/kill clean-up. ``set()`` wakes every parked
greenlet (each resumes from a hub callback) and schedules the link callbacks on
the hub. ``set()`` (and ``AsyncResult.set_exception``) may also be called from
another OS thread -- that is how thread-pool results arrive: the state is stored
at once and the wake-up is handed to the owning hub with
``run_callback_threadsafe``, the only hub entry point other threads may use.

The object binds to a hub lazily, as gevent's: to the hub of the thread that first
waits on it or links to it, not of the thread that creates it. So creating an
``AsyncResult`` in a worker thread does not create a hub there, and one made by the
main thread for a worker thread to wait on (then set by the main thread) works.
"""

import _thread

from .hub import Linkable, ParkingLot, TIMED_OUT, _check_timeout
from .timeout import Timeout

__all__ = ['AsyncResult', 'Event']

# Captured at import: monkey-patching later replaces _thread.get_ident with a
# greenlet-ident version, but the hub's thread_ident is a real OS-thread ident.
_get_ident = _thread.get_ident

_NONE = object()

_LINKABLE_SLOTS = ('__weakref__', '_links', '_lot', '_notify_scheduled', 'hub')


class Event(Linkable):
    """A flag greenlets can wait for: ``set()`` wakes them all, ``clear()`` resets it.

    ``wait(timeout)`` returns True once the flag was set while waiting (even if it
    was cleared again before the waiter ran), False if the timeout expired.
    """

    __slots__ = _LINKABLE_SLOTS + ('_flag',)

    def __init__(self):
        Linkable.__init__(self, None)      # bound lazily, by the first wait or link (as gevent)
        self._flag = False

    def __repr__(self):
        return '<%s at 0x%x %s waiting=%d links=%d>' % (
            type(self).__name__, id(self), 'set' if self._flag else 'unset',
            self.statistics()['waiting'], len(self._links))

    __str__ = __repr__

    def is_set(self) -> bool:
        """True if the flag is set."""
        return self._flag

    isSet = is_set

    def ready(self) -> bool:
        """Same as :meth:`is_set` (so an Event can be passed to ``gevent_lite.wait``)."""
        return self._flag

    def set(self) -> None:
        """Set the flag and wake every waiter. Callable from any OS thread."""
        self._flag = True
        hub = self.hub
        if hub is not None:
            if hub.thread_ident == _get_ident():
                # Linkable._notify(), inlined: the hot path of every set/wait hand-off.
                lot = self._lot
                if lot:
                    lot.unpark_all(True)
                if self._links and not self._notify_scheduled:
                    self._notify_scheduled = True
                    hub._ready.append((self._notify_links, ()))
            else:
                hub.run_callback_threadsafe(self._notify)

    def clear(self) -> None:
        """Reset the flag; later ``wait()`` calls block until the next ``set()``."""
        self._flag = False

    def wait(self, timeout=None) -> bool:
        """Block until the flag is set or ``timeout`` seconds pass; return the flag seen."""
        if self._flag:
            return True
        if timeout is not None:
            timeout = _check_timeout(timeout)
        hub = self.hub
        if hub is None or hub.thread_ident != _get_ident():
            self._bind()
            if self._flag:      # set by another thread meanwhile
                return True
        lot = self._lot
        if lot is None:
            lot = self._lot = ParkingLot(broadcast=True)
        # Park until set() (Linkable._wait_ready, inlined: the hot path of every
        # set/wait hand-off); the lot removes us on timeout or kill.
        return lot.park(timeout) is not TIMED_OUT

    def _reset_internal_locks(self):
        # threading.Thread calls this on its Event after fork; we have nothing to reset.
        pass


class AsyncResult(Linkable):
    """A one-shot result: ``set(value)`` or ``set_exception(exc)`` once, ``get()`` it.

    It is also a link target: ``greenlet.link(result)`` copies the greenlet's
    outcome into it. Like ``concurrent.futures.Future`` it has ``result()``,
    ``done()`` and ``set_result()``.
    """

    __slots__ = _LINKABLE_SLOTS + ('_exc_info', '_value')

    def __init__(self):
        Linkable.__init__(self, None)      # bound lazily, by the first wait or link (as gevent)
        self._value = _NONE
        self._exc_info = ()

    def __repr__(self):
        if self._value is not _NONE:
            state = 'value=%r' % (self._value,)
        elif self._exc_info:
            state = 'exception=%r' % (self._exc_info[1],)
        else:
            state = 'unset'
        return '<%s at 0x%x %s waiting=%d links=%d>' % (
            type(self).__name__, id(self), state, self.statistics()['waiting'], len(self._links))

    __str__ = __repr__

    # -- state ---------------------------------------------------------------------------

    def ready(self) -> bool:
        """True once it holds a value or an exception."""
        return self._value is not _NONE or bool(self._exc_info)

    done = ready

    def successful(self) -> bool:
        """True once it holds a value (not an exception)."""
        return self._value is not _NONE

    @property
    def value(self):
        """The value passed to ``set()``, or None."""
        v = self._value
        return None if v is _NONE else v

    @property
    def exception(self):
        """The exception passed to ``set_exception()``, or None."""
        return self._exc_info[1] if self._exc_info else None

    @property
    def exc_info(self):
        """``(type, value, traceback)`` given to ``set_exception()``, or ``()``."""
        return self._exc_info

    # -- setting -------------------------------------------------------------------------

    def set(self, value=None) -> None:
        """Store ``value`` and wake every waiter. Callable from any OS thread."""
        self._value = value
        self._check_and_notify()

    set_result = set

    def set_exception(self, exception, exc_info=None) -> None:
        """Store ``exception`` (raised by ``get()``) and wake every waiter.

        ``exc_info``, a ``sys.exc_info()`` triple, keeps the original traceback.
        Callable from any OS thread.
        """
        if isinstance(exception, type) and issubclass(exception, BaseException):
            exception = exception()
        if not isinstance(exception, BaseException):
            raise TypeError('set_exception() needs an exception, not %r' % (exception,))
        if exc_info and exc_info[1] is not None:
            self._exc_info = (exc_info[0], exc_info[1], exc_info[2])
        else:
            self._exc_info = (type(exception), exception, exception.__traceback__)
        self._check_and_notify()

    def __call__(self, source):
        """Link protocol: copy a finished greenlet's (or another result's) outcome."""
        if source.successful():
            self.set(source.value)
        else:
            self.set_exception(source.exception, getattr(source, 'exc_info', None))

    # -- getting -------------------------------------------------------------------------

    def _raise(self):
        _, value, tb = self._exc_info
        raise value.with_traceback(tb)

    def get(self, block=True, timeout=None):
        """Return the value or raise the stored exception, waiting if needed.

        With ``block=False``, or when ``timeout`` passes first, raise :class:`~gevent_lite.timeout.Timeout`.
        """
        if self._value is not _NONE:
            return self._value
        if self._exc_info:
            self._raise()
        if not block:
            raise Timeout()
        timeout = _check_timeout(timeout)
        if not self._wait_ready(timeout):
            raise Timeout(timeout)
        return self.get(block=False)

    def get_nowait(self):
        """``get(block=False)``."""
        return self.get(block=False)

    def result(self, timeout=None):
        """``concurrent.futures``-style ``get(timeout=timeout)``."""
        return self.get(timeout=timeout)

    def wait(self, timeout=None):
        """Block until ready or ``timeout``; return the value (None for an exception/timeout)."""
        if not self.ready():
            self._wait_ready(_check_timeout(timeout))
        return self.value

    def cancel(self) -> bool:
        """Results cannot be cancelled: always False."""
        return False

    def cancelled(self) -> bool:
        return False
