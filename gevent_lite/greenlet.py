"""Greenlets with results: :class:`Greenlet`, :func:`spawn`, :func:`joinall`, :func:`killall`.

A :class:`Greenlet` is a ``greenlet.greenlet`` whose parent is the hub. ``start()``
puts its first switch on the hub's ready queue; when its function returns or
raises, the result is stored, waiters are notified through *links* (callbacks the
hub runs after the death, in the order they were added) and an exception is
reported once by the hub. Links and joining come from the core's
:class:`~gevent_lite.hub.Linkable` base: joiners park on its broadcast
:class:`~gevent_lite.hub.ParkingLot`, woken at the death. Each greenlet starts with a copy of the spawner's
``contextvars`` context, as asyncio tasks do.
"""

from __future__ import annotations

import sys
import traceback
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping
from functools import partial
from weakref import ref as _weakref
from itertools import count as _count
from contextvars import copy_context
from types import MappingProxyType, MethodType as _MethodType

from greenlet import greenlet, getcurrent, GreenletExit

from .hub import Hub, Linkable, _state, get_hub, now as _now, sleep, wait, iwait, _check_timeout
from .scopes import _deliver
from .timeout import Timeout

__all__ = [
    'Greenlet', 'spawn', 'spawn_later', 'spawn_raw', 'joinall', 'killall',
    'GreenletExit', 'getcurrent', 'wait', 'iwait',
]

_ident_counter = _count()


def _run(self):
    """What a Greenlet made without a function runs (subclasses override ``_run``)."""
    return None


def _finished_run(*args, **kwargs):
    """What a finished greenlet's ``_run`` is: its function was released."""
#: Greenlet.add_spawn_callback's set, or None (the common case: one test in start()).
_spawn_callbacks: set[Callable[[Any], Any]] | None = None


def _call_spawn_callbacks(greenlet):
    for callback in list(_spawn_callbacks):
        callback(greenlet)
_dead_greenlet_dead = greenlet.dead.__get__
_greenlet_active = greenlet.__bool__

# Start states
_NEW, _SCHEDULED, _KILLED_BEFORE_START = 0, 1, 2


class _Spawned(greenlet):
    # What every spawn sets, in slots: a plain Greenlet then needs no instance dict
    # at all (one allocation fewer per spawn, and one object fewer for the garbage
    # collector to visit), and slot stores are cheaper than dict insertions. Slots
    # hold no class defaults, so _setup() sets each one. ``_run`` is a slot here and
    # a method only in subclasses that define one: their method shadows the slot,
    # and their instances keep ``_run`` in the instance dict, as any attribute.
    __slots__ = ('_run', '_start_state', 'spawning_greenlet', 'value')


