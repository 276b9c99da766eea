"""A pool of real OS threads for blocking calls that cannot be made cooperative.

Public names: :class:`ThreadPool`, :class:`ThreadPoolExecutor`, :data:`DEFAULT_SIZE`.

How it cooperates with the hub
------------------------------
``pool.spawn(func, *args)`` puts the call on a C-level work queue and returns
an :class:`~gevent_lite.event.AsyncResult` at once. A worker thread runs the
call and hands the outcome back to the hub's thread with
``hub.run_callback_threadsafe`` -- the only hub entry point other threads may
use; the hub then stores it in the result, which wakes the greenlets parked on
``get()``. Meanwhile the hub runs every other greenlet.

While a task is outstanding the hub must not conclude that nothing can wake
its waiter (that is what ``LoopExit`` means), so each submission calls
``hub.ref()`` and each delivery ``hub.unref()``, both in the hub's thread.

The workers are real OS threads even after ``threading``/``_thread``/``queue``
have been monkey-patched: the thread starter, the lock and the queue class are
captured from the C modules when this module is imported, and ``_queue``,
``_thread`` are never patched in place. They are started with
``_thread.start_new_thread``, which ``threading`` does not track, so
interpreter exit never waits for them (a worker still inside a task when the
interpreter finalises is simply stopped by it).

Importing this module registers ``ThreadPool(config.threadpool_size, hub)`` as
the hub's thread-pool factory, so ``get_hub().threadpool`` works afterwards; its
size and idle timeout are read from :data:`gevent_lite.config.config` each time
a hub makes its pool (``config.threadpool_size``, default :data:`DEFAULT_SIZE`;
``config.threadpool_idle_task_timeout``, default 5 s). The hub
does not import this module itself (floor 1 must not import floor 3).
"""

import _queue
import _thread
import concurrent.futures as _futures
import os
import sys
import threading
from collections import deque
from typing import Any

from . import hub as _hubmod
from .config import config
from .event import AsyncResult
from .hub import TIMED_OUT, ParkingLot, _check_timeout, _deadline, _remaining, get_hub

__all__ = ['ThreadPool', 'ThreadPoolExecutor', 'ThreadResult', 'DEFAULT_SIZE']

#: gevent's name for what :meth:`ThreadPool.spawn` returns (an
#: :class:`~gevent_lite.event.AsyncResult` the worker thread fills in).
ThreadResult = AsyncResult

#: Default of ``config.threadpool_size``, the size of each hub's ``threadpool``
#: (gevent uses 10 as well).
DEFAULT_SIZE = 10

# Originals, captured before anybody can monkey-patch them. The green versions
# would turn worker threads into greenlets and their blocking get() into a
# hub wait in a thread that has no running hub.
_start_new_thread = _thread.start_new_thread
_allocate_lock = _thread.allocate_lock
_get_ident = _thread.get_ident
_SimpleQueue = _queue.SimpleQueue
_thread_local = _thread._local      # patch_thread makes _thread._local greenlet-local

_STOP = object()        # work-queue sentinel: one worker exits

# threading.setprofile()/settrace() hooks (profilers, coverage): Python applies them
# to threads that threading starts; ours are started by _thread, so each task is
# run under them explicitly (gevent#1670). Public getters since 3.10; before, the
# feature is off.
_threading_getprofile = getattr(threading, 'getprofile', lambda: None)
_threading_gettrace = getattr(threading, 'gettrace', lambda: None)


def _run_task(func, args, kwargs):
    # In the worker thread. The setters are called only when there is a hook to
    # set or to clear: each one is an audited event (gevent#2206), and an audit
    # hook that rejects it makes the task fail with its error, as any error would.
    profile = _threading_getprofile()
    trace = _threading_gettrace()
    if profile is not None:
        sys.setprofile(profile)
    if trace is not None:
        sys.settrace(trace)
    try:
        return func(*args, **kwargs)
    finally:
        # Also what the task set itself: the next task starts clean.
        if sys.getprofile() is not None:
            sys.setprofile(None)
        if sys.gettrace() is not None:
            sys.settrace(None)


