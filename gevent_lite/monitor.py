"""The blocking detector: a real OS thread that watches a hub from outside.

Cooperative code has one failure mode that nothing inside the hub can see: a
greenlet that calls something blocking (an unpatched ``time.sleep``, a C
extension doing network I/O, a long CPU loop) stops *every* greenlet of its
thread, and the hub only regains control when it returns. The monitor is an
ordinary OS thread, so it keeps running while the hub's thread is stuck.

How it notices. :func:`start_periodic_monitoring_thread` installs a
``greenlet.settrace`` callback in the hub's thread that records the latest
switch: the trace function is the C method ``dict.__setitem__`` of a small dict,
so each switch stores its ``(origin, target)`` tuple under ``'switch'`` (or
``'throw'``) without running any Python code. Every
``config.max_blocking_time`` seconds the monitor thread compares those tuples
with the ones it saw last time (by identity: it holds them, so a new switch is
always a new object). No switch for a whole period while a greenlet other than
the hub is running means that greenlet blocked the loop for at least that long;
the running one is whichever recorded target has no suspended frame. The hub itself is busy only
while running callbacks; when it sits in the poller (its top frame is the loop
waiting for I/O or a timer) it is idle, not blocked. A hub callback that blocks
is reported too, naming the hub.

What it reports. Each preemption of a green thread that overran its time
slice (:mod:`gevent_lite.preempt`) is reported with when, which
greenlet, where and how long it had run (:meth:`PeriodicMonitoringThread.monitor_preemptions`).
Once per blocking incident (until the next switch), it writes a report
with the greenlet's repr and the stack of the blocking code
(``sys._current_frames()[hub.thread_ident]``) to ``sys.stderr`` or the stream
given, and sends :class:`gevent_lite.events.EventLoopBlocked` to
``gevent_lite.events.subscribers``. With ``config.max_memory_usage`` set it also
checks resident memory (``/proc/self/statm``) every
``config.memory_monitor_period`` seconds and sends
``MemoryUsageThresholdExceeded`` / ``MemoryUsageUnderThreshold`` on crossings.
:meth:`PeriodicMonitoringThread.add_monitoring_function` runs your own
``function(hub)`` periodically in the monitor thread.

Cost. Nothing at all until a monitor is started (no trace function is
installed). Started, every greenlet switch of the hub's thread makes one C call
that stores a tuple (a Python wrapper only when another trace function was
already installed and must be chained); the ``sleep0_monitor`` benchmark case
measures it.

Lifetime. The thread is started with the *original* ``_thread.start_new_thread``
(captured before monkey-patching can replace it), so it is a real thread even
in a patched program, and it is not joined at exit: it never keeps the
interpreter alive. It stops on :meth:`PeriodicMonitoringThread.kill`, or within
one period after its hub is destroyed.

Enable it with ``config.monitor_thread = True`` (or
``GEVENT_LITE_MONITOR_THREAD=1`` / gevent's
``GEVENT_MONITOR_THREAD_ENABLE=1``) before the hub is created, or call
:func:`start_periodic_monitoring_thread` from the hub's thread at any time.
"""

import os
import sys
import traceback
from datetime import datetime, timezone
from typing import Any

import greenlet as _greenlet_mod

from . import events as _events
from . import hub as _hub_module
from ._stdlib import original as _original
from .config import config

__all__ = ['PeriodicMonitoringThread', 'start_periodic_monitoring_thread',
           'get_memory_usage']


# Captured at import: the monitor must be a real thread that sleeps for real.
_start_new_thread = _original('_thread', 'start_new_thread')
_allocate_lock = _original('_thread', 'allocate_lock')
_get_ident = _original('_thread', 'get_ident')
_monotonic = _original('time', 'monotonic')
_settrace = _greenlet_mod.settrace
_gettrace = _greenlet_mod.gettrace


def get_memory_usage():
    """Resident memory of this process in bytes (``/proc/self/statm``), or None."""
    try:
        with open('/proc/self/statm', 'rb') as f:
            resident_pages = int(f.read().split()[1])
        return resident_pages * os.sysconf('SC_PAGE_SIZE')
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
        # ru_maxrss is the *peak*, in KB on Linux and bytes on macOS: a fallback only.
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss if sys.platform == 'darwin' else rss * 1024
    except Exception:
        return None


