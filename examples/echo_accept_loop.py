"""An echo server written as a plain accept loop, one greenlet per connection.

The program starts the server on 127.0.0.1 (a free port), talks to it with five
clients at the same time, prints what came back and stops.

Run: python examples/echo_accept_loop.py
"""

import gevent_lite as gevent
from gevent_lite import socket


def handle(conn, address):
    # Each connection has its own greenlet: recv() parks only this greenlet.
    with conn:
        while True:
            data = conn.recv(1024)
            if not data:             # the client closed its side
                break
            conn.sendall(data)


def accept_loop(listener):
    while True:
        conn, address = listener.accept()    # parks until a client connects
        gevent.spawn(handle, conn, address)


def client(port, n):
    with socket.create_connection(('127.0.0.1', port)) as sock:
        for i in range(3):
            message = b'client %d line %d' % (n, i)
            sock.sendall(message)
            reply = b''
            while len(reply) < len(message):
                reply += sock.recv(1024)
            assert reply == message, (reply, message)
    return n


def main():
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    print('echo server on 127.0.0.1:%d' % port)
    server = gevent.spawn(accept_loop, listener)

    clients = [gevent.spawn(client, port, n) for n in range(5)]
    gevent.joinall(clients, timeout=10, raise_error=True)
    print('clients finished:', sorted(c.value for c in clients))

    server.kill()                # GreenletExit is raised inside accept()
    listener.close()


if __name__ == '__main__':
    main()
