"""A WSGI (PEP 3333) HTTP/1.1 server on :class:`~gevent_lite.server.StreamServer`.

:class:`WSGIServer` accepts connections like any StreamServer; each connection is
served by a :class:`WSGIHandler` in its own greenlet, request after request
(keep-alive and pipelining), until the client closes, asks to close, or
misbehaves. The handler reads from the socket itself: it tries ``recv`` without
blocking and, on ``EAGAIN``, parks in ``hub.wait_fd(fd, READ, timeout)`` -- so a
connection waiting for its next request costs no CPU and no thread.

What is strict, and why (request smuggling: CVE-2023-41419, gevent#1989, #2075,
eventlet#826): the request line, every header line and every chunk-size line is
validated; obs-fold, whitespace before the colon, bare LF, control characters
or bytes >= 0x80 in the target, conflicting or non-numeric ``Content-Length``,
``Transfer-Encoding`` together with ``Content-Length``, any transfer coding but
``chunked``, malformed trailers, a missing ``Host`` in HTTP/1.1, two ``Host``
headers and userinfo in an absolute-form target all get a 400 (431 for an
over-long header block, 414 for an over-long request line) and the connection
is closed. An absolute-form target's authority replaces ``Host`` (RFC 9112
3.2.2); HTTP/1.2 and later 1.x are served as HTTP/1.1. A body the application
did not read is drained before the next request if at most ``MAX_DRAIN`` bytes
are left; otherwise the response says ``Connection: close``. ``100 Continue``
is sent at most once, only when the application first reads the body and only
while no response has started; if the application answers without reading such
a body, the connection is closed (the client may send the body or not, so the
next bytes cannot be trusted as a request). A connection closed with request
bytes possibly unread shuts down its sending side first and discards what
arrives for up to ``LINGER_TIMEOUT`` seconds, so the close does not reset the
response under the client.

Timeouts (slowloris): ``request_timeout`` (seconds, default 60) bounds the time
to receive a complete request head -- from the moment the handler starts waiting
for it, so it also bounds how long an idle keep-alive connection is kept -- and
every single wait for body bytes or for the client to accept response bytes.
On a TLS server it also bounds the whole handshake, so a client that connects
and never speaks TLS is dropped after it, as a silent plain-HTTP client is.
Pass ``request_timeout=None`` to disable, or set ``WSGIHandler.request_timeout``.
``body_timeout`` (default 300) bounds the whole request body, from the first
read that has to wait for it, so a client that sends a byte just before each
wait times out cannot hold a request forever; the read raises
:class:`ClientBodyError` (408 if it escapes the application).

Responses: the status line, headers and the first body chunk go out in one
``send`` (two writes would meet Nagle's algorithm and a delayed ACK), with ``Date`` and
``Server`` headers. Without a ``Content-Length`` from the application, a
response whose whole body is known (a list or tuple) gets one computed; other
bodies are sent chunked on HTTP/1.1, or delimited by closing the connection on
HTTP/1.0. A list or tuple body over 64 KB goes out with ``sendmsg`` straight
from the application's buffers, never joined into a copy.

Command line: ``python -m gevent_lite.pywsgi [--bind HOST:PORT] module:app``.
"""

import errno
import re
import sys
import time
import traceback
from email.utils import formatdate
from typing import Any, Callable, Optional

import _socket

from . import socket as _gsocket
from .hub import FdDeadline, get_hub, now as _now, READ, retry_io as _retry_io, WRITE
from .server import StreamServer
from .timeout import Timeout

__all__ = ['WSGIServer', 'WSGIHandler', 'Input', 'LoggingLogAdapter', 'FileWrapper',
           'ClientBodyError', 'Environ', 'SecureEnviron', 'WSGISecureEnviron']

_raw_recv = _socket.socket.recv
_raw_send = _socket.socket.send
_raw_sendmsg = _socket.socket.sendmsg

#: Longest request line accepted (414 beyond).
MAX_REQUEST_LINE = 8192
#: Largest request head (request line + headers) accepted (431 beyond).
MAX_HEADER_BYTES = 65536
#: Most header lines accepted in a request head or trailer block (431 beyond).
MAX_HEADERS = 100
#: Longest chunk-size line (with extensions) accepted.
MAX_CHUNK_LINE = 1024
#: Largest trailer block accepted.
MAX_TRAILER_BYTES = 8192
#: Unread request body we are willing to discard to keep a connection alive.
MAX_DRAIN = 1 << 16
#: Seconds a connection closed with request bytes possibly unread keeps reading
#: (and discarding) after its response, so the close does not reset it under the client.
LINGER_TIMEOUT = 2.0
#: A response body (list/tuple) up to this size goes out in one buffer with the head.
_JOIN_LIMIT = 1 << 16

_DEFAULT = object()
_UNSET = object()
#: Errors that mean the connection is gone (closed by stop(), client reset or hung up).
_GONE_ERRNOS = (errno.EBADF, errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN)

# RFC 9110 5.6.2 token: methods and header names.
_TOKEN_PATTERN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_TOKEN = re.compile(_TOKEN_PATTERN.encode() + rb"\Z")
# One header line: a token, a colon right after it, the value without CTLs (HT allowed).
_HEADER_LINE = re.compile(
    b"(" + _TOKEN_PATTERN.encode() + rb"):[ \t]*((?:[^\x00-\x08\x0a-\x1f\x7f]*[^\x00-\x20\x7f])?)[ \t]*\Z")
_VERSION = re.compile(rb'HTTP/([0-9])\.([0-9])\Z')
# Controls, space and bytes >= 0x80 (never valid in a request target; h11 agrees).
_BAD_TARGET = re.compile(rb'[\x00-\x20\x7f-\xff]')
# An authority (RFC 3986 host[:port], no userinfo): absolute-form targets and Host.
_AUTHORITY = re.compile(rb"[A-Za-z0-9\-._~%!$&'()*+,;=:\[\]]+\Z")
# Chunk size, then optional extensions; whitespace (BWS) may precede the ';'.
_CHUNK_SIZE = re.compile(rb'([0-9A-Fa-f]{1,16})(?:[ \t]*;[\x21-\x7e \t]*)?\Z')
_STATUS = re.compile(r'[1-9][0-9]{2} [^\x00-\x1f\x7f]*\Z')
_HEADER_NAME = re.compile(_TOKEN_PATTERN + r"\Z")
_BAD_HEADER_VALUE = re.compile(r'[\x00-\x08\x0a-\x1f\x7f]')

_REASONS = {
    400: 'Bad Request', 408: 'Request Timeout', 413: 'Payload Too Large', 414: 'URI Too Long',
    417: 'Expectation Failed', 431: 'Request Header Fields Too Large',
    500: 'Internal Server Error', 501: 'Not Implemented', 505: 'HTTP Version Not Supported',
}
_NO_BODY_STATUS = (204, 304)
# Request headers get_environ() looks at beyond copying them into the environ.
_FRAMING_HEADERS = frozenset((b'host', b'content-length', b'transfer-encoding', b'connection', b'expect',
                              b'upgrade'))
# Methods that need no token check (any other goes through _TOKEN).
_COMMON_METHODS = frozenset((b'GET', b'HEAD', b'POST', b'PUT', b'DELETE', b'OPTIONS', b'PATCH'))
# Response headers start_response notes (by exact spelling first, then lower-cased):
# 1 Content-Length, 2 Date, 3 Server, 4 Connection, 5 Transfer-Encoding.
_SPECIAL_RESPONSE_HEADERS = {}
for _kind, _name in enumerate(('content-length', 'date', 'server', 'connection', 'transfer-encoding'), 1):
    for _spelling in (_name, _name.title(), _name.upper()):
        _SPECIAL_RESPONSE_HEADERS[_spelling] = _kind
del _kind, _name, _spelling


class ClientBodyError(IOError):
    """The request body the client sent is malformed or incomplete.

    Raised by :class:`Input` reads; if it escapes the application before a
    response has started, the client gets ``status`` (400, or 408 when the body
    missed its ``body_timeout``) and the connection is closed.
    """

    status = 400


class _BadRequest(ValueError):
    """Internal: answer ``status`` and close the connection (a ValueError, as
    gevent's ``read_request`` raises for invalid requests)."""

    def __init__(self, status, message):
        ValueError.__init__(self, message)
        self.status = status


class _ClientGone(Exception):
    """Internal: the client timed out or went away; close without answering."""


class LoggingLogAdapter:
    """A file-like ``write()`` that sends each line to a :mod:`logging` logger.

    Pass it as ``log``/``error_log``; other attributes go to the logger.
    """

    def __init__(self, logger, level=20):
        self._logger = logger
        self._level = level

    def write(self, msg):
        if msg and msg.endswith('\n'):
            msg = msg[:-1]
        if msg:
            self._logger.log(self._level, msg)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass

    def __getattr__(self, name):
        return getattr(self._logger, name)


