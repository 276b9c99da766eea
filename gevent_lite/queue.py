"""Queues between greenlets: :class:`Queue` (FIFO, joinable), :class:`SimpleQueue`,
:class:`LifoQueue`, :class:`PriorityQueue`, :class:`JoinableQueue`, :class:`UnboundQueue`
and the rendezvous :class:`Channel`; the errors :class:`Empty`, :class:`Full` (the
stdlib's own classes) and :class:`ShutDown`.

How they cooperate with the hub
-------------------------------
Blocked getters and putters park on two :class:`~gevent_lite.hub.ParkingLot`\\ s,
which own FIFO order and the timeout/kill clean-up.

* A getter parks only when the queue is empty. ``put()`` with a getter parked
  hands the item straight to the longest-waiting one (it never enters the
  queue). If that getter dies before it runs, the lot passes the item to the
  next getter, or back to the front of the queue (``on_unclaimed``).
* A putter parks only when the queue is full. ``get()`` that frees a slot with a
  putter parked *reserves* the slot for the longest-waiting putter and wakes it;
  the putter stores its item when it runs. A reserved slot is not free for
  newcomers (``_cap`` is lowered), so nobody barges in; a putter that dies
  before it runs passes the reservation on, or gives it back.

The non-blocking path -- item available, or room available and nobody waiting --
is a handful of attribute reads and one C call; it never touches the hub. It is
guarded by one gate per direction, kept by ``SimpleQueue._refresh_gates``:
``put`` checks ``len(queue) < _limit``, where ``_limit`` equals ``_cap`` while
nobody is parked to get or peek and the queue is open, and is forced below any
length otherwise; ``get`` checks ``queue and _fast_get``, where ``_fast_get``
is false while a putter is parked (a putter clears it before it parks). Those
cases take the slow path, which re-checks everything. The fast paths
inline the default ``_put``/``_get`` (``queue.append``, ``queue.popleft``); a
subclass that overrides one of those hooks is kept on the slow path, which
calls them.

``Queue(0)`` and negative sizes mean unbounded, as in gevent 26.9 (``Queue(0)``
warns); use :class:`Channel` for a rendezvous. ``Queue`` is joinable
(``task_done``/``join``), as gevent's is; ``shutdown()`` follows Python 3.13's
``queue.Queue.shutdown``.
"""

import sys
from types import GenericAlias as _GenericAlias
from typing import Any
import warnings
from collections import deque
from heapq import heapify, heappop, heappush
from queue import Empty, Full

from greenlet import getcurrent

from .hub import TIMED_OUT, ParkingLot, _check_timeout, _deadline, _remaining, get_hub, sleep

try:
    from queue import ShutDown  # type: ignore[attr-defined]  # 3.13+: the class stdlib code catches
except ImportError:  # pragma: no cover - depends on the Python version
    class ShutDown(Exception):  # type: ignore[no-redef]
        """Raised by put/get on a queue that was :meth:`~Queue.shutdown`."""

# gevent's split of the names (its tests check __all__ is their sum): green versions
# of stdlib queue's classes, stdlib's own exceptions, and the names stdlib lacks.
# (monkey.patch_queue does not read these: it patches from queue_stdlib.)
__implements__ = ['Queue', 'PriorityQueue', 'LifoQueue', 'SimpleQueue']
__imports__ = ['Empty', 'Full']
__extensions__ = ['Channel', 'JoinableQueue', 'UnboundQueue']
if sys.version_info >= (3, 13):
    __imports__.append('ShutDown')       # stdlib's class (imported above)
else:
    __extensions__.append('ShutDown')    # ours: stdlib queue has none before 3.13
__all__ = __implements__ + __imports__ + __extensions__

_SHUTDOWN = object()       # handed to parked getters/putters by shutdown()
_IN_QUEUE = object()       # handed to a parked getter: "your item is in the queue; _get it"
_UNBOUNDED = sys.maxsize   # _cap of a queue without maxsize


