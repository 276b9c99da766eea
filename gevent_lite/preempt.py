"""Preemption of code written for threads: a green "thread" that runs too long is switched out.

Real threads may spin (``while not flag: pass``) waiting for another thread: the
OS preempts them. A green thread that does the same never lets the thread it
waits for run, and the program hangs. Go had the same problem and solved it in
1.14 with asynchronous preemption of tight loops; this module does the same
where the interpreter allows it: with ``sys.monitoring`` on CPython 3.12+, and
with a signal in the main thread on CPython 3.9 - 3.11.

Public names: :data:`SUPPORTED`, :data:`ALL_THREADS`,
:data:`SIGNAL`, :data:`UNAVAILABLE`, :func:`enable`, :func:`disable`,
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

Python 3.9 - 3.11: the main thread's hub only, through a signal
------------------------------------------------------------------
There is no ``sys.monitoring`` there, and a trace function would slow every
line. But CPython runs Python-level signal handlers in the main thread between
two bytecodes of whatever greenlet is current, and a handler may switch
greenlets. So in the main thread (only there: no other thread runs signal
handlers) the watcher, instead of arming events, sends the main thread
:data:`SIGNAL` (a real-time signal, ``signal.pthread_kill``), and
:func:`_on_signal` parks the interrupted greenlet with ``sleep(0)`` -- only
when that is safe:

* the interrupted instruction is one that calls no C function that might be
  half-way through its work (a loop back-edge, a jump, a load, arithmetic;
  never a call, an iteration step, a ``with`` or an import). CPython also runs
  handlers from inside C functions that wait (a lock's acquire, a buffered
  file's write retrying after ``EINTR``) while they hold a lock; there the
  interrupted frame is at its call instruction, and we leave it alone. On 3.11
  handlers run between bytecodes only at back-edges, function entry and after
  calls, so in practice this is "at the next back-edge", as on 3.12;
* the greenlet may be preempted (the same rules as on 3.12), and no frame of
  its stack is gevent_lite's own code or the stdlib ``threading``/``queue``
  code gevent_lite builds on (their bookkeeping assumes no switch in the
  middle), except the bottom frames every green thread starts in.

Otherwise the handler does nothing and the watcher sends the signal again
half a slice later while the overrun goes on. An exception thrown into the
parked greenlet (a kill, a ``Timeout``) is raised from the handler, at the
interrupted instruction.

The handler is installed (with ``SA_RESTART``, so most system calls restart
instead of failing with ``EINTR``; the others are retried by Python, PEP 475,
and by the hub's poller) by :func:`enable` and removed by :func:`disable` and
at exit. If something else already handles :data:`SIGNAL` it is never
replaced: preemption stays off and :data:`UNAVAILABLE` says why; if something
replaces ours later, the watcher stops sending. Nothing is sent while nothing
overruns, so this costs nothing then either. Other threads' hubs are not
preempted before 3.12: :func:`enable` returns False there.

While a subinterpreter exists nothing is preempted: the watcher's look at
another thread's frames (``sys._current_frames()``) is not safe then.

The monitor thread (:mod:`gevent_lite.monitor`) reports each preemption: when,
which greenlet, where, and how long it had run (:func:`preemptions`).
"""

from __future__ import annotations

import atexit
import dis
import os
import signal as _signal
import sys
import time as _time
from collections import deque
from typing import Any

from greenlet import getcurrent

from . import hub as _hubmod
from ._stdlib import original as _original
from .config import config

__all__ = ['SUPPORTED', 'ALL_THREADS', 'SIGNAL', 'UNAVAILABLE', 'IDLE_CHECK_INTERVAL', 'enable',
           'disable', 'is_enabled', 'statistics', 'preemptions']

_monitoring: Any = getattr(sys, 'monitoring', None)
_CPYTHON = sys.implementation.name == 'cpython'

#: True where every thread's hub can be preempted: CPython 3.12+ (``sys.monitoring``).
ALL_THREADS = _monitoring is not None and _CPYTHON

#: The signal that preempts the main thread before 3.12 (a real-time signal few
#: tools use); None where preemption does not use a signal.
SIGNAL = None
if not ALL_THREADS and _CPYTHON and hasattr(_signal, 'pthread_kill') and hasattr(_signal, 'SIGRTMAX'):
    SIGNAL = _signal.SIGRTMAX - 5

