"""Concurrent downloads with urllib under monkey.patch_all().

After ``patch_all()`` the standard library's blocking calls park the calling
greenlet, so plain ``urllib.request.urlopen`` runs concurrently in greenlets.
The program starts its own HTTP server on 127.0.0.1 (a free port; each answer
takes 0.3 s) -- no Internet needed -- and downloads five pages at once.

Run: python examples/downloads.py
"""

from gevent_lite import monkey

monkey.patch_all()              # first, before anything else imports socket & co.

import http.server              # noqa: E402  (imported after patching on purpose)
import threading                # noqa: E402
import time                     # noqa: E402
import urllib.request           # noqa: E402

import gevent_lite as gevent    # noqa: E402


class SlowHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.3)         # patched: parks this request's greenlet only
        body = ('page %s\n' % self.path).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass                    # keep the output short


def download(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode().strip()


def main():
    # ThreadingHTTPServer starts a "thread" per request: after patching, a greenlet.
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), SlowHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = 'http://127.0.0.1:%d' % server.server_port

    started = time.monotonic()
    jobs = [gevent.spawn(download, '%s/%d' % (base, n)) for n in range(5)]
    gevent.joinall(jobs, timeout=10, raise_error=True)
    elapsed = time.monotonic() - started
    for job in jobs:
        print(job.value)
    print('elapsed: %.2f s' % elapsed)     # about 0.3 s, not 5 x 0.3 s

    server.shutdown()
    server.server_close()


if __name__ == '__main__':
    main()
