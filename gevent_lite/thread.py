"""Green ``_thread``: "threads" that are greenlets, and locks that park greenlets.

``monkey.patch_thread()`` copies the names in :data:`__implements__` into the
stdlib ``_thread`` module (and, through ``gevent_lite.threading``, into the
names ``threading`` captured from it at import). After that:

* :func:`start_new_thread` (and, on 3.13+, :func:`start_joinable_thread`)
  spawns a greenlet of the current hub instead of an OS thread; it starts on the
  hub's next iteration;
* :func:`allocate_lock` / :data:`LockType` / :class:`RLock` are
  ``gevent_lite.lock`` locks: waiting for them parks only the greenlet, on the
  lock's ``ParkingLot``;
* :func:`get_ident` is unique per greenlet (``id(getcurrent())``, as gevent),
  so ``threading.current_thread()`` tells greenlets apart; the root greenlet
  of each OS thread keeps the thread's real ident;
* ``_local`` is greenlet-local storage.

How this cooperates with the hub: a green thread is a raw greenlet whose parent
is the hub, scheduled with ``hub.run_callback``. Its bookkeeping (the
``threading`` "thread state" lock of 3.9-3.12, the thread handle of 3.13+) is
released when its function returns, from that greenlet, so ``Thread.join``
parks on an ordinary green lock / event. Nothing here waits except through
``gevent_lite.lock`` and ``gevent_lite.event`` (ParkingLot underneath).

The thread pool and the resolver keep real OS threads: they captured the C
functions when they were imported, and ``monkey`` imports them before patching.
"""

import _thread as _real_thread
import sys
from typing import Any

from greenlet import getcurrent
from greenlet import greenlet as _greenlet

from .event import Event
from . import hub as _hubmod
from .hub import _check_timeout, get_hub, get_hub_if_exists
from .local import local as _local  # noqa: F401  (re-exported: _thread._local)
from .lock import Lock, RLock  # noqa: F401  (RLock is re-exported: _thread.RLock)

__target__ = '_thread'
__stdlib__ = _real_thread

__implements__ = [
    'allocate_lock', 'allocate', 'LockType', 'RLock', 'get_ident', 'start_new_thread',
    'start_new', 'exit', 'exit_thread', 'interrupt_main', 'stack_size', '_count', '_local',
]
#: ``_thread``'s own objects, re-exported unchanged (the green lock takes the same maximum).
__imports__ = ['error', 'TIMEOUT_MAX']

# Version-specific ``_thread`` functions that ``threading`` imports.
if hasattr(_real_thread, '_set_sentinel'):          # 3.9 - 3.12 (gone in 3.13)
    __implements__.append('_set_sentinel')
if hasattr(_real_thread, 'start_joinable_thread'):  # 3.13+
    __implements__ += ['start_joinable_thread', '_ThreadHandle', '_make_thread_handle',
                       '_shutdown']

# Re-exported unchanged: real errors, native ids, the interpreter checks.
error = _real_thread.error
TIMEOUT_MAX = _real_thread.TIMEOUT_MAX
_original_get_ident = _real_thread.get_ident
_original_interrupt_main = _real_thread.interrupt_main
for _name in ('get_native_id', 'daemon_threads_allowed', '_is_main_interpreter',
              '_excepthook', '_ExceptHookArgs'):
    if hasattr(_real_thread, _name):
        globals()[_name] = getattr(_real_thread, _name)
del _name

LockType = Lock

#: ``_thread.allocate_lock()``: a new green Lock. The class itself, not a function, so
#: that ``locktype = _thread.allocate_lock`` in a class body does not become a method
#: (the C function never binds either).
allocate_lock = allocate = Lock


def get_ident(gr=None) -> int:
    """An integer unique among live green threads of this process.

    A greenlet's ident is its ``id`` (as in gevent), except the root greenlet of
    each OS thread, whose ident is that thread's real one: the main thread keeps
    the ident ``threading`` registered it under at import, and real threads that
    were started before patching find themselves in ``threading._active`` (their
    ``_delete`` at exit, ``current_thread()``) and in ``threading.excepthook``'s
    "Exception in thread <ident>".
    """
    if gr is None:
        gr = getcurrent()
        if gr.parent is None:
            return _original_get_ident()
        return id(gr)
    if gr.parent is None:
        g = getcurrent()
        while g.parent is not None:
            g = g.parent
        if g is gr:                  # this OS thread's root greenlet
            return _original_get_ident()
    return id(gr)




