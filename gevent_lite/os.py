"""The ``os`` module, with fork, waitpid and non-blocking fd I/O that cooperate with the hub.

Public names: everything of :mod:`os`, where :func:`fork`, :func:`forkpty`,
:func:`waitpid`, :func:`wait`, :func:`read` and :func:`write` are replaced, plus :func:`nb_read`,
:func:`nb_write`, :func:`tp_read`, :func:`tp_write`, :func:`make_nonblocking`,
:func:`fork_gevent`, :func:`forkpty_gevent`, :func:`fork_and_watch`,
:func:`forkpty_and_watch`.

How it cooperates with the hub
------------------------------
* **fork**: the child must not run copies of the parent's greenlets
  (gevent#2202). Importing this module registers an ``os.register_at_fork``
  child hook that calls :func:`gevent_lite.hub.reinit`, so after *any* fork --
  ours, ``os.fork`` itself, ``pty.fork``, multiprocessing -- the child starts
  with a fresh hub, an empty run queue, and (because both live on the hub) a
  new thread pool and resolver. The greenlet that forked carries on in the
  child as its main greenlet (a green thread that forks becomes the child's
  main thread, as an OS thread does); every other greenlet of the parent,
  the parent's main greenlet included, stays suspended forever. When the
  forking greenlet ends in the child, the child exits, as a process does
  when the one thread it has left ends.
* **waitpid** without ``WNOHANG`` parks the calling greenlet instead of
  blocking the hub. For one child (``pid > 0``) it waits on a Linux *pidfd*
  (``os.pidfd_open``), which becomes readable when the process exits: no
  signal handler, no polling, and only that child is reaped. Where pidfds are
  unavailable (other OSes, old kernels), or for ``pid <= 0`` and
  ``WUNTRACED``/``WCONTINUED`` waits, it polls ``waitpid(..., WNOHANG)`` on hub
  timers, starting at 1 ms and backing off to 50 ms. SIGCHLD is never touched,
  so a user's SIGCHLD handler keeps working (gevent#857, #622), and nothing
  reaps children it was not asked for (gevent#452).
* **read / write** (what ``patch_os`` puts into ``os``) park the calling
  greenlet while a *blocking* pipe, FIFO or socket is not ready, then make the
  plain syscall, which no longer blocks; the fd's blocking mode is left alone
  and regular files, devices and non-blocking fds get the plain call. So a
  green thread reading a ``multiprocessing.Queue`` or a pipe another green
  thread (or a forked child) writes lets the others run meanwhile.
* **nb_read / nb_write** try the syscall first and park on ``hub.wait_fd``
  only when it would block; **tp_read / tp_write** run the plain syscall in the
  hub's thread pool (for fds that cannot be polled or made non-blocking).
* **fork_and_watch** forks and, in the parent, spawns a greenlet that reaps the
  child with the cooperative wait and then calls the callback; the status stays
  available to a later ``waitpid(pid)`` or ``waitpid(-1)`` (for a minute), as in
  gevent, and a ``waitpid`` that reaps the child first passes it to the callback.
"""

from __future__ import annotations

import os as _os
import select as _select
from typing import Any, Callable
import stat as _stat

from greenlet import getcurrent as _getcurrent

from . import hub as _hubmod
from ._stdlib import reexport
from .hub import READ, WRITE, get_hub, get_hub_if_exists, retry_io, sleep

_fork = _os.fork
_forkpty: Any = getattr(_os, 'forkpty', None)
_waitpid = _os.waitpid
_read = _os.read
_write = _os.write
_pidfd_open = getattr(_os, 'pidfd_open', None)
_WNOHANG = getattr(_os, 'WNOHANG', 1)

try:
    from fcntl import F_GETFL as _F_GETFL
    from fcntl import fcntl as _fcntl
except ImportError:  # pragma: no cover - not POSIX
    _fcntl = None  # type: ignore[assignment]
_fstat = _os.fstat
_O_NONBLOCK = getattr(_os, 'O_NONBLOCK', 0)
_O_ACCMODE = getattr(_os, 'O_ACCMODE', 3)
_S_ISFIFO = _stat.S_ISFIFO
_S_ISSOCK = _stat.S_ISSOCK
# The C poll, for a non-blocking readiness check (patch_select may have replaced
# select.poll already if this module is imported late: then take the original).
_poll = getattr(_select, 'poll', None)
if _poll is not None and getattr(_poll, '__module__', '').startswith('gevent_lite'):
    from .select import _original_poll as _poll