class Environ(dict):
    """A request environ that stays of its class when copied (gevent's ``pywsgi.Environ``).

    Set a server's ``environ_class`` to it, or to a subclass, to have every
    request's environ built as one; the default ``dict`` is a little faster.
    """

    __slots__ = ()

    def copy(self):
        return self.__class__(self)


class SecureEnviron(Environ):
    """An environ whose ``repr`` masks values, so logging it leaks no cookies or tokens.

    Per instance or, through the ``default_*`` names, per class:
    ``secure_repr`` (False: print as a plain dict), ``whitelist_keys`` (keys whose
    values are shown), ``print_masked_keys`` (False: masked keys are left out
    of the repr, only their count is shown).
    """

    default_secure_repr = True
    default_whitelist_keys: tuple[str, ...] = ()
    default_print_masked_keys = True

    __slots__ = ('secure_repr', 'whitelist_keys', 'print_masked_keys')

    def __getattr__(self, name):
        # Unset slots fall back to the class defaults.
        if name in SecureEnviron.__slots__:
            return getattr(type(self), 'default_' + name)
        raise AttributeError(name)

    def __repr__(self):
        if not self.secure_repr:
            return dict.__repr__(self)
        shown = self.whitelist_keys
        if not shown and not self.print_masked_keys:
            return '<%s dict (keys: %d) at 0x%x>' % (type(self).__name__, len(self), id(self))
        items = []
        masked = 0
        for key, value in self.items():
            if key in shown:
                items.append('%r: %r' % (key, value))
            elif self.print_masked_keys:
                items.append('%r: %r' % (key, '<MASKED>'))
            else:
                masked += 1
        text = '{' + ', '.join(items)
        if masked:
            text += (', ' if items else '') + '(hidden keys: %d)' % masked
        return text + '}'

    __str__ = __repr__


class WSGISecureEnviron(SecureEnviron):
    """:class:`SecureEnviron` that shows the client address and ``Host``, hiding the rest."""

    default_whitelist_keys = ('REMOTE_ADDR', 'REMOTE_PORT', 'HTTP_HOST')
    default_print_masked_keys = False


class FileWrapper:
    """``wsgi.file_wrapper``: iterates a file in blocks; the handler uses
    ``socket.sendfile`` for it when the response has a Content-Length."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, 'close'):
            self.close = filelike.close

    def __iter__(self):
        read = self.filelike.read
        blksize = self.blksize
        while True:
            data = read(blksize)
            if not data:
                return
            yield data


class Input:
    """``wsgi.input``: the request body, exactly ``Content-Length`` bytes or the
    de-chunked body; never reads past it into the next request.

    The first read that needs bytes from the socket sends ``100 Continue`` if
    the client asked for it and no response has started.
    A body that ends early or is malformed raises :class:`ClientBodyError`, and
    so does one that is not complete ``body_timeout`` seconds after the first
    read had to wait for it (a client trickling a byte at a time).

    The unread bytes are ``handler._rbuf[handler._rpos:]``: reads move the
    position instead of slicing the rest of the buffer off each time, so many
    small ``read()``/``readline()`` calls cost time linear in what they return.
    """

    __slots__ = ('_handler', '_left', '_chunked', '_chunk_left', '_done', 'want_continue',
                 'trailers', '_deadline')

    def __init__(self, handler, content_length, chunked=False, want_continue=False):
        self._handler = handler
        self._chunked = chunked
        self._left = content_length or 0       # body bytes left (Content-Length mode)
        self._chunk_left = 0                   # bytes left in the current chunk
        self._done = not chunked and not content_length
        self.want_continue = want_continue and not self._done
        self.trailers = []
        self._deadline = None                  # set by the first read that waits

    # -- low level ----------------------------------------------------------------------

    def _fill(self):
        """Receive more bytes into the handler's buffer; EOF is an error mid-body."""
        handler = self._handler
        if self.want_continue:
            self.want_continue = False
            if not handler.headers_sent:
                handler._sendall(b'HTTP/1.1 100 Continue\r\n\r\n')
        timeout = handler.request_timeout
        total = handler.body_timeout
        t_now = _now()
        when = None if timeout is None else t_now + timeout
        by_deadline = False
        if total is not None:
            # The per-wait timeout alone lets a client that sends a byte just before
            # each wait expires hold the request forever: the whole body also has
            # a deadline, counted from the first wait.
            deadline = self._deadline
            if deadline is None:
                deadline = self._deadline = t_now + total
            if when is None or deadline < when:
                when = deadline
                by_deadline = True
        try:
            if by_deadline and when <= t_now:
                raise _ClientGone('request body deadline passed')
            data = handler._recv(when)
        except _ClientGone:
            if not by_deadline:
                raise
            exc = self._fail('request body not received within %g s (body_timeout)' % (total,))
            exc.status = 408
            raise exc from None
        if not data:
            handler.close_connection = True
            raise ClientBodyError('unexpected end of request body')
        handler._append(data)

    def _chunk_avail(self):
        """Make the current chunk non-empty, reading size lines; False at the end."""
        if self._chunk_left:
            return True
        if self._done:
            return False
        handler = self._handler
        while True:
            buf = handler._rbuf
            pos = handler._rpos
            i = buf.find(b'\r\n', pos, pos + MAX_CHUNK_LINE + 2)
            if i >= 0:
                break
            if len(buf) - pos > MAX_CHUNK_LINE:
                raise self._fail('chunk size line too long')
            self._fill()
        line = buf[pos:i]
        handler._rpos = i + 2
        m = _CHUNK_SIZE.match(line)
        if m is None:
            raise self._fail('invalid chunk size line %r' % (line[:40],))
        size = int(m.group(1), 16)
        if size == 0:
            self._read_trailers()
            self._done = True
            return False
        self._chunk_left = size
        return True

    def _end_chunk(self):
        # The CRLF that must follow every chunk's data.
        handler = self._handler
        while len(handler._rbuf) - handler._rpos < 2:
            self._fill()
        pos = handler._rpos
        if handler._rbuf[pos:pos + 2] != b'\r\n':
            raise self._fail('chunk data not followed by CRLF')
        handler._rpos = pos + 2

    def _read_trailers(self):
        handler = self._handler
        total = 0
        while True:
            buf = handler._rbuf
            pos = handler._rpos
            i = buf.find(b'\r\n', pos)
            if i < 0:
                if len(buf) - pos > MAX_TRAILER_BYTES - total:
                    raise self._fail('trailer block too large')
                self._fill()
                continue
            line = buf[pos:i]
            handler._rpos = i + 2
            if not line:
                return
            total += len(line) + 2
            if total > MAX_TRAILER_BYTES or len(self.trailers) >= MAX_HEADERS:
                raise self._fail('trailer block too large')
            m = _HEADER_LINE.match(line)
            if m is None:
                raise self._fail('invalid trailer line %r' % (line[:40],))
            self.trailers.append((m.group(1).decode('latin-1'), m.group(2).decode('latin-1')))

    def _fail(self, message):
        self._handler.close_connection = True
        self._done = True
        self._chunk_left = 0
        return ClientBodyError(message)

    def _avail(self):
        """Body bytes the current chunk or Content-Length still allows (0: body ended)."""
        if self._chunked:
            return self._chunk_left if self._chunk_avail() else 0
        return self._left

    def _take(self, n):
        """Up to ``n`` body bytes (at least 1 unless the body ended); parks as needed."""
        avail = self._avail()
        if not avail:
            return b''
        if n > avail:
            n = avail
        handler = self._handler
        pos = handler._rpos
        if pos >= len(handler._rbuf):
            self._fill()
            pos = 0
        buf = handler._rbuf
        if not pos and n >= len(buf):
            data = buf               # the whole buffer: no copy
            handler._rbuf = b''
        else:
            data = buf[pos:pos + n]
            handler._rpos = pos + len(data)
        n = len(data)
        if self._chunked:
            self._chunk_left -= n
            if not self._chunk_left:
                self._end_chunk()
        else:
            self._left -= n
            if not self._left:
                self._done = True
        return data

    # -- file API -------------------------------------------------------------------------

    def read(self, size=-1):
        """Read ``size`` bytes (fewer only at the end of the body); all if ``size < 0``."""
        if size is None or size < 0:
            size = sys.maxsize
        data = self._take(size)
        if len(data) == size or not data:
            return data
        parts = [data]
        size -= len(data)
        while size > 0:
            data = self._take(min(size, 1 << 20))
            if not data:
                break
            parts.append(data)
            size -= len(data)
        return b''.join(parts)

    def readline(self, size=-1):
        """Read one line (up to and including ``\\n``), at most ``size`` bytes."""
        if size is None or size < 0:
            size = sys.maxsize
        handler = self._handler
        left = self._left
        if left and not self._chunked:
            # Fast path: the whole line is in the buffer (Content-Length body).
            buf = handler._rbuf
            pos = handler._rpos
            end = pos + min(left, size)
            i = buf.find(b'\n', pos, end)
            if i >= 0:
                i += 1
                handler._rpos = i
                left -= i - pos
                self._left = left
                if not left:
                    self._done = True
                return buf[pos:i]
        parts = []
        while size > 0:
            avail = self._avail()
            if not avail:
                break
            pos = handler._rpos
            if pos >= len(handler._rbuf):
                self._fill()
                pos = 0
            limit = min(size, avail)
            # Search only the unread part of the buffer, never copying the rest of it.
            i = handler._rbuf.find(b'\n', pos, pos + limit)
            data = self._take(limit if i < 0 else i + 1 - pos)
            parts.append(data)
            size -= len(data)
            if i >= 0:
                break
        return parts[0] if len(parts) == 1 else b''.join(parts)

    def readlines(self, hint=-1):
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def _discard(self, limit):
        """Throw away the rest of the body (up to ``limit`` bytes); True if it ended."""
        if self.want_continue:
            return False   # the client may or may not send it: cannot resync
        while limit > 0:
            data = self._take(min(limit, 65536))
            if not data:
                return True
            limit -= len(data)
        return self._done

    def _unbuffered(self):
        """How many body bytes are not in our buffer yet (None: unknown, chunked)."""
        if self._done:
            return 0
        if self._chunked:
            return None
        handler = self._handler
        return max(0, self._left - (len(handler._rbuf) - handler._rpos))


