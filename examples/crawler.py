"""A web crawler with structured concurrency: a TaskGroup and a move_on_after budget.

Every page is fetched in a child greenlet of one :class:`~gevent_lite.TaskGroup`
(at most four at a time); a fetched page spawns the fetches of its links into
the same group. Leaving the ``with`` block waits for all of them, so when
``crawl()`` returns, no fetch is left running. Two things stop a crawl early:

* the time budget, ``move_on_after(budget)``: when it runs out, every fetch
  still running is cancelled and ``crawl()`` returns what it has;
* a fatal error (here HTTP 403, "we are banned"): the first child that raises
  kills its siblings, and the group raises an ExceptionGroup of the failures.

The program serves a small site on 127.0.0.1 itself (one page never answers in
time, one answers 403), so it needs no Internet. Run: python examples/crawler.py
"""

from gevent_lite import monkey

monkey.patch_all()              # urllib and http.server below become cooperative

import http.server              # noqa: E402  (imported after patching on purpose)
import re                       # noqa: E402
import threading                # noqa: E402
import time                     # noqa: E402
import urllib.error             # noqa: E402
import urllib.request           # noqa: E402

from gevent_lite import TaskGroup, move_on_after            # noqa: E402
from gevent_lite.taskgroup import ExceptionGroup            # noqa: E402  (3.9+)

SITE = {                        # path -> links on that page
    '/': ['/docs', '/blog', '/slow'],
    '/docs': ['/docs/intro', '/docs/api', '/'],
    '/docs/intro': [],
    '/docs/api': ['/docs'],
    '/blog': ['/blog/1', '/blog/2'],
    '/blog/1': [],
    '/blog/2': ['/blog/1'],
    '/slow': [],                # answers after 30 s: only the budget gets us past it
    '/trap': ['/docs', '/slow', '/admin'],
    '/admin': [],               # 403 Forbidden: fatal for this crawler
}


class SiteHandler(http.server.BaseHTTPRequestHandler):
    def handle(self):
        try:
            super().handle()
        except ConnectionError:
            pass                # a fetch the crawler cancelled closed its socket mid-answer

    def do_GET(self):
        if self.path == '/slow':
            time.sleep(30)
        if self.path == '/admin' or self.path not in SITE:
            self.send_error(403 if self.path == '/admin' else 404)
            return
        body = ''.join('<a href="%s">%s</a>\n' % (link, link) for link in SITE[self.path]).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Banned(Exception):
    """The site refused us: no point in fetching anything else."""


def crawl(base, start, budget):
    """Fetch ``start`` and every page reachable from it within ``budget`` seconds."""
    seen = {start}
    fetched = []

    def fetch(path):
        try:
            with urllib.request.urlopen(base + path, timeout=60) as response:
                html = response.read().decode()
        except urllib.error.HTTPError as e:
            if e.code == 403:
                raise Banned(path) from None
            raise
        fetched.append(path)
        for link in re.findall(r'href="([^"]+)"', html):
            if link not in seen:
                seen.add(link)
                tg.spawn(fetch, link)          # into the same group: it waits for these too

    with move_on_after(budget) as budget_scope:
        with TaskGroup(limit=4) as tg:
            tg.spawn(fetch, start)
    return sorted(fetched), budget_scope.cancelled_caught


def main():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), SiteHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = 'http://127.0.0.1:%d' % server.server_port

    started = time.monotonic()
    pages, out_of_time = crawl(base, '/', budget=1.0)
    print('crawled %d pages: %s' % (len(pages), ' '.join(pages)))
    print('budget ran out: %s (after %.1f s)' % (out_of_time, time.monotonic() - started))

    started = time.monotonic()
    try:
        crawl(base, '/trap', budget=10.0)
    except ExceptionGroup as group:
        banned, others = group.split(Banned)
        print('fatal: banned at %s; other errors: %s (after %.1f s)'
              % (banned.exceptions[0], others, time.monotonic() - started))

    server.shutdown()
    server.server_close()


if __name__ == '__main__':
    main()