class PeriodicMonitoringThread:
    """Watches one hub from a real OS thread; see the module docstring.

    Create it with :func:`start_periodic_monitoring_thread`. ``stream`` is
    where blocking reports go (default: ``sys.stderr`` at report time).
    """

    _builtin = False    # True while __init__ adds the built-in checks

    #: Shortest sleep between two checks, so tiny periods cannot spin a core.
    min_sleep_time = 0.005

    def __init__(self, hub, stream=None):
        self.hub = hub
        self.stream = stream
        self.max_blocking_time = config.max_blocking_time
        self.thread_ident = None
        self.reports = 0                 # blocking reports made
        self._stopped = False
        self._wakeup = _allocate_lock()  # held while sleeping; kill() releases it
        self._wakeup.acquire()
        self._functions = []             # [function, period, next_due]
        self._idle = _hub_module._poller_wait_codes()
        # The trace function's record: {'switch'/'throw': (origin, target)} of the
        # latest switch. Only the hub's thread writes it (one C call per switch); the
        # monitor thread only reads it, so no lock.
        current = _greenlet_mod.getcurrent() if _get_ident() == hub.thread_ident else hub.parent
        self._state = state = {'switch': (None, current)}
        self._seen = self._snapshot()
        self._seen_at = _monotonic()
        self._tick = None                # the run loop's time of the current checks
        self._reported = False
        self._over_memory = False
        self._max_memory_seen = 0
        self._prev_trace = None
        self._trace = self._make_trace(state)

        # The built-in checks first run a whole period after the start (a blocking
        # check needs one period of history).
        self._builtin = True
        self.add_monitoring_function(self.monitor_blocking, self.max_blocking_time)
        self._preemptions_seen = 0
        self.add_monitoring_function(self.monitor_preemptions, self.max_blocking_time)
        if config.max_memory_usage is not None:
            self.add_monitoring_function(self.monitor_memory_usage, config.memory_monitor_period)
        self._builtin = False

    # -- the trace function, installed in the hub's thread ------------------------------

    @staticmethod
    def _make_trace(state):
        # Runs on every greenlet switch in the hub's thread: greenlet calls
        # trace(event, (origin, target)), and dict.__setitem__ is exactly that
        # signature, in C -- no Python frame per switch.
        return state.__setitem__

    def _snapshot(self):
        state = self._state
        return state.get('switch'), state.get('throw')

    def _active(self):
        # The greenlet running now: the target of the latest switch or throw. Of the
        # (at most two) recorded targets, the running one has no suspended frame.
        switch, thrown = self._snapshot()
        candidates = [args[1] for args in (switch, thrown) if args is not None]
        for g in candidates:
            if g.gr_frame is None and not g.dead:
                return g
        return candidates[0] if candidates else self.hub

    def _install(self):
        prev = _gettrace()
        # A trace left behind by a monitor that died with its hub: unwrap it.
        while id(prev) in _installed_traces:
            trace_obj, owner, below = _installed_traces[id(prev)]
            if trace_obj is not prev or not owner._stopped:
                break
            del _installed_traces[id(prev)]
            prev = below
        trace = self._trace
        if prev is not None:
            inner = trace

            def trace(event, args, inner=inner, prev=prev):
                inner(event, args)
                prev(event, args)
        # Builtin methods take no attributes and no weak references: remember which
        # trace objects are ours (and what they chain to) here.
        _installed_traces[id(trace)] = (trace, self, prev)
        self._prev_trace = prev
        self._installed = trace
        _settrace(trace)

    def _uninstall(self):
        # Must run in the hub's thread (greenlet trace functions are per thread).
        installed = getattr(self, '_installed', None)
        if installed is not None:
            if _gettrace() is installed:
                _settrace(self._prev_trace)
            entry = _installed_traces.get(id(installed))
            if entry is not None and entry[0] is installed:
                del _installed_traces[id(installed)]
        self._installed = None

    # -- lifetime -----------------------------------------------------------------------

    def start(self):
        """Install the switch counter (in the hub's thread) and start the OS thread."""
        if _get_ident() != self.hub.thread_ident:
            raise RuntimeError('start the monitor from the thread of the hub it watches')
        self._install()
        self.thread_ident = _start_new_thread(self._run, ())
        # A helper thread: it releases no lock of the program's (hub.other_os_threads).
        _hub_module._helper_threads.add(self.thread_ident)
        _notify_safely(_events.PeriodicMonitorThreadStartedEvent(self), self)
        return self

    def kill(self):
        """Stop the thread (within moments) and remove the switch counter."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self._wakeup.release()
        except RuntimeError:
            pass
        hub = self.hub
        if getattr(hub, 'periodic_monitoring_thread', None) is self:
            hub.periodic_monitoring_thread = None
        if _get_ident() == hub.thread_ident:
            self._uninstall()
        elif not hub._destroyed:
            hub.run_callback_threadsafe(self._uninstall)

    stop = kill

    @property
    def should_run(self):
        return not self._stopped and not self.hub._destroyed

    def is_alive(self):
        return self.thread_ident is not None and not self._stopped

    def add_monitoring_function(self, function, period):
        """Call ``function(hub)`` in the monitor thread every ``period`` seconds.

        A ``period`` of None removes ``function``. Exceptions are printed, and the
        monitor goes on. As gevent's, a function added this way is first called at
        the monitor's next check, then every ``period``.
        """
        if not callable(function):
            raise TypeError('function must be callable, not %r' % (function,))
        self._functions[:] = [f for f in self._functions if f[0] != function]
        if period is None:
            return
        if isinstance(period, bool) or not isinstance(period, (int, float)) or \
                not period > 0 or period == float('inf'):
            raise ValueError('period must be a positive number of seconds, not %r' % (period,))
        self._functions.append([function, period, _monotonic() + (period if self._builtin else 0.0)])

    def _run(self):
        wait = self._wakeup.acquire
        try:
            while self.should_run:
                now = _monotonic()
                due = min(f[2] for f in self._functions) if self._functions else now + 1
                delay = max(due - now, self.min_sleep_time)
                if wait(True, delay):      # released by kill()
                    break
                if not self.should_run:
                    break
                now = self._tick = _monotonic()
                for entry in list(self._functions):
                    if entry[2] <= now:
                        entry[2] = now + entry[1]
                        try:
                            entry[0](self.hub)
                        except Exception:
                            if self._stopped or sys is None:
                                break
                            traceback.print_exc()
                self._tick = None
        except BaseException:   # pragma: no cover - interpreter shutdown
            pass
        finally:
            self._stopped = True
            _hub_module._helper_threads.discard(_get_ident())

    # -- the checks ---------------------------------------------------------------------

    def monitor_blocking(self, hub):
        """Report if the hub's thread has not switched greenlets for a whole period."""
        seen = self._snapshot()
        # The loop's clock reading, which also scheduled this check: two checks are
        # then at least a period apart on the same clock, so a reported blocking_time
        # is never below max_blocking_time (a fresh reading taken later could be).
        now = self._tick if self._tick is not None else _monotonic()
        if seen[0] is not self._seen[0] or seen[1] is not self._seen[1]:
            self._seen = seen     # holding the tuples keeps a new one a new object
            self._seen_at = now
            self._reported = False
            return False
        if self._reported:
            return False      # once per incident
        active = self._active()
        frames = sys._current_frames()
        frame = frames.get(hub.thread_ident)
        del frames
        if frame is None:
            self.kill()       # the hub's thread is gone
            return False
        if active is hub and frame.f_code in self._idle:
            return False      # the hub is waiting in the poller: idle, not blocked
        now_seen = self._snapshot()
        if now_seen[0] is not seen[0] or now_seen[1] is not seen[1]:
            return False      # it switched while we looked
        self._reported = True
        self.reports += 1
        blocking_time = now - self._seen_at
        info = self._format_report(active, blocking_time, frame)
        del frame
        self._print_report(info)
        _notify_safely(_events.EventLoopBlocked(active, blocking_time, info, hub), self)
        return True

    def _print_report(self, lines):
        """Write a report's lines to ``stream`` (stderr by default) if
        ``config.print_blocking_reports``; a failing stream never stops the monitor."""
        if not config.print_blocking_reports:
            return
        stream = self.stream if self.stream is not None else self.hub.exception_stream
        try:
            stream.write('\n'.join(lines) + '\n')
            stream.flush()
        except Exception:
            pass

    def _format_report(self, active, blocking_time, frame):
        stamp = datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
        who = 'the hub (in a callback)' if active is self.hub else _safe_repr(active)
        lines = [
            '=' * 80,
            '%s : Greenlet %s appears to be blocked: no greenlet switch for at least %.3f s '
            '(max_blocking_time=%s)' % (stamp, who, blocking_time, self.max_blocking_time),
            '    Reported by %r' % (self,),
            'Blocked Stack (for thread id 0x%x):' % (self.hub.thread_ident,),
        ]
        for entry in traceback.format_stack(frame):
            lines.extend(entry.rstrip('\n').split('\n'))
        return lines

    def monitor_preemptions(self, hub):
        """Report the preemptions made in the hub's thread since the last check.

        :mod:`gevent_lite.preempt` switches out a green thread that ran longer than
        ``config.preempt_time_slice`` without yielding; each such switch is written
        to the report stream: when, which greenlet, where, how long it had run.
        """
        preempt = sys.modules.get('gevent_lite.preempt')
        if preempt is None:
            return False
        stats = preempt.statistics(hub)
        total = stats.get('preemptions', 0)
        new = total - self._preemptions_seen
        if new <= 0:
            if new < 0:       # a new watcher (new hub) counts from 0 again
                self._preemptions_seen = total
            return False
        self._preemptions_seen = total
        records = preempt.preemptions(hub)[-new:]
        lines = ['=' * 80, '%d preemption(s) in the thread of %r since the last check '
                 '(preempt_time_slice=%s):' % (new, hub, stats.get('time_slice'))]
        for when, who, where, ran in records:
            lines.append('%s : %s was preempted at %s after running %.3f s without yielding' % (
                datetime.fromtimestamp(when, timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ'),
                who, where, ran))
        if new > len(records):
            lines.append('    (and %d earlier ones no longer recorded)' % (new - len(records)))
        self._print_report(lines)
        return True

    def monitor_memory_usage(self, hub):
        """Send a memory event when resident memory crosses ``config.max_memory_usage``."""
        limit = config.max_memory_usage
        if limit is None:
            return
        usage = get_memory_usage()
        if usage is None:
            return
        if usage > limit:
            self._max_memory_seen = max(self._max_memory_seen, usage)
            if not self._over_memory:
                self._over_memory = True
                _notify_safely(_events.MemoryUsageThresholdExceeded(usage, limit), self)
        elif self._over_memory:
            self._over_memory = False
            peak, self._max_memory_seen = self._max_memory_seen, 0
            _notify_safely(_events.MemoryUsageUnderThreshold(usage, limit, peak), self)

    def __repr__(self):
        return '<PeriodicMonitoringThread at 0x%x hub=0x%x thread=%s%s>' % (
            id(self), id(self.hub), self.thread_ident, ' stopped' if self._stopped else '')


# id(trace object) -> (trace object, its monitor, the trace function it chains to).
_installed_traces: dict[Any, Any] = {}


def _notify_safely(event, monitor):
    # Each subscriber on its own: one failing subscriber must neither stop the
    # monitor thread nor keep the event from the others.
    for subscriber in list(_events.subscribers):
        try:
            subscriber(event)
        except Exception:
            try:
                sys.stderr.write('%r: events subscriber %r failed on %r:\n'
                                 % (monitor, subscriber, type(event).__name__))
                traceback.print_exc()
            except Exception:
                pass


def _safe_repr(obj):
    try:
        return repr(obj)
    except Exception:
        return object.__repr__(obj)


def start_periodic_monitoring_thread(hub=None, stream=None):
    """Start (or return the running) monitor of ``hub`` (default: this thread's hub).

    Call it from the hub's thread. ``stream`` receives the blocking reports
    (default ``sys.stderr``). The monitor is also stored as
    ``hub.periodic_monitoring_thread``.
    """
    if hub is None:
        from .hub import get_hub
        hub = get_hub()
    current = getattr(hub, 'periodic_monitoring_thread', None)
    if current is not None and current.is_alive():
        if stream is not None:
            current.stream = stream
        return current
    monitor = PeriodicMonitoringThread(hub, stream)
    hub.periodic_monitoring_thread = monitor
    return monitor.start()