class SimpleQueue:
    """A FIFO queue of Python objects; ``maxsize=None`` (or <= 0) means unbounded.

    ``Queue[int]`` in annotations works, as for the stdlib queues.

    Subclasses may override the stdlib-style hooks ``_create_queue``, ``_put``,
    ``_get`` and ``_peek``.
    """

    __slots__ = (
        '__dict__',
        '__weakref__',
        '_fast_get',
        '_getters',
        '_cap',
        '_limit',
        '_maxsize',
        '_peekers',
        '_putters',
        'is_shutdown',
        'queue',
    )

    def __class_getitem__(cls, item: Any) -> Any:
        return _GenericAlias(cls, item)

    def __init__(self, maxsize=None, items=(), _warn_depth=2):
        if maxsize is not None and maxsize <= 0:
            if maxsize == 0:
                warnings.warn('Queue(0) now equivalent to Queue(None); if you want a channel, '
                              'use Channel', DeprecationWarning, stacklevel=_warn_depth)
            maxsize = None
        self._maxsize = maxsize
        # Room for newcomers: maxsize minus slots reserved for woken putters
        # (see the module docstring); effectively infinite when unbounded.
        self._cap = _UNBOUNDED if maxsize is None else maxsize
        # stdlib's construction hook (a subclass may set its own ``self.queue``);
        # called with one argument when there are no items, as stdlib calls it.
        if items:
            self._init(maxsize, items)
        else:
            self._init(maxsize)
        self._getters = ParkingLot(self._unclaimed_item)
        self._putters = ParkingLot(self._unclaimed_slot)
        self._peekers = None                     # ParkingLot made on the first blocking peek
        self.is_shutdown = False
        self._refresh_gates()

    # put() and get() inline the body of the _put/_get hook of the class that
    # defines them (``queue.append(item)``, ``queue.popleft()``): a method call
    # less per item. For a subclass that overrides either hook, these flags
    # keep both fast paths closed, so every put/get takes the slow path, which
    # calls the hooks (also when an overriding put() calls super().put()), and
    # an item for a parked getter goes through both hooks instead of being
    # handed over directly (see _IN_QUEUE).
    _inlined_put_ok = _inlined_get_ok = True
    # Items already in the queue that put() promised to woken getters (hooked
    # subclasses only); newcomers leave them alone.
    _promised = 0

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        inlined = cls._inlines_own_hook('put', '_put') and cls._inlines_own_hook('get', '_get')
        cls._inlined_put_ok = cls._inlined_get_ok = inlined

    @classmethod
    def _inlines_own_hook(cls, method, hook):
        # The method that runs in the end is the one of this module's classes
        # nearest in the MRO; it inlines that class's hook.
        owner = next(k for k in cls.__mro__ if k.__module__ == __name__ and method in vars(k))
        return getattr(cls, hook) is getattr(owner, hook)

    # -- stdlib-style hooks ----------------------------------------------------------------

    def _init(self, maxsize, items=()):
        self.queue = self._create_queue(items)

    def _create_queue(self, items=()):
        return deque(items)

    def _put(self, item):
        self.queue.append(item)

    def _get(self):
        return self.queue.popleft()

    def _peek(self):
        return self.queue[0]

    def _put_back(self, item):
        """Return an item a dead getter was handed to the place it would be got next."""
        self.queue.appendleft(item)

    def _qsize(self):
        return len(self.queue)

    # -- size ------------------------------------------------------------------------------

    @property
    def maxsize(self):
        """The bound (None for unbounded). Settable: raising it admits waiting putters."""
        return self._maxsize

    @maxsize.setter
    def maxsize(self, value):
        if value is not None and value <= 0:
            value = None
        reserved = (self._maxsize if self._maxsize is not None else _UNBOUNDED) - self._cap
        self._maxsize = value
        self._cap = (_UNBOUNDED if value is None else value) - reserved
        if not self.is_shutdown:
            while self._putters and len(self.queue) < self._cap:
                if not self._putters.unpark(True):
                    break
                self._cap -= 1
        self._refresh_gates()

    def _refresh_gates(self):
        # The fast put path is open (``_limit == _cap``) only while nobody is
        # parked to get or peek and the queue is not shut down; the fast get
        # path (``_fast_get``) only while nobody is parked to put. Neither is
        # ever open for a subclass that overrides the hook it inlines.
        if (self._getters or self._peekers is not None or self.is_shutdown
                or not self._inlined_put_ok):
            self._limit = -_UNBOUNDED
        else:
            self._limit = self._cap
        self._fast_get = self._inlined_get_ok and not self._putters

    def qsize(self) -> int:
        """Number of items in the queue."""
        return len(self.queue)

    def __len__(self):
        return len(self.queue)

    def __bool__(self):
        # A queue object is always true, empty or not (as in gevent).
        return True

    def empty(self) -> bool:
        """True if the queue holds no items."""
        return not self.queue

    def full(self) -> bool:
        """True if the queue holds ``maxsize`` items (never for an unbounded queue)."""
        return self._maxsize is not None and len(self.queue) >= self._maxsize

    def statistics(self):
        """Sizes and how many greenlets wait to get, put and peek."""
        p = self._peekers
        return {'qsize': len(self.queue), 'maxsize': self._maxsize,
                'getters': len(self._getters), 'putters': len(self._putters),
                'peekers': len(p) if p is not None else 0, 'shutdown': self.is_shutdown}

    def __repr__(self):
        return '<%s at 0x%x maxsize=%r qsize=%d getters=%d putters=%d%s>' % (
            type(self).__name__, id(self), self._maxsize, len(self.queue), len(self._getters),
            len(self._putters), ' shutdown' if self.is_shutdown else '')

    __str__ = __repr__

    def copy(self):
        """A new queue of the same class and maxsize holding the same items."""
        return type(self)(self._maxsize, list(self.queue))

    # -- put -------------------------------------------------------------------------------

    def put(self, item, block=True, timeout=None):
        """Put ``item`` in the queue, waiting (up to ``timeout``) while it is full.

        Raises :class:`Full` when non-blocking or timed out, :class:`ShutDown`
        after :meth:`shutdown`.
        """
        # (A local and a method call on it, not a stored bound method: the
        # interpreter specializes that form; see docs/internals.rst, fast paths.)
        queue = self.queue
        if len(queue) < self._limit:
            queue.append(item)
            return
        self._put_slow(item, block, timeout)

    def put_nowait(self, item):
        """``put(item, block=False)``."""
        self.put(item, False)

    def _added(self):
        # Hook for JoinableQueue's task counting.
        pass

    def _put_slow(self, item, block, timeout):
        # Every put the fast path cannot take (all of them if _put is overridden).
        if self.is_shutdown:
            raise ShutDown
        if not (self._getters or len(self.queue) < self._cap):
            if not block:
                raise Full
            timeout = _check_timeout(timeout, negative_ok=False)
            # Park until get() reserves a slot for us (or shutdown/timeout).
            # While we are parked, gets take the slow path, which wakes us.
            self._fast_get = False
            try:
                value = self._putters.park(timeout)
            finally:
                self._refresh_gates()
            if value is TIMED_OUT:
                raise Full
            if value is _SHUTDOWN:
                raise ShutDown
            # A slot was reserved for us: take it back and use it.
            self._cap += 1
        if self._getters and self._inlined_put_ok and self._getters.unpark(item):
            pass   # a getter is parked (so the queue is empty): give it the item
        else:
            self._put(item)
            if self._getters and not self._inlined_put_ok and self._getters.unpark(_IN_QUEUE):
                # A hooked subclass: the item went in through _put; the woken
                # getter takes it out through _get (their errors are theirs).
                self._promised += 1
            elif self._peekers is not None:
                self._wake_peekers()
        self._added()
        self._refresh_gates()

    def _unclaimed_slot(self, value):
        # A putter was woken with a reserved slot but died before it ran, and no
        # other putter waits: the slot is free again.
        if value is not _SHUTDOWN and not self.is_shutdown:
            self._cap += 1
            self._refresh_gates()

    # -- get -------------------------------------------------------------------------------

    def get(self, block=True, timeout=None):
        """Remove and return an item, waiting (up to ``timeout``) while empty.

        Raises :class:`Empty` when non-blocking or timed out, :class:`ShutDown`
        after :meth:`shutdown` once the queue is empty.
        """
        queue = self.queue
        if queue and self._fast_get:
            return queue.popleft()
        return self._get_slow(block, timeout)

    def get_nowait(self):
        """``get(block=False)``."""
        return self.get(False)

    def _wake_putter(self):
        # A slot just became free: reserve it for the longest-waiting putter.
        if len(self.queue) < self._cap and self._putters.unpark(True):
            self._cap -= 1
            self._refresh_gates()

    def _get_slow(self, block, timeout):
        # A get from an empty queue, or with putters parked (or from any queue
        # if _get is overridden).
        if len(self.queue) > self._promised:
            item = self._get()
            if self._putters:
                self._wake_putter()
            elif self._inlined_get_ok:
                # The gate was closed for putters that have left (timeout,
                # kill): reopen it. (A hooked subclass's gate stays closed.)
                self._refresh_gates()
            return item
        if self.is_shutdown:
            raise ShutDown
        if not block:
            raise Empty
        timeout = _check_timeout(timeout, negative_ok=False)
        # Park until put() hands us an item (or shutdown/timeout). While we are
        # parked, puts take the slow path, which hands items over.
        self._limit = -_UNBOUNDED
        try:
            value = self._getters.park(timeout)
        finally:
            self._refresh_gates()
        if value is TIMED_OUT:
            raise Empty
        if value is _SHUTDOWN:
            raise ShutDown
        if value is _IN_QUEUE:
            # put() kept an item in the queue for us (a hooked subclass), unless
            # shutdown(immediate=True) emptied the queue before we ran.
            self._promised -= 1
            if self.is_shutdown and not len(self.queue):
                raise ShutDown
            item = self._get()
            if self._putters:
                self._wake_putter()
            return item
        return value

    def _unclaimed_item(self, item):
        # A getter was handed ``item`` but died before it ran, and no other getter
        # waits: the item goes back to where the next get() will find it.
        if item is _SHUTDOWN:
            return
        if item is _IN_QUEUE:
            self._promised -= 1          # it never left the queue: free for anyone now
            if self._peekers is not None:
                self._wake_peekers()
            return
        self._put_back(item)
        if self._peekers is not None:
            self._wake_peekers()
        self._refresh_gates()

    # -- peek ------------------------------------------------------------------------------

    def peek(self, block=True, timeout=None):
        """Return the next item without removing it, waiting (up to ``timeout``) if empty."""
        if self.queue:
            return self._peek()
        if self.is_shutdown:
            raise ShutDown
        if not block:
            raise Empty
        deadline = _deadline(_check_timeout(timeout, negative_ok=False))
        while not self.queue:
            if self.is_shutdown:
                raise ShutDown
            lot = self._peekers
            if lot is None:
                lot = self._peekers = ParkingLot()
                self._limit = -_UNBOUNDED    # puts must take the slow path, which wakes us
            # Park until an item is stored; a getter may take it first, so re-check.
            try:
                if lot.park(_remaining(deadline)) is TIMED_OUT:
                    raise Empty
            finally:
                if self._peekers is lot and not lot:
                    self._peekers = None     # we were the last peeker: reopen the fast path
                self._refresh_gates()
        return self._peek()

    def peek_nowait(self):
        """``peek(block=False)``."""
        return self.peek(False)

    def _wake_peekers(self):
        lot = self._peekers
        # A fresh lot each time, so a woken-then-killed peeker cannot wake a later one.
        self._peekers = None
        lot.unpark_all(True)

    # -- iteration -------------------------------------------------------------------------

    def __iter__(self):
        return self

    def __next__(self):
        """Get the next item; a ``StopIteration`` put in the queue ends the iteration."""
        item = self.get()
        if item is StopIteration:
            raise StopIteration
        return item

    next = __next__

    # -- shutdown --------------------------------------------------------------------------

    def shutdown(self, immediate=False):
        """Make later puts raise :class:`ShutDown`, and gets too once the queue is empty.

        Blocked putters and getters raise :class:`ShutDown`. With
        ``immediate=True`` the queue is emptied first, so gets raise at once.
        """
        self.is_shutdown = True
        self._limit = -_UNBOUNDED       # every put takes the slow path, which raises
        self._cap = 0
        if immediate:
            self._drain()
        self._getters.unpark_all(_SHUTDOWN)
        self._putters.unpark_all(_SHUTDOWN)
        if self._peekers is not None:
            self._wake_peekers()

    def _drain(self):
        queue = self.queue
        while queue:
            self._get()


