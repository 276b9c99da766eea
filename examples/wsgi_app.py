"""A WSGI application served by gevent_lite.pywsgi.

The application sleeps 0.2 s per request (standing in for a slow database or an
upstream API). Ten requests arrive at once; because each is handled in its own
greenlet, they all finish in about 0.2 s. The client side speaks plain HTTP/1.1
over a green socket so that the whole program stays in one thread.

Run: python examples/wsgi_app.py
"""

import time

import gevent_lite as gevent
from gevent_lite import socket
from gevent_lite.pywsgi import WSGIServer


def application(environ, start_response):
    gevent.sleep(0.2)                         # parks this request's greenlet only
    body = b'Hello, %s!\n' % environ['PATH_INFO'].lstrip('/').encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]


def fetch(port, path):
    """GET ``path`` and return (status line, body)."""
    with socket.create_connection(('127.0.0.1', port)) as sock:
        sock.sendall(b'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'
                     % path.encode())
        response = b''
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            response += chunk
    head, _, body = response.partition(b'\r\n\r\n')
    return head.split(b'\r\n')[0].decode(), body.decode()


def main():
    server = WSGIServer(('127.0.0.1', 0), application, log=None)
    server.start()
    print('serving on http://127.0.0.1:%d/' % server.server_port)

    started = time.monotonic()
    jobs = [gevent.spawn(fetch, server.server_port, '/user%d' % n) for n in range(10)]
    gevent.joinall(jobs, timeout=10, raise_error=True)
    elapsed = time.monotonic() - started
    status, body = jobs[3].value
    print(status)
    print(body.strip())
    print('%d responses' % sum(job.value[0] == 'HTTP/1.1 200 OK' for job in jobs))
    print('elapsed: %.2f s' % elapsed)       # about 0.2 s, not 10 x 0.2 s
    server.stop()


if __name__ == '__main__':
    main()
