"""An interactive Python console over TCP, for looking inside a live process.

:class:`BackdoorServer` is a :class:`~gevent_lite.server.StreamServer` whose
handler runs a ``code.InteractiveConsole`` per connection, in that connection's
greenlet. Connect with ``nc 127.0.0.1 PORT`` (or telnet) and type Python: the
statements run inside the server process, next to its greenlets, so
``gevent_lite.util.print_run_info()`` or a look at your own objects shows what
is going on. Each connection gets its own namespace (a copy of ``locals``), so
names one session defines do not appear in another.

Output goes to the client that typed the statement, and input comes from it:
while any console statement runs, ``sys.stdout``/``sys.stderr``/``sys.stdin``
are replaced by a greenlet-aware proxy that talks to the console of the current
greenlet (or of the console greenlet that spawned it) and to the original
stream for every other greenlet. So ``input()``, ``help()`` and
``sys.stdin.readline()`` typed into a session read the session's next line
(never the process's real stdin, which would freeze the hub). Reading a line
parks the session's greenlet on its socket, so an idle session costs nothing;
a statement that blocks (``time.sleep``) blocks the hub like any other code.
A line longer than ``MAX_LINE`` bytes (1 MiB) ends the session.

A session ends on EOF (Ctrl-D), ``exit()``/``quit()`` (the ``SystemExit`` ends
the session, never the process) or a disconnect; a client that vanishes in the
middle of a statement ends only its own session.

Security: anyone who can connect can run any code as this process. The server
binds ``127.0.0.1`` by default and warns loudly (``warnings.warn`` and a
message on stderr) when bound to any other address. Command line:
``python -m gevent_lite.backdoor [--bind HOST:PORT]``.
"""

import builtins
import code
import io
import socket as _stdsocket
import sys
import warnings
import weakref
from typing import Any

from greenlet import getcurrent

from .greenlet import Greenlet
from .server import StreamServer, parse_address

__all__ = ['BackdoorServer']

DEFAULT_BIND = '127.0.0.1:9000'
#: Longest input line a session accepts (bytes); a longer one ends the session.
MAX_LINE = 1 << 20


class _SessionClosed(Exception):
    """The client went away."""


class _ClientStream:
    """The client's side of a session: a text file over the green socket."""

    encoding = 'utf-8'
    errors = 'replace'

    def __init__(self, sock):
        self.sock = sock
        # The socket's own buffered reader does the line reading: readline(limit)
        # stops at the limit and scans only the bytes each recv_into adds (linear
        # time). The session's handler closes it (the fd closes only after it).
        self.rfile = sock.makefile('rb', 65536)
        self.closed = False

    def write(self, data):
        if self.closed:
            raise _SessionClosed()
        if isinstance(data, str):
            data = data.replace('\n', '\r\n').encode('utf-8', 'backslashreplace')
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True
            raise _SessionClosed() from None
        return len(data)

    def flush(self):
        pass

    def isatty(self):
        # False, so pydoc (help()) pages through sys.stdout instead of running a
        # pager program on the process's terminal.
        return False

    def fileno(self):
        # No descriptor: builtin input() then prompts on sys.stdout and calls
        # sys.stdin.readline() -- both ours -- instead of the C-level terminal.
        raise io.UnsupportedOperation('a backdoor session has no file descriptor')

    def readline(self, size=-1):
        # Parks in the socket's recv_into (hub.wait_fd) until the client sends a
        # line; MAX_LINE + 1 bytes without a newline end the session.
        try:
            line = self.rfile.readline(MAX_LINE + 1)
        except OSError:
            line = b''
        if line.endswith(b'\n'):
            return line[:-1].rstrip(b'\r').decode('utf-8', 'replace') + '\n'
        if len(line) > MAX_LINE:
            self.write('\nline longer than %d bytes: session closed\n' % MAX_LINE)
            self.closed = True
            raise _SessionClosed()
        self.closed = True            # EOF: the last, unterminated line
        return line.decode('utf-8', 'replace')


class _GreenletStreams:
    """A ``sys.stdout``/``sys.stderr``/``sys.stdin`` stand-in that routes by greenlet."""

    def __init__(self, original, sessions):
        self._original = original
        self._sessions = sessions

    def _target(self):
        g = getcurrent()
        sessions = self._sessions
        for _ in range(64):        # follow the spawn chain a bounded number of steps
            if g is None:
                break
            stream = sessions.get(g)
            if stream is not None:
                return stream
            g = g.spawning_greenlet() if isinstance(g, Greenlet) else None
        return self._original

    def write(self, data):
        return self._target().write(data)

    def flush(self):
        return self._target().flush()

    def readline(self, size=-1):
        return self._target().readline(size)

    def isatty(self):
        return self._target().isatty()

    def fileno(self):
        return self._target().fileno()

    def __getattr__(self, name):
        return getattr(self._target(), name)


# greenlet -> _ClientStream of its session; weak so finished sessions vanish.
_sessions: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_running = 0       # statements being executed (possibly parked) right now
_proxies: list[Any] = []      # [(name, proxy)] installed on sys while _running > 0


