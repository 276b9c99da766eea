"""Preemption of code written for threads: a green "thread" that runs too long is switched out.

Real threads may spin (``while not flag: pass``) waiting for another thread: the
OS preempts them. A green thread that does the same never lets the thread it
waits for run, and the program hangs. Go had the same problem and solved it in
1.14 with asynchronous preemption of tight loops; this module does the same
where the interpreter allows it (CPython 3.12+, ``sys.monitoring``).

Public names: :data:`SUPPORTED`, :func:`enable`, :func:`disable`,
:func:`is_enabled`, :func:`statistics`, :func:`preemptions`.

Who is preempted: the greenlets that stand in for threads -- those started
through the patched ``threading``/``_thread`` (:mod:`gevent_lite.thread`), and
the main greenlet of a thread where ``monkey.patch_thread()`` ran. Plain
spawned greenlets keep gevent's contract (no switch without a blocking call)
unless ``config.preempt_greenlets`` is set. The hub, and code running in it
(callbacks), are never preempted. ``config.preempt_time_slice`` (default 10 ms,
``-1``: never) is how long one may run without yielding.

How it works, and why it costs nothing while nothing overruns
--------------------------------------------------------------
A watcher -- one real OS thread per hub, started with the original
``_thread.start_new_thread`` -- wakes every half slice to two slices (less
often while the hub keeps getting control) and looks at the top frame of the
hub's thread (``sys._current_frames()``):

* the hub's own loop is on top (it polls, or is between callbacks): nothing
  runs too long. The watcher then sleeps longer and longer (up to
  :data:`IDLE_CHECK_INTERVAL`), so an idle program is barely woken.
* other code is on top: the watcher hands the hub a *probe* (through the
  hub's thread-safe callback queue; the loop is busy, so no wake-up write is
  needed), which runs as soon as the hub gets control back.
* the probe has still not run a whole slice later: the hub has not had control
  for a slice, so whatever runs now overran. Only now does the watcher enable
  the ``sys.monitoring`` JUMP event, and only for the code objects on the
  running stack. Every other code object, and all code while nothing overruns,
  runs exactly as without this module: no trace function, no events, nothing
  added to the hub loop.
* At the next loop back-edge in that code, :func:`_on_jump` -- running in the
  overrunning greenlet -- checks that this greenlet may be preempted and that
  no gevent_lite frame is in the middle of its stack (our own code assumes it
  is never switched out between two blocking calls), turns the events off again
  and parks the greenlet with ``sleep(0)``: every greenlet that was ready runs,
  then it resumes at the back-edge where it was. An exception thrown into it
  while parked (a kill, a ``Timeout``) is raised at that back-edge.

The park goes through ``sys.call_tracing``: a ``sys.monitoring`` callback runs
with the thread's "tracing" flag up, which greenlet does not save per greenlet;
parking inside the callback would leave it up for every other greenlet (no
events, and so no preemption, anywhere until we resumed). ``call_tracing``
lowers it for the call and restores it when we are back.

Python 3.9 - 3.11 have no ``sys.monitoring``; the only ways to get into a
running loop from outside are a trace function (slows every line of every
frame of the thread) or a signal handler (runs at any bytecode, even inside a C
call's ``EINTR`` retry while it holds a lock, e.g. a buffered file's), neither
safe nor free. There :data:`SUPPORTED` is False, :func:`enable` returns False
and spinning green threads hang as before (documented in docs/monkey.rst).

While a subinterpreter exists nothing is preempted: the watcher's look at
another thread's frames (``sys._current_frames()``) is not safe then.

The monitor thread (:mod:`gevent_lite.monitor`) reports each preemption: when,
which greenlet, where, and how long it had run (:func:`preemptions`).
"""

from __future__ import annotations

import os
import sys
import time as _time
from collections import deque
from typing import Any

from greenlet import getcurrent

from . import hub as _hubmod
from ._stdlib import original as _original
from .config import config

__all__ = ['SUPPORTED', 'IDLE_CHECK_INTERVAL', 'enable', 'disable', 'is_enabled', 'statistics',
           'preemptions']

