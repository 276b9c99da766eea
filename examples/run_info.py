"""Run information: the live greenlets as a spawn tree, the pending timers, the watched fds.

A "server" greenlet spawns two "handler" greenlets that wait on an event; a
"janitor" sleeps on a timer; a "reader" waits for a socket to become readable.
``print_run_info()`` shows all of it without disturbing any of them.
"""

import socket
import sys

import gevent_lite
from gevent_lite.event import Event
from gevent_lite.greenlet import Greenlet
from gevent_lite.hub import READ, get_hub
from gevent_lite.util import print_run_info

Greenlet.capture_spawning_stack = True       # record where each greenlet was spawned


def handler(n, done):
    done.wait()                              # parked on the event
    return n


def server(done):
    gevent_lite.getcurrent().spawn_tree_locals['request_id'] = 'req-42'
    handlers = []
    for n in range(2):
        h = gevent_lite.spawn(handler, n, done)
        h.name = 'handler-%d' % n
        handlers.append(h)
    gevent_lite.joinall(handlers)
    return [h.value for h in handlers]


def janitor():
    gevent_lite.sleep(30)                    # a pending timer


def reader(sock):
    get_hub().wait_fd(sock.fileno(), READ)   # a watched fd
    return sock.recv(100)


def main():
    done = Event()
    a, b = socket.socketpair()
    greenlets = [
        gevent_lite.spawn(server, done),
        gevent_lite.spawn(janitor),
        gevent_lite.spawn(reader, a),
    ]
    for g, name in zip(greenlets, ['server', 'janitor', 'reader']):
        g.name = name
    gevent_lite.sleep(0.05)                  # let them all start and park

    print('--- the overview: greenlet_stacks=False')
    print_run_info(thread_stacks=False, greenlet_stacks=False, file=sys.stdout)
    print('--- with the greenlets\' stacks (the default)')
    print_run_info(thread_stacks=False, file=sys.stdout)
    print('---')

    done.set()
    b.sendall(b'ping')
    greenlets[1].kill()
    gevent_lite.joinall(greenlets)
    print('server: %s, reader: %r' % (greenlets[0].value, greenlets[2].value))
    a.close()
    b.close()


if __name__ == '__main__':
    main()
