"""File objects that do not block the hub: :class:`FileObjectPosix`, :class:`FileObjectThread`.

A regular file is always "ready" as far as the poller is concerned, yet reading
it can block on the disk (or an NFS server); a pipe or a terminal can block for
ever. The two cooperative file objects handle these two cases:

* :class:`FileObjectPosix` is for pipes, ttys and sockets-as-files. It puts the
  descriptor in non-blocking mode and, whenever ``read``/``write`` would block,
  parks the calling greenlet in ``hub.wait_fd(fd, READ|WRITE)`` until the fd is
  ready, so other greenlets run meanwhile. Buffering and text decoding are the
  stdlib's own ``io.BufferedReader``/``BufferedWriter``/``TextIOWrapper`` over a
  small raw object. The descriptor's original blocking flag is restored on
  ``close()`` (a shell sharing a terminal with us must not find it non-blocking).
* :class:`FileObjectThread` is for regular files. It opens the file with
  ``io.open`` arguments and runs every operation (read, write, readline,
  seek, flush, close, ...) in the hub's thread pool with
  ``hub.threadpool.apply``; the calling greenlet parks on the result. One
  operation at a time per file object (a :class:`~gevent_lite.lock.Semaphore`),
  so greenlets sharing a file see their calls in order.
* :class:`FileObjectBlock` wraps a file and blocks, for code that wants the same
  interface without cooperation.

:data:`FileObject` is :class:`FileObjectPosix` by default, as in gevent; set
``config.fileobject`` (``GEVENT_LITE_FILEOBJECT`` / gevent's ``GEVENT_FILE``) to
``thread`` or ``block`` to change it. (``monkey.patch_sys`` does not use them: its
``sys.stdin`` runs each read in the pool of the hub of the thread that reads.)
"""

import io
import os

from .config import config
from .hub import READ, WRITE, get_hub, retry_io
from .lock import Semaphore

__all__ = ['FileObject', 'FileObjectPosix', 'FileObjectThread', 'FileObjectBlock']


def _parse_mode(mode):
    """``mode`` -> (reading, writing, binary); ``'r+'`` reads and writes."""
    if not isinstance(mode, str):
        raise TypeError('mode must be a str, not %r' % (type(mode).__name__,))
    allowed = set('rwabtU+x')
    if not mode or set(mode) - allowed:
        raise ValueError('invalid mode: %r' % (mode,))
    mode = mode.replace('U', '')
    binary = 'b' in mode
    if binary and 't' in mode:
        raise ValueError("can't have text and binary mode at once: %r" % (mode,))
    if sum(c in mode for c in 'rwax') != 1:
        raise ValueError('mode must contain exactly one of r, w, a, x: %r' % (mode,))
    reading = 'r' in mode or '+' in mode
    writing = 'r' not in mode or '+' in mode
    return reading, writing, binary


def _open_flags(mode):
    """The ``os.open`` flags for a path opened by :class:`FileObjectPosix`."""
    reading, writing, _ = _parse_mode(mode)
    flags = os.O_RDWR if reading and writing else os.O_RDONLY if reading else os.O_WRONLY
    if 'w' in mode:
        flags |= os.O_CREAT | os.O_TRUNC
    elif 'a' in mode:
        flags |= os.O_CREAT | os.O_APPEND
    elif 'x' in mode:
        flags |= os.O_CREAT | os.O_EXCL
    return flags | getattr(os, 'O_CLOEXEC', 0)