_POLLIN = getattr(_select, 'POLLIN', 1)
_POLLOUT = getattr(_select, 'POLLOUT', 4)
#: The most a green :func:`write` hands a blocking pipe or socket at once: a pipe
#: that polls writable takes this much without blocking.
_CHUNK = getattr(_select, 'PIPE_BUF', 512)

#: Longest pause between two ``waitpid(WNOHANG)`` polls, in seconds.
POLL_MAX_INTERVAL = 0.05


def _hub_to_park_in(fd, wrong_mode):
    """The hub to park in while ``fd`` is not ready, or None when the plain call is right.

    Only a blocking pipe, FIFO or socket can stop the OS thread for an unbounded
    time; regular files, terminals and devices, non-blocking fds (their callers
    handle ``EAGAIN`` themselves), an fd not open for the operation (access mode
    ``wrong_mode``: the syscall fails at once with ``EBADF``, while readiness for
    it would never come), the hub itself and a thread with no hub (no greenlet
    could run meanwhile) get the plain syscall. The fd's blocking mode is never
    changed: another process or thread may share it.
    """
    hub = get_hub_if_exists()
    if hub is None or _getcurrent() is hub or _poll is None or _fcntl is None:
        return None
    try:
        flags = _fcntl(fd, _F_GETFL)
        if flags & _O_NONBLOCK or flags & _O_ACCMODE == wrong_mode:
            return None
        mode = _fstat(fd).st_mode
    except (OSError, TypeError, ValueError, OverflowError):
        return None          # the plain call raises the right error
    if _S_ISFIFO(mode) or _S_ISSOCK(mode):
        return hub
    return None


def _park_until_ready(hub, fd, pollbit, event):
    # Ask the OS without blocking first; only if the fd is not ready, park until
    # the hub sees it ready (wait_fds leaves no registration behind: the fd may be
    # closed with a plain os.close the hub never hears of). Any readiness bit --
    # data, hang-up, error -- means the syscall now returns at once.
    p = _poll()
    p.register(fd, pollbit)
    while not p.poll(0):
        hub.wait_fds(((fd, event),))


def read(fd: int, n: int) -> bytes:
    """``os.read`` that parks the calling greenlet, not the hub, until a blocking
    pipe, FIFO or socket has something to read; everything else (regular files,
    devices, non-blocking fds, the wrong end of a pipe) gets the plain call.

    This is what makes ``multiprocessing.Queue``/``Pipe`` and plain pipes used
    from green threads cooperate after ``monkey.patch_os()``.
    """
    hub = _hub_to_park_in(fd, _os.O_WRONLY)
    if hub is not None:
        _park_until_ready(hub, fd, _POLLIN, READ)
    return _read(fd, n)


def write(fd: int, data: Any) -> int:
    """``os.write`` that parks the calling greenlet while a blocking pipe, FIFO or
    socket is full.

    A blocking fd takes everything before ``write`` returns, as the syscall on
    it does; here that happens in pieces of at most ``PIPE_BUF`` bytes (so each
    piece goes through without blocking, and one of at most ``PIPE_BUF`` bytes
    stays atomic), parking in between. An error after some bytes went out returns
    their count, as ``write(2)`` does.
    """
    hub = _hub_to_park_in(fd, _os.O_RDONLY)
    if hub is None:
        return _write(fd, data)
    view = memoryview(data).cast('B')
    total = len(view)
    if total <= _CHUNK:
        _park_until_ready(hub, fd, _POLLOUT, WRITE)
        return _write(fd, data)
    done = 0
    while done < total:
        _park_until_ready(hub, fd, _POLLOUT, WRITE)
        try:
            done += _write(fd, view[done:done + _CHUNK])
        except OSError:
            if done:
                return done
            raise
    return done


def nb_read(fd: int, n: int) -> bytes:
    """Read up to ``n`` bytes from the non-blocking ``fd``, parking while none are ready."""
    try:
        return _read(fd, n)
    except BlockingIOError:
        # Parks until the fd is readable (registration is kept for the next read).
        return retry_io(fd, READ, _read, (fd, n))