_NO_BODY = Input(None, None)


def _httpdate():
    t = int(time.time())
    if t != _date_cache[0]:
        _date_cache[0] = t
        _date_cache[1] = formatdate(t, usegmt=True)
        _date_cache[2] = time.strftime('%d/%b/%Y %H:%M:%S', time.localtime(t))
    return _date_cache[1]


_date_cache = [0, '', '']
# Values that passed validation once (bounded): a regex per request costs more than
# the rest of the check. Only exact str/bytes values that matched are ever added.
_seen_hosts: set[bytes] = set()
_seen_statuses: dict[str, tuple[int, bytes]] = {}   # valid status -> (code, as bytes)
_seen_names: set[str] = set()
_seen_values: set[str] = set()         # response header values (short ones only)
# Whole response headers (name, value) that passed validation and are not one the
# server handles itself (Content-Length, Date, ...): one set lookup per header.
_seen_headers: set[tuple[str, str]] = set()
# Request header lines that matched _HEADER_LINE -> their parsed (lower name, value,
# name, environ key ('' = dropped), value as str): browsers and clients repeat the
# same lines on every request. Exact bytes only, short lines only, bounded: a line
# not found here is matched in full.
_header_lines: dict[bytes, tuple[bytes, bytes, bytes, str, str]] = {}
_header_keys: dict[Any, Any] = {}      # b'content-type' -> 'CONTENT_TYPE' etc., bounded
# Request lines and targets seen before (exact bytes, short ones, bounded), as
# parsed: clients repeat the same requests, and a dict lookup costs less than the
# split, the checks and the decoding. Only lines and targets that passed are kept.
_request_lines: dict[bytes, tuple[str, bytes, bool]] = {}
_targets: dict[bytes, tuple[str, str, Optional[str]]] = {}


def _environ_key(name):
    """The environ key of the lower-cased header ``name`` ('' = dropped), cached in
    ``_header_keys`` (get_environ looks there first; this runs on a miss)."""
    text = name.decode('latin-1').upper()
    if '_' in text:
        key = ''     # dropped: X_Forwarded vs X-Forwarded must not collide (spoofing)
    elif text == 'CONTENT-TYPE' or text == 'CONTENT-LENGTH':
        key = text.replace('-', '_')
    else:
        key = 'HTTP_' + text.replace('-', '_')
    if len(_header_keys) < 1024:
        _header_keys[name] = key
    return key