class GreenFileDescriptorIO(io.RawIOBase):
    """A raw, unbuffered file over a non-blocking fd that parks instead of blocking."""

    def __init__(self, fileno, mode='r', closefd=True):
        io.RawIOBase.__init__(self)
        self._fileno = fileno
        self._closefd = closefd
        self._readable, self._writable, _ = _parse_mode(mode)
        self._seekable = None
        self._hub = get_hub()
        self._was_blocking = os.get_blocking(fileno)
        if self._was_blocking:
            os.set_blocking(fileno, False)

    def fileno(self):
        if self.closed:
            raise ValueError('I/O operation on closed file')
        return self._fileno

    def readable(self):
        return self._readable

    def writable(self):
        return self._writable

    def seekable(self):
        # A regular file can seek, a pipe or a tty cannot: ask the kernel once.
        if self._seekable is None:
            try:
                os.lseek(self.fileno(), 0, os.SEEK_CUR)
            except OSError:
                self._seekable = False
            else:
                self._seekable = True
        return self._seekable

    def seek(self, offset, whence=os.SEEK_SET):
        # os.lseek's own OSError (ESPIPE on a pipe), not io's UnsupportedOperation.
        return os.lseek(self.fileno(), offset, whence)

    def tell(self):
        return self.seek(0, os.SEEK_CUR)

    def isatty(self):
        return os.isatty(self._fileno)

    def readinto(self, buf):
        if self.closed:
            raise ValueError('I/O operation on closed file')
        fd = self._fileno
        try:
            data = os.read(fd, len(buf))
        except BlockingIOError:
            # Park until readable (other greenlets run meanwhile), then read.
            data = retry_io(fd, READ, os.read, (fd, len(buf)))
        n = len(data)
        buf[:n] = data
        return n

    def readall(self):
        chunks = []
        while True:
            chunk = self.read(65536)
            if not chunk:
                return b''.join(chunks)
            chunks.append(chunk)

    def write(self, data):
        if self.closed:
            raise ValueError('I/O operation on closed file')
        fd = self._fileno
        try:
            return os.write(fd, data)
        except BlockingIOError:
            # Park until the reader made room in the pipe, then write.
            return retry_io(fd, WRITE, os.write, (fd, data))

    def close(self):
        if self.closed:
            return
        try:
            io.RawIOBase.close(self)
        finally:
            fd = self._fileno
            # Wake anybody parked on this fd with EBADF before the number is reused.
            self._hub.cancel_wait(fd)
            if self._was_blocking:
                try:
                    os.set_blocking(fd, True)
                except OSError:
                    pass
            if self._closefd:
                os.close(fd)


