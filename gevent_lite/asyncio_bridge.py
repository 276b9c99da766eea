"""asyncio and greenlets in one OS thread, on one hub.

Public names: :func:`run`, :func:`await_`, :func:`spawn_coroutine` (its handle
:class:`CoroutineGreenlet`), :func:`as_future`, :func:`to_greenlet`,
:func:`get_loop`, and the loop itself: :class:`HubEventLoop` (asyncio's selector
loop, whose fds are registered in the hub's poller and whose timers are the hub's),
:class:`EventLoopPolicy`, :func:`new_event_loop` (a ``loop_factory``),
:func:`install`. The loop lives in ``gevent_lite._asyncio_loop``, a floor down,
so that ``monkey.patch_all()`` can make it asyncio's default; its docstring says
how it parks.

Both directions:

* a greenlet calls an async library: ``await_(coro)`` parks only that greenlet
  until the coroutine (a task on :func:`get_loop`'s loop) has finished, and
  returns its result or raises its exception -- from any depth of synchronous
  calls; ``spawn_coroutine(coro)`` starts one and returns a greenlet-like handle;
* a coroutine waits for greenlets: ``await as_future(greenlet)``, or
  ``await to_greenlet(func, *args)`` to run blocking-style code (which may itself
  call ``await_``) in a new greenlet.

Cancellation crosses over: a greenlet killed (or hit by a
:class:`~gevent_lite.timeout.Timeout`) inside ``await_`` cancels the task and
waits for it to finish; a cancelled :func:`as_future` future kills its greenlet
with ``GreenletExit``; killing a :func:`spawn_coroutine` handle cancels its task,
and a task cancelled from the asyncio side ends the handle as if killed.

``await_`` cannot be called by the greenlet that runs the loop (inside a
coroutine): parking there would stop the loop, so it raises ``RuntimeError``
saying to use :func:`to_greenlet`.

Per hub there is one *background loop*, started in a greenlet of its own the
first time a loop is needed and none of ours is running in the thread. It keeps
the hub alive (``hub.join()``, ``gevent_lite.wait()``) only while a greenlet waits
on it, so a program that used an async library once still ends when its
greenlets do.
"""

from __future__ import annotations

import asyncio
from asyncio import events as _events
from typing import Any, Awaitable, Callable, Coroutine

from greenlet import GreenletExit, getcurrent

from ._asyncio_loop import EventLoopPolicy, HubEventLoop, install, new_event_loop
from .greenlet import Greenlet, spawn, spawn_raw
from .hub import Waiter, get_hub

__all__ = [
    'HubEventLoop', 'EventLoopPolicy', 'new_event_loop', 'run', 'await_', 'spawn_coroutine',
    'CoroutineGreenlet', 'as_future', 'to_greenlet', 'get_loop', 'install',
]

_get_running_loop = _events._get_running_loop
_iscoroutine = asyncio.iscoroutine
_Future = asyncio.Future


def run(main: Coroutine[Any, Any, Any], *, debug: bool | None = None) -> Any:
    """``asyncio.run(main)`` on a new :class:`HubEventLoop`; other greenlets keep running.

    Callable from any greenlet whose thread has no running loop at that moment
    (a loop parked in another greenlet does not count).
    """
    if not asyncio.iscoroutine(main):
        raise TypeError('run() needs a coroutine, not %r' % (main,))
    runner_cls = getattr(asyncio, 'Runner', None)
    if runner_cls is not None:
        with runner_cls(debug=debug, loop_factory=new_event_loop) as runner:
            return runner.run(main)
    return _run_py39(main, debug)


def _run_py39(main, debug):
    # Python 3.9/3.10 have no asyncio.Runner: the same steps as their asyncio.run,
    # on our loop, without touching the thread's current-loop setting.
    if _get_running_loop() is not None:
        raise RuntimeError('run() cannot be called from a running event loop')
    loop = new_event_loop()
    try:
        if debug is not None:
            loop.set_debug(debug)
        return loop.run_until_complete(main)
    finally:
        try:
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                for task in tasks:
                    if not task.cancelled() and task.exception() is not None:
                        loop.call_exception_handler({
                            'message': 'unhandled exception during run() shutdown',
                            'exception': task.exception(), 'task': task})
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


# -- which loop: the one running in this thread, else the hub's background loop ----------

def get_loop() -> HubEventLoop:
    """The loop that :func:`await_` and friends use in this thread.

    The running loop when called from a coroutine; else a :class:`HubEventLoop`
    running in some greenlet of this thread (the one started last); else the
    hub's background loop, started now in a greenlet of its own.
    """
    loop = _get_running_loop()
    if isinstance(loop, HubEventLoop):
        return loop
    hub = get_hub()
    running = getattr(hub, '_asyncio_running', None)
    if running:
        return running[-1]
    loop = getattr(hub, '_asyncio_loop', None)
    if loop is None or loop.is_closed():
        loop = hub._asyncio_loop = HubEventLoop(hub)
        loop._daemon = True
    if loop._greenlet is None:
        loop._greenlet = spawn_raw(_run_background, loop)
    return loop