class WSGIHandler:
    """Serves the requests of one connection. Subclass it and pass ``handler_class``.

    Class attributes tune it: ``request_timeout`` (see the module docstring),
    ``body_timeout``, ``server_version``.

    It has gevent's ``pywsgi.WSGIHandler`` surface, so subclasses written for
    gevent (gevent-websocket's ``WebSocketHandler``) work: the attributes below
    and the methods ``handle``, ``handle_one_request``, ``read_requestline``,
    ``read_request``, ``get_environ``, ``handle_one_response``,
    ``run_application``, ``process_result``, ``start_response``, ``write``,
    ``finalize_headers``, ``log_request``, ``format_request`` and ``log_error``,
    called in gevent's order. ``status`` is bytes (``b'200 OK'``) as in gevent;
    ``response_headers`` holds native-string pairs (bytes pairs a subclass
    appends are accepted too).
    """

    #: Seconds to receive a whole request head / each wait for body or send progress.
    request_timeout: Optional[float] = 60.0
    #: Seconds the whole request body may take, from the first wait for it (None: no limit).
    body_timeout: Optional[float] = 300.0
    server_version = 'gevent_lite/0.1 Python/%d.%d' % sys.version_info[:2]
    protocol_version = 'HTTP/1.1'

    # Per-request state, gevent's names (reset for each request).
    status = None                  #: ``b'200 OK'`` once start_response ran
    _orig_status = None            # the same as a native str
    code = None                    #: the status code as an int
    response_headers = None        #: list of (name, value) from start_response (+ ours when sent)
    provided_date = None           #: the application's Date header value, if any
    provided_content_length = None  #: the application's Content-Length value, if any
    headers_sent = False           #: whether the status line and headers went out
    response_use_chunked = False   #: whether the body is sent with chunked encoding
    connection_upgraded = False    #: True for a 101 response
    close_connection = False       #: close after this response
    response_length = 0            #: body bytes sent
    result = None                  #: what the application returned (while it is sent)
    environ = None                 #: this request's WSGI environ
    application = None             #: the server's application
    requestline = None             #: ``'GET / HTTP/1.1'``
    command = None                 #: ``'GET'``
    request_version = None         #: ``'HTTP/1.1'`` or ``'HTTP/1.0'``
    content_length = None          #: the request's Content-Length, as an int, if any
    wsgi_input = None              #: this request's :class:`Input`
    time_start = 0                 #: ``time.time()`` when the request started (if logged or subclassed)
    time_finish = 0                #: ``time.time()`` when its response ended

    def __init__(self, sock, address, server, rfile=None):
        self.socket = sock
        self.client_address = address
        self.server = server
        self._raw = type(sock) is _gsocket.socket
        self._fd = fd = sock.fileno()
        self._hub = hub = get_hub()
        # Every wait on a plain socket goes through one FdDeadline: a wait stores its
        # deadline, and one timer per connection (not one per wait) enforces it.
        self._waits = FdDeadline(fd, _ClientGone('timed out'), hub) if self._raw else None
        self._rbuf = b''
        self._rpos = 0          # unread bytes: self._rbuf[self._rpos:]
        self._linger = False    # request bytes may be unread when we close: linger
        self._rfile = rfile      # gevent's signature; None: made on first use
        self._line = b''
        self._target = b''
        self._path = None
        self._line_text = None
        self._headers = None
        self._header_list = []
        self._head = b''
        self._input = None
        self._keepalive_10 = False
        self._remote_of = self._remote = None   # client_address -> (REMOTE_ADDR, REMOTE_PORT)
        self._has_server = False
        self._known_length = None
        self._body_left = None
        # A subclass that overrides write() sees every body part through it, as
        # with gevent; otherwise a list body takes the one-send path.
        self._own_write = type(self).write is WSGIHandler.write
        # The plain handler (no subclass hooks to call) answers a one-part body
        # without the finalize_headers() -> _head_bytes() -> _frame() calls.
        self._plain = type(self) is WSGIHandler
        # Logging costs a clock read and a call per request: skipped when there is
        # no access log and no subclass's log_request to call.
        self._plain_environ = (type(server).get_environ is WSGIServer.get_environ
                               and server.environ_class is dict)
        self._logs = server.log is not None or type(self).log_request is not WSGIHandler.log_request
        self.request_timeout = _timeout_setting(server, type(self), 'request_timeout')
        self.body_timeout = _timeout_setting(server, type(self), 'body_timeout')
        self.close_connection = False
        self.headers_sent = False

    # -- socket I/O (park through hub.wait_fd) --------------------------------------------

    def _recv(self, when, tried=False):
        """One ``recv``: bytes, or b'' at EOF. Parks until readable; raises
        :class:`_ClientGone` at hub time ``when`` (None: no limit). ``tried``: the
        caller's own non-blocking ``recv`` just found nothing, so wait first."""
        sock = self.socket
        waits = self._waits
        if waits is None:
            # TLS (or another socket class): its own timeout does the waiting.
            if when is None:
                sock.settimeout(None)
            else:
                left = when - _now()
                if left <= 0:
                    raise _ClientGone('read timed out')
                sock.settimeout(left)
            try:
                return sock.recv(65536)
            except _socket.timeout:
                raise _ClientGone('read timed out') from None
            except ConnectionError:
                return b''
        try:
            if not tried:
                # Try first: on a busy server the next request is usually there already.
                try:
                    return _raw_recv(sock, 65536)
                except BlockingIOError:
                    pass
            # Parks until readable (or _ClientGone at `when`), then reads.
            return _retry_io(self._fd, READ, _raw_recv, (sock, 65536), fd_deadline=waits, when=when)
        except ConnectionError:
            return b''

    def _append(self, data):
        """Add received bytes to the unread ones, dropping what was read before them
        (once per recv, not per read: see :class:`Input`)."""
        pos = self._rpos
        if pos:
            self._rbuf = self._rbuf[pos:] + data
            self._rpos = 0
        else:
            self._rbuf += data

    def _sendall(self, data):
        sock = self.socket
        if not self._raw:
            sock.settimeout(self.request_timeout)
            try:
                return sock.sendall(data)
            except _socket.timeout:
                raise _ClientGone('write timed out') from None
        try:
            sent = _raw_send(sock, data)
        except BlockingIOError:
            sent = 0
        total = len(data)
        if sent == total:
            return
        view = memoryview(data)
        while sent < total:
            try:
                sent += _raw_send(sock, view[sent:])
            except BlockingIOError:
                sent += self._send_when_writable(_raw_send, (sock, view[sent:]))

    def _send_when_writable(self, send, args):
        # The client does not read fast enough: park until it does (each wait
        # bounded by request_timeout), then send.
        timeout = self.request_timeout
        return _retry_io(self._fd, WRITE, send, args, fd_deadline=self._waits,
                         when=None if timeout is None else self._hub._clock() + timeout)

    # -- the connection loop, in gevent's call order ------------------------------------------
    #
    # handle() calls handle_one_request() for each request, which calls
    # read_requestline(), read_request(requestline), get_environ() and
    # handle_one_response(); that calls run_application() (the application, then
    # process_result() -> write() -> finalize_headers()) and log_request().
    # Subclasses override any of them, as they do with gevent.pywsgi.WSGIHandler.

    def handle(self):
        """Serve requests until the connection should close; always closes the socket."""
        server = self.server
        try:
            while True:
                self.time_finish = 0
                result = self.handle_one_request()
                if result is None:
                    break
                if result is True:
                    if server._stopping:
                        break
                    # While it waits for the next request, an idle keep-alive
                    # connection holds nothing of the previous one.
                    self.environ = None
                    continue
                # (status, complete response bytes): a request refused before the
                # application ran. Send it, log it, close.
                status, body = result
                self._send_whole(status, body)
                self.time_finish = time.time()
                self.log_request()
                break
        except (_ClientGone, ConnectionError):
            pass
        except OSError as exc:
            if exc.errno not in _GONE_ERRNOS:
                raise
        finally:
            server._idle.discard(self)
            if self._linger and self._raw:
                self._lingering_close()
            if self._waits is not None:
                self._waits.close()
            try:
                self.socket.close()
            except OSError:
                pass

    def _lingering_close(self):
        # Closing a TCP socket whose receive buffer holds unread bytes sends an RST,
        # and an RST makes the client's kernel drop the response it has not read
        # yet. So: send our FIN first (the client sees the end of the response),
        # then read and discard what the client still sends, until it closes or
        # LINGER_TIMEOUT passes.
        try:
            self.socket.shutdown(_socket.SHUT_WR)
            deadline = _now() + LINGER_TIMEOUT
            while self._recv(deadline):
                pass
        except (_ClientGone, OSError):
            pass

    def read_request_head(self):
        """Read up to the end of the next request head; returns the head bytes, or
        None if the client closed (or went idle past the timeout) between requests."""
        buf = self._rbuf
        pos = self._rpos
        if pos < len(buf):
            # Pipelined bytes. RFC 9112 2.2: empty lines (CRLF) before a request line
            # are ignored; a lone CR or LF is not an empty line and makes the request
            # line invalid.
            while buf.startswith(b'\r\n', pos):
                pos += 2
            i = buf.find(b'\r\n\r\n', pos)
            if i >= 0:
                return self._head_found(buf, pos, i)
            buf = buf[pos:]
        else:
            # Nothing buffered: the usual case between keep-alive requests.
            buf = b''
        sock = self.socket
        raw = self._waits is not None
        deadline = _UNSET
        while True:
            if buf:
                if len(buf) > MAX_REQUEST_LINE and buf.find(b'\r\n', 0, MAX_REQUEST_LINE) < 0:
                    raise _BadRequest(414, 'request line too long')
                if len(buf) > MAX_HEADER_BYTES:
                    raise _BadRequest(431, 'request header block too large')
                # find(), not 'in', on bytes here and below: CPython's bytes 'in'
                # first tries its operand as an int and builds (then drops) a
                # TypeError with a formatted message, a cost many times the search.
                if buf.find(b'\n\n') >= 0:
                    raise _BadRequest(400, 'line ends without CR')
            data = None
            if raw:
                # The non-blocking attempt, inline: on a busy server the next
                # request is usually there already, and then nothing below runs.
                try:
                    data = _raw_recv(sock, 65536)
                except BlockingIOError:
                    pass
                except ConnectionError:
                    data = b''
            if data is None:
                if deadline is _UNSET:
                    # The whole head is due by one deadline (slowloris), from the
                    # first wait for it.
                    timeout = self.request_timeout
                    deadline = None if timeout is None else self._hub._clock() + timeout
                idle = self.server._idle
                if not buf:
                    idle.add(self)        # stop() may close us while we wait here
                    self._rbuf = b''      # the previous request's bytes need not wait with us
                    self._rpos = 0
                try:
                    data = self._recv(deadline, raw)
                finally:
                    idle.discard(self)
            if not data:
                if buf:
                    raise _ClientGone('client closed mid-request')
                self._rbuf = b''
                self._rpos = 0
                return None
            start = len(buf) - 3
            buf += data
            if buf.startswith(b'\r\n'):
                skip = 2
                while buf.startswith(b'\r\n', skip):
                    skip += 2
                buf = buf[skip:]
                start = 0
            i = buf.find(b'\r\n\r\n', start if start > 0 else 0)
            if i >= 0:
                return self._head_found(buf, 0, i)

    def _head_found(self, buf, pos, i):
        """The head is ``buf[pos:i]``: check its size, keep the rest, return it."""
        if i - pos > MAX_REQUEST_LINE and buf.find(b'\r\n', pos, pos + MAX_REQUEST_LINE) < 0:
            raise _BadRequest(414, 'request line too long')
        if i - pos > MAX_HEADER_BYTES:
            raise _BadRequest(431, 'request header block too large')
        # Keep the buffer and move the position: pipelined requests that came in
        # one recv are not copied once per request.
        self._rbuf = buf
        self._rpos = i + 4
        return buf[pos:i]

    def read_requestline(self):
        """Read the next request head; return its request line (``str``), or ``''``
        when the client closed or went idle between requests."""
        head = self.read_request_head()
        if head is None:
            return ''
        self._head = head
        i = head.find(b'\r\n')
        line = head if i < 0 else head[:i]
        if len(line) > MAX_REQUEST_LINE:
            raise _BadRequest(414, 'request line too long')
        self._line = line
        text = self._line_text = line.decode('latin-1')
        return text

    def read_request(self, raw_requestline):
        """Parse the request line and the header lines read with it.

        Sets ``requestline``, ``command``, ``path`` (the raw target),
        ``request_version`` and the headers; raises ``ValueError`` (a 400, 414,
        431 or 505 for the client) when the request is invalid. Returns True.
        """
        self.requestline = raw_requestline
        # The bytes read_requestline() decoded, unless a subclass passed another line.
        line = self._line if raw_requestline is self._line_text else raw_requestline.encode('latin-1')
        parsed = _request_lines.get(line)
        if parsed is None:
            parsed = _parse_request_line(line)
        command, target, http10 = parsed
        lines = self._head.split(b'\r\n')
        if len(lines) > MAX_HEADERS + 1:
            raise _BadRequest(431, 'too many headers')
        headers = []
        match = _HEADER_LINE.match
        seen = _header_lines
        for hline in lines[1:]:
            entry = seen.get(hline)
            if entry is None:
                hm = match(hline)
                if hm is None:
                    if hline[:1] in (b' ', b'\t'):
                        raise _BadRequest(400, 'obsolete line folding in headers is not accepted')
                    raise _BadRequest(400, 'malformed header line %r' % (hline[:100],))
                name, value = hm.groups()
                lname = name.lower()
                key = _header_keys.get(lname)
                if key is None:
                    key = _environ_key(lname)
                entry = (lname, value, name, key, value.decode('latin-1'))
                if len(hline) <= 256 and len(seen) < 1024:
                    seen[hline] = entry
            headers.append(entry)
        self._header_list = headers
        self._headers = None
        self.command = command
        self._target = target
        self._path = None
        self.request_version = 'HTTP/1.0' if http10 else 'HTTP/1.1'
        return True

    @property
    def path(self):
        """The raw request target as a ``str`` (``'/a%20b?q=1'``), as gevent's."""
        path = self._path
        if path is None:
            path = self._path = self._target.decode('latin-1')
        return path

    @path.setter
    def path(self, value):
        self._path = value

    @property
    def headers(self):
        """The request headers as an :class:`http.client.HTTPMessage` (built on first use)."""
        msg = self._headers
        if msg is None:
            import http.client
            msg = http.client.HTTPMessage()
            for _, _, name, _, text in self._header_list:
                msg[name.decode('latin-1')] = text
            self._headers = msg
        return msg

    @headers.setter
    def headers(self, value):
        self._headers = value

    @property
    def rfile(self):
        """The connection's input as a binary file: what a protocol that takes the
        connection over (a WebSocket after ``101``) reads from. It returns the
        bytes already buffered first, then reads the socket, with no timeout."""
        rfile = self._rfile
        if rfile is None:
            rfile = self._rfile = _ConnectionReader(self)
        return rfile

    @rfile.setter
    def rfile(self, value):
        self._rfile = value

    def handle_one_request(self):
        """Read, validate and answer one request.

        Returns True to go on with the next request, None to close the
        connection, or ``(status, response bytes)`` for a request refused before
        the application ran (``handle()`` sends it and closes), as gevent's does.
        """
        # (handle_one_response resets the response's state.)
        self.code = None
        self._body_left = None
        self._known_length = None
        self.requestline = None
        try:
            requestline = self.read_requestline()
            if not requestline:
                return None
            if self._logs or not self._plain:
                # From the whole head, not the idle wait before it. Only the access
                # log and subclasses read it: no clock read per request without them.
                self.time_start = time.time()
            if not self.read_request(requestline):
                raise _BadRequest(400, 'invalid request')
            self.environ = self.get_environ()
        except _BadRequest as exc:
            self.code = exc.status
            self.log_error('Invalid request (from %s): %s', self.client_address, exc)
            return str(exc.status), _error_bytes(exc.status, str(exc), self.server_version)
        self.application = self.server.application
        self.handle_one_response()
        if self.close_connection:
            return None
        return True

    def get_environ(self):
        """Build this request's WSGI environ from the parsed request.

        Starts from ``self.server.get_environ()`` (a copy of the server's base
        environ) and adds the request's keys, as gevent's does. Framing is
        checked here too: ``Content-Length``/``Transfer-Encoding``, ``Host``.
        """
        server = self.server
        if self._plain_environ:
            env = server.environ.copy()      # WSGIServer.get_environ(), without the call
        else:
            env = server.get_environ()
        http11 = self.request_version == 'HTTP/1.1'
        env['REQUEST_METHOD'] = self.command
        env['SERVER_PROTOCOL'] = self.request_version
        addr = self.client_address
        if addr is not self._remote_of:
            # Once per connection (or per change of client_address by a subclass).
            self._remote_of = addr
            if isinstance(addr, tuple) and len(addr) >= 2:
                self._remote = (addr[0], str(addr[1]))
            else:
                self._remote = ('', None)
        remote_addr, remote_port = self._remote
        env['REMOTE_ADDR'] = remote_addr
        if remote_port is not None:
            env['REMOTE_PORT'] = remote_port
        target = self._target
        split = _targets.get(target)
        if split is None:
            split = _split_target(target)
        env['PATH_INFO'], env['QUERY_STRING'], authority = split
        content_length = None
        te = None
        connection = b''
        expect = None
        upgrade = False
        hosts = 0
        special = _FRAMING_HEADERS
        for name, value, _, key, text in self._header_list:
            if name not in special:
                pass        # most headers: straight to the environ below, one set lookup
            elif name == b'host':
                # RFC 9112 3.2: more than one Host, or an invalid one, is a 400 (two
                # joined with a comma would let a proxy and the app see different hosts).
                hosts += 1
                if hosts > 1:
                    raise _BadRequest(400, 'more than one Host header')
                if value not in _seen_hosts:
                    if value and not _AUTHORITY.match(value):
                        raise _BadRequest(400, 'invalid Host header %r' % (value[:100],))
                    if len(_seen_hosts) < 1024:
                        _seen_hosts.add(value)
            elif name == b'content-length':
                for part in value.split(b','):
                    part = part.strip(b' \t')
                    if not part.isdigit() or len(part) > 18:
                        raise _BadRequest(400, 'invalid Content-Length %r' % (value[:40],))
                    if content_length is not None and int(part) != content_length:
                        raise _BadRequest(400, 'conflicting Content-Length values')
                    content_length = int(part)
            elif name == b'transfer-encoding':
                te = value.lower() if te is None else te + b', ' + value.lower()
            elif name == b'connection':
                connection = connection + b',' + value.lower() if connection else value.lower()
            elif name == b'expect':
                expect = value.lower()
            elif name == b'upgrade':
                upgrade = True
            if not key:
                continue
            old = env.get(key)
            if old is None or key == 'CONTENT_LENGTH':
                env[key] = text
            elif key == 'HTTP_COOKIE':
                env[key] = old + '; ' + text
            else:
                env[key] = old + ',' + text
        if not hosts and http11:
            raise _BadRequest(400, 'missing Host header (required in HTTP/1.1)')
        if authority is not None:
            env['HTTP_HOST'] = authority     # RFC 9112 3.2.2: the target's authority wins
        chunked = False
        if te is not None:
            if not http11:
                raise _BadRequest(400, 'Transfer-Encoding in an HTTP/1.0 request')
            if content_length is not None:
                raise _BadRequest(400, 'both Content-Length and Transfer-Encoding')
            if te != b'chunked':
                raise _BadRequest(400, 'unsupported Transfer-Encoding %r' % (te[:40],))
            chunked = True
        if content_length is not None:
            env['CONTENT_LENGTH'] = str(content_length)
        self.content_length = content_length
        if connection:
            tokens = [t.strip() for t in connection.split(b',')]
            close = b'close' in tokens if http11 else b'keep-alive' not in tokens
        else:
            close = not http11
        self.close_connection = close
        self._keepalive_10 = not http11 and not close
        if content_length or chunked:
            inp = Input(self, content_length, chunked, http11 and expect == b'100-continue')
        else:
            inp = _NO_BODY      # no body: one shared, already finished Input
        self._input = inp
        self.wsgi_input = inp
        if upgrade and inp._done:
            # A protocol upgrade (WebSocket) with no body: the application (or a
            # handler subclass) takes the connection over and reads it raw, as
            # with gevent.
            env['wsgi.input'] = self.rfile
            env['wsgi.input_terminated'] = False
        else:
            env['wsgi.input'] = inp
        return env

    def handle_one_response(self):
        """Run the application for the parsed request, handle its errors, log the
        request and get the connection ready for the next one."""
        self.status = None
        self.headers_sent = False
        self.result = None
        self.response_use_chunked = False
        self.connection_upgraded = False
        self.response_length = 0
        try:
            self.run_application()
            if self._body_left:
                self.close_connection = True    # shorter than its Content-Length
            inp = self._input
            if inp is not None and inp.want_continue and not inp._done:
                # Answered without reading a body the client is holding back for our
                # 100 Continue: it may send it or not; the stream cannot be trusted.
                self.close_connection = True
                self._linger = True
        except (_ClientGone, ConnectionError):
            self.close_connection = True
            raise
        except ClientBodyError as exc:
            self.close_connection = True
            if not self.headers_sent:
                self._send_error(exc.status, str(exc))
        except Exception as exc:
            self.close_connection = True
            if isinstance(exc, OSError) and exc.errno in _GONE_ERRNOS:
                raise
            self.handle_error(*sys.exc_info())
        except BaseException:
            self.close_connection = True     # killed (server stop) or exiting
            raise
        if self._logs:
            self.time_finish = time.time()
            self.log_request()
        if self.close_connection:
            return
        # Discard what the application left of the body, to find the next request.
        inp = self._input
        if inp is not None and not inp._done:
            try:
                if not inp._discard(MAX_DRAIN):
                    self.close_connection = True
                    self._linger = True
            except ClientBodyError:
                self.close_connection = True
                self._linger = True

    def run_application(self):
        """Call the application and send what it returns (``process_result``)."""
        try:
            self.result = self.application(self.environ, self.start_response)
            self.process_result()
        finally:
            close = getattr(self.result, 'close', None)
            self.result = None
            if close is not None:
                try:
                    close()
                except Exception:
                    self.handle_error(*sys.exc_info())

    def process_result(self):
        """Send ``self.result``, the application's iterable, as the response body."""
        result = self.result
        if not self.headers_sent and type(result) in (list, tuple) and self.status is not None \
                and self._own_write:
            self._finish_response(result)
            return
        if isinstance(result, FileWrapper) and self._try_sendfile(result):
            return
        if type(result) in (list, tuple) and not self.headers_sent:
            self._known_length = sum(len(data) for data in result)
        for data in result:
            if data:
                self.write(data)
        if self.status is None:
            raise AssertionError('the application did not call start_response()')
        if not self.headers_sent:
            self._known_length = 0       # an empty body: say so rather than chunk nothing
            self._write_with_headers(b'')
        elif self.response_use_chunked:
            self._sendall(b'0\r\n\r\n')

    # -- responses ----------------------------------------------------------------------

    def start_response(self, status, headers, exc_info=None):
        """PEP 3333 ``start_response``: validates the status and headers now, so a
        bad one raises inside the application. Returns :meth:`write`."""
        if exc_info:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError('start_response() called a second time without exc_info')
        parsed = _seen_statuses.get(status) if type(status) is str else None
        if parsed is None:
            if type(status) is not str or not _STATUS.match(status):
                raise ValueError('invalid status %r: must be a str like "200 OK"' % (status,))
            parsed = (int(status[:3]), status.encode('latin-1'))
            if len(_seen_statuses) < 1024:
                _seen_statuses[status] = parsed
        code, status_bytes = parsed
        provided_date = provided_cl = None
        has_server = drop = False
        special = _SPECIAL_RESPONSE_HEADERS
        seen_headers = _seen_headers
        for item in headers:
            try:
                if item in seen_headers:
                    continue        # an ordinary header (name, value) validated before
            except TypeError:
                pass                # unhashable: not a valid header, reported below
            if type(item) is not tuple or len(item) != 2:
                raise TypeError('response header %r is not a (name, value) tuple' % (item,))
            name, value = item
            if type(name) is not str or name not in _seen_names:
                if type(name) is not str or not _HEADER_NAME.match(name):
                    raise ValueError('invalid response header name %r' % (name,))
                if len(_seen_names) < 1024:
                    _seen_names.add(name)
            if type(value) is not str or value not in _seen_values:
                if type(value) is not str or _BAD_HEADER_VALUE.search(value):
                    raise ValueError('invalid response header value %r for %s' % (value, name))
                if len(value) <= 256 and len(_seen_values) < 1024:
                    _seen_values.add(value)
            kind = special.get(name)
            if kind is None:
                if name.islower() or name.lower() not in special:
                    if len(value) <= 256 and len(seen_headers) < 1024:
                        seen_headers.add(item)
                    continue
                kind = special[name.lower()]
            if kind == 1:
                provided_cl = value
            elif kind == 2:
                provided_date = value
            elif kind == 3:
                has_server = True
            else:
                if kind == 4 and value.lower() == 'close':
                    self.close_connection = True
                drop = code != 101
        if drop:
            # Hop-by-hop (PEP 3333): we decide the connection and the framing ourselves.
            headers = [(n, v) for n, v in headers if n.lower() not in ('connection', 'transfer-encoding')]
        else:
            headers = list(headers)
        self._orig_status = status
        self.status = status_bytes
        self.code = code
        self.response_headers = headers
        self.provided_date = provided_date
        self.provided_content_length = provided_cl
        self._has_server = has_server
        return self.write

    def finalize_headers(self):
        """Add the headers the server owns to ``response_headers`` just before they
        are sent: ``Date``, ``Server``, the body's framing (``Content-Length`` or
        ``Transfer-Encoding: chunked``) and ``Connection``. A subclass that set
        ``provided_date``/``provided_content_length`` to a true value or False
        (as gevent-websocket does for its 101) keeps those out."""
        headers = self.response_headers
        code = self.code
        if self.provided_date is None:
            headers.append(('Date', _httpdate()))
        if not self._has_server:
            headers.append(('Server', self.server_version))
        upgraded = self.connection_upgraded = code == 101
        if code < 200 or code in _NO_BODY_STATUS:
            self._body_left = 0
        else:
            provided = self.provided_content_length
            if provided is None:
                known = self._known_length
                if known is not None:
                    headers.append(('Content-Length', str(known)))
                    self._body_left = known
                elif self.request_version == 'HTTP/1.1' and self.command != 'HEAD':
                    headers.append(('Transfer-Encoding', 'chunked'))
                    self.response_use_chunked = True
                elif self.command != 'HEAD':
                    self.close_connection = True     # body delimited by closing
            elif provided is not False:
                try:
                    self._body_left = int(provided)
                except ValueError:
                    raise ValueError('invalid Content-Length %r' % (provided,)) from None
        if upgraded:
            return           # the application's Connection: Upgrade stands
        inp = self._input
        if inp is not None and not inp._done and not self.close_connection:
            # The body is not read yet. Unless the rest is already buffered or small
            # enough to drain after the response, this connection will close: say so
            # now, and linger at the close so unread bytes cause no reset.
            unbuffered = inp._unbuffered()
            if inp.want_continue or unbuffered is None or unbuffered > MAX_DRAIN:
                self.close_connection = True
                self._linger = True
        if self.close_connection or self.server._stopping:
            self.close_connection = True
            headers.append(('Connection', 'close'))
        elif self._keepalive_10:
            headers.append(('Connection', 'keep-alive'))

    def _head_bytes(self):
        """finalize_headers(), then the status line and headers as bytes."""
        self.finalize_headers()
        out = ['HTTP/1.1 ', self._orig_status, '\r\n']
        for name, value in self.response_headers:
            out += (name, ': ', value, '\r\n')
        out.append('\r\n')
        try:
            return ''.join(out).encode('latin-1')
        except TypeError:
            # A subclass appended gevent-style (bytes, bytes) headers.
            return b''.join(part if type(part) is bytes else part.encode('latin-1') for part in out)

    def write(self, data):
        """The ``write`` callable start_response returns (and the body writer)."""
        if type(data) is not bytes:
            if isinstance(data, (bytearray, memoryview)):
                data = bytes(data)
            elif not data:
                data = b''                   # gevent-websocket writes '' to flush its 101
            else:
                raise TypeError('WSGI body must be bytes, got %r' % (type(data).__name__,))
        if self.status is None:
            raise AssertionError('write() before start_response()')
        if not self.headers_sent:
            self._write_with_headers(data)
        elif data:
            self._sendall(self._frame(data))

    def _write_with_headers(self, data):
        self.headers_sent = True
        head = self._head_bytes()
        self._sendall(head + self._frame(data))

    def _frame(self, data):
        if self.command == 'HEAD':
            self._body_left = None      # no body goes out; the length was advisory
            return b''
        n = len(data)
        left = self._body_left
        if left is not None:
            if n > left:
                # More than the declared Content-Length: never put it on the wire.
                data = data[:left]
                n = left
                self.close_connection = True
            self._body_left = left - n
        self.response_length += n
        if self.response_use_chunked:
            return b'%x\r\n%s\r\n' % (n, data) if n else b''
        return data

    def _finish_response(self, body_list):
        """Send a whole known body (a list/tuple result) together with the headers."""
        total = 0
        for part in body_list:
            if type(part) is not bytes:
                raise TypeError('WSGI body items must be bytes, got %r' % (type(part).__name__,))
            total += len(part)
        self.headers_sent = True
        self._known_length = total
        if self._plain and len(body_list) == 1 and total <= _JOIN_LIMIT:
            # The hello-world path when finalize_headers() would only add Date,
            # Server and Content-Length: a 2xx-5xx response with a body, no
            # framing or Date/Server header from the application, no request
            # body left unread, the connection staying open on HTTP/1.1.
            # (response_headers is not extended: only subclasses read it.)
            code = self.code
            inp = self._input
            if (code >= 200 and code != 204 and code != 304 and self.provided_content_length is None
                    and self.provided_date is None and not self._has_server
                    and (inp is None or inp._done) and not self.close_connection
                    and not self._keepalive_10 and self.command != 'HEAD'
                    and not self.server._stopping):
                out = ['HTTP/1.1 ', self._orig_status, '\r\n']
                for name, value in self.response_headers:
                    out += (name, ': ', value, '\r\n')
                out += ('Date: ', _httpdate(), '\r\nServer: ', self.server_version,
                        '\r\nContent-Length: ', str(total), '\r\n\r\n')
                self._body_left = 0
                self.response_length = total
                # (start_response() let only str names and values through.)
                self._sendall(''.join(out).encode('latin-1') + body_list[0])
                return
        head = self._head_bytes()
        if len(body_list) == 1 and total <= _JOIN_LIMIT:
            # The hello-world path: one buffer, one send.
            self._sendall(head + self._frame(body_list[0]))
            return
        parts = [head]
        for part in body_list:
            part = self._frame(part)
            if part:
                parts.append(part)
        if total <= _JOIN_LIMIT:
            self._sendall(b''.join(parts))
        else:
            # A big body goes out as it is, never copied: a slow client holds one
            # reference to the application's buffers, not a second, joined copy.
            self._send_parts(parts)

    def _send_parts(self, parts):
        """Send a list of buffers in order, with ``sendmsg`` (scatter-gather) when we can."""
        if not self._raw:
            for part in parts:
                self._sendall(part)
            return
        sock = self.socket
        bufs = [memoryview(part) for part in parts]
        i = 0
        n = len(bufs)
        while i < n:
            try:
                sent = _raw_sendmsg(sock, bufs[i:i + 512])     # IOV_MAX is 1024 on Linux
            except BlockingIOError:
                sent = self._send_when_writable(_raw_sendmsg, (sock, bufs[i:i + 512]))
            while sent:
                size = bufs[i].nbytes
                if sent >= size:
                    sent -= size
                    i += 1
                else:
                    bufs[i] = bufs[i][sent:]
                    sent = 0

    def _try_sendfile(self, wrapper):
        filelike = wrapper.filelike
        if self.command == 'HEAD' or not hasattr(filelike, 'fileno') or not self._raw:
            return False
        if not self.provided_content_length:
            return False
        try:
            filelike.fileno()
        except Exception:
            return False
        self.headers_sent = True
        self._sendall(self._head_bytes())
        sock = self.socket
        sock.settimeout(self.request_timeout)
        sent = sock.sendfile(filelike, count=self._body_left or None)
        self.response_length += sent
        self._body_left -= sent
        return True

    def handle_error(self, etype, value, tb):
        """Report an application error to ``error_log``; answer 500 if we still can."""
        try:
            traceback.print_exception(etype, value, tb, file=self.server.error_log)
            env = self.environ
            if env is not None and not isinstance(env, self.server.secure_environ_class):
                env = self.server.secure_environ_class(env)
            _httpdate()     # refreshes _date_cache[2] (it holds the last second a response went out)
            self.server.error_log.write('%s: error serving %r from %s; environ %r\n' % (
                _date_cache[2], self.requestline, self.client_address, env))
        except Exception:
            pass
        del tb
        self.close_connection = True
        if not self.headers_sent:
            self._send_error(500, 'Internal Server Error')

    def _send_error(self, code, message):
        self.code = code
        self._send_whole(str(code), _error_bytes(code, message, self.server_version))

    def _send_whole(self, status, body):
        """Send a complete error response (``status``: ``'400'``, str or bytes, as
        gevent's ``handle_one_request`` returns it) and close after it."""
        if type(status) is bytes:
            status = status.decode('latin-1')
        self.close_connection = True
        self._linger = True      # the rest of a bad request may still be on its way
        self._orig_status = status
        self.status = status.encode('latin-1')
        self.headers_sent = True
        self.response_length = len(body)
        try:
            self._sendall(body)
        except (OSError, _ClientGone):
            pass

    def log_error(self, msg, *args):
        """Write ``msg % args`` (with the client's address) to the server's ``error_log``."""
        try:
            message = msg % args if args else msg
        except Exception:
            message = '%r %r' % (msg, args)
        try:
            self.server.error_log.write(message + '\n')
        except Exception:
            pass

    def format_request(self):
        """One access-log line in (extended) common log format."""
        _httpdate()         # refreshes _date_cache[2], the log-format time, if the second changed
        client = self.client_address[0] if isinstance(self.client_address, tuple) else ''
        status = self.code
        if status is None and self.status:
            status = self.status[:3]
            if type(status) is bytes:
                status = status.decode('latin-1')
        finish = self.time_finish or time.time()
        return '%s - - [%s] "%s" %s %s %.6f' % (
            client or '-', _date_cache[2], self.requestline or '', status or '-',
            self.response_length, finish - self.time_start)

    def log_request(self):
        """Write :meth:`format_request` to the server's access log (if it has one)."""
        log = self.server.log
        if log is not None:
            log.write(self.format_request() + '\n')