def nb_write(fd: int, buf: Any) -> int:
    """Write ``buf`` to the non-blocking ``fd``; parks while it would block. Returns bytes written."""
    try:
        return _write(fd, buf)
    except BlockingIOError:
        return retry_io(fd, WRITE, _write, (fd, buf))


def make_nonblocking(fd: int) -> bool:
    """Put ``fd`` in non-blocking mode; True if it was blocking before."""
    if _os.get_blocking(fd):
        _os.set_blocking(fd, False)
        return True
    return False


def fork() -> int:
    """``os.fork()``; the child gets a fresh hub (see the module docstring)."""
    return _fork()


fork_gevent = fork

if _forkpty is not None:
    def forkpty() -> tuple[int, int]:
        """``os.forkpty()``; the child gets a fresh hub."""
        return _forkpty()

    forkpty_gevent = forkpty


class ChildStatus:
    """What :func:`fork_and_watch` hands its callback: ``pid``, ``rpid``, ``rstatus``."""

    __slots__ = ('pid', 'rpid', 'rstatus')

    def __init__(self, pid, rpid, rstatus):
        self.pid = pid
        self.rpid = rpid
        self.rstatus = rstatus

    def __repr__(self):
        return '<ChildStatus pid=%d rstatus=%d>' % (self.pid, self.rstatus)


def fork_and_watch(callback: Callable[[ChildStatus], Any] | None = None, loop: Any = None,
                   ref: bool = False, fork: Callable[[], int] = fork) -> int:
    """Fork; in the parent, reap the child in a greenlet and call ``callback(status)``.

    ``status`` is a :class:`ChildStatus`. Returns what ``fork`` returns (0 in the
    child). ``loop`` and ``ref`` are accepted for gevent compatibility.
    """
    pid = fork()
    if pid:
        from .greenlet import spawn

        _watched[pid] = None

        def _reap():
            try:
                # Parks until the child exits (the plain wait: no status tables).
                rpid, rstatus = _waitpid_parked(pid, 0)
            except ChildProcessError:
                # A waitpid() caller reaped it first and left us its status.
                got = _watched.pop(pid, None)
                if got is None:
                    return             # reaped behind our back (the stdlib's os.wait)
                rpid, rstatus = got
            else:
                _watched.pop(pid, None)
                _keep_exit(pid, (rpid, rstatus))
            if callback is not None:
                callback(ChildStatus(pid, rpid, rstatus))
        spawn(_reap)
    return pid


# A child of fork_and_watch is reaped by its watcher greenlet, and a waitpid()
# for it -- or for any child (-1) -- must still get its status, as in gevent.
# So the watcher keeps each status it reaped here (a minute at most, for
# programs that never ask), and waitpid() hands them out; when a waitpid()
# caller reaps a watched child first, it leaves the status in _watched for the
# watcher's callback.
_watched: dict[int, Any] = {}                  # watched pid -> status a waitpid() took
_exits: dict[int, tuple[float, Any]] = {}      # pid -> (when, status) nobody took yet
_EXITS_KEPT = 60.0


def _keep_exit(pid, status):
    now = _hubmod.now()
    for old in [p for p, (when, _) in _exits.items() if now - when > _EXITS_KEPT]:
        del _exits[old]
    _exits[pid] = (now, status)


def _take_exit(pid):
    if pid > 0:
        entry = _exits.pop(pid, None)
    elif pid == -1 and _exits:
        entry = _exits.pop(next(iter(_exits)))
    else:
        entry = None
    return None if entry is None else entry[1]


def _reaped(result):
    # A waitpid() caller reaped result[0]: if a watcher waits for it, tell it how.
    if result[0] in _watched:
        _watched[result[0]] = result
    return result


if _forkpty is not None:
    def forkpty_and_watch(callback: Callable[[ChildStatus], Any] | None = None, loop: Any = None,
                          ref: bool = False,
                          forkpty: Callable[[], tuple[int, int]] = forkpty) -> tuple[int, int]:
        """:func:`fork_and_watch` for ``forkpty``: returns ``(pid, master_fd)``."""
        result = []

        def _forkpty():
            result.extend(forkpty())
            return result[0]
        fork_and_watch(callback, loop, ref, _forkpty)
        return tuple(result)


