"""Every touch of a private ``threading`` name, in one place.

``threading`` is pure Python over ``_thread``, and the private names it
captured from ``_thread`` at import change with every CPython minor release
(gevent#2020, #2119; eventlet#964 broke on exactly this). So ``monkey`` never
names a private ``threading`` attribute itself: it asks :func:`private_items`
for this interpreter's list and calls the helpers below. Each name carries a
comment saying which CPython versions need it; a name absent on the running
version is skipped (never created), so a new release fails loudly in the tests
instead of silently running native threads.

Interpreter exit must never hang (gevent#1462, #2188): :func:`make_shutdown`
wraps ``threading._shutdown`` so that waiting for non-daemon green threads
parks in the hub, and if the hub finds that one of them can never finish
(``LoopExit``) we say which thread it is and let the interpreter exit.
"""

import os as _os
import sys
import weakref
from typing import Any

from greenlet import getcurrent

from . import thread as _green_thread
from .lock import Lock, RLock

# The C lock type, captured before patch_thread can replace _thread.allocate_lock.
_NativeLockType = type(sys.modules['_thread'].allocate_lock())
# 3.13: the C function threading's _MainThread asks for its ident (see main_thread_ident).
_native_main_thread_ident: Any = getattr(sys.modules['_thread'], '_get_main_thread_ident', None)

__all__ = ['PRIVATE_NAMES', 'main_thread_ident', 'make_shutdown', 'private_items',
           'rekey_main_thread']

# name in ``threading``  -> (green value getter, CPython versions whose threading.py has it)
PRIVATE_NAMES = {
    # threading.Thread.start() calls it (3.9 - 3.12; replaced by _start_joinable_thread in 3.13)
    '_start_new_thread': (lambda t: _green_thread.start_new_thread, '3.9-3.12'),
    # Condition.wait allocates its waiter lock with it (3.9 - 3.13)
    '_allocate_lock': (lambda t: _green_thread.allocate_lock, '3.9-3.13'),
    # Thread._set_tstate_lock: the lock released when the thread's state is deleted (3.9 - 3.12)
    '_set_sentinel': (lambda t: _green_thread._set_sentinel, '3.9-3.12'),
    # threading.RLock() instantiates it (3.9 - 3.13)
    '_CRLock': (lambda t: RLock, '3.9-3.13'),
    # 3.13: Thread.start() starts the thread with it, passing Thread._handle
    '_start_joinable_thread': (lambda t: _green_thread.start_joinable_thread, '3.13'),
    # 3.13: Thread.__init__ creates the handle join()/is_alive() use
    '_ThreadHandle': (lambda t: _green_thread._ThreadHandle, '3.13'),
    # 3.13: _MainThread/_DummyThread wrap an already running thread in a handle
    '_make_thread_handle': (lambda t: _green_thread._make_thread_handle, '3.13'),
    # 3.13: threading._shutdown() ends by calling it to join all non-daemon threads
    '_thread_shutdown': (lambda t: _green_thread._shutdown, '3.13'),
    # 3.13: threading.Lock is this class
    '_LockType': (lambda t: Lock, '3.13'),
    # 3.13: a real thread-local on which each _DummyThread parks its cleanup object;
    # with one real local per OS thread every new greenlet dummy evicted the previous one
    '_thread_local_info': (lambda t: _green_thread._local(), '3.13'),
    # current_thread() in a greenlet not started through Thread creates one (3.9 - 3.13);
    # ours leaves threading._active when its greenlet ends (3.9 - 3.12 keep the dummies of
    # _thread.start_new_thread green threads, as they keep those of foreign OS threads)
    '_DummyThread': (lambda t: _green_dummy_thread_class(t), '3.9-3.13'),
    # called by the interpreter at exit (3.9 - 3.13): see make_shutdown()
    '_shutdown': (lambda t: make_shutdown(t, t._shutdown), '3.9-3.13'),
    # 3.13: _MainThread() takes its ident from it; threading._after_fork builds one when
    # a fork came from a thread it does not know, then asserts the handle's ident is
    # get_ident(): see main_thread_ident()
    '_get_main_thread_ident': (lambda t: main_thread_ident, '3.13'),
}


# The greenlet that called fork(), seen by the child: after a fork the thread that
# forked is the child's main thread, and in a green world that "thread" is a greenlet.
_forking_greenlet = None
_child_main_greenlet = None


def _before_fork():
    global _forking_greenlet
    _forking_greenlet = getcurrent()


def _after_fork_in_parent():
    global _forking_greenlet
    _forking_greenlet = None


def _after_fork_in_child():
    global _forking_greenlet, _child_main_greenlet
    _child_main_greenlet, _forking_greenlet = _forking_greenlet, None