class Queue(SimpleQueue):
    """A FIFO queue that also counts unfinished tasks: ``task_done()`` and ``join()``.

    ``Queue(maxsize=None, items=())``; gevent's ``Queue`` is joinable too.
    """

    __slots__ = ('_joiners', 'unfinished_tasks')

    def __init__(self, maxsize=None, items=(), unfinished_tasks=None, _warn_depth=3):
        SimpleQueue.__init__(self, maxsize, items, _warn_depth)
        self.unfinished_tasks = len(self.queue) if unfinished_tasks is None else unfinished_tasks
        self._joiners = None

    def __repr__(self):
        return SimpleQueue.__repr__(self)[:-1] + ' tasks=%d>' % self.unfinished_tasks

    __str__ = __repr__

    def statistics(self):
        stats = SimpleQueue.statistics(self)
        stats['unfinished_tasks'] = self.unfinished_tasks
        j = self._joiners
        stats['joiners'] = len(j) if j is not None else 0
        return stats

    def copy(self):
        return type(self)(self._maxsize, list(self.queue), self.unfinished_tasks)

    # The hot paths are repeated here with the task count inlined (one method
    # call less per item than going through _added()).

    def put(self, item, block=True, timeout=None):
        """Put ``item`` in the queue, waiting (up to ``timeout``) while it is full.

        Raises :class:`Full` when non-blocking or timed out, :class:`ShutDown`
        after :meth:`shutdown`.
        """
        queue = self.queue
        if len(queue) < self._limit:
            queue.append(item)
            self.unfinished_tasks += 1
            return
        self._put_slow(item, block, timeout)

    def _added(self):
        self.unfinished_tasks += 1

    def task_done(self):
        """Mark one fetched item as processed; ``join()`` returns when none are left."""
        if self.unfinished_tasks <= 0:
            raise ValueError('task_done() called too many times')
        self.unfinished_tasks -= 1
        if self.unfinished_tasks == 0 and self._joiners is not None:
            lot = self._joiners
            self._joiners = None      # fresh lot per generation (see _wake_peekers)
            lot.unpark_all(True)

    def join(self, timeout=None) -> bool:
        """Wait until every item put was marked done; False if ``timeout`` passed first."""
        if self.unfinished_tasks <= 0:
            return True
        timeout = _check_timeout(timeout, negative_ok=False)
        lot = self._joiners
        if lot is None:
            lot = self._joiners = ParkingLot()
        # Park until task_done() brings the count to zero.
        return lot.park(timeout) is not TIMED_OUT

    def _drain(self):
        # shutdown(immediate=True): drop the items and their tasks (Python 3.13).
        queue = self.queue
        while queue:
            self._get()
            if self.unfinished_tasks > 0:
                self.task_done()