class Greenlet(_Spawned, Linkable):
    """A greenlet that runs ``run(*args, **kwargs)`` in the hub and keeps its result.

    Create it and call :meth:`start` (or use :meth:`spawn`). Subclasses may
    override ``_run`` instead of passing ``run``.
    """

    # Defaults live on the class so that spawning sets only what differs: spawn is
    # a hot path and each instance attribute costs a dict insertion. (What every
    # spawn sets lives in _Spawned's slots instead.)
    _exc_info = None
    _links = ()          # type: ignore[assignment]  # Linkable state: a list from the first rawlink,
    _lot = None          # a ParkingLot from the first join,
    _notify_scheduled = False
    _start_timer = None
    _name = None
    _ident = None
    # No positional/keyword arguments is the common spawn; the instance stores its own
    # only when it has some. The shared empty mapping is read-only, so nobody can
    # change every greenlet's kwargs through one of them.
    args: tuple = ()
    kwargs: Mapping[str, Any] = MappingProxyType({})
    # Linkable's ``hub`` is our parent, read through greenlet's own C getter: no
    # instance attribute to store per spawn, and one reference fewer from every
    # young greenlet to the hub for the garbage collector to visit.
    hub: Hub = greenlet.parent
    if TYPE_CHECKING:
        value: Any
        _start_state: int
        #: A weak reference to the greenlet that spawned this one, as gevent's:
        #: ``g.spawning_greenlet()`` is the spawner while it is alive, else None.
        spawning_greenlet: Callable[[], Any]

    def __init__(self, run: Callable[..., Any] | None = None, *args: Any, **kwargs: Any) -> None:
        _setup(self, run, args, kwargs)

    #: Set to True to record where each greenlet was spawned (``spawning_stack``);
    #: off by default because extracting a stack costs more than the spawn itself.
    capture_spawning_stack = False
    spawning_stack: traceback.StackSummary | None = None

    @property
    def spawn_tree_locals(self):
        """A dict shared by every greenlet of one spawn tree (the root's)."""
        node = self
        while True:
            d = node.__dict__.get('_tree_locals')
            if d is not None:
                break
            parent = node.spawning_greenlet() if isinstance(node, Greenlet) else None
            if parent is not None and not isinstance(parent, Greenlet):
                # A raw greenlet from spawn_raw carries its tree's locals itself.
                d = getattr(parent, 'spawn_tree_locals', None)
                if d is not None:
                    node.__dict__['_tree_locals'] = d
                    break
            if parent is None or not isinstance(parent, Greenlet):
                d = node.__dict__['_tree_locals'] = {}
                break
            node = parent
        if node is not self:
            self.__dict__['_tree_locals'] = d
        return d

    # -- identity and display -----------------------------------------------------------

    @property
    def minimal_ident(self):
        """A small integer unique to this greenlet (assigned on first use)."""
        if self._ident is None:
            self._ident = next(_ident_counter)
        return self._ident

    @property
    def name(self):
        if self._name is None:
            self._name = 'Greenlet-%d' % self.minimal_ident
        return self._name

    @name.setter
    def name(self, value):
        self._name = str(value)

    def _formatinfo(self):
        info = self.__dict__.get('_formatted_info')
        if info is not None:
            return info
        func = self._run
        # gevent's form: the function's __name__ (not its qualified name); a
        # subclass's own _run shows as ``_run``.
        im_self = getattr(func, '__self__', None)
        if im_self is self or func is _finished_run:
            fname = '_run'
        elif im_self is not None:
            fname = repr(func)
        else:
            fname = getattr(func, '__name__', None) or repr(func)
        args = [repr(a)[:50] for a in self.args]
        args.extend('%s=%s' % (key, repr(value)[:50]) for key, value in self.kwargs.items())
        info = '%s(%s)' % (fname, ', '.join(args)) if args else fname
        # Kept: the function and its arguments are released when the run ends.
        self._formatted_info = info
        return info

    def __repr__(self):
        name = ' "%s"' % self._name if self._name is not None else ''
        # As gevent's, also before the start: ``<Greenlet at 0x...: _run>`` for one
        # made without a function (the class's or a subclass's own ``_run``).
        info = self._formatinfo()
        return '<%s%s at 0x%x%s>' % (type(self).__name__, name, id(self), ': ' + info if info else '')

    __str__ = __repr__

    # -- state --------------------------------------------------------------------------

    @property
    def dead(self):
        """True once the greenlet has finished, or was killed before it started."""
        return self._start_state == _KILLED_BEFORE_START or _dead_greenlet_dead(self)

    @property
    def started(self):
        """True from ``start()`` until it finishes (gevent's ``bool(greenlet)``)."""
        return self.__bool__()

    @staticmethod
    def add_spawn_callback(callback: Callable[[Any], Any]) -> None:
        """Call ``callback(greenlet)`` each time a Greenlet is started (tracing uses it)."""
        global _spawn_callbacks
        if not callable(callback):
            raise TypeError('Expected callable: %r' % (callback,))
        if _spawn_callbacks is None:
            _spawn_callbacks = set()
        _spawn_callbacks.add(callback)

    @staticmethod
    def remove_spawn_callback(callback: Callable[[Any], Any]) -> None:
        """Forget a callback of :meth:`add_spawn_callback` (no error if it was not added)."""
        global _spawn_callbacks
        if _spawn_callbacks is not None:
            _spawn_callbacks.discard(callback)
            if not _spawn_callbacks:
                _spawn_callbacks = None

    def __bool__(self):
        return self._start_state == _SCHEDULED and not _dead_greenlet_dead(self)

    def _not_started(self):
        # Never switched into, not finished and not killed: the greenlet itself
        # knows whether it was started (its C bool: active), so run() stores no
        # "running" state on every spawn.
        return (self._start_state != _KILLED_BEFORE_START and not _greenlet_active(self)
                and not _dead_greenlet_dead(self))

    def ready(self) -> bool:
        """True when the greenlet has finished (returned, raised or was killed)."""
        # self.dead, inlined: the link machinery asks this on every spawn+join.
        return (_dead_greenlet_dead(self) or self._exc_info is not None
                or self._start_state == _KILLED_BEFORE_START)

    def successful(self) -> bool:
        """True when it finished without raising (a kill counts as success, as in gevent)."""
        return self.ready() and self._exc_info is None

    @property
    def exception(self):
        """The exception it raised, or None."""
        return self._exc_info[1] if self._exc_info is not None else None

    @property
    def exc_info(self):
        """``(type, value, traceback)`` of the exception it raised, or None."""
        return self._exc_info

    # -- starting -----------------------------------------------------------------------

    def start(self) -> None:
        """Schedule the greenlet to run in the next hub iteration."""
        if self._start_state == _NEW:
            self._start_state = _SCHEDULED
            if _spawn_callbacks is not None:
                _call_spawn_callbacks(self)
            _schedule(self.hub, self)

    def start_later(self, seconds: float) -> None:
        """Schedule the greenlet to run after ``seconds``."""
        if self._start_state == _NEW:
            self._start_state = _SCHEDULED
            if _spawn_callbacks is not None:
                _call_spawn_callbacks(self)
            self._start_timer = self.hub.call_later(seconds, self._start_by_timer)

    def _start_by_timer(self):
        # The start_later() timer fired (a hub callback): forget it, then run. Here
        # rather than in run(), which every spawn goes through.
        self._start_timer = None
        self.switch()

    @classmethod
    def spawn(cls, *args, **kwargs):
        """Create a greenlet of this class and start it; returns it."""
        g = cls(*args, **kwargs)
        g.start()
        return g

    @classmethod
    def spawn_later(cls, seconds, *args, **kwargs):
        """Create a greenlet of this class and start it after ``seconds``."""
        g = cls(*args, **kwargs)
        g.start_later(seconds)
        return g

    def run(self):
        # Called by greenlet on the first switch into us. (No "running" state is
        # stored: started and not dead is greenlet's own bool, see _not_started.)
        if self._start_state == _KILLED_BEFORE_START:
            return
        args = self.args
        kwargs = self.kwargs
        try:
            # Without keywords, call without ``**``: unpacking the shared empty
            # mapping (not a dict) would build a new dict on every spawn.
            self.value = self._run(*args, **kwargs) if kwargs else self._run(*args)
        except GreenletExit as ex:
            self._report_result(ex)
        except:  # noqa: E722 -- the result of a greenlet may be any exception
            self._report_error(sys.exc_info())
        else:
            # _report_result(), inlined for the common way out.
            if self._links or self._lot:
                self._notify()
        finally:
            # The run is over: release the function and its arguments (they may
            # be big), as gevent does. Plain stores, no deletions: those would
            # make CPython materialize the instance dict (measurably slower spawns).
            self._run = _finished_run
            if args:
                self.args = ()
            if kwargs:
                kwargs.clear()

    def _forget_run(self):
        # Killed before it started, it will never run: release the function and its
        # arguments now, as the end of run() does (an object passed to it, such as a
        # file, must not outlive the greenlet's use and be finalized at a random
        # later time, closing an fd number that was reused meanwhile).
        self._run = _finished_run
        self.args = ()
        if self.kwargs:
            self.kwargs.clear()

    def _report_result(self, result):
        self.value = result
        if self._links or self._lot:
            self._notify()

    def _report_error(self, exc_info):
        self._exc_info = exc_info
        if self._links or self._lot:
            self._notify()
        self.hub.handle_error(self, *exc_info)

    # -- links (rawlink, unlink, unlink_all, linkcount, has_links: from Linkable) ------

    def link(self, callback: Callable[[Any], Any], SpawnedLink: Any = None) -> None:
        """Call ``callback(self)`` in a new greenlet when this one finishes."""
        if not callable(callback):
            raise TypeError('Expected callable: %r' % (callback,))
        self.rawlink(_SpawnedLink(callback))

    def link_value(self, callback: Callable[[Any], Any]) -> None:
        """Like :meth:`link`, but only if the greenlet finished without an exception."""
        self.rawlink(_SpawnedLink(callback, _SpawnedLink.ON_SUCCESS))

    def link_exception(self, callback: Callable[[Any], Any]) -> None:
        """Like :meth:`link`, but only if the greenlet raised."""
        self.rawlink(_SpawnedLink(callback, _SpawnedLink.ON_ERROR))

    # -- waiting ------------------------------------------------------------------------

    def _wait_done(self, timeout):
        """Park until the greenlet finished or ``timeout`` passed; True if finished."""
        if self.ready():
            return True
        return self._wait_ready(_check_timeout(timeout))

    def join(self, timeout: float | None = None) -> None:
        """Wait until the greenlet finishes or ``timeout`` passes. Returns None."""
        self._wait_done(timeout)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Return the greenlet's result, re-raising its exception.

        With ``block=False``, or when ``timeout`` passes first, raise :class:`~gevent_lite.timeout.Timeout`.
        """
        if not self.ready():
            if not block:
                raise Timeout()
            if not self._wait_done(timeout):
                raise Timeout(timeout)
        if self._exc_info is not None:
            tp, value, tb = self._exc_info
            raise value.with_traceback(tb)
        return self.value

    # -- killing ------------------------------------------------------------------------

    def kill(self, exception: Any = GreenletExit, block: bool = True, timeout: float | None = None) -> None:
        """Raise ``exception`` in the greenlet; by default wait for it to die.

        Killing a greenlet that has not started yet means it never runs.
        """
        if self._not_started():
            # Not running yet: it will never start.
            if self._start_timer is not None:
                self._start_timer.cancel()
                self._start_timer = None
            self._start_state = _KILLED_BEFORE_START
            self._forget_run()
            exc = exception() if isinstance(exception, type) else exception
            if isinstance(exc, GreenletExit):
                self._report_result(exc)
            else:
                self._exc_info = (type(exc), exc, None)
                if self._links or self._lot:
                    self._notify()
            return
        if self.dead:
            return
        self.hub._ready.append((self._throw_if_alive, (exception,)))
        if block:
            # Through join(), as gevent's: a subclass that overrides join() sees it.
            self.join(timeout)

    def throw(self, *args: Any) -> Any:
        """Raise an exception in the greenlet now (``greenlet.throw``'s arguments).

        As gevent's: a Greenlet that has not started yet never runs -- it ends at
        once with that exception, as with :meth:`kill` -- instead of being started
        just to raise, which would hand control to the hub for good.
        """
        if self._not_started():
            typ = args[0] if args else GreenletExit
            val = args[1] if len(args) > 1 else None
            if isinstance(val, BaseException):
                exc = val
            elif val is not None:
                exc = typ(val)
            else:
                exc = typ
            self.kill(exc, block=False)
            return None
        return greenlet.throw(self, *args)

    def _throw_if_alive(self, exception):
        # Runs in the hub. Throwing into a dead greenlet would raise in its parent
        # (the hub itself), so check first.
        # A shielded cancel scope in the target holds the kill back until it exits.
        if not _dead_greenlet_dead(self):
            _deliver(self, exception, -1)

    def __enter__(self):
        return self

    def __exit__(self, typ, value, tb):
        # gevent's contract: a body that ends normally waits for the greenlet, then
        # kills it if it is somehow still alive; a body that raises kills it with
        # that exception (which its get() then raises).
        if typ is None:
            try:
                self.join()
            finally:
                self.kill()
        else:
            self.kill(value if value is not None else typ)


class _SpawnedLink:
    """A link callback run in a greenlet of its own, optionally filtered by outcome."""

    __slots__ = ('callback', 'when')
    ALWAYS, ON_SUCCESS, ON_ERROR = 0, 1, 2

    def __init__(self, callback, when=0):
        self.callback = callback
        self.when = when

    def __call__(self, source):
        when = self.when
        if when == self.ON_SUCCESS and not source.successful():
            return
        if when == self.ON_ERROR and source.successful():
            return
        g = greenlet(self.callback, get_hub())
        g.switch(source)

    def __eq__(self, other):
        return self is other or self.callback == other or (
            isinstance(other, _SpawnedLink) and self.callback == other.callback)

    def __hash__(self):
        return hash(self.callback)


# -- module functions ----------------------------------------------------------------------

def spawn(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Greenlet:
    """Create a :class:`Greenlet` for ``function(*args, **kwargs)`` and start it."""
    # Greenlet(function, *args, **kwargs) and g.start(), without the class call's
    # detour through a Python __init__ (and its repacking of the arguments): this is
    # the hot path, and a new Greenlet is always _NEW.
    g = _new_greenlet(Greenlet)
    hub = _setup(g, function, args, kwargs)
    g._start_state = _SCHEDULED
    if _spawn_callbacks is not None:
        _call_spawn_callbacks(g)
    # _schedule(hub, g), inlined: the hot path.
    ready = hub._ready
    entry = hub._start_batch
    if ready and ready[-1] is entry:
        entry[1][0].append(g)
    else:
        hub._start_batch = entry = (_start_batch, (_Batch((g,)), hub))
        ready.append(entry)
    return g


def _schedule(hub, g):
    """Queue the first switch into ``g`` on the hub's ready queue.

    Greenlets started one after another, with nothing queued between them, share
    one ready entry that starts them in order (_start_batch): the order is the
    same as with an entry each, and a spawn allocates no entry of its own (a tuple
    and a bound method: two more objects for the garbage collector to visit, again
    and again, while the greenlet waits for its start).
    """
    ready = hub._ready
    entry = hub._start_batch
    if ready and ready[-1] is entry:
        entry[1][0].append(g)      # still the last entry: nothing came in between
    else:
        hub._start_batch = entry = (_start_batch, (_Batch((g,)), hub))
        ready.append(entry)


class _Batch(list):
    """The greenlets one ready entry starts (a list, with a short repr for run-info dumps)."""

    __slots__ = ()

    def __repr__(self):
        return '<%d greenlet(s) to start, first %r>' % (len(self), self[0]) if self else '<none to start>'


def _start_batch(greenlets, hub):
    # A hub callback: the first switch into each greenlet, in order. Each one
    # runs until it parks or ends, as if the loop had run an entry per greenlet.
    batch = hub._start_batch
    if batch is not None and batch[1][0] is greenlets:
        hub._start_batch = None        # off the queue: later spawns make a new entry
    # The greenlets not started yet are ready, ahead of anything queued since, but
    # not in the ready queue: no sleep(0) may hand off past them (hub.sleep).
    handoffs = hub._handoffs
    hub._handoffs = 0
    try:
        for g in greenlets:
            try:
                g.switch()
            except:  # noqa: E722 -- reported as the loop reports a callback's error
                hub._loop_error(g.switch)
    finally:
        hub._handoffs = handoffs


_new_greenlet = greenlet.__new__
# greenlet.__init__(g, None, hub) only sets the parent: its setter does that
# without parsing an argument list.
_set_parent = greenlet.parent.__set__


def _setup(g, run, args, kwargs):
    """Greenlet.__init__'s work, shared with spawn(); returns the hub."""
    try:
        hub = _state.hub             # get_hub(), inlined: every spawn comes through here
    except AttributeError:
        hub = get_hub()
    _set_parent(g, hub)
    g.value = None
    g._start_state = _NEW
    if run is not None:
        if not callable(run):
            raise TypeError('The run argument or self._run must be callable')
        g._run = run
    else:
        try:
            run = g._run              # a subclass's own _run (or one set before __init__)
        except AttributeError:
            # A plain Greenlet without a function runs the no-op (the slot has no default).
            run = g._run = _MethodType(_run, g)
        if not callable(run):
            raise TypeError('The run argument or self._run must be callable')
    if args:
        g.args = args
    if kwargs:
        g.kwargs = kwargs
    # Start with the spawner's context variables (a copy), as asyncio tasks do.
    # An empty context needs no copy: a greenlet whose gr_context is None starts
    # in an empty context of its own, which is what the copy would be -- and the
    # spawn then allocates one object fewer for the garbage collector to track.
    spawner = getcurrent()
    ctx = spawner.gr_context
    if ctx:
        g.gr_context = ctx.copy()
    # Who spawned us, for run-info trees. A weak reference: the spawn tree must
    # never keep a finished greenlet (or its frames) alive. (CPython hands out the
    # spawner's one plain weak reference again, so this allocates nothing new.)
    g.spawning_greenlet = _weakref(spawner)
    if Greenlet.capture_spawning_stack:
        # Frame 2: whoever called Greenlet(...) or spawn(...).
        g.spawning_stack = traceback.extract_stack(sys._getframe(2), limit=20)
    return hub


def spawn_later(seconds: float, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Greenlet:
    """Like :func:`spawn`, but start after ``seconds``."""
    g = Greenlet(function, *args, **kwargs)
    g.start_later(seconds)
    return g


def spawn_raw(function: Callable[..., Any], *args: Any, **kwargs: Any) -> greenlet:
    """Start a plain ``greenlet.greenlet`` (no result, no links): the cheapest spawn."""
    if not callable(function):
        raise TypeError('function must be callable')
    hub = get_hub()
    if kwargs:
        function = partial(function, *args, **kwargs)
        args = ()
    g = greenlet(function, hub)
    g.gr_context = copy_context()
    # The spawn tree, as for a Greenlet (and as gevent records it on raw ones): a
    # weak reference to the spawner, and the tree's locals -- the spawner's, or a
    # new dict when the spawner has none (the main greenlet, the hub).
    spawner = getcurrent()
    g.spawning_greenlet = _weakref(spawner)
    tree = spawner.spawn_tree_locals if isinstance(spawner, Greenlet) else getattr(spawner, 'spawn_tree_locals', None)
    g.spawn_tree_locals = tree if tree is not None else {}
    hub._ready.append((g.switch, args))
    return g


def joinall(greenlets: Iterable[Any], timeout: float | None = None, raise_error: bool = False,
            count: int | None = None) -> list:
    """Wait for the greenlets to finish; return the list of those that did.

    With ``raise_error=True``, raise the exception of the first one that fails.
    """
    if not raise_error and count is None and (timeout is None or type(timeout) in (int, float)):
        greenlets = list(greenlets)
        for g in greenlets:
            if not isinstance(g, Greenlet):
                break
        else:
            return _join_in_turn(greenlets, timeout)
    if not raise_error:
        return wait(greenlets, timeout=timeout, count=count)
    done = []
    for obj in iwait(greenlets, timeout=timeout, count=count):
        if getattr(obj, 'exception', None) is not None:
            exc_info = getattr(obj, 'exc_info', None)
            if exc_info and exc_info[2] is not None:
                raise exc_info[1].with_traceback(exc_info[2])
            raise obj.exception
        done.append(obj)
    return done


def _join_in_turn(greenlets, timeout):
    """joinall() of greenlets only, waiting for all of them: park on each unfinished one
    in turn, against one deadline; return those that finished, in the given order.

    Parking on one greenlet at a time, instead of linking a gatherer to every one (what
    wait() does for any mix of objects), costs nothing for the greenlets that are
    already finished when their turn comes -- usually almost all of them: spawn + join
    of 10,000 greenlets parks once, not 10,000 times (see docs/performance.rst).
    """
    dead = _dead_greenlet_dead       # C: the common answer without a Python call
    parked = False
    if timeout is None:
        for g in greenlets:
            if not dead(g) and not g.ready():
                parked = True
                g._wait_done(None)
        done = greenlets
    else:
        deadline = _now() + _check_timeout(timeout)
        for g in greenlets:
            if not dead(g) and not g.ready():
                parked = True
                left = deadline - _now()
                if left <= 0 or not g._wait_done(left):
                    break
        done = [g for g in greenlets if dead(g) or g.ready()]
    # What the greenlets did before they died may have queued hub callbacks (link
    # notifications: of a finished greenlet, of a lock it released) that are still
    # behind the wake-up that resumed us: we were woken by an earlier death and found
    # the later ones already over. gevent's joinall returns after those ran (it is
    # itself resumed from the last death's notification), and callers count on it
    # (Pool.kill() joins until the pool's own death links have removed every
    # member). So yield once to the hub, which runs what is queued before us. Not
    # parked, such callbacks can only be in the hub's ready queue: with nothing
    # ready, nothing is pending (one test instead of a look at every greenlet).
    if parked:
        sleep(0)
    else:
        hub = getattr(_state, 'hub', None)
        if hub is not None and hub._ready:
            sleep(0)
    return done


def killall(greenlets: Iterable[Any], exception: Any = GreenletExit, block: bool = True,
            timeout: float | None = None) -> None:
    """Kill every greenlet in ``greenlets`` (raw ones from :func:`spawn_raw` too);
    by default wait for them to die.

    With ``block`` and a ``timeout``, raise :class:`~gevent_lite.timeout.Timeout`
    if some are still alive when it passes (as gevent does; they keep running).
    """
    greenlets = list(greenlets)
    if not greenlets:
        return
    alive = []
    raw = False
    for g in greenlets:
        if not g.dead:
            if isinstance(g, Greenlet):
                g.kill(exception, block=False)
                alive.append(g)
            else:
                # A raw greenlet (spawn_raw): the hub throws the exception into it,
                # as gevent's killall does; it has no links to wait on.
                get_hub().run_callback(_deliver, g, exception, -1)
                raw = True
    if block and alive:
        done = wait(alive, timeout=timeout)
        if timeout is not None and len(done) < len(alive):
            raise Timeout(timeout)
    elif block and raw:
        sleep(0)        # the throws above run before we resume
