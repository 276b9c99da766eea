"""The ``subprocess`` module, with a :class:`Popen` whose waits park greenlets, not the hub.

Public names: everything of :mod:`subprocess`, where :class:`Popen`, :func:`run`,
:func:`call`, :func:`check_call`, :func:`check_output`, :func:`getoutput` and
:func:`getstatusoutput` are replaced (they are the stdlib's functions in
behaviour -- arguments, ``TimeoutExpired``/``CalledProcessError`` semantics,
killing the child on timeout in ``run`` -- built on the green ``Popen``).

How it cooperates with the hub
------------------------------
* :class:`Popen` is a :class:`~gevent_lite.hub.Linkable`, ready once the child
  has exited and was reaped: ``wait(timeout)`` parks on it, and
  ``gevent_lite.wait([p1, p2])``/``iwait``/``joinall`` and ``rawlink`` watch it.
  Its readiness comes from one *watcher* greenlet per process. The watcher waits for the child to exit
  without any signal (:func:`gevent_lite.os.wait_child`, the library's one
  child-wait): on Linux it waits for the process's pidfd
  (``os.pidfd_open``) to become readable with ``hub.wait_fd``; elsewhere it
  polls ``waitpid(pid, WNOHANG)`` on hub timers, every 1 ms backing off to
  50 ms. We chose this over a SIGCHLD handler on purpose: it reaps only our
  own child, never replaces or starves a user's SIGCHLD handler, and never
  steals another library's child status (gevent#857, #622, #452). Any number
  of greenlets may wait on the same process; when the last one gives up
  (timeout or kill) and no link is left the watcher is stopped.
* ``communicate(input, timeout)`` makes the pipes non-blocking and moves data
  in one greenlet per pipe, each parking on ``hub.wait_fd`` when its pipe is
  not ready. On timeout the partial output is attached to ``TimeoutExpired``
  and the pipe greenlets keep going, so calling ``communicate()`` again
  continues where it stopped, as the stdlib allows.
* Only the stdlib's two blocking hooks are replaced, ``_wait(timeout)`` and
  ``_communicate(input, endtime, orig_timeout)`` (both unchanged since 3.3);
  the public ``wait()``/``communicate()`` stay the stdlib's, so argument
  checks, the single-pipe fast path and the KeyboardInterrupt handling are
  exactly the stdlib's. Reaping uses the stdlib's own ``_try_wait`` and
  ``_handle_exitstatus`` under its ``_waitpid_lock``.
* ``poll()`` never blocked; it is the stdlib's.

* The ``stdin``/``stdout``/``stderr`` pipe files are cooperative too: after
  the stdlib has started the child, each pipe fd is moved (``dup``) onto a raw
  file whose ``read``/``readinto``/``write`` park on ``hub.wait_fd`` instead
  of blocking, wrapped in the same buffering and text layers the stdlib would
  use (``bufsize``, ``encoding``, ``errors``, line buffering). So
  ``proc.stdout.readline()`` or ``for line in proc.stdout`` let other
  greenlets run. The fds stay in blocking mode at rest and are switched to
  non-blocking only around each read or write: the flag is shared with any
  child the pipe is handed to (``stdin=p1.stdout``), which must not see it.
"""

import errno as _errno
import io as _io
import os as _os
import subprocess as _subprocess
import sys as _sys
from typing import Any, Callable

from ._stdlib import reexport
from .fileobject import FileObject  # noqa: F401  (gevent.subprocess.FileObject, as in gevent)
from .greenlet import Greenlet, joinall
from .hub import READ, WRITE, Linkable, get_hub, retry_io
from .os import wait_child

_WNOHANG = getattr(_os, 'WNOHANG', 1)
_StdPopen = _subprocess.Popen
PIPE = _subprocess.PIPE
STDOUT = _subprocess.STDOUT
TimeoutExpired = _subprocess.TimeoutExpired
CalledProcessError = _subprocess.CalledProcessError
CompletedProcess = _subprocess.CompletedProcess

_READ_SIZE = 65536


