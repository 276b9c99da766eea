"""The ``signal`` module, with Python signal handlers that run as greenlets of the hub.

Public names: everything of :mod:`signal`, where :func:`signal` and
:func:`getsignal` are replaced, plus :func:`signal_handler` (gevent's API,
also exported as ``gevent_lite.signal_handler``).

How it cooperates with the hub
------------------------------
CPython runs a Python signal handler in the main thread, on top of whatever
frame is executing -- with greenlets, on top of whatever greenlet is current.
Where that is depends on what the program was doing:

* **The hub, or gevent_lite's own code** (the usual case: the program waits, so
  the hub sits in the poller; or a greenlet is half-way through parking). A
  handler that blocked there could not park (gevent#799) and one that switched
  greenlets would corrupt the loop or a half-registered wait. So the handler
  installed with the OS is a trampoline that only hands ``(signum, frame)`` to
  the hub with ``run_callback_threadsafe`` (which also writes the hub's wake-up
  pipe, so a hub sleeping in the poller wakes at once); the hub then starts the
  user's handler in a new greenlet, where it may sleep, wait and switch like
  any other greenlet. An exception it raises is thrown into the main
  greenlet, which is parked at that moment (so it surfaces from the call the
  main greenlet waits in, as it would surface from the blocking call of the
  main thread without gevent_lite).
* **An ordinary greenlet running user code** (a computation that does not
  yield). Nothing of ours is half-done there, so the handler runs at once, on
  top of that code, exactly as the stdlib would run it: an exception it raises
  propagates into the interrupted code (the classic "SIGALRM handler raises to
  stop a long computation"), and if it blocks, it parks the interrupted
  greenlet cooperatively. Deferring it to the hub instead would starve it for
  as long as the computation runs.

Handlers set with :func:`signal_handler` (gevent's API) always run in a new
greenlet, as in gevent; an exception one raises is printed and then thrown
into the main greenlet, as gevent does. A ``SIGCHLD`` handler set with
:func:`signal` runs in a new greenlet too, but a child's exit is no reason to
interrupt the main program, so an exception from it is only printed
(with the handler greenlet's repr, as any greenlet's) and not re-raised
anywhere -- gevent's behaviour.

``SIG_DFL``, ``SIG_IGN`` and ``default_int_handler`` go straight to the OS.
Installed handlers do not keep the hub alive on their own (as in gevent):
a program whose only remaining wake-up source is a signal handler gets
``LoopExit`` rather than waiting forever.

Nothing here touches SIGCHLD: :mod:`gevent_lite.subprocess` and
:func:`gevent_lite.os.waitpid` wait for children without it, so a user's SIGCHLD
handler is never replaced or starved (gevent#857, #622).
"""

import os as _os
import signal as _signal
from typing import Any

from greenlet import getcurrent

from ._stdlib import reexport
from .hub import get_hub

_os_signal = _signal.signal
_os_getsignal = _signal.getsignal
_SIG_DFL = _signal.SIG_DFL
_SIG_IGN = _signal.SIG_IGN
_default_int_handler = _signal.default_int_handler
_SIGCHLD = getattr(_signal, 'SIGCHLD', None)


class _Trampoline:
    """What the OS-level handler of one signal number is while green handlers exist."""

    __slots__ = ('signum', 'handler', 'watchers', 'previous')

    def __init__(self, signum, previous):
        self.signum = signum
        self.handler = None        # set by signal.signal(); None if only watchers
        self.watchers = []         # signal_handler objects
        self.previous = previous   # the OS disposition before we took over

    def __call__(self, signum, frame):
        # Runs on top of whatever greenlet is current (see the module docstring).
        hub = get_hub()
        handler = self.handler
        if handler is not None and signum != _SIGCHLD and _safe_to_run_here(hub, frame):
            if self.watchers:
                hub.run_callback_threadsafe(self._dispatch, signum, frame, False)
            return handler(signum, frame)
        hub.run_callback_threadsafe(self._dispatch, signum, frame, True)
        return None

    def _dispatch(self, signum, frame, with_handler):
        # Runs in the hub (a callback): start each handler in its own greenlet,
        # where it may block cooperatively.
        from .greenlet import Greenlet
        if with_handler and self.handler is not None:
            Greenlet(_run_handler, self.handler, signum, frame).start()
        for watcher in list(self.watchers):
            Greenlet(_run_watcher, watcher).start()


def _run_watcher(watcher):
    # The greenlet of one signal_handler callback. As in gevent, its error is
    # printed and then raised in the main greenlet (like a handler's above).
    try:
        watcher.handle()
    except BaseException as exc:
        if not _raise_in_main(exc, print_for=watcher):
            raise


def _run_handler(handler, signum, frame):
    # The greenlet of a handler deferred to the hub. Without gevent_lite, an
    # exception from a handler surfaces in the main thread wherever it was --
    # typically inside the blocking call it was waiting in. Here the main
    # greenlet is parked in the hub at this point, so deliver it there the same
    # way a timeout or kill is delivered (thrown in from the hub).
    if signum == _SIGCHLD:
        # A child's exit is not the main program's business: as in gevent, an
        # error is printed (the greenlet reports it) and the program goes on.
        handler(signum, frame)
        return
    try:
        handler(signum, frame)
    except BaseException as exc:
        if not _raise_in_main(exc):
            raise


def _raise_in_main(exc, print_for=None):
    """Throw ``exc`` into the main greenlet from the hub (printed first, as the error
    of ``print_for``, when given); False if there is no main greenlet to take it."""
    hub = get_hub()
    main = hub.parent
    if main is None or main.dead:
        return False
    if print_for is not None:
        hub.print_exception(print_for, type(exc), exc, exc.__traceback__)
    hub.run_callback(main.throw, exc)
    return True


