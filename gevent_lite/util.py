"""Run information: what is running right now, who spawned it, and what the hub waits for.

:func:`format_run_info` returns (and :func:`print_run_info` prints) a snapshot of
the process:

* the stack of every OS thread (``sys._current_frames()``);
* every live greenlet, found through the garbage collector, as a tree grouped by
  the greenlet that spawned it (``Greenlet.spawning_greenlet()``; raw greenlets by
  their ``parent``): its repr, its state (running, suspended, scheduled, not
  started), where it is suspended (its stack), where it was spawned when
  ``Greenlet.capture_spawning_stack`` was on, and its ``spawn_tree_locals``
  when a tree root has any;
* for each hub: the callbacks ready to run, the pending timers (soonest first,
  with their callbacks) and the watched file descriptors with the greenlets
  waiting to read or write them.

It only reads state, never switches, so it is safe to call from a greenlet, from
the hub, from a signal handler or from the monitor thread (a snapshot taken from
another thread may be slightly inconsistent). Greenlets whose spawner has
finished are shown under their parent (the hub), marked ``spawner gone``: the
spawn tree holds only weak references, so it never keeps frames alive.

:class:`GreenletTree` gives the same tree as objects, e.g.
``GreenletTree.current_tree()``.
"""

import gc
import sys
import traceback
from types import FrameType
from typing import Optional

from greenlet import greenlet as _RawGreenlet, getcurrent, gettrace, settrace

from .greenlet import Greenlet
from .hub import Hub, READ, WRITE, now as _now

__all__ = ['format_run_info', 'print_run_info', 'GreenletTree', 'wrap_errors', 'assert_switches',
           'clear_stack_frames']

_MAX_TIMERS = 50


class _FailedToSwitch(AssertionError):
    """Raised by :class:`assert_switches` when its block did not switch as required."""


class assert_switches:
    """Context manager: fail if the block did not cooperate (gevent's test helper).

    * ``with assert_switches(): code()`` raises an ``AssertionError`` when
      ``code()`` made no greenlet switch at all.
    * ``assert_switches(max_blocking_time)``: fails only when more than that many
      seconds passed between two switches (the block, or a stretch of it, held the
      hub up); a quick block that never switched is fine.
    * ``hub_only=True`` (with ``max_blocking_time``): only switches into the hub
      count, and the block must make at least one.

    The error message starts as gevent's does: ``To any greenlet in 0.0012
    seconds`` (``To the hub in ...``), then ``(max allowed ...)``. It uses
    ``greenlet.settrace`` for the block only, chained to any tracer already set
    (the monitor thread's).
    """

    def __init__(self, max_blocking_time=None, hub_only=False):
        self.max_blocking_time = max_blocking_time
        self.hub_only = hub_only
        self.switches = 0
        self.longest = 0.0
        self._prev_tracer = None
        self._last = None
        self._entered = None

    def _trace(self, event, args):
        prev = self._prev_tracer
        if prev is not None:
            prev(event, args)
        if event in ('switch', 'throw'):
            if self.hub_only and self.max_blocking_time and not isinstance(args[1], Hub):
                return
            t = _now()
            self.longest = max(self.longest, t - self._last)
            self._last = t
            self.switches += 1

    def __enter__(self):
        self.switches = 0
        self.longest = 0.0
        self._entered = self._last = _now()
        self._prev_tracer = gettrace()
        settrace(self._trace)
        return self

    def __exit__(self, exc_type, exc, tb):
        settrace(self._prev_tracer)
        self._prev_tracer = None
        if exc_type is not None:
            return False
        t = _now()
        self.longest = max(self.longest, t - self._last)
        mbt = self.max_blocking_time
        if not mbt:
            failed = not self.switches
        elif self.hub_only:
            failed = not self.switches or self.longest > mbt
        else:
            failed = self.longest > mbt
        if failed:
            message = 'To the hub' if self.hub_only and mbt else 'To any greenlet'
            message += ' in %.4f seconds' % (t - self._entered,)
            if mbt:
                message += ' (max allowed %.4f seconds)' % (mbt,)
            if not self.switches:
                message += ': no switch occurred'
            else:
                message += ': %.4f seconds passed without a switch' % (self.longest,)
            raise _FailedToSwitch(message)
        return False


