"""Sets of greenlets: :class:`Group` (unbounded) and :class:`Pool` (at most ``size`` at once),
with the ``multiprocessing.Pool``-style helpers ``apply``, ``map``, ``imap`` and friends.

How they cooperate with the hub
-------------------------------
A group tracks its members through links: ``add()`` links the greenlet's death
to :meth:`Group.discard`, which the hub calls after the greenlet finished. An
:class:`~gevent_lite.event.Event` is set whenever the group is empty, and
``join()`` parks on it. A :class:`Pool` adds a
:class:`~gevent_lite.lock.Semaphore` of ``size`` permits: ``add()`` (and so
``spawn()``) takes a permit -- parking, FIFO, while the pool is full -- and the
death link gives it back. The pool can therefore never hold more than ``size``
greenlets, and a spawner killed while waiting never leaks a permit (the
semaphore's parking lot hands it on).

``imap``/``imap_unordered`` run a feeder greenlet (outside the pool) that spawns
one worker per input; results travel back through a :class:`~gevent_lite.queue.Queue`.
With ``maxsize=N`` at most ``N`` results may be in flight or waiting to be read,
so mapping over an endless iterator uses bounded memory.
"""

import sys
from functools import partial

from greenlet import GreenletExit, getcurrent

from .event import Event
from .greenlet import Greenlet, joinall
from .lock import DummySemaphore, Semaphore
from .queue import Full, Queue
from .timeout import Timeout

__all__ = ['Group', 'IMap', 'IMapUnordered', 'Pool', 'PoolFull']


class PoolFull(Full):
    """Raised by ``Pool.add(g, blocking=False)`` (or on its timeout) when the pool is full."""


