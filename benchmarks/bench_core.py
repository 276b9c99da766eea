"""Core cases: raw switches, sleep(0), spawn+join, many timers, memory per greenlet.

Anchors beside gevent and eventlet: asyncio on its default loop and asyncio on
uvloop (libuv, compiled; the same coroutine code, only the loop differs), and raw
greenlet for the physical limits of any greenlet library (a switch; a greenlet
created, switched into and finished).

Each function measures one case for one implementation and returns
``(value, done)``: the number in the case's unit, and how much work it really did,
which run.py compares with the case's ``expected(n)``. Implementations are
imported inside the functions, so loading this module (in the harness) imports
none of them, and each measurement's subprocess imports only its own.
"""

import gc
import os
import random
import time

perf = time.perf_counter


# --------------------------------------------------------------------------------------
# Helpers

def _rss_bytes():
    """Resident set size of this process, from /proc/self/statm (Linux)."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def _gevent_like(impl):
    """gevent_lite and gevent share the API these cases use."""
    if impl == 'lite':
        import gevent_lite as mod
    else:
        import gevent as mod
    return mod


def _delays(n):
    """The timer case's sleeps: n random values in [0, 0.05) s, fixed seed."""
    rnd = random.Random(12345)
    return [rnd.uniform(0.0, 0.05) for _ in range(n)]


def _arun(main, impl):
    """Run coroutine ``main`` to completion on asyncio's default loop or on uvloop's."""
    if impl == 'uvloop':
        import uvloop
        return uvloop.run(main)
    import asyncio
    return asyncio.run(main)


# --------------------------------------------------------------------------------------
# (1) raw greenlet.switch ping-pong: the physical limit of any greenlet library

def switch_greenlet(n):
    from greenlet import getcurrent, greenlet
    main = getcurrent()

    def pong(stop):
        count = 0
        back = main.switch
        while stop is None:
            count += 1
            stop = back()
        return count

    g = greenlet(pong)
    sw = g.switch
    gc.collect()
    t0 = perf()
    for _ in range(n):
        sw(None)
    dt = perf() - t0
    done = g.switch(True)           # pong returns how many round trips it saw
    return 2 * n / dt, done


# --------------------------------------------------------------------------------------
# (2) sleep(0) between 2 greenlets, n each

def _sleep0_gevent_like(impl, n, monitor=False):
    mod = _gevent_like(impl)
    counts = [0, 0]
    if monitor:
        # The blocking detector's OS thread (gevent's name for the call): what it
        # costs a switch-heavy program when it is on. gevent's hub method starts
        # it only when its config says so.
        mod.config.monitor_thread = True
        monitor = mod.get_hub().start_periodic_monitoring_thread()
        if monitor is None:
            raise RuntimeError('%s: no monitor thread started' % impl)

    def worker(i):
        sleep = mod.sleep
        c = 0
        for _ in range(n):
            sleep(0)
            c += 1
        counts[i] = c

    mod.sleep(0)                    # create the hub outside the timing
    gc.collect()
    t0 = perf()
    mod.joinall([mod.spawn(worker, 0), mod.spawn(worker, 1)])
    dt = perf() - t0
    return 2 * n / dt, sum(counts)


def sleep0_lite(n):
    return _sleep0_gevent_like('lite', n)


def sleep0_gevent(n):
    return _sleep0_gevent_like('gevent', n)


def sleep0_lite_monitor(n):
    return _sleep0_gevent_like('lite', n, monitor=True)


def sleep0_gevent_monitor(n):
    return _sleep0_gevent_like('gevent', n, monitor=True)


def sleep0_eventlet(n):
    import eventlet
    counts = [0, 0]

    def worker(i):
        sleep = eventlet.sleep
        c = 0
        for _ in range(n):
            sleep(0)
            c += 1
        counts[i] = c

    eventlet.sleep(0)
    gc.collect()
    t0 = perf()
    gts = [eventlet.spawn(worker, 0), eventlet.spawn(worker, 1)]
    for g in gts:
        g.wait()
    dt = perf() - t0
    return 2 * n / dt, sum(counts)


def _sleep0_asyncio(n, impl):
    import asyncio
    counts = [0, 0]

    async def worker(i):
        sleep = asyncio.sleep
        c = 0
        for _ in range(n):
            await sleep(0)
            c += 1
        counts[i] = c

    async def main():
        gc.collect()
        t0 = perf()
        await asyncio.gather(worker(0), worker(1))
        return perf() - t0

    dt = _arun(main(), impl)
    return 2 * n / dt, sum(counts)


def sleep0_asyncio(n):
    return _sleep0_asyncio(n, 'asyncio')


def sleep0_uvloop(n):
    return _sleep0_asyncio(n, 'uvloop')


# --------------------------------------------------------------------------------------
# (3) spawn n no-op greenlets, then join them all