class _Wrapper:
    """Delegates the file interface to ``self.io`` (attributes resolved on demand)."""

    def __init__(self, fobj):
        self.io = fobj

    def __getattr__(self, name):
        if name == 'io':
            raise AttributeError(name)
        return getattr(self.io, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    @property
    def closed(self):
        return self.io.closed

    def __repr__(self):
        return '<%s %r>' % (type(self).__name__, self.io)


class FileObjectPosix(_Wrapper):
    """A cooperative file over a pipe/tty fd; see the module docstring.

    ``fobj`` is an int fd, an object with ``fileno()`` or a path (opened with
    ``os.open`` and closed with this object). ``mode`` is ``io.open``'s: ``'r'``
    (the default, text, as gevent and ``open()``), ``'rb'``, ``'w'``, ``'wb'``,
    ``'a'``...; text modes take ``encoding``, ``errors``, ``newline``. A ``'+'``
    mode needs a seekable fd (a regular file). ``close=True`` closes the fd on
    ``close()``.
    """

    default_bufsize = io.DEFAULT_BUFFER_SIZE

    def __init__(self, fobj, mode='r', bufsize=-1, close=True, encoding=None, errors=None,
                 newline=None, buffering=None):
        if buffering is not None:
            bufsize = buffering
        reading, writing, binary = _parse_mode(mode)
        name = None
        opened = isinstance(fobj, (str, bytes, os.PathLike))
        if opened:
            name = fobj
            fileno = os.open(fobj, _open_flags(mode), 0o666)
            self._fobj = None
            close = True     # we opened it, we close it
        elif isinstance(fobj, bool) or not isinstance(fobj, int):
            try:
                fileno = fobj.fileno()
            except AttributeError:
                raise TypeError('FileObjectPosix needs an int fd, an object with fileno() '
                                'or a path, not %r' % (fobj,)) from None
            self._fobj = fobj    # keep the owner (and so the fd) alive
            name = getattr(fobj, 'name', None)
        else:
            fileno = fobj
            self._fobj = None
            name = fileno
        if fileno < 0:
            raise ValueError('invalid file descriptor %d' % fileno)
        self.mode = mode
        line_buffering = False
        if bufsize == 1:
            if binary:
                bufsize = -1
            else:
                line_buffering = True
                bufsize = -1
        if bufsize < 0:
            bufsize = self.default_bufsize
        if bufsize == 0 and not binary:
            raise ValueError("can't have unbuffered text I/O")
        # An owner object (a Popen pipe, an open file) closes its fd itself: closing the
        # fd behind its back would make the owner's own close/finalizer hit EBADF, or
        # worse, close an fd number that was reused meanwhile.
        self._close_owner = close and self._fobj is not None
        raw_mode = 'r+' if reading and writing else 'r' if reading else 'w'
        if reading and writing:
            try:
                os.lseek(fileno, 0, os.SEEK_CUR)
            except OSError:
                if opened:
                    os.close(fileno)
                raise ValueError('FileObjectPosix cannot be opened for reading and writing (%r) '
                                 'on a fd that cannot seek: use two objects' % (mode,)) from None
        # Validate everything before this: the raw object makes the fd non-blocking.
        self.fileio = raw = GreenFileDescriptorIO(fileno, raw_mode,
                                                  closefd=close and self._fobj is None)
        if name is not None:
            # Like io.FileIO.name: the path or the fd; a nameless owner leaves it unset
            # (AttributeError), as the builtin file objects do.
            raw.name = name
        if bufsize == 0:
            f = raw
        elif reading and writing:
            f = io.BufferedRandom(raw, bufsize)
        elif reading:
            f = io.BufferedReader(raw, bufsize)
        else:
            f = io.BufferedWriter(raw, bufsize)
        if not binary:
            f = io.TextIOWrapper(f, encoding=encoding, errors=errors, newline=newline,
                                 line_buffering=line_buffering, write_through=line_buffering)
        _Wrapper.__init__(self, f)

    def close(self):
        fobj, self._fobj = self._fobj, None
        try:
            self.io.close()
        finally:
            if self._close_owner and fobj is not None:
                fobj.close()


class FileObjectThread(_Wrapper):
    """A file whose every operation runs in the hub's thread pool; see the module docstring.

    ``fobj`` is a path, an fd or an open file object; the other arguments are
    ``io.open``'s (``bufsize`` is gevent's name for ``buffering``). ``lock=True``
    serializes operations from several greenlets (pass a semaphore of your own,
    or False). ``threadpool`` defaults to the current hub's.
    """

    def __init__(self, fobj, mode='r', bufsize=-1, close=True, threadpool=None, lock=True,
                 encoding=None, errors=None, newline=None, buffering=None):
        if buffering is not None:
            bufsize = buffering
        if isinstance(fobj, (str, bytes, os.PathLike)) or (
                isinstance(fobj, int) and not isinstance(fobj, bool)):
            fobj = io.open(fobj, mode, bufsize, encoding=encoding, errors=errors,
                           newline=newline, closefd=close if isinstance(fobj, int) else True)
        elif not any(hasattr(fobj, m) for m in ('read', 'write', 'fileno')):
            raise TypeError('FileObjectThread needs a path, an fd or a file object, not %r'
                            % (fobj,))
        self._close = close
        if threadpool is None:
            from . import threadpool as _tp  # noqa: F401 -- registers the hub's pool factory
            threadpool = get_hub().threadpool
        self.threadpool = threadpool
        if lock is True:
            lock = Semaphore(1)
        elif lock is False or lock is None:
            lock = None
        self.lock = lock
        _Wrapper.__init__(self, fobj)

    def _apply(self, method, args=(), kwargs=None):
        f = self.io
        if f is None:
            raise ValueError('I/O operation on closed file')
        func = getattr(f, method)
        lock = self.lock
        if lock is None:
            return self.threadpool.apply(func, args, kwargs)
        # Park on the semaphore (one operation at a time), then on the pool's result.
        with lock:
            return self.threadpool.apply(func, args, kwargs)

    def close(self):
        f = self.io
        if f is None or f.closed:
            return
        if self._close:
            self._apply('close')
        else:
            self._apply('flush')

    @property
    def closed(self):
        return self.io.closed

    def __getattr__(self, name):
        if name == 'io':
            raise AttributeError(name)
        attr = getattr(self.io, name)
        if name in _THREADED and callable(attr):
            def call(*args, **kwargs):
                return self._apply(name, args, kwargs)
            call.__name__ = name
            return call
        return attr


_THREADED = frozenset((
    'read', 'read1', 'readinto', 'readinto1', 'readline', 'readlines', 'readall',
    'write', 'writelines', 'flush', 'seek', 'tell', 'truncate', 'peek',
))


class FileObjectBlock(_Wrapper):
    """A plain, blocking file with the same constructor; for comparison or opt-out."""

    def __init__(self, fobj, *args, **kwargs):
        close = kwargs.pop('close', True)
        bufsize = kwargs.pop('bufsize', None)
        if bufsize is not None:
            kwargs['buffering'] = bufsize
        if isinstance(fobj, (str, bytes, os.PathLike)) or (
                isinstance(fobj, int) and not isinstance(fobj, bool)):
            if isinstance(fobj, int):
                kwargs['closefd'] = close
            fobj = io.open(fobj, *args, **kwargs)
        _Wrapper.__init__(self, fobj)

    def close(self):
        self.io.close()


_KINDS = {'posix': FileObjectPosix, 'thread': FileObjectThread, 'block': FileObjectBlock}

#: The default cooperative file object (``config.fileobject``; POSIX: FileObjectPosix).
FileObject = _KINDS[config.fileobject] if os.name == 'posix' else FileObjectThread