class _ThreadHandle:
    """A green thread's handle (3.13 ``_thread._ThreadHandle``): done-ness and join.

    ``join`` parks on a :class:`~gevent_lite.event.Event` set when the green
    thread's function returns.
    """

    __slots__ = ('ident', '_done', '_greenlet', '_started', '__weakref__')

    def __init__(self, ident=None):
        self.ident = ident
        self._done = None
        self._greenlet = None
        self._started = ident is not None     # handles of running threads are started

    def _event(self):
        ev = self._done
        if ev is None:
            ev = self._done = Event()
        return ev

    def __repr__(self):
        return '<green _ThreadHandle ident=%s %s>' % (
            self.ident, 'done' if self.is_done() else 'running')

    def is_done(self) -> bool:
        ev = self._done
        return ev is not None and ev.is_set()

    def _set_done(self):
        if not self._started:
            raise RuntimeError('thread not started')
        self._event().set()

    def join(self, timeout=None):
        if not self._started:
            raise RuntimeError('thread not started')
        if self._greenlet is not None and self._greenlet is getcurrent():
            raise RuntimeError('Cannot join current thread')
        timeout = _check_timeout(timeout)
        if timeout is not None and timeout < 0:
            timeout = None
        self._event().wait(timeout)

    def set_done(self):   # pragma: no cover - spelling used by some 3.13 betas
        self._set_done()

    def _after_fork(self):   # pragma: no cover - nothing survives fork in a greenlet world
        pass


def _make_thread_handle(ident) -> _ThreadHandle:
    """A handle for an already running "thread" (the main greenlet, dummy threads)."""
    return _ThreadHandle(ident)


class _GreenThreadState:
    """Bookkeeping of one running green thread (slots: per-thread object)."""

    __slots__ = ('daemon', 'handle', 'sentinels')

    def __init__(self, handle=None, daemon=True):
        self.sentinels = []
        self.handle = handle
        self.daemon = daemon


#: ident -> _GreenThreadState, for the green threads now running.
_running: dict[Any, Any] = {}


def _forget_other_threads_after_fork():
    # In a forked child only the forking greenlet runs (hub.reinit): the parent's
    # other green threads are frozen copies that never finish, so the child's exit
    # must not wait for them (3.13's threading._shutdown joins every one of them).
    me = id(getcurrent())
    for ident in [i for i in _running if i != me]:
        del _running[ident]


_hubmod._fork_hooks.append(_forget_other_threads_after_fork)


def _bootstrap(state, function, args, kwargs):
    ident = id(getcurrent())
    _running[ident] = state
    try:
        function(*args, **kwargs)
    except SystemExit:
        pass
    except BaseException:
        # _thread prints unhandled errors through sys.unraisablehook and goes on.
        try:
            hook = sys.unraisablehook
            exc_type, exc_value, exc_tb = sys.exc_info()

            class _Unraisable:
                pass
            unraisable = _Unraisable()
            unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback = (
                exc_type, exc_value, exc_tb)
            if sys.version_info >= (3, 13):
                unraisable.err_msg = 'Exception ignored in thread started by %r' % (function,)
                unraisable.object = None
            else:
                unraisable.err_msg = 'Exception ignored in thread started by'
                unraisable.object = function
            hook(unraisable)
        except Exception:   # pragma: no cover - interpreter shutting down
            pass
    finally:
        _running.pop(ident, None)
        # What the C runtime does when an OS thread's state is deleted: release
        # the "thread state" locks (3.9-3.12) and mark the handle done (3.13+).
        for lock in state.sentinels:
            try:
                lock.release()
            except RuntimeError:
                pass
        if state.handle is not None:
            state.handle._set_done()


def _spawn(state, function, args, kwargs):
    hub = get_hub()
    g = _greenlet(_bootstrap, hub)
    if state.handle is not None:
        state.handle.ident = id(g)
        state.handle._greenlet = g
    # Start on the hub's next iteration, like a new OS thread that gets the GIL later.
    hub.run_callback(g.switch, state, function, args, kwargs)
    return id(g)


def start_new_thread(function, args, kwargs=None) -> int:
    """Run ``function(*args, **kwargs)`` in a new greenlet; return its ident."""
    if not callable(function):
        raise TypeError('first arg must be callable')
    if not isinstance(args, tuple):
        raise TypeError('2nd arg must be a tuple')
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError('optional 3rd arg must be a dictionary')
    return _spawn(_GreenThreadState(), function, args, kwargs or {})


