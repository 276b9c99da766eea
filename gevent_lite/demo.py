"""A demo of the main job: many greenlets doing real socket I/O at once, in one thread.

Run ``python -m gevent_lite.demo``. A server on 127.0.0.1 answers each request
after a 0.5 s pause; ten clients ask at the same time. Done one after another
this would take 5 s; cooperatively it takes about 0.5 s.
"""

import sys
import time

import gevent_lite
from gevent_lite import socket


def serve(listener, log):
    while True:
        conn, addr = listener.accept()
        gevent_lite.spawn(handle, conn, log)


def handle(conn, log):
    with conn:
        request = conn.recv(1024)
        gevent_lite.sleep(0.5)            # a slow backend: other greenlets run meanwhile
        conn.sendall(b'echo: ' + request)


def client(n, port, log, started):
    with socket.create_connection(('127.0.0.1', port)) as sock:
        sock.sendall(b'hello %d' % n)
        reply = sock.recv(1024)
    log('client %d got %r after %.2f s' % (n, reply.decode(), time.monotonic() - started))
    return reply


def main(clients=10, out=sys.stdout):
    def log(msg):
        out.write(msg + '\n')
        out.flush()

    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    log('server listening on 127.0.0.1:%d; %d clients, each answer takes 0.5 s' % (port, clients))
    server = gevent_lite.spawn(serve, listener, log)
    started = time.monotonic()
    jobs = [gevent_lite.spawn(client, n, port, log, started) for n in range(clients)]
    gevent_lite.joinall(jobs, raise_error=True)
    elapsed = time.monotonic() - started
    server.kill()
    listener.close()
    log('%d requests in %.2f s (one after another they would take %.1f s)'
        % (clients, elapsed, clients * 0.5))
    return elapsed


if __name__ == '__main__':
    main()
