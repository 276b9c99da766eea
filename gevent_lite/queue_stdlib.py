"""Green pieces of the stdlib ``queue`` module: what ``monkey.patch_queue()`` replaces.

``queue.Queue``, ``LifoQueue`` and ``PriorityQueue`` are pure Python on
``threading.Condition``: once ``threading`` is patched they cooperate without
help. ``queue.SimpleQueue`` is the C ``_queue.SimpleQueue``, whose blocking
``get()`` waits on an OS-level lock and so freezes the whole hub (this is how
gevent hangs on ``concurrent.futures`` and ``test_queue``). :class:`SimpleQueue`
here replaces it: items in a deque, getters parked FIFO on a
:class:`~gevent_lite.hub.ParkingLot`; ``put`` hands the item straight to the
longest-waiting getter, and an item handed to a getter that was killed or timed
out before it ran goes back to the front of the queue (the lot's
``on_unclaimed``), so no item is ever lost. ``put`` from another OS thread
(e.g. a thread-pool worker) is forwarded to the hub with
``run_callback_threadsafe``.
"""

import queue as _stdlib_queue
from collections import deque

from .hub import TIMED_OUT, ParkingLot, _check_timeout, get_hub
from .thread import _original_get_ident as _get_ident  # the real OS-thread ident

__target__ = 'queue'
__stdlib__ = _stdlib_queue
__implements__ = ['SimpleQueue']
__all__ = ['Empty', 'Full', 'SimpleQueue']

Empty = _stdlib_queue.Empty
Full = _stdlib_queue.Full


class SimpleQueue:
    """An unbounded FIFO queue whose ``get()`` parks only the calling greenlet."""

    __slots__ = ('__weakref__', '_hub', '_items', '_lot')

    def __init__(self):
        self._items = deque()
        self._lot = ParkingLot(self._unclaimed)
        self._hub = get_hub()

    def __repr__(self):
        return '<green SimpleQueue at 0x%x items=%d getters=%d>' % (
            id(self), len(self._items), len(self._lot))

    def __class_getitem__(cls, item):
        return cls

    def _unclaimed(self, item):
        # A getter was handed ``item`` but left (killed/timeout) before taking it.
        self._items.appendleft(item)

    def put(self, item, block=True, timeout=None):
        """Add ``item`` (never blocks; ``block``/``timeout`` exist for Queue compatibility)."""
        hub = self._hub
        if _get_ident() != hub.thread_ident:
            hub.run_callback_threadsafe(self.put, item)
            return
        if not (self._lot and self._lot.unpark(item)):
            self._items.append(item)

    def put_nowait(self, item):
        self.put(item, False)

    def get(self, block=True, timeout=None):
        """Remove and return the oldest item, parking the greenlet until one is there.

        Raises ``queue.Empty`` if ``block`` is false and nothing is there, or
        when ``timeout`` seconds pass first.
        """
        if block and timeout is not None:
            # Checked before looking at the items, as the C class does.
            timeout = _check_timeout(timeout, negative_ok=False)
        items = self._items
        if items:
            return items.popleft()
        if not block:
            raise Empty
        # Park until put() hands us an item; the lot undoes registration on timeout/kill.
        item = self._lot.park(timeout)
        if item is TIMED_OUT:
            raise Empty
        return item

    def get_nowait(self):
        return self.get(False)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)