_monitoring: Any = getattr(sys, 'monitoring', None)

#: True where preemption works: CPython 3.12+ (``sys.monitoring``).
SUPPORTED = _monitoring is not None and sys.implementation.name == 'cpython'

#: Longest pause between two looks of the watcher while the hub is idle, in seconds.
IDLE_CHECK_INTERVAL = 0.1


# The watcher must be a real thread that sleeps for real.
_start_new_thread = _original('_thread', 'start_new_thread')
_allocate_lock = _original('_thread', 'allocate_lock')
_get_ident = _hubmod._get_thread_ident       # the OS thread's ident
_monotonic = _time.monotonic                 # real time, whatever clock the hub reads
_sleep0 = _hubmod.sleep

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# gevent_lite frames that may sit under preempted code: they only call into it
# (a green thread's bootstrap, a Greenlet's run, ``python -m gevent_lite.monkey``).
_ENTRY_FRAMES = frozenset({('thread.py', '_bootstrap'), ('greenlet.py', 'run'),
                           ('monkey.py', 'main')})

_TOOL_NAME = 'gevent_lite.preempt'
_tool_id = None
if SUPPORTED:
    _JUMP = _monitoring.events.JUMP
    _LINE = _monitoring.events.LINE
    _DISABLE = _monitoring.DISABLE
    _get_local_events = _monitoring.get_local_events
    _set_local_events = _monitoring.set_local_events

#: greenlet -> the exception thrown into it while it was preempted, raised by the
#: LINE event of the next line it runs (see _at_back_edge).
_pending: dict[Any, Any] = {}

#: OS thread ident -> its hub's watcher.
_watchers: dict[Any, Any] = {}
#: OS threads whose green threads and main greenlet are preempted (patch_thread ran there).
_thread_idents: set[Any] = set()


def _claim_tool_id():
    """Register our ``sys.monitoring`` tool (once); None if both ids we may use are taken.

    Only 3 and 4: 0, 1, 2 and 5 are the ids CPython names for debuggers, coverage,
    profilers and optimizers, which such tools claim (and fail if we held them).
    """
    global _tool_id
    if _tool_id is not None:
        return _tool_id
    for tool in (4, 3):
        if _monitoring.get_tool(tool) is None:
            _monitoring.use_tool_id(tool, _TOOL_NAME)
        elif _monitoring.get_tool(tool) != _TOOL_NAME:   # (ours: an earlier import)
            continue
        _monitoring.register_callback(tool, _JUMP, _on_jump)
        _monitoring.register_callback(tool, _LINE, _on_line)
        _tool_id = tool
        return tool
    return None


def _is_ours(code):
    return code.co_filename.startswith(_PACKAGE_DIR)


def _is_entry(code):
    return (os.path.basename(code.co_filename), code.co_name) in _ENTRY_FRAMES


def _idle_codes():
    """Code objects on top of the hub's thread while the hub itself has control:
    waiting in its poller, or in ``Hub.run`` between two turns of its loop."""
    return _hubmod._poller_wait_codes() | {_hubmod.Hub.run.__code__}


