"""The blocking detector: one report for a greenlet that blocks the hub, none for one that waits.

The stdlib's ``time.sleep`` is not patched here, so a greenlet calling it stops
every greenlet of the thread. The monitor thread notices and reports it once,
with the stack of the blocking call. A program that waits only in
``gevent_lite.sleep`` gives no report.
"""

import io
import time

import gevent_lite

blocking_sleep = time.sleep      # the stdlib's: this program does not monkey-patch


def read_settings_from_disk():
    blocking_sleep(0.3)          # stands in for a blocking C call
    return 'settings'


def polite_worker(n):
    for _ in range(3):
        gevent_lite.sleep(0.1)   # parks this greenlet; the hub runs the others
    return n


def main():
    reports = io.StringIO()
    monitor = gevent_lite.get_hub().start_periodic_monitoring_thread(stream=reports)
    print('max_blocking_time: %s s' % monitor.max_blocking_time)

    # Part 1: a greenlet that blocks the hub for 0.3 s.
    gevent_lite.spawn(read_settings_from_disk).join()
    gevent_lite.sleep(0.3)       # a few more periods: still one report for one incident
    text = reports.getvalue()
    print('reports after the blocking call: %d' % text.count('appears to be blocked'))
    print(text, end='')

    # Part 2: only cooperative waits.
    monitor.stream = quiet = io.StringIO()
    workers = [gevent_lite.spawn(polite_worker, n) for n in range(3)]
    gevent_lite.joinall(workers)
    gevent_lite.sleep(0.3)       # an idle hub waits in the poller: that is not blocking
    print('workers: %s' % [w.value for w in workers])
    print('reports while only cooperative waits ran: %d'
          % quiet.getvalue().count('appears to be blocked'))
    monitor.kill()


if __name__ == '__main__':
    main()
