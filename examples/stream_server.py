"""An echo server on StreamServer, with a pool that caps concurrent connections.

StreamServer owns the listening socket and the accept greenlet, spawns
``handle(socket, address)`` per connection, and stops gracefully. The program
serves on 127.0.0.1 (a free port), runs a few clients, and stops the server.

Run: python examples/stream_server.py
"""

import gevent_lite as gevent
from gevent_lite import socket
from gevent_lite.server import StreamServer


def handle(conn, address):
    # A file-like wrapper works too: readline() parks this greenlet only.
    rfile = conn.makefile('rb')
    try:
        for line in rfile:
            conn.sendall(b'echo: ' + line)
    finally:
        rfile.close()
        conn.close()


def client(port, n):
    with socket.create_connection(('127.0.0.1', port)) as sock:
        sock.sendall(b'hello from client %d\n' % n)
        reply = b''
        while not reply.endswith(b'\n'):
            chunk = sock.recv(1024)
            if not chunk:
                break
            reply += chunk
    return reply.decode().strip()


def main():
    # spawn=10: at most ten connections are served at once; the rest wait in the backlog.
    server = StreamServer(('127.0.0.1', 0), handle, spawn=10)
    server.start()                   # binds and returns at once; serving runs in the hub
    print('serving on %s:%d' % (server.server_host, server.server_port))

    clients = [gevent.spawn(client, server.server_port, n) for n in range(3)]
    gevent.joinall(clients, timeout=10, raise_error=True)
    for c in clients:
        print(c.value)

    server.stop(timeout=2)           # stop accepting, let handlers finish, kill stragglers
    print('stopped:', server.closed)


if __name__ == '__main__':
    main()