class ThreadPool:
    """``maxsize`` OS threads running blocking calls for the greenlets of one hub.

    ``maxsize`` 0 holds submitted tasks in the queue until it is raised.

    Workers are started on demand (when a task is queued and no worker is
    idle), up to :attr:`maxsize`. With a positive ``idle_task_timeout`` a worker
    that waits that many seconds for work exits, down to the number last set
    with :attr:`size`; a negative one (the default, as in gevent) keeps workers
    for good. The hub's pool gets ``config.threadpool_idle_task_timeout`` (5 s).
    ``len(pool)`` is the number of tasks submitted whose result has not been
    delivered yet.
    """

    def __init__(self, maxsize: int, hub=None, idle_task_timeout: float = -1):
        self._check_size(maxsize, 'maxsize')
        if isinstance(idle_task_timeout, bool) or not isinstance(idle_task_timeout, (int, float)) \
                or idle_task_timeout != idle_task_timeout or idle_task_timeout == 0:
            raise ValueError('idle_task_timeout must be a number of seconds (negative: never), '
                             'not %r' % (idle_task_timeout,))
        self.hub = hub if hub is not None else get_hub()
        self._maxsize = maxsize
        # None: wait for work forever (C SimpleQueue.get with no timeout).
        self._idle_task_timeout = float(idle_task_timeout) if 0 < idle_task_timeout < float('inf') else None
        self._floor = 0                  # workers that do not retire when idle (size setter)
        self._queue: Any = _SimpleQueue()
        self._lock = _allocate_lock()    # guards the worker counters below
        self._nthreads = 0               # live worker threads
        self._nidle = 0                  # of those, waiting for work
        self._nstopping = 0              # _STOP sentinels queued, not yet taken
        self._workers: set[Any] = set()            # thread idents, to detect nested apply()
        self._outstanding = 0            # submitted, not yet delivered (hub thread)
        self._nqueued = 0                # tasks queued, not yet taken by a worker
        self._empty = ParkingLot()       # join() parks here
        self._pid = os.getpid()
        self._killed = False

    def __repr__(self):
        return '<%s at 0x%x threads=%d/%d tasks=%d>' % (
            type(self).__name__, id(self), self._nthreads, self._maxsize, self._outstanding)

    def __len__(self):
        return self._outstanding

    @staticmethod
    def _check_size(value, what):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError('%s must be an int, not %r' % (what, value))
        if value < 0:
            raise ValueError('%s must not be negative, not %r' % (what, value))

    # -- sizing --------------------------------------------------------------------------

    @property
    def maxsize(self) -> int:
        """The most worker threads this pool starts."""
        return self._maxsize

    @maxsize.setter
    def maxsize(self, value: int):
        # 0 pauses the pool: running tasks finish, queued ones wait for a larger maxsize.
        self._check_size(value, 'maxsize')
        self._maxsize = value
        if self.size > value:
            self.size = value
            return
        # Raised: start the workers that tasks queued meanwhile are waiting for.
        with self._lock:
            need = min(self._nqueued - self._nidle, value - (self._nthreads - self._nstopping))
        for _ in range(need):
            self._start_worker()

    @property
    def size(self) -> int:
        """The number of worker threads (not counting ones told to stop)."""
        return self._nthreads - self._nstopping

    @size.setter
    def size(self, value: int):
        self._check_size(value, 'size')
        if value > self._maxsize:
            raise ValueError('size (%d) must not exceed maxsize (%d)' % (value, self._maxsize))
        delta = value - self.size
        self._floor = value
        if delta > 0:
            for _ in range(delta):
                self._start_worker()
        elif delta < 0:
            with self._lock:
                self._nstopping -= delta
            for _ in range(-delta):
                self._queue.put(_STOP)

    def _start_worker(self):
        with self._lock:
            self._nthreads += 1
        try:
            _start_new_thread(self._worker, ())
        except BaseException:
            with self._lock:
                self._nthreads -= 1
            raise

    # -- submitting ----------------------------------------------------------------------

    def spawn(self, func, *args, **kwargs) -> AsyncResult:
        """Run ``func(*args, **kwargs)`` in a worker thread; return its :class:`~gevent_lite.event.AsyncResult`.

        Exceptions raised by ``func`` are re-raised by ``result.get()``.
        """
        if not callable(func):
            raise TypeError('ThreadPool.spawn needs a callable, not %r' % (func,))
        if self._killed:
            raise RuntimeError('this ThreadPool was killed')
        hub = self.hub
        if hub._destroyed:
            raise RuntimeError('the hub of this ThreadPool was destroyed')
        if os.getpid() != self._pid:
            raise RuntimeError('this ThreadPool belongs to the parent process; '
                               'use get_hub().threadpool in the child after fork')
        result = AsyncResult()
        if _get_ident() == hub.thread_ident:
            hub.ref()
            self._outstanding += 1
        else:
            # Submitted from another OS thread: account for it in the hub's thread.
            # The callback is queued before the task, so it runs before the delivery.
            hub.run_callback_threadsafe(self._count_submission)
        # Start a worker unless enough idle ones are there to take every queued
        # task. A worker counted idle is blocked in (or about to enter) get().
        with self._lock:
            self._nqueued += 1
            need = (self._nqueued > self._nidle
                    and self._nthreads - self._nstopping < self._maxsize)
        self._queue.put((func, args, kwargs, result))
        if need:
            self._start_worker()
        return result

    def _count_submission(self):
        self.hub.ref()
        self._outstanding += 1

    def apply_async(self, func, args=(), kwds=None, callback=None) -> AsyncResult:
        """Like :meth:`spawn`; ``callback(value)`` runs in a new greenlet on success."""
        result = self.spawn(func, *args, **(kwds or {}))
        if callback is not None:
            def _on_ready(res, callback=callback):
                if res.successful():
                    from .greenlet import spawn
                    spawn(callback, res.value)
            result.rawlink(_on_ready)
        return result

    def apply_cb(self, func, args=(), kwds=None, callback=None):
        """``apply(func, args, kwds)``, then ``callback(result)`` (in this greenlet) if given."""
        result = self.apply(func, args, kwds)
        if callback is not None:
            callback(result)
        return result

    def map_async(self, func, iterable, callback=None) -> Any:
        """Start ``map(func, iterable)`` in a greenlet; returns it (``get()`` gives the list).
        ``callback(list)`` runs in that greenlet when every result is in."""
        from .greenlet import spawn

        def _map():
            results = self.map(func, iterable)
            if callback is not None:
                callback(results)
            return results
        return spawn(_map)

    def adjust(self) -> None:
        """gevent's hook to grow the pool to its size; ours starts threads on demand."""

    def apply(self, func, args=(), kwds=None):
        """Run ``func(*args, **kwds)`` in a worker thread and return its result.

        Called from one of this pool's own worker threads, it runs ``func``
        directly: queueing it would deadlock once every worker waits this way.
        """
        if kwds is None:
            kwds = {}
        if _get_ident() in self._workers:
            return func(*args, **kwds)
        return self.spawn(func, *args, **kwds).get()

    def map(self, func, iterable) -> list:
        """``list(map(func, iterable))`` with the calls spread over the workers."""
        return list(self.imap(func, iterable))

    def imap(self, func, *iterables):
        """Like ``map``: results in order, as an iterator; calls run in parallel."""
        results = [self.spawn(func, *args) for args in zip(*iterables)]
        for res in results:
            yield res.get()

    def imap_unordered(self, func, *iterables):
        """Like :meth:`imap`, but yields each result as soon as it is ready."""
        done = deque()
        lot = ParkingLot()

        def _arrived(res):          # a link: runs in the hub
            done.append(res)
            lot.unpark()

        results = [self.spawn(func, *args) for args in zip(*iterables)]
        for res in results:
            res.rawlink(_arrived)
        try:
            for _ in range(len(results)):
                while not done:
                    # Parks until a link reports the next finished result.
                    lot.park()
                yield done.popleft().get()
        finally:
            for res in results:
                res.unlink(_arrived)

    # -- waiting and stopping ------------------------------------------------------------

    def join(self, timeout=None) -> bool:
        """Wait until every submitted task has delivered its result.

        Returns True when the pool is idle, False if ``timeout`` passed first.
        """
        deadline = _deadline(_check_timeout(timeout))
        while self._outstanding:
            if self._empty.park(_remaining(deadline)) is TIMED_OUT:
                return not self._outstanding
        return True

    def kill(self):
        """Stop the workers once the tasks already submitted have run, as gevent's
        ``kill()`` (which sets the size to 0) does: queued tasks still run and
        deliver their results. Later ``spawn`` calls raise ``RuntimeError``.

        With no worker thread to run them (``maxsize`` 0), queued tasks fail with
        ``RuntimeError``.
        """
        self._stop(cancel_queued=self.size == 0)

    def _stop(self, cancel_queued):
        # cancel_queued: fail the tasks not yet started (ThreadPoolExecutor's
        # shutdown(cancel_futures=True)) instead of letting the workers run them.
        self._killed = True
        cancelled = []
        if cancel_queued:
            while True:
                try:
                    item = self._queue.get_nowait()
                except _queue.Empty:
                    break
                if item is _STOP:
                    with self._lock:
                        self._nstopping -= 1
                else:
                    with self._lock:
                        self._nqueued -= 1
                    cancelled.append(item)
        # One stop sentinel per worker, behind the queued tasks (the queue is FIFO).
        n = self.size
        if n > 0:
            with self._lock:
                self._nstopping += n
            for _ in range(n):
                self._queue.put(_STOP)
        on_hub_thread = _get_ident() == self.hub.thread_ident
        for _func, _args, _kwargs, result in cancelled:
            exc = RuntimeError('ThreadPool was killed before the task ran')
            if on_hub_thread and not self.hub._destroyed:
                self._deliver(result, False, exc)
            else:
                self.hub.run_callback_threadsafe(self._deliver, result, False, exc)

    # -- the worker side -----------------------------------------------------------------

    def _worker(self):
        # Runs in a real OS thread. Never touches hub state: results go back
        # through run_callback_threadsafe.
        me = _get_ident()
        self._workers.add(me)
        # For hub.other_os_threads, a helper: waiting for work it releases no lock,
        # and while it runs a task the task keeps the hub alive (no LoopExit then).
        _hubmod._helper_threads.add(me)
        queue_get = self._queue.get
        lock = self._lock
        idle_timeout = self._idle_task_timeout
        retired = False                  # counted out already, under the lock
        idle_counted = False             # counted idle already, after the last task
        try:
            while True:
                if not idle_counted:
                    with lock:
                        self._nidle += 1
                idle_counted = False
                try:
                    # A real blocking get in a real thread: releases the GIL.
                    item = queue_get(True, idle_timeout)
                except _queue.Empty:
                    # Idle for idle_timeout: retire, unless a queued task counts on
                    # this worker (spawn() starts a thread only when the queued tasks
                    # outnumber the idle workers, and checks under the same lock), a
                    # _STOP sentinel is on its way to some worker, or the pool would
                    # drop below the size last set. The counters change together.
                    with lock:
                        if (self._nqueued < self._nidle and not self._nstopping
                                and self._nthreads > self._floor):
                            self._nidle -= 1
                            self._nthreads -= 1
                            retired = True
                            return
                        self._nidle -= 1
                    continue
                except BaseException:
                    with lock:
                        self._nidle -= 1
                    raise
                with lock:
                    self._nidle -= 1
                if item is _STOP:
                    with lock:
                        self._nstopping -= 1
                    return
                with lock:
                    self._nqueued -= 1
                func, args, kwargs, result = item
                del item
                try:
                    value = _run_task(func, args, kwargs)
                    ok = True
                except BaseException as exc:  # noqa: BLE001 -- handed to the waiter
                    value, ok = exc, False
                del func, args, kwargs
                # Going back to get(): counted idle before the result wakes its caller,
                # so the caller's next spawn() finds this worker instead of starting
                # another thread (sequential apply() calls use one worker, as gevent's).
                with lock:
                    self._nidle += 1
                idle_counted = True
                try:
                    self.hub.run_callback_threadsafe(self._deliver, result, ok, value)
                except BaseException:  # pragma: no cover - interpreter shutting down
                    with lock:
                        self._nidle -= 1
                    return
                del result, value
        finally:
            self._workers.discard(me)
            _hubmod._helper_threads.discard(me)
            if not retired:
                with lock:
                    self._nthreads -= 1

    def _deliver(self, result, ok, value):
        # Runs in the hub's thread, as a callback.
        self.hub.unref()
        self._outstanding -= 1
        try:
            if ok:
                result.set(value)
            else:
                result.set_exception(value)
        finally:
            if not self._outstanding and self._empty:
                self._empty.unpark_all()


