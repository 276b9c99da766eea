"""Settings and events: where a setting comes from, what a bad value says, what the monitor sends.

1. ``config`` takes a value from an assignment, else ``GEVENT_LITE_<NAME>``,
   else gevent's variable, else the default; a bad value names its source.
2. A subscriber in ``gevent_lite.events.subscribers`` receives the monitor's
   events: its start, and an ``EventLoopBlocked`` for a greenlet that blocked
   the hub longer than ``config.max_blocking_time``.
3. A child process started with ``GEVENT_LITE_MONITOR_THREAD=1`` gets a monitor
   with every hub, without a line of code.
"""

import os
import subprocess
import sys
import textwrap
import time

import gevent_lite
from gevent_lite import events
from gevent_lite.config import config, settings

blocking_sleep = time.sleep      # the stdlib's: this program does not monkey-patch


def show_sources():
    # The environment is read on first use; reset() makes config read it again.
    os.environ['GEVENT_MAX_BLOCKING_TIME'] = '0.5'          # gevent's spelling
    config.reset('max_blocking_time')
    print('gevent variable only:       max_blocking_time = %s' % config.max_blocking_time)
    os.environ['GEVENT_LITE_MAX_BLOCKING_TIME'] = '0.25'    # ours wins over gevent's
    config.reset('max_blocking_time')
    print('both variables:             max_blocking_time = %s' % config.max_blocking_time)
    config.max_blocking_time = 0.05                          # assignment wins over both
    print('assigned in the program:    max_blocking_time = %s' % config.max_blocking_time)
    for name, default, variables, _doc in settings():
        if name in ('monitor_thread', 'max_blocking_time'):
            print('setting %s: default %s, from %s' % (name, default, ' or '.join(variables)))


def show_bad_values():
    os.environ['GEVENT_LITE_THREADPOOL_SIZE'] = 'lots'
    config.reset('threadpool_size')
    try:
        print('threadpool_size = %s' % config.threadpool_size)     # not reached
    except ValueError as ex:
        print('ValueError: %s' % ex)
    del os.environ['GEVENT_LITE_THREADPOOL_SIZE']
    config.reset('threadpool_size')
    try:
        config.max_blocking_time = -1
    except ValueError as ex:
        print('ValueError: %s' % ex)


def compress_in_c():
    blocking_sleep(0.2)          # stands in for a C call that holds the thread


def show_monitor_events():
    received = []
    events.subscribers.append(received.append)      # any callable taking the event
    config.print_blocking_reports = False           # events only, no report on stderr
    monitor = gevent_lite.get_hub().start_periodic_monitoring_thread()
    blocker = gevent_lite.spawn(compress_in_c)
    blocker.join()
    gevent_lite.sleep(0.1)
    monitor.kill()
    events.subscribers.remove(received.append)
    # Events from the monitor arrive in its own OS thread; print them here, afterwards.
    for event in received:
        if isinstance(event, events.PeriodicMonitorThreadStartedEvent):
            print('PeriodicMonitorThreadStartedEvent: monitor is ours: %s' % (event.monitor is monitor))
        elif isinstance(event, events.EventLoopBlocked):
            print('EventLoopBlocked: greenlet is the blocker: %s, blocking_time >= 0.05 s: %s'
                  % (event.greenlet is blocker, event.blocking_time >= 0.05))
            function = event.info[-2].rsplit(' in ', 1)[1]
            print('  its stack ends in %s(): %s' % (function, event.info[-1].strip()))


CHILD = textwrap.dedent('''
    import time
    import gevent_lite
    def blocker():
        time.sleep(0.3)
    gevent_lite.spawn(blocker).join()
''')


def show_environment_switch():
    env = dict(os.environ, GEVENT_LITE_MONITOR_THREAD='1', GEVENT_LITE_MAX_BLOCKING_TIME='0.1')
    env.pop('GEVENT_MAX_BLOCKING_TIME', None)
    child = subprocess.run([sys.executable, '-c', CHILD], env=env, capture_output=True,
                           text=True, timeout=30)
    print('child with GEVENT_LITE_MONITOR_THREAD=1: exit %d, %d report(s) on its stderr, '
          'naming blocker(): %s' % (child.returncode, child.stderr.count('appears to be blocked'),
                                    'in blocker' in child.stderr))


def main():
    show_sources()
    show_bad_values()
    show_monitor_events()
    show_environment_switch()


if __name__ == '__main__':
    main()