def _run_background(loop):
    try:
        loop.run_forever()
    finally:
        loop._greenlet = None


def _in_loop_error(what):
    return RuntimeError(
        '%s was called in the greenlet that runs the asyncio loop (from a coroutine or a '
        'loop callback): it cannot park there without stopping the loop. Run the '
        'blocking-style code with "await to_greenlet(func, ...)" instead, where %s works.'
        % (what, what))


# -- greenlet -> asyncio ----------------------------------------------------------------

def await_(awaitable: Awaitable[Any]) -> Any:
    """Wait in the current greenlet for ``awaitable`` and return its result.

    A coroutine (or any awaitable) runs as a task on :func:`get_loop`'s loop; an
    asyncio future is waited for on its own loop -- which may also be a loop of
    another thread, or a stdlib loop in a greenlet: that one is spoken to only
    through ``call_soon_threadsafe``. Only the calling greenlet parks.
    The awaitable's exception is raised here with its traceback; a cancelled task
    raises ``asyncio.CancelledError``. If the greenlet is killed or a
    :class:`~gevent_lite.timeout.Timeout` fires while it waits, the task (or
    future) is cancelled and, unless a second interruption comes, waited for
    before the exception propagates, so its cleanup has run.
    """
    # isinstance first: asyncio.isfuture() is a Python function, and this is the
    # whole cost of awaiting a future that is already done.
    if isinstance(awaitable, _Future) or asyncio.isfuture(awaitable):
        fut = awaitable
        if fut.done():
            return fut.result()
        loop = fut.get_loop()
        if not isinstance(loop, HubEventLoop) or loop._hub is not get_hub():
            return _await_foreign(fut, loop)
        if not loop.is_running():
            if loop._daemon:
                get_loop()        # restart the background loop
            else:
                raise RuntimeError('await_(): the loop of %r is not running' % (fut,))
    else:
        coroutine = _iscoroutine(awaitable)
        if not coroutine and not hasattr(awaitable, '__await__'):
            raise TypeError('await_() needs a coroutine, a future or another awaitable, '
                            'not %r' % (awaitable,))
        loop = get_loop()
        if loop._greenlet is getcurrent():
            _close(awaitable)
            raise _in_loop_error('await_()')
        fut = (loop.create_task(awaitable) if coroutine  # type: ignore[arg-type]  # a coroutine here
           else asyncio.ensure_future(awaitable, loop=loop))
    if loop._greenlet is getcurrent():
        raise _in_loop_error('await_()')
    waiter = Waiter(loop._hub)
    done = waiter.wake            # called by the loop, with the future
    fut.add_done_callback(done)
    loop._nwaiting += 1
    loop._wake()                  # a background loop parked idle now keeps the hub alive
    try:
        _park_cancelling(waiter, _cancel_here, fut, loop)
    finally:
        loop._nwaiting -= 1
        if loop._daemon and not loop._nwaiting:
            loop._wake()          # re-park without keeping the hub alive
        fut.remove_done_callback(done)
    return fut.result()


def _await_foreign(fut, loop):
    # A future of a loop that is not ours on this hub: a loop of another thread,
    # or a stdlib loop in a greenlet of this one. We cannot wake such a loop
    # directly, so we talk to it only through call_soon_threadsafe, and it wakes us
    # through the hub's thread-safe queue. hub.ref(): something outside the hub's
    # own bookkeeping will wake this greenlet, so the hub must not give up on it.
    hub = get_hub()
    waiter = Waiter(hub)

    def done(f):                  # runs in the future's loop, maybe another thread
        hub.run_callback_threadsafe(waiter.switch, f)

    loop.call_soon_threadsafe(fut.add_done_callback, done)
    hub.ref()
    try:
        _park_cancelling(waiter, _cancel_foreign, fut, loop)
    finally:
        hub.unref()
    return fut.result()


def _park_cancelling(waiter, cancel, fut, loop):
    """Park on ``waiter`` until ``fut`` is done (its done callback wakes the waiter).

    Killed or timed out meanwhile: ``cancel(fut, loop)`` it and give it the chance to
    finish (its finally blocks, its cleanup) before the interruption goes on; a second
    interruption stops the waiting.
    """
    try:
        waiter.get()
    except BaseException:
        if cancel(fut, loop):
            try:
                waiter.get()      # parks again on the same ticket, until done
            except BaseException:
                pass
        raise