#: True where preemption works: CPython 3.12+ in every thread, CPython 3.9 - 3.11
#: (with POSIX real-time signals) in the main thread only.
SUPPORTED = ALL_THREADS or SIGNAL is not None

#: Why :func:`enable` last returned False although preemption is supported here
#: (e.g. another handler owns :data:`SIGNAL`), or None.
UNAVAILABLE = None

#: Longest pause between two looks of the watcher while the hub is idle, in seconds.
IDLE_CHECK_INTERVAL = 0.1


# The watcher must be a real thread that sleeps for real.
_start_new_thread = _original('_thread', 'start_new_thread')
_allocate_lock = _original('_thread', 'allocate_lock')
_get_ident = _hubmod._get_thread_ident       # the OS thread's ident
_monotonic = _time.monotonic                 # real time, whatever clock the hub reads
_sleep0 = _hubmod.sleep

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Before 3.12 the preempting signal handler also stays out of the stdlib's
# threading and queue (patched threading's locks and conditions run in them),
# except the frames every green thread starts in.
_STDLIB_DIR = os.path.dirname(os.__file__)
_THREADING_FILES = frozenset(os.path.join(_STDLIB_DIR, name) for name in ('threading.py', 'queue.py'))
_THREAD_ENTRIES = frozenset({'_bootstrap', '_bootstrap_inner', 'run'})
# gevent_lite frames that may sit under preempted code: they only call into it
# (a green thread's bootstrap, a Greenlet's run, ``python -m gevent_lite.monkey``).
_ENTRY_FRAMES = frozenset({('thread.py', '_bootstrap'), ('greenlet.py', 'run'),
                           ('monkey.py', 'main')})

_TOOL_NAME = 'gevent_lite.preempt'
_tool_id = None
if ALL_THREADS:
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
#: Guards the sending of SIGNAL against its handler being removed (a signal that
#: arrived with no handler would kill the process).
_signal_lock = _allocate_lock()
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


def _is_threading_internals(code):
    return code.co_filename in _THREADING_FILES and code.co_name not in _THREAD_ENTRIES


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
        if SIGNAL is not None:
            self._send_signal()
            return
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

    def _send_signal(self):
        # Before 3.12 (main thread only): the handler, _on_signal, runs in the
        # overrunning greenlet at its next bytecode boundary and parks it if that
        # is safe; if not, we send again at the next look. Under _signal_lock so
        # that disable() never removes the handler while a signal is on its way
        # (one that arrived with no handler installed would kill the process).
        global UNAVAILABLE
        with _signal_lock:
            if self.stopped:
                return
            if _getsignal(SIGNAL) is not _on_signal:
                # Someone installed another handler: it is theirs now; stop.
                UNAVAILABLE = ('another handler replaced the preemption handler of signal %d: '
                               'preemption stopped' % SIGNAL)
                self.stopped = True
                _thread_idents.discard(self.thread_ident)
                return
            _pthread_kill(self.thread_ident, SIGNAL)
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
            if ((_is_ours(code) and not _is_entry(code))
                    or (SIGNAL is not None and _is_threading_internals(code))):
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
        if SIGNAL is not None:
            # Park from the signal handler: everything ready runs, then we resume
            # here. A kill or Timeout thrown in meanwhile leaves the handler and is
            # raised at the interrupted instruction, as the handlers there expect.
            _sleep0(0)
            return
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
        with _signal_lock:      # (no signal is sent after this)
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


# -- before 3.12: the main thread is preempted through a signal ------------------------

_getsignal = _original('signal', 'getsignal')
_setsignal = _original('signal', 'signal')
_pthread_kill = getattr(_signal, 'pthread_kill', None)
_at_exit_registered = False

# Instructions after which the signal handler may park the interrupted greenlet:
# none of them calls a C function that may be in the middle of its work (a call,
# an iteration step, a ``with``, an import would), so no C-level lock is held.
# 3.11 runs handlers between bytecodes only at back-edges, function entry and
# after calls; 3.9 after most instructions (see _on_signal).
_SAFE_OPCODES = frozenset(op for name, op in dis.opmap.items() if name in (
    'JUMP_ABSOLUTE', 'JUMP_FORWARD', 'JUMP_BACKWARD', 'JUMP_IF_TRUE_OR_POP',
    'JUMP_IF_FALSE_OR_POP', 'LOAD_GLOBAL', 'LOAD_DEREF', 'COMPARE_OP', 'IS_OP')
    or name.startswith(('POP_JUMP_', 'BINARY_', 'INPLACE_', 'UNARY_')))