class Group:
    """A set of greenlets that can be joined or killed together.

    ``Group(greenlets=())``. Spawned and added greenlets leave the group when they die.
    """

    greenlet_class = Greenlet

    def __init__(self, *args):
        if len(args) > 1:
            raise TypeError('Group() takes at most one iterable of greenlets, got %d arguments'
                            % len(args))
        self.greenlets = set()
        self.dying = set()
        self._empty_event = Event()
        self._empty_event.set()
        for g in (args[0] if args else ()):
            self.add(g)

    def __repr__(self):
        return '<%s at 0x%x %s>' % (type(self).__name__, id(self), self._format_stats())

    def _format_stats(self):
        return 'greenlets=%d' % len(self.greenlets)

    def statistics(self):
        """How many greenlets run in the group and how many join() it."""
        return {'greenlets': len(self.greenlets), 'dying': len(self.dying),
                'joiners': self._empty_event.statistics()['waiting']}

    def __len__(self):
        return len(self.greenlets)

    def __contains__(self, item):
        return item in self.greenlets

    def __iter__(self):
        return iter(list(self.greenlets))

    # -- membership ------------------------------------------------------------------------

    def add(self, greenlet):
        """Track ``greenlet``; it leaves the group when it dies."""
        try:
            rawlink = greenlet.rawlink
        except AttributeError:
            raise TypeError('Group can only hold greenlets with rawlink(), not %r'
                            % (greenlet,)) from None
        rawlink(self._discard)
        self.greenlets.add(greenlet)
        self._empty_event.clear()

    def _discard(self, greenlet):
        # The death link (run by the hub).
        self.greenlets.discard(greenlet)
        self.dying.discard(greenlet)
        if not self.greenlets:
            self._empty_event.set()

    def discard(self, greenlet):
        """Stop tracking ``greenlet`` (it is not killed)."""
        self._discard(greenlet)
        try:
            greenlet.unlink(self._discard)
        except AttributeError:
            pass

    def start(self, greenlet):
        """Add ``greenlet`` and start it."""
        self.add(greenlet)
        greenlet.start()

    def spawn(self, *args, **kwargs):
        """Create a greenlet of ``greenlet_class`` for ``args``, add it and start it."""
        greenlet = self.greenlet_class(*args, **kwargs)
        self.start(greenlet)
        return greenlet

    # -- capacity (a Group has none) -------------------------------------------------------

    def full(self) -> bool:
        return False

    def wait_available(self, timeout=None):
        pass

    # -- waiting and killing ---------------------------------------------------------------

    def join(self, timeout=None, raise_error=False) -> bool:
        """Wait until the group is empty (or ``timeout``); True if it is empty.

        With ``raise_error=True``, re-raise the exception of a member that failed.
        """
        if raise_error:
            greenlets = list(self.greenlets)
            self._empty_event.wait(timeout)
            for g in greenlets:
                exc_info = getattr(g, 'exc_info', None)
                if g.exception is not None:
                    if exc_info and exc_info[2] is not None:
                        raise exc_info[1].with_traceback(exc_info[2])
                    raise g.exception
            return not self.greenlets
        # Parks on the "empty" event until the last member's death link sets it.
        self._empty_event.wait(timeout)
        return not self.greenlets

    def kill(self, exception=GreenletExit, block=True, timeout=None):
        """Kill every member; with ``block``, wait (up to ``timeout``) until they died."""
        timer = Timeout._start_new_or_dummy(timeout)
        try:
            while self.greenlets:
                for g in list(self.greenlets):
                    if g not in self.dying:
                        try:
                            kill = g.kill
                        except AttributeError:
                            self._kill_raw(g, exception)
                        else:
                            kill(exception, block=False)
                        self.dying.add(g)
                if not block:
                    break
                joinall(list(self.greenlets))
        except Timeout as ex:
            if ex is not timer:
                raise
        finally:
            timer.cancel()

    @staticmethod
    def _kill_raw(g, exception):
        from .hub import get_hub
        if not g.dead:
            get_hub().run_callback(g.throw, exception)

    def killone(self, greenlet, exception=GreenletExit, block=True, timeout=None):
        """Kill ``greenlet`` if it is a member."""
        if greenlet not in self.dying and greenlet in self.greenlets:
            greenlet.kill(exception, block=False)
            self.dying.add(greenlet)
            if block:
                greenlet.join(timeout)

    # -- multiprocessing.Pool-style helpers ------------------------------------------------

    def apply(self, func, args=None, kwds=None):
        """Run ``func(*args, **kwds)`` in the group and return its result."""
        args = args or ()
        kwds = kwds or {}
        if getcurrent() in self:
            # Called from a member: run inline, so a full pool cannot deadlock on itself.
            return func(*args, **kwds)
        return self.spawn(func, *args, **kwds).get()

    def apply_cb(self, func, args=None, kwds=None, callback=None):
        """``apply()``, then ``callback(result)`` if given; returns the result."""
        result = self.apply(func, args, kwds)
        if callback is not None:
            Greenlet.spawn(callback, result)
        return result

    def apply_async(self, func, args=None, kwds=None, callback=None):
        """Start ``func(*args, **kwds)``; return a greenlet whose ``get()`` is the result.

        Never blocks: if the pool is full, a helper greenlet outside it waits for room.
        ``callback(result)`` runs (in a new greenlet) when it succeeds.
        """
        args = args or ()
        kwds = kwds or {}
        if self.full():
            greenlet = Greenlet.spawn(self.apply, func, args, kwds)
        else:
            greenlet = self.spawn(func, *args, **kwds)
        if callback is not None:
            greenlet.link_value(partial(_pass_value, callback))
        return greenlet

    def map(self, func, iterable):
        """``list(imap(func, iterable))``: results in input order."""
        return list(self.imap(func, iterable))

    def map_cb(self, func, iterable, callback=None):
        result = self.map(func, iterable)
        if callback is not None:
            callback(result)
        return result

    def map_async(self, func, iterable, callback=None):
        """Run :meth:`map` in a new greenlet; return it (``get()`` gives the list)."""
        return Greenlet.spawn(self.map_cb, func, iterable, callback)

    def imap(self, func, *iterables, maxsize=None):
        """Lazily ``map(func, *iterables)`` in parallel; results come in input order.

        ``maxsize`` bounds the results in flight or unread (memory stays bounded
        over an endless iterator). A worker's exception is raised by ``next()``
        at its place; the next ``next()`` goes on with the following results.
        An exception of the input iterator ends the iteration.
        """
        return IMap(self.spawn, func, iterables, maxsize)

    def imap_unordered(self, func, *iterables, maxsize=None):
        """Like :meth:`imap`, but yields results as they finish."""
        return IMapUnordered(self.spawn, func, iterables, maxsize)


def _pass_value(callback, source):
    callback(source.value)