if hasattr(_os, 'register_at_fork'):
    # Before-fork hooks all run before the fork, so this one is set whatever order
    # threading's own (after-in-child) hook runs in relative to ours.
    _os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                         after_in_child=_after_fork_in_child)


def main_thread_ident() -> int:
    """Green ``threading._get_main_thread_ident`` (3.13): the main "thread"'s ident.

    The main OS thread's root greenlet normally; in a child forked from another
    greenlet (a green thread), that greenlet, whose green ident ``get_ident()``
    returns there. CPython's version returns the forking OS thread's real ident,
    which no greenlet but a root one has: ``threading._after_fork`` (3.13) then
    failed its ``assert self._handle.ident == new_ident`` in every child forked
    from a green thread it had no Thread object for (``_thread.start_new_thread``).
    """
    main = _child_main_greenlet if _child_main_greenlet is not None else _forking_greenlet
    if main is not None:
        return _green_thread.get_ident(main)
    return _native_main_thread_ident()


def private_items(threading):
    """``{name: green value}`` for the private names this interpreter's ``threading`` has."""
    items = {}
    for name, (getter, _versions) in PRIVATE_NAMES.items():
        if name in threading.__dict__:
            items[name] = getter(threading)
    return items


_dummy_classes: dict[Any, Any] = {}


class _InertDummyTracker:
    """What a 3.13 ``threading._DeleteDummyThreadOnDel`` becomes for our dummies: no ``__del__``."""


def _green_dummy_thread_class(threading):
    """A ``threading._DummyThread`` that leaves ``threading._active`` with its greenlet.

    The stdlib one is removed when its OS thread ends; a greenlet that asked
    ``current_thread()`` would otherwise leave a dummy behind forever, and its
    ident (``id`` of the greenlet) could be reused by a later greenlet.
    """
    base = threading._DummyThread            # 3.9 - 3.13
    if getattr(base, '_gevent_lite_green', False):
        return base
    cls = _dummy_classes.get(id(base))
    if cls is not None:
        return cls
    active = threading._active               # 3.9 - 3.13: ident -> Thread
    limbo_lock = threading._active_limbo_lock  # 3.9 - 3.13: guards _active
    # 3.13 forgets a foreign thread's dummy when the thread ends (this class exists);
    # 3.9 - 3.12 keep it for ever, and CPython's tests check that they do.
    stdlib_forgets = hasattr(threading, '_DeleteDummyThreadOnDel')
    green_threads = _green_thread._running

    class _DummyThread(base):
        _gevent_lite_green = True

        def __init__(self):
            base.__init__(self)
            ident = self._ident              # 3.9 - 3.13: set by Thread._set_ident()
            if not stdlib_forgets and ident in green_threads:
                # A green thread started with _thread.start_new_thread is what
                # CPython calls a foreign thread: keep its dummy as 3.9 - 3.12 do.
                # (Greenlets of spawn() and pools, the many short-lived ones, still
                # leave with their greenlet below.)
                return
            if stdlib_forgets:
                # 3.13: base.__init__ parked a _DeleteDummyThreadOnDel in the
                # (green) threading._thread_local_info; its __del__ would run when
                # the greenlet's local dies -- at interpreter exit for greenlets
                # still alive then, after threading's globals are gone ("Exception
                # ignored ... NoneType ... context manager"). We forget the dummy
                # ourselves (below), so make that tracker inert and drop it.
                info = threading._thread_local_info          # 3.13
                tracker = getattr(info, '_track_dummy_thread_ref', None)   # 3.13
                if tracker is not None and getattr(tracker, '_dummy_thread', None) is self:
                    tracker.__class__ = _InertDummyTracker
                    del info._track_dummy_thread_ref
            me = weakref.ref(self)

            def forget(_unused, ident=ident, me=me):
                with limbo_lock:
                    if active.get(ident) is me() and me() is not None:
                        del active[ident]
            g = getcurrent()
            try:
                self._gevent_lite_ref = weakref.ref(g, forget)
            except TypeError:    # pragma: no cover - greenlets are weak-referenceable
                pass
            if hasattr(g, 'rawlink'):
                g.rawlink(forget)

    _DummyThread.__qualname__ = _DummyThread.__name__ = '_DummyThread'
    _dummy_classes[id(base)] = cls = _DummyThread
    return cls


