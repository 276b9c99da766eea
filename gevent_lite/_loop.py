"""gevent's loop API (``get_hub().loop``) as a thin face on the hub.

Libraries written against gevent reach below the greenlet API to the loop:
``loop.async_()`` to wake the hub from an OS thread, ``loop.timer()``,
``loop.io(fd, events)`` watchers whose ``start(callback, *args)`` runs the callback
in the hub, ``loop.run_callback``, ``loop.now()``; and ``hub.wait(watcher)`` parks
the current greenlet until a watcher fires. None of this is a second loop: a timer
watcher is a hub :class:`~gevent_lite.hub.Timer`, an async watcher a thread-safe
hub callback, an io watcher sits in the hub's per-fd slot where a parked
greenlet's Waiter would (see :class:`io`), so the hub's one loop dispatches all.

Callbacks run in the hub greenlet, as gevent's do: they must not block.
"""

from .hub import READ, WRITE, ConcurrentObjectUseError, FdWatcher, InvalidSwitchError, Waiter

__all__ = ['Loop', 'timer', 'async_', 'io', 'callback']


class _Watcher:
    """What every watcher has: ``start``/``stop``/``close``, ``active``, ``ref``, ``callback``/``args``."""

    def __init__(self, loop, ref=True, priority=None):
        self.loop = loop
        self.hub = loop.hub
        self._ref = bool(ref)
        self.priority = priority
        self.callback = None
        self.args = ()
        self._closed = False

    @property
    def active(self):
        return self.callback is not None

    @property
    def ref(self):
        """Whether this watcher, while active, keeps the loop (``gevent.wait()``) running."""
        return self._ref

    @ref.setter
    def ref(self, value):
        # Settable while active, as gevent's: an active watcher moves in or out of
        # the hub's count of what keeps the loop running at once.
        value = bool(value)
        if value != self._ref:
            if self.callback is not None:
                self._reref(value)
            self._ref = value

    def _reref(self, value):
        self.hub.ref() if value else self.hub.unref()

    @property
    def pending(self):
        return False

    def start(self, callback, *args):
        if self._closed:
            raise ValueError('operation on a closed watcher')
        if callback is None or not callable(callback):
            raise TypeError('callback must be callable, not %r' % (callback,))
        was_active = self.callback is not None
        self.callback = callback
        self.args = args
        if not was_active:
            self._arm()

    def stop(self):
        if self.callback is not None:
            self.callback = None
            self.args = ()
            self._disarm()

    def close(self):
        self.stop()
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fire(self, *extra):
        callback = self.callback
        if callback is not None:
            callback(*(extra + self.args))

    def __repr__(self):
        return '<%s at 0x%x %s callback=%r>' % (
            type(self).__name__, id(self), 'active' if self.active else 'stopped', self.callback)


class timer(_Watcher):
    """``loop.timer(after, repeat=0.0)``: calls back after ``after`` s, then every ``repeat`` s."""

    def __init__(self, loop, after=0.0, repeat=0.0, ref=True, priority=None):
        if after < 0 or repeat < 0:
            raise ValueError('timer after and repeat must be >= 0, not %r, %r' % (after, repeat))
        super().__init__(loop, ref, priority)
        self.after = after
        self.repeat = repeat
        self._timer = None

    def start(self, callback, *args, **kw):
        # gevent's update= keyword only concerns libev's cached clock; ours is always fresh.
        kw.pop('update', None)
        if kw:
            raise TypeError('unexpected keyword arguments %r' % (sorted(kw),))
        super().start(callback, *args)

    def _arm(self, delay=None):
        self._timer = self.hub.call_later(self.after if delay is None else delay, self._tick, ref=self._ref)

    def _reref(self, value):
        t = self._timer
        if t is not None:
            t.set_ref(value)

    def _disarm(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self):
        self._timer = None
        callback, args = self.callback, self.args
        if callback is None:
            return
        if self.repeat:
            self._arm(self.repeat)
        else:
            self.callback = None
            self.args = ()
        callback(*args)

    def again(self, callback, *args, **kw):
        """Restart: stop, then start with the full delay again."""
        self.stop()
        self.start(callback, *args, **kw)

    @property
    def at(self):
        return self._timer.when if self._timer is not None else None


class async_(_Watcher):
    """``loop.async_()``: ``send()`` from any OS thread runs the callback once in the hub.

    Sends that arrive before the callback ran coalesce into one call, as libev's do.
    While active and ``ref`` is true it keeps the loop alive (work may come from
    another thread).
    """

    def __init__(self, loop, ref=True, priority=None):
        super().__init__(loop, ref, priority)
        self._sent = False

    def _arm(self):
        if self._ref:
            self.hub.ref()

    def _disarm(self):
        if self._ref:
            self.hub.unref()

    def send(self):
        """Thread-safe: ask for the callback to run in the hub's thread."""
        if not self._sent:
            self._sent = True
            self.hub.run_callback_threadsafe(self._deliver)

    send_ignoring_arg = send

    def _deliver(self):
        self._sent = False
        self._fire()

    @property
    def pending(self):
        return self._sent


