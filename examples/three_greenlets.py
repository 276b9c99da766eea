"""Three greenlets that sleep: they take turns, and the total is the longest sleep.

Run: python examples/three_greenlets.py
"""

import time

import gevent_lite as gevent


def worker(name, pause):
    print('%s: start' % name)
    gevent.sleep(pause)          # parks this greenlet; the hub runs the others meanwhile
    print('%s: done after %.1f s' % (name, pause))
    return name


def main():
    started = time.monotonic()
    jobs = [gevent.spawn(worker, 'a', 0.3),
            gevent.spawn(worker, 'b', 0.1),
            gevent.spawn(worker, 'c', 0.2)]
    gevent.joinall(jobs)
    elapsed = time.monotonic() - started
    print('results:', [job.value for job in jobs])
    # One after another this would take 0.6 s; together it takes about 0.3 s.
    print('elapsed: %.2f s' % elapsed)


if __name__ == '__main__':
    main()