class _Watcher:
    """Watches one hub from a real OS thread and arms preemption when it overruns."""

    def __init__(self, hub, slice_seconds, threads):
        self.hub = hub
        self.slice = slice_seconds
        self.threads = threads          # preempt green threads and the main greenlet
        self.thread_ident = hub.thread_ident
        self.stopped = False
        self.armed = []                 # code objects with our JUMP event on
        self._arm_lock = _allocate_lock()
        self._wakeup = _allocate_lock()  # held while sleeping; stop() releases it
        self._wakeup.acquire()
        self._probe_seq = 0             # probes posted (watcher thread writes)
        self._probe_done = 0            # the last probe that ran (hub thread writes)
        self._probe_posted = None       # when the pending probe's slice began
        self._threadsafe = hub._threadsafe
        self._idle = _idle_codes()
        self.checks = 0
        self.arms = 0
        self.count = 0                  # preemptions
        self.records = deque(maxlen=100)

    # -- the watcher thread ----------------------------------------------------------

    def _run(self):
        half = max(self.slice / 2, 0.001)
        idle_cap = max(IDLE_CHECK_INTERVAL, half)
        busy_cap = max(2 * self.slice, half)
        delay = half
        wait = self._wakeup.acquire
        try:
            while not self.stopped and not self.hub._destroyed:
                if wait(True, delay):         # released by stop()
                    break
                self.checks += 1
                if _other_interpreters():
                    continue
                frames = sys._current_frames()
                frame = frames.get(self.thread_ident)
                del frames
                if frame is None:             # the hub's thread is gone
                    break
                if frame.f_code in self._idle:
                    # The hub has control (polling, or between callbacks): whatever
                    # runs next starts a new slice.
                    self._probe_posted = None
                    delay = min(delay * 2, idle_cap)
                    continue
                now = _monotonic()
                if self._probe_done == self._probe_seq:
                    # The last probe ran: the hub keeps getting control (cooperative
                    # code, however busy), so look less often -- up to every two
                    # slices; an overrun starting now is still caught within a few.
                    delay = min(delay * 2, busy_cap)
                    # Ask the hub to tell us when it gets control back. Its loop is
                    # busy (not in the poller), so it takes the probe from its
                    # thread-safe queue at its next iteration: no wake-up write.
                    self._probe_seq += 1
                    self._probe_posted = now
                    self._threadsafe.append((self._probe, (self._probe_seq,)))
                else:
                    delay = half                  # an overrun may be under way
                    if self._probe_posted is None:
                        self._probe_posted = now  # (the probe waits from an idle spell)
                    elif now - self._probe_posted >= self.slice:
                        self._arm(frame)
                del frame
        except BaseException:   # pragma: no cover - interpreter shutdown
            pass
        finally:
            self.stopped = True
            self._disarm()
            if _watchers.get(self.thread_ident) is self:
                del _watchers[self.thread_ident]
            _hubmod._helper_threads.discard(_get_ident())

    def _arm(self, frame):
        # The hub has not had control for a slice: enable back-edge events for the
        # code now running (all of its stack: the loop may be in a caller of the
        # function on top), except our own code, which is never preempted. Still
        # overrunning at the next look (a long C call, or code that was armed and
        # has returned since): arm what runs then instead.
        codes = []
        while frame is not None:
            code = frame.f_code
            if not _is_ours(code) and code not in codes:
                codes.append(code)
            frame = frame.f_back
        with self._arm_lock:
            if self.stopped or codes == self.armed:
                return
            for code in self.armed:
                if code not in codes:
                    _set_jump_event(code, False)
            armed = []
            for code in codes:
                try:
                    _set_jump_event(code, True)
                except (ValueError, TypeError):   # pragma: no cover - not instrumentable
                    continue
                armed.append(code)
            self.armed = armed
            self.arms += 1

    def _disarm(self):
        with self._arm_lock:
            codes, self.armed = self.armed, []
            for code in codes:
                try:
                    _set_jump_event(code, False)
                except Exception:   # pragma: no cover - interpreter shutdown
                    pass

    # -- in the hub's thread ---------------------------------------------------------

    def _probe(self, seq):
        # Run by the hub: it has control again, so the overrun (if any) is over.
        self._probe_done = seq
        if self.armed:
            self._disarm()

    def _may_preempt(self, g):
        if g is self.hub:
            return False                     # never the hub, nor its callbacks
        if self.threads:
            if g is self.hub.parent or id(g) in _green_threads():
                return True
        return bool(config.preempt_greenlets)

    def _at_back_edge(self, frame):
        g = getcurrent()
        if not self._may_preempt(g):
            self._disarm()      # someone else overran: not ours to switch out
            return
        f = frame
        while f is not None:
            code = f.f_code
            if _is_ours(code) and not _is_entry(code):
                # Called from inside gevent_lite (which assumes no switch between two
                # blocking calls): not here. The watcher arms again if it goes on.
                self._disarm()
                return
            f = f.f_back
        self._disarm()
        posted = self._probe_posted
        ran = _monotonic() - posted if posted is not None else 0.0
        self.count += 1
        try:
            who = repr(g)
        except Exception:
            who = object.__repr__(g)
        self.records.append((_time.time(), who, '%s:%d in %s' % (
            frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name), ran))
        # Park: everything ready runs, then we resume here (see the module
        # docstring for why through call_tracing).
        try:
            sys.call_tracing(_sleep0, (0,))
        except BaseException as exc:
            # A kill or Timeout thrown in while we were parked. CPython 3.12/3.13 do not
            # let an exception raised by a JUMP callback reach the handlers of the frame
            # it jumps in (a ``try``/``with`` around the loop would not see it), while
            # one raised by a LINE callback does: raise it at the next line, the head of
            # the loop we jumped back to.
            _pending[g] = exc
            with self._arm_lock:
                code = frame.f_code
                _set_local_events(_tool_id, code, _get_local_events(_tool_id, code) | _LINE)

    def stop(self):
        self.stopped = True
        try:
            self._wakeup.release()
        except RuntimeError:
            pass