def _enter_statement():
    # The proxies are installed while at least one statement runs, not for the
    # server's lifetime: whoever replaces sys.stdout between statements (a test
    # runner, a logging setup) is honoured, and an idle server changes nothing.
    global _running
    _running += 1
    if _running == 1:
        for name in ('stdout', 'stderr', 'stdin'):
            current = getattr(sys, name)
            if isinstance(current, _GreenletStreams):
                continue
            proxy = _GreenletStreams(current, _sessions)
            setattr(sys, name, proxy)
            _proxies.append((name, proxy))


def _exit_statement():
    global _running
    _running -= 1
    if _running == 0:
        while _proxies:
            name, proxy = _proxies.pop()
            if getattr(sys, name) is proxy:     # replaced by someone else meanwhile: leave it
                setattr(sys, name, proxy._original)


class _Console(code.InteractiveConsole):
    def __init__(self, stream, namespace):
        code.InteractiveConsole.__init__(self, namespace)
        self.stream = stream

    def raw_input(self, prompt=''):
        self.stream.write(prompt)
        line = self.stream.readline()
        if not line:
            raise EOFError
        return line.rstrip('\n')

    def write(self, data):
        self.stream.write(data)

    def runcode(self, code_obj):
        _enter_statement()
        try:
            code.InteractiveConsole.runcode(self, code_obj)
        finally:
            _exit_statement()


class _SessionExit:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return 'Use %s() or Ctrl-D (i.e. EOF) to end this session' % self.name

    def __call__(self, code=None):
        raise SystemExit(code)


def _is_loopback(host):
    if host in ('localhost',):
        return True
    try:
        infos = _stdsocket.getaddrinfo(host or None, None, 0, _stdsocket.SOCK_STREAM,
                                       0, _stdsocket.AI_NUMERICHOST)
    except (OSError, UnicodeError):
        return False
    import ipaddress
    for info in infos:
        try:
            if not ipaddress.ip_address(info[4][0].split('%')[0]).is_loopback:
                return False
        except ValueError:
            return False
    return bool(host)


class BackdoorServer(StreamServer):
    """A Python console server: ``BackdoorServer(('127.0.0.1', 9000)).serve_forever()``.

    ``locals`` seeds each session's namespace (a shallow copy per connection);
    ``banner`` is printed on connect (default: the Python version and how to
    leave). Other keyword arguments go to :class:`~gevent_lite.server.StreamServer`.
    """

    def __init__(self, listener, locals=None, banner=None, **server_args):
        StreamServer.__init__(self, listener, spawn=server_args.pop('spawn', 'default'),
                              **server_args)
        self.locals = locals if locals is not None else {}
        self.banner = banner
        host = self.address[0] if isinstance(self.address, tuple) else None
        if host is not None and not _is_loopback(host):
            msg = ('gevent_lite.backdoor: the backdoor listens on %r, which is not a loopback '
                   'address: ANYONE who can reach it can run arbitrary code in this process'
                   % (host or '0.0.0.0 (all interfaces)',))
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
            try:
                sys.stderr.write('WARNING: %s\n' % msg)
            except Exception:
                pass

    def _create_interactive_locals(self):
        namespace = dict(self.locals)
        namespace.setdefault('__name__', '__console__')
        namespace.setdefault('__doc__', None)
        # The module, not its dict: ``locals()`` typed in a session stays readable.
        namespace.setdefault('__builtins__', builtins)
        # site's exit()/quit() close sys.stdin before raising SystemExit: that is
        # the *process's* stdin here. Ours only end the session.
        namespace.setdefault('exit', _SessionExit('exit'))
        namespace.setdefault('quit', _SessionExit('quit'))
        return namespace

    def _default_banner(self):
        return ('Python %s on %s\n(gevent_lite backdoor in pid %d; '
                'type exit() or Ctrl-D to end this session)'
                % (sys.version.split()[0], sys.platform, __import__('os').getpid()))

    def handle(self, conn, address):
        """Serve one console session in the connection's greenlet."""
        stream = _ClientStream(conn)
        me = getcurrent()
        _sessions[me] = stream
        console = _Console(stream, self._create_interactive_locals())
        try:
            banner = self.banner if self.banner is not None else self._default_banner()
            console.interact(banner=banner, exitmsg='')
        except (_SessionClosed, SystemExit, EOFError):
            pass          # the client left, typed exit() or sent an over-long line
        finally:
            _sessions.pop(me, None)
            try:
                stream.rfile.close()
                conn.close()
            except OSError:
                pass


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(prog='python -m gevent_lite.backdoor',
                                     description='Serve an interactive Python console over TCP.')
    parser.add_argument('--bind', default=DEFAULT_BIND,
                        help='HOST:PORT to listen on (default %(default)s; port 0 picks one)')
    args = parser.parse_args(argv)
    parse_address(args.bind)          # a bad address fails here, with a clear message
    server = BackdoorServer(args.bind)
    server.start()
    print('gevent_lite backdoor listening on %s:%d' % (server.server_host, server.server_port),
          file=sys.__stdout__, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