class Pool(Group):
    """A :class:`Group` that holds at most ``size`` greenlets; ``spawn()`` waits for room.

    ``Pool(size=None, greenlet_class=None)``; ``size=None`` is unbounded, a
    negative size raises ``ValueError``. ``size=0`` is accepted as gevent does
    (every spawn waits forever).
    """

    def __init__(self, size=None, greenlet_class=None):
        if size is not None:
            if isinstance(size, bool) or not isinstance(size, int):
                raise TypeError('size must be an int or None, not %r' % (size,))
            if size < 0:
                raise ValueError('size must not be negative: %r' % (size,))
        Group.__init__(self)
        self.size = size
        if greenlet_class is not None:
            self.greenlet_class = greenlet_class
        self._semaphore = DummySemaphore() if size is None else Semaphore(size)

    def _format_stats(self):
        return 'size=%r greenlets=%d free=%d waiting_to_spawn=%d' % (
            self.size, len(self.greenlets), self.free_count(),
            self._semaphore.statistics()['waiting'])

    def statistics(self):
        stats = Group.statistics(self)
        stats['size'] = self.size
        stats['free'] = self.free_count()
        stats['waiting_to_spawn'] = self._semaphore.statistics()['waiting']
        return stats

    def free_count(self) -> int:
        """How many more greenlets fit (1 for an unbounded pool, as in gevent)."""
        if self.size is None:
            return 1
        return max(0, self._semaphore.counter)

    def full(self) -> bool:
        return self.free_count() <= 0

    def wait_available(self, timeout=None):
        """Wait until there is room (or ``timeout``); return the free count."""
        return self._semaphore.wait(timeout)

    def add(self, greenlet, blocking=True, timeout=None):
        """Add ``greenlet``, waiting (FIFO) for room; raise :class:`PoolFull` if none came."""
        # Parks on the pool's semaphore while full.
        if not self._semaphore.acquire(blocking, timeout):
            raise PoolFull('pool of size %r is full' % (self.size,))
        try:
            Group.add(self, greenlet)
        except BaseException:
            self._semaphore.release()
            raise

    def start(self, greenlet, blocking=True, timeout=None):
        self.add(greenlet, blocking, timeout)
        greenlet.start()

    def _discard(self, greenlet):
        if greenlet in self.greenlets:
            Group._discard(self, greenlet)
            self._semaphore.release()
        else:
            self.dying.discard(greenlet)


class IMapUnordered:
    """The iterator returned by ``imap_unordered``: results as workers finish."""

    _ordered = False

    def __init__(self, spawn, func, iterables, maxsize=None):
        if not callable(func):
            raise TypeError('func must be callable, not %r' % (func,))
        if maxsize is not None and (not isinstance(maxsize, int) or maxsize < 1):
            raise ValueError('maxsize must be None or a positive int, not %r' % (maxsize,))
        self._spawn = spawn
        self._func = func
        self._iterable = zip(*iterables) if len(iterables) != 1 else ((x,) for x in iterables[0])
        self._results = Queue()
        self._slots = Semaphore(maxsize) if maxsize is not None else None
        self._spawned = 0       # workers started
        self._received = 0      # results taken out of _results
        self._fed_all = False
        self._done = False
        self._buffer = {}       # index -> finished worker (ordered mode)
        self._next_index = 0
        self.feeder = Greenlet.spawn(self._feed)

    @property
    def queue(self) -> Queue:
        """The queue of finished results not yet taken by ``next()`` (gevent's name):
        with ``maxsize``, its length stays bounded by it (plus an end marker)."""
        return self._results

    def __repr__(self):
        return '<%s spawned=%d received=%d%s>' % (
            type(self).__name__, self._spawned, self._received, ' done' if self._done else '')

    def _feed(self):
        # Runs in its own greenlet, outside the pool.
        slots = self._slots
        func = self._func
        try:
            for args in self._iterable:
                if slots is not None:
                    slots.acquire()   # parks while maxsize results are in flight/unread
                g = self._spawn(func, *args)   # parks while the pool is full
                g.rawlink(partial(self._finished, self._spawned))
                self._spawned += 1
        except GreenletExit:
            raise
        except BaseException:
            self._results.put((-1, sys.exc_info()))
        finally:
            self._fed_all = True
            self._results.put(None)      # wakes a reader that waits for the end

    def _finished(self, index, greenlet):
        # Death link of a worker, run by the hub: never blocks (unbounded queue).
        self._results.put((index, greenlet))

    def __iter__(self):
        return self

    def _receive(self):
        """The next (index, greenlet) from the queue; at the end stop and raise
        StopIteration; raise what the feeder raised (index -1)."""
        while True:
            if self._fed_all and self._received >= self._spawned and not self._results.qsize():
                self._stop()
                raise StopIteration
            item = self._results.get()
            if item is not None:
                break
        if item[0] == -1:
            self._fail(item[1])
        self._received += 1
        return item

    def __next__(self):
        if self._done:
            raise StopIteration
        if self._ordered:
            buffer = self._buffer
            while self._next_index not in buffer:
                item = self._receive()
                buffer[item[0]] = item[1]
            greenlet = buffer.pop(self._next_index)
            self._next_index += 1
        else:
            greenlet = self._receive()[1]
        if self._slots is not None:
            self._slots.release()
        if greenlet.exception is not None:
            # Raised at its place; the iteration goes on after it (as gevent's and
            # multiprocessing's imap do): one bad input does not lose the others.
            exc_info = greenlet.exc_info
            if exc_info and exc_info[2] is not None:
                raise exc_info[1].with_traceback(exc_info[2])
            raise greenlet.exception
        return greenlet.value

    next = __next__

    def _fail(self, exc_info):
        self._stop()
        raise exc_info[1].with_traceback(exc_info[2])

    def _stop(self):
        self._done = True
        if not self.feeder.dead:
            self.feeder.kill(block=False)


class IMap(IMapUnordered):
    """The iterator returned by ``imap``: results in input order."""

    _ordered = True