def _other_interpreters():
    # sys._current_frames() reads the frames of every interpreter's threads; one
    # running under its own GIL (3.12+ isolated subinterpreters) changes them under
    # us, which corrupts memory (seen in CPython's SubinterpThreadingTests). So the
    # watcher does not look while a subinterpreter exists: no preemption then.
    mod = sys.modules.get('_interpreters') or sys.modules.get('_xxsubinterpreters')
    if mod is None:
        return False
    try:
        return len(mod.list_all()) > 1
    except Exception:   # pragma: no cover - an API we do not know: do not risk it
        return True


def _green_threads():
    from .thread import _running
    return _running


def _set_jump_event(code, on):
    # Our JUMP event on ``code`` on or off, leaving a LINE event (a pending
    # exception) as it is. Callers hold the watcher's arm lock.
    events = _get_local_events(_tool_id, code)
    _set_local_events(_tool_id, code, (events | _JUMP) if on else (events & ~_JUMP))


def _on_line(code, line):
    """The LINE callback: raises the exception thrown into a preempted greenlet."""
    exc = _pending.pop(getcurrent(), None)
    if exc is None:
        return None              # another greenlet runs this code first: not its exception
    if not _pending:             # (else another greenlet may still need it here)
        watcher = _watchers.get(_get_ident())
        lock = watcher._arm_lock if watcher is not None else _allocate_lock()
        with lock:
            _set_local_events(_tool_id, code, _get_local_events(_tool_id, code) & ~_LINE)
    try:
        raise exc
    finally:
        del exc


def _on_jump(code, offset, destination):
    """The ``sys.monitoring`` JUMP callback: enabled only for code that overran."""
    if destination > offset:
        return _DISABLE          # a forward jump is no loop: never ask again here
    watcher = _watchers.get(_get_ident())
    if watcher is None or not watcher.armed:
        return None              # another thread runs code armed for its hub
    watcher._at_back_edge(sys._getframe(1))
    return None


def enable(hub: Any = None, threads: bool = True) -> bool:
    """Start preempting in ``hub`` (default: this thread's hub); returns True if on.

    ``threads=True`` preempts the green threads and the main greenlet (what
    ``monkey.patch_thread`` asks for); plain greenlets are preempted when
    ``config.preempt_greenlets`` is set. Returns False where preemption is not
    supported (Python < 3.12), when ``config.preempt_time_slice`` is ``-1``, or
    when ``sys.monitoring`` tool ids 3 and 4 are both taken by other tools. Call
    it from the hub's thread.
    """
    if not SUPPORTED:
        return False
    slice_seconds = config.preempt_time_slice
    if slice_seconds <= 0 or _claim_tool_id() is None:
        return False
    if hub is None:
        hub = _hubmod.get_hub_if_exists()
        if hub is None:
            # No hub yet (patch_thread makes none, as gevent's patching does):
            # remember the thread; the hook for new hubs (_on_new_hub) starts
            # the watcher when this thread's hub is made.
            if threads:
                _thread_idents.add(_get_ident())
            return True
    if threads:
        _thread_idents.add(hub.thread_ident)
    current = _watchers.get(hub.thread_ident)
    if current is not None and current.hub is hub and not current.stopped:
        current.threads = current.threads or threads
        current.slice = slice_seconds
        return True
    if current is not None:
        current.stop()
    watcher = _watchers[hub.thread_ident] = _Watcher(hub, slice_seconds, threads)
    # A helper thread: it never releases a program's lock (see hub.other_os_threads).
    _hubmod._helper_threads.add(_start_new_thread(watcher._run, ()))
    return True