JoinableQueue = Queue


class UnboundQueue(Queue):
    """A :class:`Queue` that refuses a ``maxsize``; ``put()`` never blocks."""

    __slots__ = ()

    def __init__(self, maxsize=None, items=()):
        if maxsize is not None:
            raise ValueError('UnboundQueue has no maxsize')
        Queue.__init__(self, None, items)


class LifoQueue(Queue):
    """A last-in, first-out :class:`Queue` (a stack)."""

    __slots__ = ()

    def _create_queue(self, items=()):
        return list(items)

    # put() is Queue's: list.append is the stack's push.

    def get(self, block=True, timeout=None):
        queue = self.queue
        if queue and self._fast_get:
            return queue.pop()
        return self._get_slow(block, timeout)

    def _get(self):
        return self.queue.pop()

    def _peek(self):
        return self.queue[-1]

    def _put_back(self, item):
        self.queue.append(item)


class PriorityQueue(Queue):
    """A :class:`Queue` that gets the smallest item first (entries like ``(priority, data)``)."""

    __slots__ = ()

    def _create_queue(self, items=()):
        q = list(items)
        heapify(q)
        return q

    def put(self, item, block=True, timeout=None):
        queue = self.queue
        if len(queue) < self._limit:
            heappush(queue, item)
            self.unfinished_tasks += 1
            return
        self._put_slow(item, block, timeout)

    def get(self, block=True, timeout=None):
        queue = self.queue
        if queue and self._fast_get:
            return heappop(queue)
        return self._get_slow(block, timeout)

    def _put(self, item):
        heappush(self.queue, item)

    def _get(self):
        return heappop(self.queue)

    def _peek(self):
        return self.queue[0]

    def _put_back(self, item):
        heappush(self.queue, item)