def _python_noop(counter):
    """A no-op greenlet body that is a Python function, as real greenlet bodies are.

    A C callable (e.g. ``counter.__next__`` itself) would run no Python frame in
    the new greenlet, which skips CPython's per-greenlet frame-stack allocation
    (an mmap/munmap pair on 3.11+) and flatters libraries whose own run() is C.
    """
    tick = counter.__next__

    def noop():
        tick()
    return noop


def _spawn_gevent_like(impl, n):
    from itertools import count
    mod = _gevent_like(impl)
    ran = count()
    noop = _python_noop(ran)
    spawn = mod.spawn
    mod.sleep(0)
    gc.collect()
    t0 = perf()
    gs = [spawn(noop) for _ in range(n)]
    mod.joinall(gs)
    dt = perf() - t0
    done = next(ran)
    if not all(g.dead for g in gs):
        done = -1
    return n / dt, done


def spawn_lite(n):
    return _spawn_gevent_like('lite', n)


def spawn_gevent(n):
    return _spawn_gevent_like('gevent', n)


def spawn_eventlet(n):
    from itertools import count

    import eventlet
    ran = count()
    noop = _python_noop(ran)
    spawn = eventlet.spawn
    eventlet.sleep(0)
    gc.collect()
    t0 = perf()
    gts = [spawn(noop) for _ in range(n)]
    for g in gts:
        g.wait()
    dt = perf() - t0
    done = next(ran)
    if not all(g.dead for g in gts):
        done = -1
    return n / dt, done


def _spawn_asyncio(n, impl):
    import asyncio
    from itertools import count
    ran = count()

    async def noop():
        next(ran)

    async def main():
        create_task = asyncio.get_running_loop().create_task
        gc.collect()
        t0 = perf()
        tasks = [create_task(noop()) for _ in range(n)]
        await asyncio.gather(*tasks)
        dt = perf() - t0
        return dt, all(t.done() for t in tasks)

    dt, all_done = _arun(main(), impl)
    done = next(ran) if all_done else -1
    return n / dt, done


def spawn_asyncio(n):
    return _spawn_asyncio(n, 'asyncio')


def spawn_uvloop(n):
    return _spawn_asyncio(n, 'uvloop')


def spawn_greenlet(n):
    """The physical limit of spawn + join: n raw greenlets created, each switched into once
    from the main greenlet and left to finish (its parent, main, resumes). Same body and
    same order as the libraries' case: create all n, then run them all."""
    from itertools import count

    from greenlet import greenlet
    ran = count()
    noop = _python_noop(ran)
    gc.collect()
    t0 = perf()
    gs = [greenlet(noop) for _ in range(n)]
    for g in gs:
        g.switch()
    dt = perf() - t0
    done = next(ran)
    if not all(g.dead for g in gs):
        done = -1
    return n / dt, done


# --------------------------------------------------------------------------------------
# (4) n timers: n greenlets each sleep a random 0-50 ms; overhead = wall - longest sleep

def _timers_gevent_like(impl, n):
    mod = _gevent_like(impl)
    delays = _delays(n)
    woke = []
    sleep = mod.sleep

    def sleeper(d):
        sleep(d)
        woke.append(d)

    mod.sleep(0)
    gc.collect()
    t0 = perf()
    mod.joinall([mod.spawn(sleeper, d) for d in delays])
    wall = perf() - t0
    return wall - max(delays), len(woke)


def timers_lite(n):
    return _timers_gevent_like('lite', n)


def timers_gevent(n):
    return _timers_gevent_like('gevent', n)


def timers_eventlet(n):
    import eventlet
    delays = _delays(n)
    woke = []
    sleep = eventlet.sleep

    def sleeper(d):
        sleep(d)
        woke.append(d)

    eventlet.sleep(0)
    gc.collect()
    t0 = perf()
    gts = [eventlet.spawn(sleeper, d) for d in delays]
    for g in gts:
        g.wait()
    wall = perf() - t0
    return wall - max(delays), len(woke)


def _timers_asyncio(n, impl):
    import asyncio
    delays = _delays(n)
    woke = []

    async def sleeper(d):
        await asyncio.sleep(d)
        woke.append(d)

    async def main():
        create_task = asyncio.get_running_loop().create_task
        gc.collect()
        t0 = perf()
        await asyncio.gather(*[create_task(sleeper(d)) for d in delays])
        return perf() - t0

    wall = _arun(main(), impl)
    return wall - max(delays), len(woke)


def timers_asyncio(n):
    return _timers_asyncio(n, 'asyncio')


def timers_uvloop(n):
    return _timers_asyncio(n, 'uvloop')


# --------------------------------------------------------------------------------------
# (5) memory per parked greenlet: n greenlets sleep(10); RSS delta / n, then kill them

_PARK_DEADLINE = 30.0   # seconds to wait for all n to park; bounded, never a hang