_safe_offsets: dict[Any, Any] = {}      # code object -> offsets of its safe instructions


def _safe_instruction_offsets(code):
    offsets = set()
    prefix = []                 # EXTENDED_ARGs before an instruction: f_lasti may be on them
    for ins in dis.get_instructions(code):
        if ins.opname == 'EXTENDED_ARG':
            prefix.append(ins.offset)
            continue
        if ins.opcode in _SAFE_OPCODES:
            offsets.add(ins.offset)
            offsets.update(prefix)
        prefix = []
    return frozenset(offsets)


def _at_safe_instruction(frame):
    code = frame.f_code
    offsets = _safe_offsets.get(code)
    if offsets is None:
        if len(_safe_offsets) >= 1000:
            _safe_offsets.clear()
        offsets = _safe_offsets[code] = _safe_instruction_offsets(code)
    return frame.f_lasti in offsets


def _on_signal(signum, frame):
    """The handler of :data:`SIGNAL` (before 3.12): parks the interrupted greenlet if safe.

    CPython runs it in the main thread, in the current greenlet, either between
    two bytecodes or from inside a C function that checks for signals while it
    waits (then the frame is at its call instruction, which is not a safe one).
    """
    watcher = _watchers.get(_get_ident())
    if watcher is None or watcher.stopped or frame is None or not _at_safe_instruction(frame):
        return              # the watcher sends again if the overrun goes on
    watcher._at_back_edge(frame)


def _install_signal_handler(hub):
    # Called in the hub's thread; only the main thread runs signal handlers.
    global UNAVAILABLE, _at_exit_registered
    if hub is not None and hub.thread_ident != _get_ident():
        UNAVAILABLE = 'enable() must be called in the thread of the hub it preempts'
        return False
    current = _getsignal(SIGNAL)
    if current is not _on_signal and current is not _signal.SIG_DFL:
        # SIG_IGN, a Python handler, or None (a handler set outside Python): never ours to replace.
        UNAVAILABLE = ('signal %d (preempt.SIGNAL) already has a handler (%r): '
                       'preemption stays off' % (SIGNAL, current))
        return False
    try:
        _setsignal(SIGNAL, _on_signal)
    except ValueError:
        UNAVAILABLE = ('before Python 3.12 only the main thread is preempted '
                       '(signal handlers run only there)')
        return False
    # SA_RESTART: most system calls the signal interrupts restart in the kernel
    # instead of failing with EINTR (Python retries the others, PEP 475).
    _signal.siginterrupt(SIGNAL, False)
    if not _at_exit_registered:
        _at_exit_registered = True
        atexit.register(_remove_signal_handler)
    UNAVAILABLE = None
    return True


def _remove_signal_handler():
    # Stop the watchers first (under _signal_lock, so none is half-way through a
    # send), then SIG_IGN, which discards a signal sent but not yet delivered, and
    # only then the default action (for a real-time signal: terminate).
    for watcher in list(_watchers.values()):
        watcher.stop()
    if _getsignal(SIGNAL) is _on_signal:
        try:
            _setsignal(SIGNAL, _signal.SIG_IGN)
            _setsignal(SIGNAL, _signal.SIG_DFL)
        except ValueError:   # pragma: no cover - not the main thread: leave it (it is harmless)
            pass


def enable(hub: Any = None, threads: bool = True) -> bool:
    """Start preempting in ``hub`` (default: this thread's hub); returns True if on.

    ``threads=True`` preempts the green threads and the main greenlet (what
    ``monkey.patch_thread`` asks for); plain greenlets are preempted when
    ``config.preempt_greenlets`` is set. Returns False where preemption is not
    supported, when ``config.preempt_time_slice`` is ``-1``, when
    ``sys.monitoring`` tool ids 3 and 4 are both taken by other tools, and before
    3.12 outside the main thread or when :data:`SIGNAL` already has a handler
    (:data:`UNAVAILABLE` says which). Call it from the hub's thread.
    """
    if not SUPPORTED:
        return False
    slice_seconds = config.preempt_time_slice
    if slice_seconds <= 0:
        return False
    if ALL_THREADS:
        if _claim_tool_id() is None:
            return False
    elif not _install_signal_handler(hub):
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
    if SIGNAL is not None and ident == _get_ident():
        _remove_signal_handler()


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
    global _signal_lock
    _signal_lock = _allocate_lock()
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