_PACKAGE_DIR = _os.path.dirname(_os.path.abspath(__file__)) + _os.sep


def _safe_to_run_here(hub, frame):
    """True if the interrupted code is user code in an ordinary greenlet of this hub."""
    if frame is None or getcurrent() is hub:
        return False
    filename = frame.f_code.co_filename
    # Interrupted inside gevent_lite (e.g. between registering a wait and
    # switching to the hub): switching greenlets now could resume the wrong wait.
    return not _os.path.abspath(filename).startswith(_PACKAGE_DIR)


_trampolines: dict[Any, Any] = {}     # signum -> _Trampoline currently installed with the OS


def _check_signum(signalnum):
    if isinstance(signalnum, bool) or not isinstance(signalnum, int):
        raise TypeError('signal number must be an int, not %r' % (signalnum,))
    if not 1 <= signalnum < _signal.NSIG:
        raise ValueError('signal number %d out of range [1, %d)' % (signalnum, _signal.NSIG))


def _installed_trampoline(signalnum):
    tramp = _trampolines.get(signalnum)
    if tramp is not None and _os_getsignal(signalnum) is tramp:
        return tramp
    # Someone replaced it behind our back (the original signal.signal): start over.
    _trampolines.pop(signalnum, None)
    return None


def _take_over(signalnum):
    tramp = _installed_trampoline(signalnum)
    if tramp is None:
        previous = _os_getsignal(signalnum)
        tramp = _Trampoline(signalnum, previous)
        _os_signal(signalnum, tramp)     # raises ValueError outside the main thread
        _trampolines[signalnum] = tramp
    return tramp


def _give_back(signalnum, tramp, disposition):
    if _trampolines.get(signalnum) is tramp:
        del _trampolines[signalnum]
    _os_signal(signalnum, disposition)


def signal(signalnum, handler):
    """Set ``handler(signum, frame)`` for ``signalnum``; it will run in a new greenlet.

    Returns the previous handler, as :func:`signal.signal` does.
    """
    _check_signum(signalnum)
    old = getsignal(signalnum)
    if handler in (_SIG_DFL, _SIG_IGN) or handler is _default_int_handler:
        tramp = _installed_trampoline(signalnum)
        if tramp is not None:
            # Handed to the OS; any signal_handler watchers stop firing.
            _give_back(signalnum, tramp, handler)
        else:
            _os_signal(signalnum, handler)
        return old
    if not callable(handler):
        raise TypeError('signal handler must be signal.SIG_IGN, signal.SIG_DFL, '
                        'or a callable object, not %r' % (handler,))
    tramp = _take_over(signalnum)
    tramp.handler = handler
    return old


def getsignal(signalnum):
    """The handler set for ``signalnum`` (the user's callable, not our trampoline)."""
    current = _os_getsignal(signalnum)
    if isinstance(current, _Trampoline):
        if current.handler is not None:
            return current.handler
        return current.previous
    return current


class signal_handler:
    """gevent's ``gevent.signal_handler``: call ``handler(*args, **kwargs)`` on ``signalnum``.

    The handler runs in a new greenlet each time the signal arrives, until
    :meth:`cancel`. Several can watch the same signal; they coexist with a
    handler set through :func:`signal`.
    """

    greenlet_class = None

    def __init__(self, signalnum, handler, *args, **kwargs):
        _check_signum(signalnum)
        if not callable(handler):
            raise TypeError('signal_handler needs a callable handler, not %r' % (handler,))
        self.signalnum = signalnum
        self.handler = handler
        self.args = args
        self.kwargs = kwargs
        self.hub = get_hub()
        self._tramp = _take_over(signalnum)
        self._tramp.watchers.append(self)

    def __repr__(self):
        return '<signal_handler signalnum=%d handler=%r%s>' % (
            self.signalnum, self.handler, '' if self.active else ' cancelled')

    @property
    def active(self):
        return self._tramp is not None

    _ref = False

    @property
    def ref(self) -> bool:
        """Whether this watcher keeps the hub alive (default False, as in gevent).

        With ``ref = True`` the hub does not report "nothing left to do" (``LoopExit``,
        ``hub.join()`` returning) while the handler is active: it waits for the signal.
        """
        return self._ref

    @ref.setter
    def ref(self, value: bool) -> None:
        value = bool(value)
        if value != self._ref and self.active:
            # The hub's keep-alive count, as for work another thread will hand back.
            if value:
                self.hub.ref()
            else:
                self.hub.unref()
        self._ref = value

    def cancel(self):
        """Stop watching; restores the earlier OS handler once nothing green watches."""
        tramp = self._tramp
        if tramp is None:
            return
        if self._ref:
            self.hub.unref()
        self._tramp = None
        try:
            tramp.watchers.remove(self)
        except ValueError:
            pass
        if not tramp.watchers and tramp.handler is None \
                and _installed_trampoline(self.signalnum) is tramp:
            previous = tramp.previous
            _give_back(self.signalnum, tramp, _SIG_DFL if previous is None else previous)

    close = cancel

    def handle(self):
        return self.handler(*self.args, **self.kwargs)


#: The names ``monkey.patch_signal`` copies into ``signal``.
__implements__ = ['signal', 'getsignal']
#: Patched in as copies that report ``__module__ == 'signal'``, as the stdlib's
#: functions do (pydoc lists them by it); ours keep reporting this module.
__as_target_members__ = ['signal', 'getsignal']
__all__ = reexport(_signal, globals(), __implements__) + ['signal_handler']