class _FutureLink:
    """A future's link on its AsyncResult: calls the user's callback with the future."""

    __slots__ = ('future', 'callback')

    def __init__(self, future, callback):
        self.future = future
        self.callback = callback

    def __call__(self, _result):
        future = self.future
        future._settle(future._async_result)     # done() is true when the callback runs
        self.callback(future)


class _CooperativeFuture(_futures.Future):
    """A ``concurrent.futures.Future`` whose ``result()``/``exception()`` park the greenlet.

    The stdlib's versions wait on a native ``threading.Condition``: in the hub's
    thread, unpatched, that would stop the hub that is to deliver the result.
    These wait on the pool's :class:`~gevent_lite.event.AsyncResult` first (a hub
    wait), then read the outcome that its link has set on the future.
    """

    def __init__(self, async_result):
        super().__init__()
        self._async_result = async_result
        # Running as soon as it is queued: a queued task cannot be taken back.
        self.set_running_or_notify_cancel()
        async_result.rawlink(self._settle)

    def _settle(self, res):
        # A link: runs in the hub's thread once the worker's outcome is in (links
        # run from a later callback, so result() may have settled it first).
        if self.done():
            return
        if res.successful():
            self.set_result(res.value)
        else:
            self.set_exception(res.exception)

    def _wait(self, timeout):
        res = self._async_result
        res.wait(timeout)            # parks; returns the value, so test ready()
        if not res.ready():
            raise _futures.TimeoutError()
        if not self.done():
            self._settle(res)        # the link has not run yet: settle now

    # gevent's futures are linkable, so gevent_lite.wait()/iwait() take them. A link
    # is called with this future once the task's outcome is in.

    def rawlink(self, callback: Any) -> None:
        if not callable(callback):
            raise TypeError('Expected callable: %r' % (callback,))
        links = self.__dict__.setdefault('_gl_links', {})
        links[callback] = wrapper = _FutureLink(self, callback)
        self._async_result.rawlink(wrapper)

    def unlink(self, callback: Any) -> None:
        wrapper = self.__dict__.get('_gl_links', {}).pop(callback, None)
        if wrapper is not None:
            self._async_result.unlink(wrapper)

    def ready(self) -> bool:
        return self._async_result.ready()

    def result(self, timeout=None):
        self._wait(timeout)
        return super().result(0)

    def exception(self, timeout=None):
        self._wait(timeout)
        return super().exception(0)


