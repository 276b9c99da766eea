"""Blocking calls that cannot cooperate run in the hub's thread pool.

``time.sleep`` from the (unpatched) standard library stands in here for any call
that blocks its OS thread in C -- a C database driver, a compression library, a
file system call. Run in the thread pool, it parks only the greenlet that asked,
while a ticker greenlet keeps running.

Run: python examples/threadpool_blocking.py
"""

import time

import gevent_lite as gevent
import gevent_lite.threadpool  # noqa: F401  (registers the hub's thread pool)


def blocking_call(n):
    time.sleep(0.3)              # blocks a worker thread, not the hub
    return n * n


def ticker(ticks):
    while True:
        ticks.append(time.monotonic())
        gevent.sleep(0.05)


def main():
    pool = gevent.get_hub().threadpool
    ticks = []
    tick = gevent.spawn(ticker, ticks)
    started = time.monotonic()
    results = [pool.spawn(blocking_call, n) for n in range(4)]   # AsyncResults
    print('results:', [r.get() for r in results])                 # get() parks this greenlet
    elapsed = time.monotonic() - started
    tick.kill()
    print('elapsed: %.2f s' % elapsed)
    # The ticker kept running while the four calls blocked their threads.
    print('ticks meanwhile: %s' % ('several' if len(ticks) >= 3 else len(ticks)))


if __name__ == '__main__':
    main()