def _cooperative(fd, attempt, arg, event):
    """Run ``attempt(arg)`` with ``fd`` non-blocking; park while it would block."""
    try:
        return _attempt_nonblocking(fd, attempt, arg)
    except BlockingIOError:
        return retry_io(fd, event, _attempt_nonblocking, (fd, attempt, arg))


def _attempt_nonblocking(fd, attempt, arg):
    # The fd is switched to non-blocking only for the syscall and back right
    # after: O_NONBLOCK belongs to the open file description, which a child
    # process shares when the pipe is passed on (``stdin=p1.stdout``), and a
    # child must never find its stdin non-blocking. ``attempt`` returns None
    # (FileIO) or raises BlockingIOError (os.read/os.write) when it would block.
    _os.set_blocking(fd, False)
    try:
        result = attempt(arg)
    finally:
        _os.set_blocking(fd, True)
    if result is None:
        raise BlockingIOError(_errno.EAGAIN, 'would block')
    return result


class _GreenFileIO(_io.FileIO):
    """A raw pipe file whose reads and writes park the greenlet instead of blocking."""

    def readinto(self, buffer):
        return _cooperative(self.fileno(), super().readinto, buffer, READ)

    def read(self, size=-1):
        if size is None or size < 0:
            return self.readall()
        return _cooperative(self.fileno(), super().read, size, READ)

    def readall(self):
        chunks = []
        while True:
            data = self.read(_READ_SIZE)
            if not data:
                return b''.join(chunks)
            chunks.append(data)

    def write(self, data):
        return _cooperative(self.fileno(), super().write, data, WRITE)

    def close(self):
        if not self.closed:
            # Kept registrations (docs/internals.rst): forget the fd before closing it.
            get_hub().cancel_wait(self.fileno())
        _io.FileIO.close(self)


def _green_pipe(fileobj, writing, bufsize):
    """Rebuild a stdlib pipe file (binary or text) on a :class:`_GreenFileIO`."""
    text = isinstance(fileobj, _io.TextIOWrapper)
    if text:
        params = dict(encoding=fileobj.encoding, errors=fileobj.errors,
                      line_buffering=fileobj.line_buffering,
                      write_through=fileobj.write_through)
    fd = _os.dup(fileobj.fileno())
    try:
        fileobj.close()
        get_hub().cancel_wait(fd)     # a new number: whatever the hub knew of it is stale
        raw = _GreenFileIO(fd, 'wb' if writing else 'rb')
    except BaseException:
        _os.close(fd)
        raise
    if bufsize == 0:
        obj = raw
    else:
        size = bufsize if bufsize > 1 else _io.DEFAULT_BUFFER_SIZE
        obj = (_io.BufferedWriter if writing else _io.BufferedReader)(raw, size)
    if text:
        obj = _io.TextIOWrapper(obj, **params)
    return obj