def tp_read(fd: int, n: int) -> bytes:
    """``os.read`` run in the hub's thread pool: the calling greenlet parks meanwhile."""
    return get_hub().threadpool.apply(_read, (fd, n))


def tp_write(fd: int, buf: Any) -> int:
    """``os.write`` run in the hub's thread pool: the calling greenlet parks meanwhile."""
    return get_hub().threadpool.apply(_write, (fd, buf))


def _after_fork_in_child():
    # Registered with os.register_at_fork: runs in the child of every fork.
    _hubmod.reinit()
    # The parent's children are not the child's: neither their kept statuses
    # nor their watchers (which stay suspended with the parent's greenlets).
    _exits.clear()
    _watched.clear()


if hasattr(_os, 'register_at_fork'):
    _os.register_at_fork(after_in_child=_after_fork_in_child)


def waitpid(pid: int, options: int):
    """``os.waitpid`` that parks the calling greenlet instead of blocking the hub.

    With ``WNOHANG`` in ``options`` it is the plain syscall. The status of a
    :func:`fork_and_watch` child that its watcher already reaped is returned
    too (for its pid, or for -1), as gevent does.
    """
    if _exits:
        taken = _take_exit(pid)
        if taken is not None:
            return taken
    try:
        result = _waitpid_parked(pid, options, True)
    except ChildProcessError:
        # The watcher may have reaped it while we waited.
        taken = _take_exit(pid)
        if taken is None:
            raise
        return taken
    if result[0]:
        return _reaped(result)
    return result


def _waitpid_parked(pid, options, watched_exits=False):
    if options & _WNOHANG:
        return _waitpid(pid, options)
    def poll():
        # Also raises ChildProcessError for a pid that is not our child, before
        # anything waits.
        result = _waitpid(pid, options | _WNOHANG)
        if not result[0] and watched_exits and _exits:
            # Other children still run, but a watcher reaped one meanwhile.
            return _take_exit(pid)
        return result if result[0] else None

    return wait_child(poll, pid if pid > 0 and options == 0 else None)


def wait_child(poll: Callable[[], Any], pid: int | None = None) -> Any:
    """Park until ``poll()`` returns something else than None; return that.

    The one child-wait of the library (:func:`waitpid`, ``subprocess.Popen``):
    ``poll`` makes one non-blocking ``waitpid`` attempt. With ``pid`` given (one
    child, plain exit wait) it parks on the child's Linux pidfd, readable once the
    child has exited: no signal handler, no polling. Without it, or where pidfds
    are unavailable (other OSes, old kernels, seccomp), it polls on hub timers,
    every 1 ms backing off to ``POLL_MAX_INTERVAL``. SIGCHLD is never touched.
    """
    result = poll()
    if result is not None:
        return result
    pidfd = None
    if pid is not None and _pidfd_open is not None:
        try:
            pidfd = _pidfd_open(pid)
        except OSError:
            pidfd = None       # ENOSYS (old kernel), EPERM (seccomp), ESRCH, ...
    if pidfd is None:
        delay = 0.001
        while True:
            # Parks on a hub timer; back off so a long wait costs ~20 syscalls/s.
            sleep(delay)
            delay = min(delay * 2, POLL_MAX_INTERVAL)
            result = poll()
            if result is not None:
                return result
    hub = get_hub()
    # A new fd number: drop what the hub may have kept under it (docs/internals.rst).
    hub.cancel_wait(pidfd)
    try:
        while True:
            result = poll()
            if result is not None:
                return result
            # Parks until the child exits (the pidfd turns readable).
            hub.wait_fd(pidfd, READ)
    finally:
        hub.cancel_wait(pidfd)     # forget the registration before the number is reused
        _os.close(pidfd)


def wait():
    """``os.wait()`` that parks the calling greenlet instead of blocking the hub."""
    return waitpid(-1, 0)


#: The names ``monkey.patch_os`` copies into ``os``.
__implements__ = ['fork', 'waitpid', 'wait', 'read', 'write'] + (['forkpty'] if _forkpty is not None else [])
__all__ = reexport(_os, globals(), __implements__) + [
    'nb_read', 'nb_write', 'tp_read', 'tp_write', 'make_nonblocking', 'fork_gevent',
    'fork_and_watch', 'ChildStatus', 'wait_child',
] + (['forkpty_gevent', 'forkpty_and_watch'] if _forkpty is not None else [])