def rekey_main_thread(threading):
    """Keep ``threading.main_thread()`` right for the main greenlet after patching.

    ``threading._active`` maps idents to Thread objects, and the main thread was
    registered under the OS thread's ident at import. Green ``get_ident`` keeps
    that ident for the root greenlet of each OS thread, so the main greenlet
    still finds it and nothing is re-keyed (whichever greenlet patches). 3.13
    also gets a green handle, so another greenlet can ``join`` the main thread
    without blocking the OS thread.
    """
    main = threading._main_thread             # 3.9 - 3.13
    handle = getattr(main, '_handle', None)    # 3.13: Thread._handle
    if handle is not None and not isinstance(handle, _green_thread._ThreadHandle):
        main._handle = _green_thread._ThreadHandle(main._ident)   # 3.9 - 3.13: Thread._ident
    # 3.9 - 3.12: Thread._tstate_lock, a native lock the interpreter holds until the
    # thread's state is deleted; join() and is_alive() acquire it. A green thread that
    # joins the main thread would block the OS thread on it -- and at exit the main
    # thread waits in _shutdown() for that green thread: a hang (gevent's
    # test__threading_2 ThreadJoinOnShutdown). It becomes a held green lock: the
    # stdlib's _shutdown() releases it (waking the joiners) before it joins the
    # non-daemon threads. The native one is kept referenced: the C side still
    # releases it when the thread state goes away.
    tstate = getattr(main, '_tstate_lock', None)
    if (tstate is not None and not hasattr(main, '_gevent_lite_native_tstate')
            and type(tstate) is _NativeLockType and tstate.locked()):
        main._gevent_lite_native_tstate = tstate
        main._tstate_lock = _MainThreadStateLock(tstate)


class _MainThreadStateLock:
    """The main thread's ``_tstate_lock`` once patched (3.9 - 3.12): held until the
    stdlib's ``_shutdown()`` releases it, then open for every joiner.

    Not a plain green lock: releasing one hands it to the first waiter, so it would
    still be locked when ``_shutdown()`` calls ``_stop()`` (which asserts it is not),
    and a joiner's own ``_stop()`` would then see the next one. Releasing it
    releases the native lock too, as the stdlib's ``_shutdown()`` would have: that
    one is in ``threading._shutdown_locks`` (3.9 - 3.12), which ``_shutdown()``
    waits on.
    """

    def __init__(self, native):
        from .event import Event
        self._event = Event
        self._released = Event()
        self._native = native
        self._retake = False

    def _at_fork_reinit(self):
        # 3.9 - 3.12: in a forked child, threading._after_fork() re-initialises the
        # forking thread's tstate lock and at once acquires it again (the child's main
        # thread holds it, as the parent's did). So: held again, and the next acquire()
        # is that re-take, not a joiner (it must not park: nobody would release it).
        self._native._at_fork_reinit()
        self._released = self._event()
        self._retake = True

    def acquire(self, blocking=True, timeout=-1):
        if self._retake:
            self._retake = False
            self._native.acquire()
            return True
        if self._released.is_set():
            return True
        if not blocking:
            return False
        # Parks the joining greenlet until _shutdown() releases us.
        return self._released.wait(None if timeout is None or timeout < 0 else timeout)

    def release(self):
        self._released.set()
        native = self._native
        if native.locked():
            native.release()

    def locked(self):
        return not self._released.is_set()

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()


def existing_threads(threading):
    """Alive threads other than the main one (real OS threads started before patching)."""
    main = threading._main_thread              # 3.9 - 3.13
    return [t for t in list(threading._active.values()) + list(threading._limbo)  # 3.9 - 3.13
            if t is not main and not isinstance(t, threading._DummyThread) and t.is_alive()]


def make_shutdown(threading, original):
    """Wrap ``threading._shutdown`` (run by the interpreter at exit, 3.9 - 3.13).

    The stdlib function runs the ``threading`` atexit hooks first (so a thread
    waiting for one of them can finish, gevent#2188), then waits for the
    non-daemon threads -- through green locks/handles, so that wait parks in the
    hub and the green threads run to their end. If the hub finds that one of
    them can never finish, waiting raises ``LoopExit``; instead of a traceback
    from inside ``threading`` (gevent#1462) or a hang, we name the threads that
    are still alive on stderr and let the interpreter exit.
    """
    if getattr(original, '_gevent_lite_green', False):
        return original

    def _shutdown():
        from .hub import LoopExit
        try:
            return original()
        except LoopExit:
            alive = [t for t in threading.enumerate()
                     if not t.daemon and t is not threading._main_thread and t.is_alive()]
            try:
                sys.stderr.write(
                    'gevent_lite: exiting although these non-daemon threads can never finish '
                    '(every greenlet is blocked and nothing can wake them): %s\n'
                    % ', '.join(repr(t) for t in alive))
            except Exception:   # pragma: no cover - stderr closed
                pass
    _shutdown._gevent_lite_green = True
    _shutdown.__wrapped__ = original
    return _shutdown