start_new = start_new_thread


def start_joinable_thread(function, handle=None, daemon=True) -> _ThreadHandle:
    """3.13+: start ``function()`` in a greenlet; return its (joinable) handle."""
    if not callable(function):
        raise TypeError('thread function must be callable')
    if handle is None:
        handle = _ThreadHandle()
    elif not isinstance(handle, _ThreadHandle):
        raise TypeError('handle must be a green _ThreadHandle, not %r' % (type(handle),))
    elif handle._started:
        raise RuntimeError('thread already started')
    handle._started = True
    _spawn(_GreenThreadState(handle, daemon), function, (), {})
    return handle


def _set_sentinel() -> Lock:
    """3.9-3.12: a lock released when the current green thread finishes."""
    lock = Lock()
    state = _running.get(id(getcurrent()))
    if state is not None:
        state.sentinels.append(lock)
    return lock


def _shutdown():
    """3.13+: wait for every non-daemon green thread (``threading._shutdown`` calls this).

    Runs in the main greenlet at interpreter exit; each wait parks on the
    thread's handle. See ``_threading_compat`` for what happens if a thread can
    never finish.
    """
    me = id(getcurrent())
    for _ in range(100000):
        pending = [s.handle for ident, s in list(_running.items())
                   if ident != me and not s.daemon and s.handle is not None
                   and not s.handle.is_done()]
        if not pending:
            return
        for handle in pending:
            handle.join()


def _count() -> int:
    """How many green threads started here are still running."""
    return len(_running)


def exit():
    """Exit the current green thread silently (raises ``SystemExit``)."""
    raise SystemExit


exit_thread = exit


_stack_size = 0


def stack_size(size=0) -> int:
    """Remember a "thread stack size" and return the previous one, as ``_thread`` does.

    Greenlets have no fixed stack, so the value changes nothing; sizes the C
    function rejects (non-zero, below 32 KiB) raise the same ``ValueError``.
    """
    global _stack_size
    if size != 0 and size < 32768:
        raise ValueError('size not valid: %d bytes' % size)
    old, _stack_size = _stack_size, size
    return old


def _original_interrupt(signum):
    if sys.version_info >= (3, 10):
        return _original_interrupt_main(signum)
    return _original_interrupt_main()


def interrupt_main(signum=None):
    """Simulate ``signum`` (default SIGINT) arriving in the main thread.

    From a greenlet of the main OS thread: with SIGINT's default handler,
    ``KeyboardInterrupt`` is raised in the main greenlet (at once if that is the
    caller, else thrown in where it waits); a Python handler runs at once if the
    caller is the main greenlet. Everything else (another OS thread, SIG_IGN,
    SIG_DFL, a handler while another greenlet calls) goes through the real
    ``_thread.interrupt_main``, i.e. the signal machinery.
    """
    import signal as _signal
    import threading as _threading
    if signum is None:
        signum = _signal.SIGINT
    handler = _signal.getsignal(signum)
    if _original_get_ident() != _threading.main_thread().ident:
        return _original_interrupt(signum)
    hub = get_hub_if_exists()
    if hub is not None:
        main = hub.parent
    else:
        # No hub yet (patching does not make one): the main greenlet is the root.
        main = getcurrent()
        while main.parent is not None:
            main = main.parent
    if signum != _signal.SIGINT or handler is not _signal.default_int_handler:
        if callable(handler) and getcurrent() is main:
            # A Python handler, and we are the main thread: CPython would run it at
            # the very next bytecode, on top of our caller. Do that -- the simulated
            # signal would be noticed inside gevent_lite's code, where the green
            # signal module defers handlers to the hub.
            handler(signum, sys._getframe(1))
            return None
        return _original_interrupt(signum)
    if getcurrent() is main:
        raise KeyboardInterrupt
    # A signal interrupts the main thread at once, wherever it waits. Throw into the
    # main greenlet before anything else the hub has queued (such as waking it from
    # the wait it is in), so the interrupt lands where it waits now -- not after it
    # has run on and possibly finished.
    if hub is None:
        hub = get_hub()
    hub.run_callback_first(main.throw, KeyboardInterrupt)


__all__ = [n for n in __implements__ if not n.startswith('_')] + __imports__
