"""A gunicorn worker class: ``gunicorn -k gevent_lite.worker.GeventLiteWorker app:app``.

Each worker process monkey-patches the stdlib (``gevent_lite.monkey.patch_all``,
when that module is present), then serves every listener gunicorn gave it with a
:class:`gevent_lite.pywsgi.WSGIServer` whose spawn pool holds
``worker_connections`` greenlets, over TLS when gunicorn is given
``--certfile``/``--keyfile`` (the SSL options make one ``SSLContext``, as for
gunicorn's own workers). The main greenlet becomes the heartbeat: it
calls ``self.notify()`` at least twice per ``timeout`` (so the arbiter does not
kill a busy but healthy worker) and watches ``self.alive``, which gunicorn's
SIGTERM handler clears. Then the worker shuts down gracefully: it stops
accepting, closes idle keep-alive connections, gives in-flight requests up to
``graceful_timeout`` seconds and kills what is left, still notifying the
arbiter at the same rate while it waits. SIGQUIT and SIGINT (gunicorn's quick
shutdown, whose handler ends in ``sys.exit``) kill the in-flight requests at
once instead. ``max_requests`` and a
changed parent pid end the worker the same way; code reload (``--reload``) is
gunicorn's own (the base class's reloader).

gunicorn is an optional dependency: importing this module without it raises
ImportError with a clear message.
"""

import os
import sys

try:
    from gunicorn.workers.base import Worker as _GunicornWorker
except ImportError as exc:  # pragma: no cover - exercised only without gunicorn
    raise ImportError('gevent_lite.worker needs gunicorn (pip install gunicorn): %s' % exc) from None

__all__ = ['GeventLiteWorker']


def _patch():
    """Monkey-patch the stdlib (``monkey.patch_all()``); returns True."""
    from . import monkey
    monkey.patch_all()
    return True


class GeventLiteWorker(_GunicornWorker):
    """gunicorn worker serving WSGI with gevent_lite.pywsgi, one greenlet per connection."""

    #: Upper bound on the heartbeat period, seconds.
    heartbeat_interval = 1.0

    def init_process(self):
        from . import hub
        # gunicorn forked us from the arbiter: whatever hub the arbiter had (it
        # should have none) must not be shared with the child. The hub is made
        # BEFORE patching: hub.Hub() reads select.epoll when it is constructed,
        # and patch_all removes epoll from the select module.
        hub.reinit()
        hub.get_hub()
        self.patched = _patch()
        super().init_process()

    def _make_server(self, listener, pool_size):
        from . import socket as gsocket
        from .pywsgi import WSGIServer, LoggingLogAdapter
        raw = getattr(listener, 'sock', listener)
        sock = gsocket.socket(raw.family, raw.type, raw.proto, fileno=os.dup(raw.fileno()))
        access = LoggingLogAdapter(self.log.access_log) if self.cfg.accesslog else None
        errors = LoggingLogAdapter(self.log.error_log, 40)
        environ = {'SERVER_SOFTWARE': 'gunicorn/gevent_lite'}
        server = WSGIServer(sock, self._app, spawn=pool_size, log=access, error_log=errors,
                            environ=environ, **self._ssl_args())
        if self.cfg.workers > 1:
            # Several processes share the listener: take one connection per
            # wake-up so an idle sibling gets its share.
            server.max_accept = 1
        return server

    def _ssl_args(self):
        # gunicorn's --certfile/--keyfile/--ca-certs/--cert-reqs/--ciphers (and a
        # ssl_context hook in its config file) as one SSLContext, the way gunicorn's
        # own workers build it; older gunicorns without gunicorn.sock.ssl_context
        # get the certificate and key only.
        if not self.cfg.is_ssl:
            return {}
        try:
            from gunicorn.sock import ssl_context
        except ImportError:  # pragma: no cover - gunicorn < 21
            return {'certfile': self.cfg.certfile, 'keyfile': self.cfg.keyfile}
        return {'ssl_context': ssl_context(self.cfg)}

    def _app(self, environ, start_response):
        # Count requests for max_requests, then hand over to the application.
        self.nr += 1
        if self.max_requests and self.nr >= self.max_requests and self.alive:
            self.log.info('Autorestarting worker after current request.')
            self.alive = False
        return self.wsgi(environ, start_response)

    def run(self):
        from .hub import sleep
        servers = []
        for listener in self.sockets:
            server = self._make_server(listener, self.cfg.worker_connections)
            server.start()
            servers.append(server)
        interval = self._heartbeat_period()
        graceful = True
        try:
            while self.alive:
                self.notify()
                if self.ppid != os.getppid():
                    self.log.info('Parent changed, shutting down: %s', self)
                    break
                # Park the main greenlet; the servers' greenlets run meanwhile.
                sleep(interval)
        except (SystemExit, KeyboardInterrupt):
            # gunicorn's SIGQUIT/SIGINT handler (handle_quit) ends in sys.exit: a
            # quick shutdown, which must not wait graceful_timeout for requests.
            graceful = False
            raise
        finally:
            self._shutdown(servers, graceful)

    def _heartbeat_period(self):
        # At least twice per arbiter timeout, at most heartbeat_interval apart.
        if self.timeout:
            return min(self.heartbeat_interval, max(0.05, self.timeout / 2.0))
        return self.heartbeat_interval

    def _shutdown(self, servers, graceful=True):
        from .greenlet import joinall, spawn
        from .hub import now
        # Stop accepting everywhere first, then drain all servers in parallel
        # (quick shutdown: kill the handlers at once instead).
        for server in servers:
            server.close()
        self.notify()
        drain = self.cfg.graceful_timeout if graceful else 0
        stoppers = [spawn(server.stop, drain) for server in servers]
        # Keep the heartbeat going while requests drain: when the worker ends itself
        # (max_requests, parent changed) the arbiter's main loop still kills a worker
        # that stays silent for --timeout, which may be shorter than graceful_timeout.
        interval = self._heartbeat_period()
        deadline = now() + drain + 2
        while True:
            left = deadline - now()
            if left <= 0:
                break
            joinall(stoppers, timeout=min(interval, left))
            self.notify()
            if all(stopper.ready() for stopper in stoppers):
                break
        sys.stdout.flush()