def _cancel_here(fut, loop):
    # A future of a HubEventLoop on this hub: cancel it now, if there is still time.
    if fut.done():
        return False
    fut.cancel()
    loop._wake()
    return True


def _cancel_foreign(fut, loop):
    # Another thread's loop (or a stdlib loop): only through call_soon_threadsafe.
    loop.call_soon_threadsafe(fut.cancel)
    return True


def _isawaitable(obj):
    return asyncio.iscoroutine(obj) or hasattr(obj, '__await__')


def _close(coro):
    close = getattr(coro, 'close', None)
    if close is not None:
        close()          # no "coroutine was never awaited" warning


class CoroutineGreenlet(Greenlet):
    """A greenlet that waits for a task: :func:`spawn_coroutine`'s handle.

    ``join``/``get``/``kill``/``link``/``rawlink``, ``value``, ``exception``,
    ``ready()``/``successful()`` and ``gevent_lite.wait``/``joinall`` work as for
    any :class:`~gevent_lite.greenlet.Greenlet`: the result is the task's.
    ``kill()`` cancels the task (and by default waits until it has finished);
    a task cancelled from the asyncio side makes the handle end as if killed
    (``value`` is a ``GreenletExit``). ``task`` is the :class:`asyncio.Task`.
    """

    def __init__(self, coro: Awaitable[Any], loop: HubEventLoop | None = None) -> None:
        if not _isawaitable(coro):
            raise TypeError('spawn_coroutine() needs a coroutine or another awaitable, '
                            'not %r' % (coro,))
        Greenlet.__init__(self)
        if loop is None:
            loop = get_loop()
        self.task = asyncio.ensure_future(coro, loop=loop)
        # However the handle ends (killed before it started included), the task
        # must not outlive it unnoticed.
        self.rawlink(_cancel_task)

    def _run(self):
        try:
            return await_(self.task)
        except asyncio.CancelledError:
            raise GreenletExit('the task was cancelled') from None

    def _formatinfo(self):
        return repr(self.task)


def _cancel_task(handle):
    task = handle.task
    if not task.done():
        task.cancel()
        loop = task.get_loop()
        if isinstance(loop, HubEventLoop):
            loop._wake()


def spawn_coroutine(coro: Awaitable[Any], loop: HubEventLoop | None = None) -> CoroutineGreenlet:
    """Start ``coro`` as a task (on :func:`get_loop`'s loop) and return a
    :class:`CoroutineGreenlet` handle for it, already started."""
    handle = CoroutineGreenlet(coro, loop)
    handle.start()
    return handle


# -- asyncio -> greenlet ----------------------------------------------------------------

def as_future(greenlet: Greenlet, loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Future:
    """An :class:`asyncio.Future` that resolves when ``greenlet`` finishes.

    Its result is the greenlet's value, its exception the greenlet's exception; a
    greenlet killed with ``GreenletExit`` cancels the future. Cancelling the future
    (e.g. ``asyncio.timeout`` around ``await as_future(g)``, or the awaiting task
    being cancelled) kills the greenlet with ``GreenletExit``, without waiting.

    Call it in the greenlet's thread. The future belongs to ``loop``, by default
    the running loop (from a coroutine), else :func:`get_loop`'s; a loop that is
    not a :class:`HubEventLoop` of this thread's hub (a stdlib loop in a greenlet)
    is handed the outcome with ``call_soon_threadsafe``, which wakes it.
    """
    if not isinstance(greenlet, Greenlet):
        raise TypeError('as_future() needs a gevent_lite Greenlet (spawn() returns one), '
                        'not %r' % (greenlet,))
    if loop is None:
        loop = _get_running_loop() or get_loop()
    fut = loop.create_future()
    direct = isinstance(loop, HubEventLoop) and loop._hub is get_hub()

    def settle(g):
        if fut.done():
            return
        if g.exception is not None:
            fut.set_exception(g.exception)
        elif isinstance(g.value, GreenletExit):
            fut.cancel()
        else:
            fut.set_result(g.value)

    def finished(g):            # a link: runs in the hub when the greenlet is done
        if direct:
            settle(g)           # call_soon from the hub wakes a hub loop
        else:
            loop.call_soon_threadsafe(settle, g)

    def cancelled(f):           # runs in the loop
        if f.cancelled():
            greenlet.unlink(finished)
            if not greenlet.dead:
                greenlet.kill(block=False)

    greenlet.rawlink(finished)
    fut.add_done_callback(cancelled)
    return fut


async def to_greenlet(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``func(*args, **kwargs)`` in a new greenlet and await its result.

    The blocking-style counterpart of ``asyncio.to_thread``: ``func`` runs in the
    same thread, may block cooperatively and may call :func:`await_`. Cancelling
    the awaiting task kills the greenlet.
    """
    return await as_future(spawn(func, *args, **kwargs), _events.get_running_loop())