class _ConnectionReader:
    """``WSGIHandler.rfile``: the handler's buffered bytes, then the socket.

    Reads block (park the greenlet in the socket's wait) with no timeout: a
    WebSocket can be idle for as long as its peers like.
    """

    def __init__(self, handler):
        self._handler = handler
        self.closed = False

    def _more(self):
        handler = self._handler
        data = handler._recv(None)
        if not data:
            return False
        handler._append(data)
        return True

    def read(self, size=-1):
        """``size`` bytes (fewer only at EOF); everything until EOF if ``size < 0``."""
        handler = self._handler
        if size is None or size < 0:
            while self._more():
                pass
            size = len(handler._rbuf) - handler._rpos
        while len(handler._rbuf) - handler._rpos < size:
            if not self._more():
                break
        pos = handler._rpos
        data = handler._rbuf[pos:pos + size]
        handler._rpos = pos + len(data)
        return data

    def readline(self, size=-1):
        """One line (up to and including ``\\n``), at most ``size`` bytes; shorter at EOF."""
        handler = self._handler
        limit = sys.maxsize if size is None or size < 0 else size
        searched = 0           # unread bytes already searched: each byte is searched once
        while True:
            buf, pos = handler._rbuf, handler._rpos
            avail = len(buf) - pos
            i = buf.find(b'\n', pos + searched, pos + limit)
            if i >= 0:
                n = i + 1 - pos
                break
            if avail >= limit:
                n = limit
                break
            searched = avail
            if not self._more():
                n = len(handler._rbuf) - handler._rpos
                break
        pos = handler._rpos
        handler._rpos = pos + n
        return handler._rbuf[pos:pos + n]

    def close(self):
        self.closed = True