def clear_stack_frames(frame: Optional[FrameType]) -> None:
    """Drop the local variables of ``frame`` and of every frame that called it.

    For code that keeps a traceback or a frame around (an error report, a greenlet
    kept for debugging) and must not keep everything those frames referenced
    alive. A frame still executing (the caller's own, in any thread) cannot be
    cleared and is skipped.
    """
    while frame is not None:
        try:
            frame.clear()
        except RuntimeError:
            pass                 # still executing
        frame = frame.f_back


class wrap_errors:
    """Call ``func`` and return the exception instead of raising, for ``errors``.

    ``wrap_errors(socket.error, sock.recv)(1024)`` returns the error object if
    the call raises it (gevent's helper of the same name).
    """

    def __init__(self, errors, func):
        self.errors = errors
        self.func = func

    def __call__(self, *args, **kwargs):
        try:
            return self.func(*args, **kwargs)
        except self.errors as ex:
            return ex

    def __repr__(self):
        return repr(self.func)

    def __getattr__(self, name):
        return getattr(self.func, name)


def _safe_repr(obj):
    try:
        return repr(obj)
    except Exception as ex:
        return '%s (repr failed: %r)' % (object.__repr__(obj), ex)


def _live(g):
    if isinstance(g, Greenlet):
        return not g.dead
    return not g.dead


def _state(g, current):
    if g is current:
        return 'running'
    if g.gr_frame is not None:
        return 'suspended'
    if isinstance(g, Greenlet):
        return 'scheduled, not started' if g.started else 'not started'
    if g.parent is None:
        return 'running'     # the main greenlet of a thread, seen from another thread
    return 'not started'


class GreenletTree:
    """One greenlet and the live greenlets it spawned (``children``), recursively."""

    __slots__ = ('greenlet', 'children', 'orphan')

    def __init__(self, greenlet):
        self.greenlet = greenlet
        self.children = []
        self.orphan = False

    @staticmethod
    def _collect():
        return [o for o in gc.get_objects() if isinstance(o, _RawGreenlet) and _live(o)]

    @classmethod
    def forest(cls):
        """The trees of all live greenlets, one per root (the main greenlet of each thread)."""
        greenlets = cls._collect()
        nodes = {id(g): cls(g) for g in greenlets}
        roots = []
        for g in greenlets:
            node = nodes[id(g)]
            parent = None
            if isinstance(g, Greenlet):
                spawner = g.spawning_greenlet()
                if spawner is not None and id(spawner) in nodes:
                    parent = spawner
                else:
                    node.orphan = spawner is None
            if parent is None:
                parent = g.parent
                if parent is not None and id(parent) not in nodes:
                    parent = None
            if parent is None:
                roots.append(node)
            else:
                nodes[id(parent)].children.append(node)
        return roots

    @classmethod
    def current_tree(cls):
        """The tree holding the current greenlet (rooted at this thread's main greenlet)."""
        root = getcurrent()
        while root.parent is not None:
            root = root.parent
        for tree in cls.forest():
            if tree.greenlet is root:
                return tree
        return cls(root)

    def format_lines(self, details=True, limit=None, _current=None):
        """This tree as indented text lines; ``details`` adds stacks and locals."""
        current = getcurrent() if _current is None else _current
        lines = []
        self._format(lines, '', '', details, limit, current)
        return lines

    def format(self, details=True, limit=None):
        return '\n'.join(self.format_lines(details, limit))

    __str__ = format

    def _format(self, lines, first, rest, details, limit, current):
        g = self.greenlet
        label = _safe_repr(g)
        if isinstance(g, Hub):
            label = 'Hub: ' + label
        elif g.parent is None:
            label = 'Main greenlet: ' + label
        note = '; spawner gone' if self.orphan else ''
        lines.append('%s%s  [%s%s]' % (first, label, _state(g, current), note))
        if details:
            detail = []
            if g.gr_frame is not None and g is not current:
                detail.append('Suspended at:')
                detail.extend(_stack_lines(g.gr_frame, limit))
            stack = getattr(g, 'spawning_stack', None) if isinstance(g, Greenlet) else None
            if stack:
                detail.append('Spawned at:')
                detail.extend(line for entry in traceback.format_list(stack[-limit:] if limit else stack)
                              for line in entry.rstrip('\n').split('\n'))
            tree_locals = g.__dict__.get('_tree_locals') if isinstance(g, Greenlet) else None
            spawner = g.spawning_greenlet() if isinstance(g, Greenlet) else None
            if tree_locals and (spawner is None or not isinstance(spawner, Greenlet)):
                detail.append('Spawn Tree Locals: %s' % _safe_repr(tree_locals))
            pad = rest + ('|   ' if self.children else '    ')
            lines.extend(pad + line for line in detail)
        for i, child in enumerate(self.children):
            last = i == len(self.children) - 1
            child._format(lines, rest + '+--- ', rest + ('    ' if last else '|   '),
                          details, limit, current)