class Channel:
    """A rendezvous: ``put()`` waits for a ``get()`` and hands the item straight over.

    It holds no items (``qsize()`` is 0, ``full()`` and ``empty()`` are both True).
    ``balance`` is the number of parked getters minus parked putters.

    A parked putter leaves its item on offer (``_offers``, in arrival order) and
    waits for a getter to take it: a getter takes the first offer and wakes that
    putter, without waiting for it to run -- so ``get_nowait()`` works from a hub
    callback too, as gevent's does.
    """

    def __class_getitem__(cls, item: Any) -> Any:
        return _GenericAlias(cls, item)

    __slots__ = ('__weakref__', '_getters', '_offers', '_orphans', '_putters')

    def __init__(self, maxsize=1):
        if maxsize != 1:
            raise ValueError('Channels have a maxsize of 1')
        self._getters = ParkingLot(self._unclaimed_item)
        # Broadcast: a putter woken (its item taken) and killed before it ran must
        # not pass that wake-up on to a putter whose item nobody took.
        self._putters = ParkingLot(broadcast=True)
        self._offers = deque()           # [putter greenlet, item], oldest first
        # Items handed to getters that died before running, with no other getter
        # waiting: the next get() takes them first.
        self._orphans = deque()

    maxsize = 1

    def __repr__(self):
        return '<%s at 0x%x getters=%d putters=%d>' % (
            type(self).__name__, id(self), len(self._getters), len(self._putters))

    __str__ = __repr__

    def statistics(self):
        return {'getters': len(self._getters), 'putters': len(self._putters),
                'orphans': len(self._orphans)}

    @property
    def getters(self):
        return len(self._getters)

    @property
    def putters(self):
        return len(self._putters)

    @property
    def balance(self):
        return len(self._getters) - len(self._putters)

    def qsize(self):
        return 0

    def empty(self):
        return True

    def full(self):
        return True

    def __len__(self):
        return 0

    def __bool__(self):
        return True

    def put(self, item, block=True, timeout=None):
        """Hand ``item`` to a getter, waiting (up to ``timeout``) for one to come.

        Raises :class:`Full` when non-blocking with no getter waiting, or on timeout.
        """
        if self._getters and self._getters.unpark(item):
            self._let_getter_run()
            return
        if not block:
            raise Full
        offer = [getcurrent(), item]
        self._offers.append(offer)
        try:
            # Park until a getter takes the item and wakes us.
            if self._putters.park(_check_timeout(timeout, negative_ok=False)) is TIMED_OUT:
                raise Full
        finally:
            if offer[0] is not None:     # not taken (timeout, kill): withdraw it
                try:
                    self._offers.remove(offer)
                except ValueError:
                    pass

    @staticmethod
    def _let_getter_run():
        # A rendezvous: the getter we handed the item to takes it before the putter
        # goes on (it is ahead of us in the ready queue), as with gevent. From the
        # hub (a callback) we cannot park: the getter runs next anyway.
        if getcurrent() is not get_hub():
            sleep(0)

    def put_nowait(self, item):
        self.put(item, False)

    def get(self, block=True, timeout=None):
        """Take an item from a putter, waiting (up to ``timeout``) for one.

        Raises :class:`Empty` when non-blocking with no putter waiting, or on timeout.
        """
        if self._orphans:
            return self._orphans.popleft()
        offers = self._offers
        while offers:
            offer = offers.popleft()
            putter, item = offer
            offer[0] = None              # taken: the putter must not withdraw it
            if self._putters.unpark_greenlet(putter, True):
                return item
            # That putter is no longer parked (it is being killed or timed out
            # right now): its item stays with it; try the next offer.
        if not block:
            raise Empty
        # Park until a putter hands us an item.
        value = self._getters.park(_check_timeout(timeout, negative_ok=False))
        if value is TIMED_OUT:
            raise Empty
        return value

    def get_nowait(self):
        return self.get(False)

    def _unclaimed_item(self, item):
        self._orphans.append(item)

    def __iter__(self):
        return self

    def __next__(self):
        item = self.get()
        if item is StopIteration:
            raise StopIteration
        return item

    next = __next__