def _parse_request_line(line):
    """Validate a request line: ``(command str, target bytes, is HTTP/1.0)``, kept in
    ``_request_lines`` when short; raises :class:`_BadRequest`."""
    parts = line.split(b' ')
    if len(parts) != 3:
        raise _BadRequest(400, 'malformed request line %r' % (line[:100],))
    method, target, version = parts
    if method not in _COMMON_METHODS and not _TOKEN.match(method):
        raise _BadRequest(400, 'invalid method %r' % (method[:40],))
    if version == b'HTTP/1.1':
        http10 = False
    else:
        m = _VERSION.match(version)
        if m is None:
            raise _BadRequest(400, 'invalid HTTP version %r' % (version[:40],))
        if m.group(1) != b'1':
            raise _BadRequest(505, 'HTTP version %r not supported' % (version,))
        # RFC 9112 2.6: a higher 1.x minor version is served as HTTP/1.1.
        http10 = m.group(2) == b'0'
    if not target or _BAD_TARGET.search(target):
        raise _BadRequest(400, 'invalid request target')
    parsed = (method.decode('latin-1'), target, http10)
    if len(line) <= 256 and len(_request_lines) < 1024:
        _request_lines[line] = parsed
    return parsed


def _split_target(target):
    """``(PATH_INFO, QUERY_STRING, authority or None)`` of a valid request target
    (origin-form ``/p?q``, absolute-form ``http://h/p?q`` or ``*``), kept in
    ``_targets`` when short; raises :class:`_BadRequest`."""
    authority = None
    if target == b'*':
        path = b'*'
        query = b''
    else:
        rest = target
        if target[:1] != b'/':
            authority, rest = _split_absolute(target)
        path, _, query = rest.partition(b'?')
        path = path.partition(b'#')[0]
        query = query.partition(b'#')[0]
    split = ((_unquote(path) if path.find(b'%') >= 0 else path).decode('latin-1'),
             query.decode('latin-1'), authority)
    if len(target) <= 256 and len(_targets) < 1024:
        _targets[target] = split
    return split