class _IoSlot(FdWatcher):
    """Stands in the hub's per-fd reader/writer slot for an io watcher
    (:meth:`Hub.watch_fd <gevent_lite.hub.Hub.watch_fd>`): the hub calls its
    ``switch(events)`` from its own loop each time the fd is ready."""

    __slots__ = ('watcher',)
    from_any_greenlet = False       # io callbacks run in the hub, as gevent's do

    def __init__(self, watcher):
        super().__init__()
        self.watcher = watcher

    def switch(self, events):
        self.watcher.switch(events)

    def throw(self, *exc):
        # The fd was closed under the watcher (hub.cancel_wait): it stops.
        self.watcher.stop()


class io(_Watcher):
    """``loop.io(fd, events)``: calls back each time ``fd`` is ready for ``events`` (1 read, 2 write)."""

    def __init__(self, loop, fd, events, ref=True, priority=None):
        if not isinstance(fd, int):
            fd = fd.fileno()
        if fd < 0:
            raise ValueError('fd must be non-negative: %r' % (fd,))
        if events & ~(READ | WRITE) or not events:
            raise ValueError('events must be a combination of READ (1) and WRITE (2), not %r' % (events,))
        super().__init__(loop, ref, priority)
        self.fd = fd
        self.events = events
        self._slot = _IoSlot(self)
        self._pass_events = False

    def start(self, callback, *args, pass_events=False):
        self._pass_events = pass_events
        super().start(callback, *args)

    def switch(self, events):
        # Run by the hub's loop when the fd is ready (via the slot).
        if self.callback is not None:
            if self._pass_events:
                self._fire(events)
            else:
                self._fire()

    def _arm(self):
        hub = self.hub
        try:
            hub.watch_fd(self.fd, self.events, self._slot)
        except ConcurrentObjectUseError as e:
            self.callback = None
            raise ValueError(str(e)) from None
        if self._ref:
            hub.ref()

    def _disarm(self):
        hub = self.hub
        hub.unwatch_fd(self.fd, self.events, self._slot)
        if self._ref:
            hub.unref()


class callback:
    """What ``loop.run_callback`` returns: ``stop()`` before it ran cancels it."""

    __slots__ = ('callback', 'args')

    def __init__(self, cb, args):
        self.callback = cb
        self.args = args

    def __call__(self):
        cb, args = self.callback, self.args
        if cb is not None:
            self.callback = self.args = None
            cb(*args)

    def stop(self):
        self.callback = self.args = None

    close = stop

    @property
    def pending(self):
        return self.callback is not None


class Loop:
    """``get_hub().loop``: gevent's loop object for one hub (made on first use)."""

    def __init__(self, hub):
        self.hub = hub

    def timer(self, after: float = 0.0, repeat: float = 0.0, ref: bool = True, priority=None) -> timer:
        return timer(self, after, repeat, ref, priority)

    def async_(self, ref: bool = True, priority=None) -> async_:
        return async_(self, ref, priority)

    def io(self, fd: int, events: int, ref: bool = True, priority=None) -> io:
        return io(self, fd, events, ref, priority)

    def run_callback(self, func, *args) -> callback:
        cb = callback(func, args)
        self.hub.run_callback(cb)
        return cb

    def run_callback_threadsafe(self, func, *args) -> callback:
        cb = callback(func, args)
        self.hub.run_callback_threadsafe(cb)
        return cb

    def now(self) -> float:
        """The hub's clock (the one every timer reads, a VirtualClock's when one is installed)."""
        return self.hub._clock()

    def run(self, nowait: bool = False, once: bool = False) -> None:
        """Run the loop from the main greenlet until it has no work left, as gevent's
        ``loop.run()`` does there (:meth:`Hub.join <gevent_lite.hub.Hub.join>`);
        ``nowait``/``once``: one pass (a ``sleep(0)``) instead."""
        if nowait or once:
            from .hub import sleep
            sleep(0)
        else:
            self.hub.join()

    def update_now(self) -> None:
        """gevent's loop caches its clock; ours reads it fresh, so there is nothing to do."""

    def install_sigchld(self) -> None:
        """gevent installs its SIGCHLD child watcher here; ours needs none.

        :mod:`gevent_lite.subprocess` and :func:`gevent_lite.os.waitpid` wait for
        children without SIGCHLD, so a user's handler is never replaced. Kept so
        that code written for gevent's loop can call it.
        """

    def reset_sigchld(self) -> None:
        """The counterpart of :meth:`install_sigchld`: nothing to undo."""

    def ref(self):
        self.hub.ref()

    def unref(self):
        self.hub.unref()

    @property
    def default(self) -> bool:
        return True

    @property
    def pendingcnt(self) -> int:
        return len(self.hub._ready)

    def destroy(self):
        self.hub.destroy()

    def __repr__(self):
        return '<gevent_lite loop of %r>' % (self.hub,)


def hub_wait(hub, watcher):
    """``hub.wait(watcher)``: park the current greenlet until ``watcher`` fires once."""
    waiter = Waiter(hub)
    unique = object()
    watcher.start(waiter.switch, unique)
    try:
        result = waiter.get()
        if result is not unique:
            raise InvalidSwitchError('Invalid switch into %r: got %r (expected %r)'
                                     % (hub, result, unique))
    finally:
        watcher.stop()