class ThreadPoolExecutor(_futures.Executor):
    """``concurrent.futures.ThreadPoolExecutor`` on a :class:`ThreadPool` of real threads.

    ``submit`` returns a ``Future`` whose ``result()`` and ``exception()``
    cooperate (the calling greenlet parks; the hub runs others). ``initializer``
    runs once in each worker thread before its first task. The futures also
    work with ``concurrent.futures.wait``/``as_completed``, which wait on native
    locks: in the hub's thread, do that only after ``monkey.patch_thread``.
    """

    def __init__(self, max_workers=None, thread_name_prefix='', initializer=None, initargs=()):
        if max_workers is None:
            max_workers = min(32, (os.cpu_count() or 1) + 4)
        if max_workers <= 0:
            raise ValueError('max_workers must be greater than 0')
        if initializer is not None and not callable(initializer):
            raise TypeError('initializer must be a callable')
        self._pool = ThreadPool(max_workers)
        self._initializer = initializer
        self._initargs = initargs
        self._initialized = _thread_local()     # per worker thread (the native one)
        self._shutdown = False

    def _run(self, fn, args, kwargs):
        if self._initializer is not None and not getattr(self._initialized, 'done', False):
            self._initializer(*self._initargs)
            self._initialized.done = True
        return fn(*args, **kwargs)

    def submit(self, fn, /, *args, **kwargs):
        if self._shutdown:
            raise RuntimeError('cannot schedule new futures after shutdown')
        if not callable(fn):
            raise TypeError('submit needs a callable, not %r' % (fn,))
        return _CooperativeFuture(self._pool.spawn(self._run, fn, args, kwargs))

    def shutdown(self, wait=True, *, cancel_futures=False):
        """No new submissions; with ``wait``, park until every task has finished.

        ``cancel_futures`` fails the tasks not yet started (their futures raise
        ``RuntimeError``); the workers exit once the running tasks are done.
        """
        self._shutdown = True
        if cancel_futures:
            self._pool._stop(cancel_queued=True)
        if wait:
            self._stop_when_idle()
        else:
            from .greenlet import spawn_raw
            spawn_raw(self._stop_when_idle)

    def _stop_when_idle(self):
        # Parks until every submitted task has delivered, then lets the workers exit.
        self._pool.join()
        self._pool.kill()

    def kill(self, wait: bool = True) -> None:
        """gevent's spelling: ``shutdown(wait)`` that also fails the tasks not yet started."""
        self.shutdown(wait, cancel_futures=True)


def _default_factory(hub):
    # Read at each hub's first use of its pool, not at import: a program may set
    # config.threadpool_size (or the environment) after importing gevent_lite.
    return ThreadPool(config.threadpool_size, hub, config.threadpool_idle_task_timeout)


_hubmod._default_threadpool_factory = _default_factory