def _timeout_setting(server, handler_class, name):
    """The server's ``request_timeout``/``body_timeout`` argument, or the handler
    class's attribute when the server was not given one."""
    value = getattr(server, name)
    return getattr(handler_class, name) if value is _DEFAULT else value


def _error_bytes(code, message, server_version):
    """A whole plain-text error response that closes the connection."""
    reason = _REASONS.get(code, 'Error')
    body = ('%d %s\n%s\n' % (code, reason, message)).encode('latin-1', 'replace')
    head = ('HTTP/1.1 %d %s\r\nDate: %s\r\nServer: %s\r\nContent-Type: text/plain\r\n'
            'Content-Length: %d\r\nConnection: close\r\n\r\n'
            % (code, reason, _httpdate(), server_version, len(body)))
    return head.encode('latin-1') + body


def _split_absolute(target):
    """``http://authority/path?query`` -> ``(authority str, b'/path?query')``."""
    scheme, sep, rest = target.partition(b'://')
    if not sep or scheme.lower() not in (b'http', b'https'):
        raise _BadRequest(400, 'invalid request target')
    end = len(rest)
    for delim in (b'/', b'?', b'#'):
        i = rest.find(delim, 0, end)
        if i >= 0:
            end = i
    authority = rest[:end]
    if b'@' in authority:
        raise _BadRequest(400, 'userinfo in the request target is not accepted')
    if not authority or not _AUTHORITY.match(authority):
        raise _BadRequest(400, 'invalid authority in the request target')
    rest = rest[end:]
    if rest[:1] != b'/':
        rest = b'/' + rest
    return authority.decode('latin-1'), rest