class Popen(_StdPopen, Linkable):
    """``subprocess.Popen`` whose ``wait()``, ``communicate()`` and pipe files park the greenlet.

    It is also linkable (ready once the child exited): ``gevent_lite.wait([p1, p2],
    timeout=2)``, ``iwait``, ``joinall`` and ``rawlink`` accept it.
    """

    # Linkable state, as class defaults (set on first use).
    hub = None
    _links = ()  # type: ignore[assignment]  # a list from the first rawlink
    _lot = None
    _notify_scheduled = False

    def __init__(self, *args, **kwargs):
        # Set before the stdlib __init__: its __del__ may run if __init__ fails.
        self._gl_watcher = None
        self._gl_nwaiters = 0
        self._gl_comm = None
        super().__init__(*args, **kwargs)
        bufsize = kwargs.get('bufsize', args[1] if len(args) > 1 else -1)
        if bufsize is None or (bufsize == 1 and self.text_mode):
            bufsize = -1      # what the stdlib does, too
        try:
            if self.stdin is not None:
                self.stdin = _green_pipe(self.stdin, True, bufsize)
            if self.stdout is not None:
                self.stdout = _green_pipe(self.stdout, False, bufsize)
            if self.stderr is not None:
                self.stderr = _green_pipe(self.stderr, False, bufsize)
        except BaseException:
            self.kill()
            self.wait()
            raise

    def _get_handles(self, stdin, stdout, stderr):
        handles = super()._get_handles(stdin, stdout, stderr)
        # The child's ends (p2cread, c2pwrite, errwrite). One the caller passed in
        # may be non-blocking (a green FileObject or socket): the child's programs
        # expect blocking stdio ('grep: Resource temporarily unavailable'), so it
        # is made blocking, as gevent does in its child. The flag belongs to the
        # open file, which the caller's object shares: hand a child an fd you no
        # longer read or write cooperatively yourself.
        for fd in (handles[0], handles[3], handles[5]):
            if isinstance(fd, int) and fd >= 0 and not _os.get_blocking(fd):
                _os.set_blocking(fd, True)
        return handles

    # -- waiting for exit ----------------------------------------------------------------

    def _wait(self, timeout):
        """Wait for exit; parks only the calling greenlet. ``TimeoutExpired`` after ``timeout``.

        This is the hook the stdlib's public ``wait()`` calls (its
        KeyboardInterrupt handling stays the stdlib's).
        """
        if self._gl_reap():                # non-blocking attempt first
            return self.returncode
        self._gl_start_watcher()
        self._gl_nwaiters += 1
        try:
            # Parks until the watcher saw the exit (or the timeout passes).
            if not self._wait_ready(timeout) and not self._gl_reap():
                raise TimeoutExpired(self.args, timeout)
        finally:
            self._gl_nwaiters -= 1
            self._gl_stop_unwatched()
        return self.returncode

    def ready(self) -> bool:
        """True once the child has exited and was reaped (``returncode`` is set)."""
        return self.returncode is not None

    def rawlink(self, callback: Callable[[Any], Any]) -> None:
        """Have the hub call ``callback(self)`` once the child has exited."""
        Linkable.rawlink(self, callback)
        if not self.ready():
            self._gl_start_watcher()

    def unlink(self, callback: Callable[[Any], Any]) -> None:
        Linkable.unlink(self, callback)
        self._gl_stop_unwatched()

    def _gl_start_watcher(self):
        if self._gl_watcher is None or self._gl_watcher.dead:
            self._gl_watcher = Greenlet(self._gl_watch)
            self._gl_watcher.start()

    def _gl_stop_unwatched(self):
        watcher = self._gl_watcher
        if watcher is not None and not self._gl_nwaiters and not self._links and not self.ready():
            # Nobody waits any more: stop watching (no fd or timer left behind).
            self._gl_watcher = None
            watcher.kill(block=False)

    def _gl_reap(self):
        # One waitpid(WNOHANG) for our child, done the way the stdlib's own wait
        # does it (its lock, _try_wait, _handle_exitstatus), so statuses --
        # stopped, signalled, already reaped elsewhere -- come out identical.
        if self.returncode is not None:
            return True
        if not self._waitpid_lock.acquire(False):
            return False                   # another thread is reaping it right now
        try:
            if self.returncode is not None:
                return True
            pid, sts = self._try_wait(_WNOHANG)
            if pid == self.pid:
                self._handle_exitstatus(sts)
                return True
            return False
        finally:
            self._waitpid_lock.release()

    def __exit__(self, exc_type, value, traceback):
        # Pipe greenlets still running (communicate() timed out) must finish
        # before the stdlib closes their files under them.
        comm = self._gl_comm
        if comm is not None:
            for g in comm[0]:
                if not g.dead:
                    g.kill()
        return super().__exit__(exc_type, value, traceback)

    def _gl_watch(self):
        # The watcher greenlet: park until the child exits and is reaped, then
        # wake the waiters and run the links.
        wait_child(lambda: True if self._gl_reap() else None, self.pid)
        self._check_and_notify()

    # -- moving data ---------------------------------------------------------------------

    def _communicate(self, input, endtime, orig_timeout):
        # The hook the stdlib's public communicate() calls when more than one pipe
        # is involved or a timeout is given (the single-pipe case reads/writes the
        # pipe files directly, which are cooperative here). Its KeyboardInterrupt
        # handling and final wait() stay the stdlib's.
        comm = self._gl_comm
        if comm is None:
            comm = self._gl_comm = self._gl_start_communication(input)
        greenlets, out, err = comm
        pending = [g for g in greenlets if not g.dead]
        if pending:
            # Parks until every pipe greenlet finished or the deadline passed.
            joinall(pending, timeout=self._remaining_time(endtime))
            if any(not g.dead for g in pending):
                raise TimeoutExpired(self.args, orig_timeout,
                                     output=b''.join(out) if out else None,
                                     stderr=b''.join(err) if err else None)
        for g in greenlets:
            if g.exception is not None:
                raise g.exception
        try:
            self.wait(timeout=self._remaining_time(endtime))
        except TimeoutExpired:
            # Report the timeout the caller gave (communicate(timeout=0.2), run(...,
            # timeout=0.2)), not what was left of it when this last wait began.
            raise TimeoutExpired(self.args, orig_timeout,
                                 output=b''.join(out) if out else None,
                                 stderr=b''.join(err) if err else None) from None
        stdout = b''.join(out) if out is not None else None
        stderr = b''.join(err) if err is not None else None
        if self.text_mode:
            if stdout is not None:
                stdout = self._gl_decode(stdout, self._gl_encodings[0])
            if stderr is not None:
                stderr = self._gl_decode(stderr, self._gl_encodings[1])
        return stdout, stderr

    def _gl_start_communication(self, input):
        self._communication_started = True
        greenlets = []
        out = err = None
        self._gl_encodings = (None, None)
        if self.text_mode:
            self._gl_encodings = tuple(
                (f.encoding, f.errors) if f is not None else None
                for f in (self.stdout, self.stderr))
        if self.stdin:
            try:
                self.stdin.flush()     # data the caller wrote but did not flush
            except BrokenPipeError:
                pass
            except ValueError:
                pass                   # already closed
            if input and self.text_mode:
                input = input.encode(self.stdin.encoding, self.stdin.errors)
            greenlets.append(Greenlet(self._gl_feed, self.stdin, input))
        if self.stdout:
            out = []
            greenlets.append(Greenlet(self._gl_drain, self.stdout, out))
        if self.stderr:
            err = []
            greenlets.append(Greenlet(self._gl_drain, self.stderr, err))
        for g in greenlets:
            g.start()
        return greenlets, out, err

    @staticmethod
    def _gl_feed(fileobj, data):
        try:
            if data:
                fd = fileobj.fileno()
                view = memoryview(data).cast('B')
                offset = 0
                try:
                    while offset < len(view):
                        offset += _cooperative(fd, _write_to(fd), view[offset:offset + _READ_SIZE],
                                               WRITE)
                except (BrokenPipeError, ConnectionResetError):
                    pass               # the child stopped reading: like the stdlib, ignore
                except OSError as e:
                    if e.errno != _errno.EINVAL:   # the stdlib ignores EINVAL too (child exited)
                        raise
        finally:
            _close(fileobj)

    @staticmethod
    def _gl_drain(fileobj, chunks):
        try:
            fd = fileobj.fileno()
            read = _read_from(fd)
            while True:
                data = _cooperative(fd, read, _READ_SIZE, READ)
                if not data:
                    break
                chunks.append(data)
        finally:
            _close(fileobj)

    @staticmethod
    def _gl_decode(data, encoding):
        enc, errors = encoding
        text = data.decode(enc, errors)
        return text.replace('\r\n', '\n').replace('\r', '\n')


