"""An XML-RPC server with socketserver's ThreadingMixIn, its threads made greenlets.

``patch_socket``, ``patch_select`` and ``patch_thread`` make the stdlib's
``socketserver`` cooperative: ``serve_forever`` waits in a green selector and
every request gets a green "thread". Five clients (also threads, so also
greenlets) call a method that takes 0.3 s; together they take about 0.3 s.

Run: python examples/xmlrpc_threads.py
"""

from gevent_lite import monkey

monkey.patch_socket()
monkey.patch_select()
monkey.patch_thread()
monkey.patch_time()

import socketserver             # noqa: E402
import threading                # noqa: E402
import time                     # noqa: E402
import xmlrpc.client            # noqa: E402
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer  # noqa: E402


class ThreadingXMLRPCServer(socketserver.ThreadingMixIn, SimpleXMLRPCServer):
    daemon_threads = True


class QuietHandler(SimpleXMLRPCRequestHandler):
    def log_message(self, *args):
        pass


def slow_square(x):
    time.sleep(0.3)
    return x * x


def main():
    server = ThreadingXMLRPCServer(('127.0.0.1', 0), requestHandler=QuietHandler,
                                   allow_none=True)
    server.register_function(slow_square)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    url = 'http://127.0.0.1:%d/' % server.server_address[1]

    results = {}

    def call(n):
        with xmlrpc.client.ServerProxy(url) as proxy:
            results[n] = proxy.slow_square(n)

    started = time.monotonic()
    clients = [threading.Thread(target=call, args=(n,)) for n in range(5)]
    for t in clients:
        t.start()
    for t in clients:
        t.join(timeout=10)
    elapsed = time.monotonic() - started
    print('results:', [results.get(n) for n in range(5)])
    print('elapsed: %.2f s' % elapsed)    # about 0.3 s, not 5 x 0.3 s

    server.shutdown()
    server.server_close()


if __name__ == '__main__':
    main()