def _unquote(path):
    # Imported on first use: most paths have no '%' (get_environ only calls us for those).
    from urllib.parse import unquote_to_bytes
    return unquote_to_bytes(path)


class WSGIServer(StreamServer):
    """Serve a WSGI application over HTTP/1.1 (see the module docstring).

    ``log``: a file-like (``write``) or logger for the access log, ``'default'``
    = ``sys.stderr``, ``None`` = off. ``error_log``: where application tracebacks
    go (also ``wsgi.errors``), default ``sys.stderr``. ``environ``: extra keys
    for every request's environ. ``request_timeout``, ``body_timeout``: see the
    module docstring (and the limits table in the deployment docs).
    """

    handler_class = WSGIHandler
    #: The class of each request's environ (:class:`Environ`, :class:`SecureEnviron`, ...).
    environ_class = dict
    #: The class an environ is shown as in error reports, so they leak no cookies.
    secure_environ_class = WSGISecureEnviron
    #: The keys every request's environ starts from (gevent's ``base_env``); the
    #: server adds ``SERVER_SOFTWARE``, ``wsgi.url_scheme``, ``wsgi.errors``, the
    #: ``environ`` argument and, when it starts, ``SERVER_NAME``/``SERVER_PORT``.
    base_env = {
        'GATEWAY_INTERFACE': 'CGI/1.1',
        'SCRIPT_NAME': '',
        'wsgi.version': (1, 0),
        'wsgi.multithread': False,
        'wsgi.multiprocess': False,
        'wsgi.run_once': False,
        'wsgi.input_terminated': True,
        'wsgi.file_wrapper': FileWrapper,
    }
    #: Seconds stop() gives in-flight requests by default.
    stop_timeout = 5.0

    def __init__(self, listener, application: Optional[Callable] = None, backlog: Optional[int] = None,
                 spawn: Any = 'default', log: Any = 'default', error_log: Any = 'default',
                 handler_class=None, environ: Optional[dict] = None,
                 request_timeout: Any = _DEFAULT, max_accept: Optional[int] = None,
                 body_timeout: Any = _DEFAULT, **ssl_args):
        StreamServer.__init__(self, listener, backlog=backlog, spawn=spawn, **ssl_args)
        if application is not None:
            self.application = application  # type: ignore[method-assign]
        if handler_class is not None:
            self.handler_class = handler_class
        if log == 'default':
            log = sys.stderr
        elif log is not None and not hasattr(log, 'write') and hasattr(log, 'log'):
            log = LoggingLogAdapter(log)
        self.log = log
        if error_log == 'default':
            error_log = sys.stderr
        elif error_log is None:
            error_log = _NullLog()
        elif not hasattr(error_log, 'write') and hasattr(error_log, 'log'):
            error_log = LoggingLogAdapter(error_log, 40)
        self.error_log = error_log
        for name, value in (('request_timeout', request_timeout), ('body_timeout', body_timeout)):
            if value is not _DEFAULT and value is not None and value <= 0:
                raise ValueError('%s must be > 0 or None' % name)
        self.request_timeout = request_timeout
        self.body_timeout = body_timeout
        if max_accept is not None:
            self.max_accept = max_accept
        self._idle: set[Any] = set()
        self._stopping = False
        self.set_environ(environ)

    def set_environ(self, environ: Optional[dict] = None) -> None:
        """Build ``self.environ``, the base of every request's environ, from
        :attr:`base_env` and ``environ`` (extra keys, which win)."""
        if environ is not None:
            self.environ = environ
        extra = getattr(self, 'environ', None)
        env = self.environ_class(self.base_env)
        env['SERVER_SOFTWARE'] = self.handler_class.server_version
        env['wsgi.url_scheme'] = 'https' if self.ssl_enabled else 'http'
        if extra:
            env.update(extra)
        if env.get('wsgi.errors') is None:
            env['wsgi.errors'] = self.error_log
        self.environ = env

    def get_environ(self) -> dict:
        """A fresh copy of the base environ (of :attr:`environ_class`) for one request."""
        if self.environ_class is dict:
            return self.environ.copy()
        return self.environ_class(self.environ)

    def application(self, environ, start_response):
        raise NotImplementedError('pass an application to WSGIServer')

    def wrap_socket(self, sock):
        # The TLS handshake comes before the request head and would otherwise have
        # no deadline: a client that connects and stays silent (TLS slowloris) would
        # hold its greenlet, its fd and a pool slot for good. The whole handshake
        # gets request_timeout; running out raises socket.timeout (an OSError), on
        # which the connection's greenlet closes the socket without an answer.
        timeout = _timeout_setting(self, self.handler_class, 'request_timeout')
        if timeout is None:
            return StreamServer.wrap_socket(self, sock)
        with Timeout(timeout, _socket.timeout('TLS handshake timed out')):
            return StreamServer.wrap_socket(self, sock)

    def pre_start(self):
        StreamServer.pre_start(self)
        self.update_environ()

    def update_environ(self) -> None:
        """Called when the server starts: fill in ``SERVER_NAME``/``SERVER_PORT``
        (unless given in ``environ``) from the bound address."""
        host, port = self.server_host, self.server_port
        env = self.environ
        env.setdefault('SERVER_NAME', host if host and host not in ('0.0.0.0', '::') else 'localhost')
        env.setdefault('SERVER_PORT', str(port) if port is not None else '')

    def handle(self, sock, address):
        self.handler_class(sock, address, self).handle()

    def _before_join(self):
        # Graceful stop: connections waiting for their next request are closed now
        # (their recv sees EOF); busy ones answer Connection: close and end.
        self._stopping = True
        for handler in list(self._idle):
            try:
                handler.socket.shutdown(_socket.SHUT_RDWR)
            except OSError:
                pass


class _NullLog:
    def write(self, msg):
        pass

    def flush(self):
        pass


def _load_app(spec):
    import importlib
    module_name, _, attr = spec.partition(':')
    module = importlib.import_module(module_name)
    obj = module
    for part in (attr or 'application').split('.'):
        obj = getattr(obj, part)
    return obj


def main(argv=None):
    """``python -m gevent_lite.pywsgi [--bind HOST:PORT] [--patch] module:app``."""
    import argparse
    import os
    parser = argparse.ArgumentParser(prog='python -m gevent_lite.pywsgi',
                                     description='Serve a WSGI application with gevent_lite.')
    parser.add_argument('--bind', '-b', default='127.0.0.1:8000', help='HOST:PORT (default %(default)s)')
    parser.add_argument('--patch', action='store_true', help='call gevent_lite.monkey.patch_all() first')
    parser.add_argument('--no-access-log', action='store_true', help='do not log each request')
    parser.add_argument('--request-timeout', type=float, default=60.0)
    parser.add_argument('app', help='module:callable, e.g. myproject.wsgi:application')
    args = parser.parse_args(argv)
    if args.patch:
        from . import monkey
        monkey.patch_all()
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    app = _load_app(args.app)
    server = WSGIServer(args.bind, app, log=None if args.no_access_log else 'default',
                        request_timeout=args.request_timeout)
    server.start()
    sys.stderr.write('Serving %s on http://%s\n' % (args.app, server._format_address()))
    sys.stderr.flush()
    import signal
    from .hub import get_hub as _gh

    def _term(*_):
        _gh().run_callback_threadsafe(server.close)
    signal.signal(signal.SIGTERM, _term)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