def _read_from(fd):
    return lambda n: _os.read(fd, n)


def _write_to(fd):
    return lambda data: _os.write(fd, data)


def _close(fileobj):
    # Kept registrations (docs/internals.rst): forget the fd before closing it.
    try:
        fd = fileobj.fileno()
    except (ValueError, OSError):
        fd = None
    if fd is not None:
        get_hub().cancel_wait(fd)
    try:
        fileobj.close()
    except (BrokenPipeError, OSError):
        pass


# -- the convenience functions, as in the stdlib but built on our Popen ------------------

def _popen_class():
    # After monkey-patching, ``subprocess.Popen`` is our class -- or a subclass
    # somebody put there (tests do, to record instances); the stdlib's functions
    # would pick that up through their module global, so we do too.
    cls = _subprocess.Popen
    return cls if isinstance(cls, type) and issubclass(cls, Popen) else Popen


def run(*popenargs, input=None, capture_output=False, timeout=None, check=False, **kwargs):
    """Run a command and return a ``CompletedProcess``; kills the child on timeout."""
    if input is not None:
        if kwargs.get('stdin') is not None:
            raise ValueError('stdin and input arguments may not both be used.')
        kwargs['stdin'] = PIPE
    if capture_output:
        if kwargs.get('stdout') is not None or kwargs.get('stderr') is not None:
            raise ValueError('stdout and stderr arguments may not be used with capture_output.')
        kwargs['stdout'] = PIPE
        kwargs['stderr'] = PIPE
    with _popen_class()(*popenargs, **kwargs) as process:
        try:
            stdout, stderr = process.communicate(input, timeout=timeout)
        except TimeoutExpired:
            process.kill()
            process.wait()
            raise
        except BaseException:
            process.kill()
            raise
        retcode = process.poll()
        if check and retcode:
            raise CalledProcessError(retcode, process.args, output=stdout, stderr=stderr)
    return CompletedProcess(process.args, retcode, stdout, stderr)