def _memory_gevent_like(impl, n):
    mod = _gevent_like(impl)
    parked = []

    def sleeper(i):
        parked.append(i)
        mod.sleep(10)

    mod.sleep(0)
    gc.collect()
    before = _rss_bytes()
    gs = [mod.spawn(sleeper, i) for i in range(n)]
    deadline = perf() + _PARK_DEADLINE
    while len(parked) < n and perf() < deadline:
        mod.sleep(0.001)
    gc.collect()
    after = _rss_bytes()
    nparked = len(parked)
    mod.killall(gs, timeout=_PARK_DEADLINE)
    if not all(g.dead for g in gs):
        nparked = -1
    return (after - before) / 1024.0 / n, nparked


def memory_lite(n):
    return _memory_gevent_like('lite', n)


def memory_gevent(n):
    return _memory_gevent_like('gevent', n)


def memory_eventlet(n):
    import eventlet
    parked = []

    def sleeper(i):
        parked.append(i)
        eventlet.sleep(10)

    eventlet.sleep(0)
    gc.collect()
    before = _rss_bytes()
    gts = [eventlet.spawn(sleeper, i) for i in range(n)]
    deadline = perf() + _PARK_DEADLINE
    while len(parked) < n and perf() < deadline:
        eventlet.sleep(0.001)
    gc.collect()
    after = _rss_bytes()
    nparked = len(parked)
    for g in gts:
        g.kill()
    if not all(g.dead for g in gts):
        nparked = -1
    return (after - before) / 1024.0 / n, nparked


def _memory_asyncio(n, impl):
    import asyncio
    parked = []

    async def sleeper(i):
        parked.append(i)
        await asyncio.sleep(10)

    async def main():
        create_task = asyncio.get_running_loop().create_task
        gc.collect()
        before = _rss_bytes()
        tasks = [create_task(sleeper(i)) for i in range(n)]
        deadline = perf() + _PARK_DEADLINE
        while len(parked) < n and perf() < deadline:
            await asyncio.sleep(0.001)
        gc.collect()
        after = _rss_bytes()
        nparked = len(parked)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if not all(t.cancelled() for t in tasks):
            nparked = -1
        return (after - before) / 1024.0 / n, nparked

    return _arun(main(), impl)


def memory_asyncio(n):
    return _memory_asyncio(n, 'asyncio')


def memory_uvloop(n):
    return _memory_asyncio(n, 'uvloop')


# --------------------------------------------------------------------------------------

CASES = [
    dict(name='switch', description='raw greenlet.switch ping-pong (the physical limit)',
         unit='switches/s', higher_is_better=True, n=1_000_000, quick_n=300_000,
         impls={'greenlet': switch_greenlet}),
    dict(name='sleep0', description='sleep(0) switches between 2 greenlets',
         unit='switches/s', higher_is_better=True, n=100_000, quick_n=100_000,
         expected=lambda n: 2 * n, target='>= uvloop',
         impls={'lite': sleep0_lite, 'gevent': sleep0_gevent, 'eventlet': sleep0_eventlet,
                'asyncio': sleep0_asyncio, 'uvloop': sleep0_uvloop}),
    dict(name='sleep0_monitor', description='sleep(0) switches, blocking monitor thread off and on',
         unit='switches/s', higher_is_better=True, n=100_000, quick_n=100_000,
         expected=lambda n: 2 * n,
         impls={'lite': sleep0_lite, 'lite_monitor': sleep0_lite_monitor,
                'gevent': sleep0_gevent, 'gevent_monitor': sleep0_gevent_monitor}),
    # 'greenlet' here is the raw create + switch-in + finish: the ceiling of spawn + join.
    dict(name='spawn', description='spawn + join of no-op greenlets',
         unit='greenlets/s', higher_is_better=True, n=100_000, quick_n=30_000,
         target='>= 0.8x greenlet',
         impls={'greenlet': spawn_greenlet, 'lite': spawn_lite, 'gevent': spawn_gevent,
                'eventlet': spawn_eventlet, 'asyncio': spawn_asyncio, 'uvloop': spawn_uvloop}),
    dict(name='timers', description='10k timers (random sleeps <= 50 ms), overhead',
         unit='s', higher_is_better=False, n=10_000, quick_n=10_000, target='<= 0.7x gevent',
         impls={'lite': timers_lite, 'gevent': timers_gevent, 'eventlet': timers_eventlet,
                'asyncio': timers_asyncio, 'uvloop': timers_uvloop}),
    dict(name='memory', description='memory per sleeping greenlet',
         unit='KB', higher_is_better=False, n=10_000, quick_n=10_000, target='<= gevent',
         quick_rounds=1,    # the same to the byte, run after run
         impls={'lite': memory_lite, 'gevent': memory_gevent, 'eventlet': memory_eventlet,
                'asyncio': memory_asyncio, 'uvloop': memory_uvloop}),
]