def _stack_lines(frame, limit):
    out = []
    for entry in traceback.format_stack(frame, limit=limit):
        out.extend(entry.rstrip('\n').split('\n'))
    return out


def _format_callback(callback, args):
    name = getattr(callback, '__qualname__', None) or _safe_repr(callback)
    owner = getattr(callback, '__self__', None)
    if owner is not None and not isinstance(owner, type(sys)):
        name = '%s of %s' % (name, _safe_repr(owner))
    if args:
        name += '(%s)' % ', '.join(_safe_repr(a) for a in args)
    return name


def _format_hub(hub):
    lines = ['%r (thread 0x%x)' % (hub, getattr(hub, 'thread_ident', 0))]
    ready = list(getattr(hub, '_ready', ()))
    lines.append('  Ready callbacks: %d' % len(ready))
    for entry in ready[:10]:
        callback, args = entry[0], entry[1]
        lines.append('    ' + _format_callback(callback, args))
    if len(ready) > 10:
        lines.append('    ... and %d more' % (len(ready) - 10))

    timers = sorted((e for e in list(getattr(hub, '_timers', ())) if e[2].callback is not None),
                    key=lambda e: (e[0], e[1]))
    lines.append('  Pending timers: %d' % len(timers))
    t = _now()
    for when, _seq, timer in timers[:_MAX_TIMERS]:
        callback, args = timer.callback, timer.args
        if callback is None:
            continue
        lines.append('    in %.3f s%s: %s' % (when - t, '' if timer.ref else ' (unref)',
                                             _format_callback(callback, args or ())))
    if len(timers) > _MAX_TIMERS:
        lines.append('    ... and %d more' % (len(timers) - _MAX_TIMERS))

    fds = hub.watched_fds()
    lines.append('  Watched fds: %d' % len(fds))
    for fd in fds:
        info = hub.fd_info(fd)
        if info is None:
            continue
        mask, reader, writer = info['events'], info['reader'], info['writer']
        events = '|'.join(n for bit, n in ((READ, 'READ'), (WRITE, 'WRITE')) if mask & bit) or '-'
        who = []
        if reader is not None:
            who.append('reader %s' % _safe_repr(reader))
        if writer is not None and writer is not reader:
            who.append('writer %s' % _safe_repr(writer))
        lines.append('    fd %d registered %s%s' % (fd, events, ': ' + ', '.join(who) if who else
                                                      ' (nobody waiting)'))
    return lines


def format_run_info(thread_stacks=True, greenlet_stacks=True, limit=None,
                    current_thread_ident=None):
    """Return a list of text lines describing threads, greenlets and hubs (see module doc).

    ``thread_stacks``/``greenlet_stacks`` turn the stacks off; ``limit`` caps
    each stack's depth.
    """
    lines = []
    if thread_stacks:
        lines.append('*' * 80)
        lines.append('* Threads')
        import threading
        names = {}
        try:
            for t in threading.enumerate():
                if t.ident is not None:
                    names[t.ident] = t.name
        except Exception:
            pass
        frames = sys._current_frames()
        for ident, frame in frames.items():
            mark = ' (current)' if ident == current_thread_ident else ''
            lines.append('Thread 0x%x %s%s' % (ident, names.get(ident, ''), mark))
            lines.extend(_stack_lines(frame, limit))
            lines.append('')
        del frames

    lines.append('*' * 80)
    lines.append('* Greenlets')
    current = getcurrent()
    for tree in GreenletTree.forest():
        lines.extend(tree.format_lines(details=greenlet_stacks, limit=limit, _current=current))
        lines.append('')

    hubs = [o for o in gc.get_objects() if isinstance(o, Hub) and not o._destroyed]
    lines.append('*' * 80)
    lines.append('* Hubs')
    for hub in hubs:
        lines.extend(_format_hub(hub))
    return lines


def print_run_info(thread_stacks=True, greenlet_stacks=True, limit=None, file=None):
    """Print :func:`format_run_info` to ``file`` (default ``sys.stderr``)."""
    for line in format_run_info(thread_stacks=thread_stacks, greenlet_stacks=greenlet_stacks,
                                limit=limit):
        print(line, file=file if file is not None else sys.stderr)