def disable(hub: Any = None) -> None:
    """Stop preempting in ``hub``'s thread (default: this thread), also for its later hubs."""
    ident = hub.thread_ident if hub is not None else _get_ident()
    _thread_idents.discard(ident)
    _starting.pop(ident, None)
    watcher = _watchers.pop(ident, None)
    if watcher is not None:
        watcher.stop()
        watcher._disarm()


def is_enabled(hub: Any = None) -> bool:
    """Whether a watcher preempts in ``hub``'s thread (default: this thread)."""
    ident = hub.thread_ident if hub is not None else _get_ident()
    watcher = _watchers.get(ident)
    if watcher is not None:
        return not watcher.stopped
    # Enabled for a thread whose hub is not made yet (or not run yet): its
    # watcher starts with that hub (_on_new_hub).
    return SUPPORTED and ident in _thread_idents


def statistics(hub: Any = None) -> dict:
    """Counters of the watcher of ``hub``'s thread: ``checks`` (looks at the hub),
    ``arms`` (overruns found), ``preemptions``, ``armed`` (code objects with events
    on now), ``time_slice``. Empty when preemption is off there."""
    ident = hub.thread_ident if hub is not None else _get_ident()
    watcher = _watchers.get(ident)
    if watcher is None:
        return {}
    return {'checks': watcher.checks, 'arms': watcher.arms, 'preemptions': watcher.count,
            'armed': len(watcher.armed), 'time_slice': watcher.slice}


def preemptions(hub: Any = None) -> list:
    """The latest preemptions in ``hub``'s thread (at most 100), oldest first:
    ``(time.time(), greenlet repr, 'file:line in function', seconds it had run)``."""
    ident = hub.thread_ident if hub is not None else _get_ident()
    watcher = _watchers.get(ident)
    return list(watcher.records) if watcher is not None else []


def _on_new_hub(hub):
    # A new hub (after destroy(), or in a thread patch_thread ran in) keeps the
    # preemption its thread had, and config.preempt_greenlets applies to every hub.
    #
    # The watcher starts on the new hub's first turn, not now: a fork's child
    # makes its new hub inside os.fork() (reinit), and a thread started there
    # would be in the child before the child's own code runs -- CPython's
    # test_clear_threads_states_after_fork sees two entries in
    # sys._current_frames(). Any wait (starting a thread is one) gives the hub
    # that turn before anything could need preempting.
    threads = hub.thread_ident in _thread_idents
    if threads or config.preempt_greenlets:
        _starting[hub.thread_ident] = hub
        hub.run_callback(_start_on_first_turn, hub, threads)


#: Thread ident -> the new hub whose watcher starts on its first turn (a
#: disable() before that turn takes the entry out, and the watcher never starts).
_starting: dict = {}


def _start_on_first_turn(hub, threads):
    if _starting.get(hub.thread_ident) is hub:
        del _starting[hub.thread_ident]
        enable(hub, threads)


def _after_fork():
    # The child has none of the parent's watcher threads; the forking thread's new
    # hub gets one (reinit runs this after making it). Events armed at the fork are
    # turned off; an arm lock a parent thread held then would never be released.
    hub = _hubmod.get_hub_if_exists()
    for ident, watcher in list(_watchers.items()):
        if hub is not None and watcher.hub is hub:
            continue
        watcher.stopped = True
        watcher._arm_lock = _allocate_lock()
        watcher._disarm()
        del _watchers[ident]
    _starting.clear()
    if hub is not None:
        _thread_idents.intersection_update({hub.thread_ident})
        _on_new_hub(hub)


if SUPPORTED:
    _hubmod._fork_hooks.append(_after_fork)