def call(*popenargs, timeout=None, **kwargs):
    """Run a command, wait for it, return its exit code (kills it on timeout)."""
    with _popen_class()(*popenargs, **kwargs) as p:
        try:
            return p.wait(timeout=timeout)
        except BaseException:
            p.kill()
            raise


def check_call(*popenargs, **kwargs):
    """Like :func:`call` but raises ``CalledProcessError`` on a non-zero exit code."""
    retcode = call(*popenargs, **kwargs)
    if retcode:
        cmd = kwargs.get('args')
        if cmd is None:
            cmd = popenargs[0]
        raise CalledProcessError(retcode, cmd)
    return 0


def check_output(*popenargs, timeout=None, **kwargs):
    """Run a command and return its stdout; ``CalledProcessError`` on failure."""
    for kw in ('stdout', 'check'):
        if kw in kwargs:
            raise ValueError('%s argument not allowed, it will be overridden.' % kw)
    if 'input' in kwargs and kwargs['input'] is None:
        text = (kwargs.get('universal_newlines') or kwargs.get('text')
                or kwargs.get('encoding') or kwargs.get('errors'))
        kwargs['input'] = '' if text else b''
    return run(*popenargs, stdout=PIPE, timeout=timeout, check=True, **kwargs).stdout


def getstatusoutput(cmd, *, encoding=None, errors=None):
    """``(exitcode, output)`` of ``cmd`` run in a shell, stderr folded into stdout."""
    try:
        data = check_output(cmd, shell=True, text=True, stderr=STDOUT,
                            encoding=encoding, errors=errors)
        exitcode = 0
    except CalledProcessError as ex:
        data = ex.output
        exitcode = ex.returncode
    if data[-1:] == '\n':
        data = data[:-1]
    return exitcode, data


def getoutput(cmd, *, encoding=None, errors=None):
    """The output (stdout and stderr) of ``cmd`` run in a shell."""
    return getstatusoutput(cmd, encoding=encoding, errors=errors)[1]


#: The names ``monkey.patch_subprocess`` copies into ``subprocess``.
__implements__ = ['Popen', 'run', 'call', 'check_call', 'check_output', 'getoutput',
                  'getstatusoutput']
__all__ = reexport(_subprocess, globals(), __implements__)
#: The stdlib's public names re-exported unchanged.
__imports__ = [n for n in __all__ if n not in __implements__]
del _sys
