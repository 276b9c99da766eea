"""The asyncio bridge: what a greenlet pays to await asyncio, beside plain asyncio switches.

Cases (each returns ``(value, done)``; run.py checks ``done``):

* ``aio_await_done``: a greenlet calls ``await_(fut)`` on an already-done
  future, N times (``lite``); beside it a coroutine doing ``await fut`` on a done
  future in a task (``asyncio``, ``uvloop``).
* ``aio_await_sleep0``: a greenlet calls ``await_(asyncio.sleep(0))`` N times --
  each a full round trip: a task made on the hub's loop, one asyncio switch
  inside it, the task's end waking the greenlet (``lite``). Beside it: plain
  asyncio task switches, ``await asyncio.sleep(0)`` in a task, on the default
  loop (``asyncio``), on uvloop (``uvloop``) and on gevent_lite's hub loop
  (``lite_loop``, the same coroutine on :class:`HubEventLoop`); and the nearest
  asyncio analogue of the round trip, ``await loop.create_task(asyncio.sleep(0))``
  on the default loop (``asyncio_task``).

    python benchmarks/run.py --cases aio_await_done,aio_await_sleep0
"""

import time

perf = time.perf_counter


def _arun(main, impl):
    if impl == 'uvloop':
        import uvloop
        return uvloop.run(main)
    import asyncio
    return asyncio.run(main)


# -- await_ on a done future ---------------------------------------------------------------

def done_lite(n):
    import asyncio  # noqa: F401 (imported before timing, as the others do)
    import gevent_lite
    from gevent_lite.asyncio_bridge import await_, get_loop

    def body():
        fut = get_loop().create_future()
        fut.set_result(1)
        t0 = perf()
        total = 0
        for _ in range(n):
            total += await_(fut)
        return n / (perf() - t0), total

    return gevent_lite.spawn(body).get()


def _done_asyncio(n, impl):
    import asyncio

    async def main():
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(1)
        t0 = perf()
        total = 0
        for _ in range(n):
            total += await fut
        return n / (perf() - t0), total

    return _arun(main(), impl)


def done_asyncio(n):
    return _done_asyncio(n, 'asyncio')


def done_uvloop(n):
    return _done_asyncio(n, 'uvloop')


# -- await_(asyncio.sleep(0)) vs asyncio task switches -----------------------------------

def sleep0_lite(n):
    import asyncio
    import gevent_lite
    from gevent_lite.asyncio_bridge import await_

    def body():
        await_(asyncio.sleep(0))          # start the loop outside the timing
        t0 = perf()
        done = 0
        for _ in range(n):
            await_(asyncio.sleep(0))
            done += 1
        return n / (perf() - t0), done

    return gevent_lite.spawn(body).get()


async def _switches(n):
    import asyncio
    t0 = perf()
    done = 0
    for _ in range(n):
        await asyncio.sleep(0)
        done += 1
    return n / (perf() - t0), done


def sleep0_lite_loop(n):
    from gevent_lite.asyncio_bridge import run
    return run(_switches(n))


def sleep0_asyncio(n):
    return _arun(_switches(n), 'asyncio')


def sleep0_uvloop(n):
    return _arun(_switches(n), 'uvloop')


def sleep0_asyncio_task(n):
    import asyncio

    async def main():
        loop = asyncio.get_running_loop()
        t0 = perf()
        done = 0
        for _ in range(n):
            await loop.create_task(asyncio.sleep(0))
            done += 1
        return n / (perf() - t0), done

    return asyncio.run(main())


CASES = [
    dict(name='aio_await_done', description="await_() on a done future vs 'await fut' in a task",
         unit='awaits/s', higher_is_better=True, n=300_000, quick_n=100_000,
         impls={'lite': done_lite, 'asyncio': done_asyncio, 'uvloop': done_uvloop}),
    dict(name='aio_await_sleep0',
         description='await_(asyncio.sleep(0)) round trips from a greenlet vs asyncio task switches',
         unit='awaits/s', higher_is_better=True, n=50_000, quick_n=20_000,
         impls={'lite': sleep0_lite, 'lite_loop': sleep0_lite_loop, 'asyncio': sleep0_asyncio,
                'asyncio_task': sleep0_asyncio_task, 'uvloop': sleep0_uvloop}),
]
