"""Cooperative ``select``: ``select()`` and ``poll()`` that park only the calling greenlet.

Both first ask the OS without blocking (the original ``select.select(..., 0)`` /
``poll.poll(0)``), so a ready fd costs one syscall and no switch. If nothing is
ready, the greenlet parks in ``hub.wait_fds``: ONE Waiter registered as reader or
writer of every fd, woken by the first ready fd or the timeout. It then asks the
OS again without blocking. The poller is level-triggered and the re-check happens
after the wake-up, so a readiness that arrives at any moment is never lost.

A call answered without parking still yields to the hub once first
(``sleep(0)``: the other ready greenlets run and the hub polls), as gevent's
``select`` and ``poll`` do. Two kinds of loop need it. One polls fds that are
always ready (a writable socket, as in an ``asyncore`` or hand-written event loop
in a green "thread"): it would never park and so starve every other greenlet. The
other polls, reads one message and spawns a greenlet to handle it, as kombu's
redis transport does under Celery ``-P gevent``: each handler must run before the
next message is read. When we yielded only every 50th call, 50 handlers started at
once and each took a connection from a pool of 10: Celery logged
``MaxConnectionsError``, lost its broker connection and lost results. ``poll`` and
``epoll`` then ask the OS again; ``select`` answers what the OS said before the
yield, as gevent's does (asking again would read the caller's lists a second
time, and a ``fileno()`` may change them: CPython's test_select_mutated).

``epoll``, ``kqueue`` and ``devpoll`` are deliberately not re-exported: a library
that looks for them falls back to ``poll``/``select``, which cooperate (the
private ``_epoll`` serves ``gevent_lite.selectors.EpollSelector`` only). Every
other name of the stdlib module is re-exported unchanged. The exceptional list
(``xlist``) of ``select`` is reported when ready but does not wake a parked
greenlet on its own (as in gevent): waiting on it would spin on readable sockets.
"""

import math as _math
import select as _stdlib_select
from operator import index as _index

from . import _stdlib
from .hub import READ, WRITE, BlockingSwitchOutError, _deadline, _remaining, get_hub, get_hub_if_exists
from .hub import sleep as _sleep
from .socket import socket as _GreenSocket

__implements__ = ['select', 'poll']
__stdlib__ = _stdlib_select
__target__ = 'select'
#: Names removed from the green module (and, by monkey, from the patched one).
__drop__ = ['epoll', 'kqueue', 'kevent', 'devpoll']

_original_select = _stdlib_select.select
_original_poll = getattr(_stdlib_select, 'poll', None)
# Captured now, before patch_select removes select.epoll; used by _epoll only.
_original_epoll = getattr(_stdlib_select, 'epoll', None)
error = _stdlib_select.error

_POLLIN = getattr(_stdlib_select, 'POLLIN', 1)
_POLLPRI = getattr(_stdlib_select, 'POLLPRI', 2)
_POLLOUT = getattr(_stdlib_select, 'POLLOUT', 4)
_READ_MASK = _POLLIN | _POLLPRI | getattr(_stdlib_select, 'POLLRDNORM', 0)
_WRITE_MASK = _POLLOUT | getattr(_stdlib_select, 'POLLWRNORM', 0)

def _fair():
    # A call is about to be answered without parking: let the other greenlets
    # run first. Returns True when it yielded (things may have changed).
    try:
        _sleep(0)
    except BlockingSwitchOutError:
        return False      # called in the hub itself (a callback): it cannot yield
    return True


def _answer_now(check, is_ready, timeout, ask_again=True):
    """The non-blocking first answer of select/poll/epoll, or None if they must park.

    ``check()`` asks the OS without blocking; ``is_ready(result)`` says whether
    anything is ready. After the fairness yield the OS is asked again, unless
    ``ask_again`` is false (select: see the module docstring).
    """
    result = check()
    if is_ready(result) or timeout == 0:
        if not _fair() or not ask_again:
            return result
        result = check()          # we let others run: ask again
        if is_ready(result) or timeout == 0:
            return result
    return None


def _park_until_ready(check, is_ready, wanted, timeout, keep=()):
    """The one deadline loop of select/poll/epoll: park in ``hub.wait_fds`` on
    ``wanted`` (``(fd, events)`` pairs) until one is ready or ``timeout`` passed,
    then return ``check()`` (spurious wake-ups park again, within the deadline)."""
    hub = get_hub()
    deadline = _deadline(timeout)
    while True:
        woken = hub.wait_fds(wanted, _remaining(deadline), keep)
        result = check()
        if is_ready(result) or not woken:
            return result


def _any_list(result):
    return result[0] or result[1] or result[2]


def _fileno(obj):
    if isinstance(obj, int):
        return obj
    try:
        fileno = obj.fileno
    except AttributeError:
        raise TypeError('argument must be an int, or have a fileno() method.') from None
    return fileno()


def _keeps(obj):
    # May the hub keep this object's fd registered after a wait (a cheaper next
    # wait)? Only for a green socket, whose close() tells the hub. Any other fd
    # (an int, a pipe, a file) may be closed behind the hub's back, and a kept
    # registration would hide the next fd of that number from the poller.
    return isinstance(obj, _GreenSocket)


def _select_timeout(timeout):
    if timeout is None:
        return None
    try:
        timeout = float(timeout)
    except (TypeError, ValueError):
        raise TypeError('timeout must be a float or None') from None
    if _math.isnan(timeout):
        raise ValueError('Invalid value NaN (not a number)')
    if timeout < 0:
        raise ValueError('timeout must be non-negative')
    return timeout


def _poll_timeout(timeout):
    # poll()'s timeout in milliseconds -> seconds, None for "forever" (None or
    # negative), with the C poll's errors: it must fit a C int once rounded
    # away from zero to whole milliseconds.
    if timeout is None:
        return None
    if isinstance(timeout, float):
        if timeout != timeout:  # noqa: PLR0124 -- NaN
            raise ValueError('Invalid value NaN (not a number)')
        if timeout in (_math.inf, -_math.inf):
            raise OverflowError('timeout is too large')
        ms = _math.ceil(timeout) if timeout >= 0 else _math.floor(timeout)
    else:
        try:
            ms = _index(timeout)
        except TypeError:
            raise TypeError('timeout must be an integer or None') from None
    if not -0x80000000 <= ms <= 0x7FFFFFFF:
        raise OverflowError('timeout is too large')
    return None if ms < 0 else ms / 1000.0


def select(rlist, wlist, xlist, timeout=None):
    """Wait until some of the objects are ready; return the three ready subsets.

    Same arguments, results and errors as the stdlib's; parks only this greenlet.
    """
    timeout = _select_timeout(timeout)
    # Lists and tuples go to the C select as they are: it reads them while it
    # calls fileno(), which may change them (CPython's test_select_mutated).
    # Other iterables are read once, into lists, as they are used again.
    if type(rlist) is not list and type(rlist) is not tuple:
        rlist = list(rlist)
    if type(wlist) is not list and type(wlist) is not tuple:
        wlist = list(wlist)
    if type(xlist) is not list and type(xlist) is not tuple:
        xlist = list(xlist)
    # The non-blocking check also validates every object exactly as the stdlib does.
    ready = _answer_now(lambda: _original_select(rlist, wlist, xlist, 0), _any_list, timeout, ask_again=False)
    if ready is not None:
        return ready
    # Parking: from here on the objects are the ones given now, as for the C
    # select, which reads the lists once; another greenlet may change them.
    rlist = list(rlist)
    wlist = list(wlist)
    xlist = list(xlist)
    wanted = {}
    keep = set()     # fds of green sockets: see _keeps()
    for obj in rlist:
        fd = _fileno(obj)
        wanted[fd] = wanted.get(fd, 0) | READ
        if _keeps(obj):
            keep.add(fd)
    for obj in wlist:
        fd = _fileno(obj)
        wanted[fd] = wanted.get(fd, 0) | WRITE
        if _keeps(obj):
            keep.add(fd)
    return _park_until_ready(lambda: _original_select(rlist, wlist, xlist, 0), _any_list,
                             list(wanted.items()), timeout, keep)


if _original_poll is not None:
    class poll:
        """A green ``select.poll``: register fds, then ``poll(timeout_ms)`` parks cooperatively.

        ``poll()`` returns an object of a private subclass whose type, like the
        stdlib's ``type(select.poll())``, cannot be instantiated; ``poll`` stays a
        class (not a function as in the stdlib) so that it never binds as a method
        when stored on a class (``PollSelector._selector_cls``).
        """

        __slots__ = ('_fds', '_poll', '_polling', '_keep')

        def __new__(cls):
            self = _object_new(_PollObject)
            self._fds = {}                 # fd -> event mask, as registered
            self._poll = _original_poll()  # the same registrations, for non-blocking checks
            self._polling = False          # a greenlet is inside poll()
            self._keep = set()             # fds registered as green sockets (_keeps)
            return self

        def register(self, fd, eventmask=_POLLIN | _POLLPRI | _POLLOUT):
            obj, fd = fd, _fileno(fd)
            self._poll.register(fd, eventmask)   # validates like the stdlib
            self._fds[fd] = eventmask
            if _keeps(obj):
                self._keep.add(fd)
            else:
                self._keep.discard(fd)

        def modify(self, fd, eventmask):
            fd = _fileno(fd)
            self._poll.modify(fd, eventmask)     # OSError(ENOENT) if not registered
            self._fds[fd] = eventmask

        def unregister(self, fd):
            fd = _fileno(fd)
            self._poll.unregister(fd)            # KeyError if not registered
            del self._fds[fd]
            self._keep.discard(fd)

        def poll(self, timeout=None):
            """Return ``[(fd, events)]``; ``timeout`` in milliseconds, None/negative = forever."""
            timeout = _poll_timeout(timeout)
            if self._polling:
                raise RuntimeError('concurrent poll() invocation')   # as the C poll
            self._polling = True
            try:
                return self._wait(timeout)
            finally:
                self._polling = False

        def _wait(self, timeout):
            check = self._poll.poll
            ready = _answer_now(lambda: check(0), bool, timeout)
            if ready is not None:
                return ready
            wanted = []
            for fd, mask in self._fds.items():
                events = (READ if mask & _READ_MASK else 0) | (WRITE if mask & _WRITE_MASK else 0)
                if events:   # fds polled only for HUP/ERR would wake us without reporting
                    wanted.append((fd, events))
            return _park_until_ready(lambda: check(0), bool, wanted, timeout, self._keep)

        def __repr__(self):
            return '<gevent_lite.select.poll fds=%r>' % sorted(self._fds)

    _object_new = object.__new__

    class _PollObject(poll):
        """The type of the objects :class:`poll` returns: not to be instantiated."""

        __slots__ = ()

        def __new__(cls, *args, **kwargs):
            raise TypeError("cannot create '%s.%s' instances" % (cls.__module__, cls.__name__))
else:  # pragma: no cover - Windows
    __implements__.remove('poll')


if _original_epoll is not None:
    class _epoll:
        """A cooperative stand-in for a ``select.epoll`` object (for ``selectors.EpollSelector``).

        It owns a real epoll fd; ``poll()`` asks it without blocking, and when
        nothing is ready parks the greenlet on the epoll fd itself -- readable
        whenever one of its registered fds has an event -- then asks again. One
        fd for the hub to watch, however many the selector has registered.
        ``select.epoll`` itself stays removed by patching (not subclassable, and a
        library that finds no epoll falls back to :class:`poll`).
        """

        __slots__ = ('_ep',)

        def __init__(self, sizehint=-1, flags=0):
            self._ep = _original_epoll(sizehint, flags)

        @property
        def closed(self):
            return self._ep.closed

        def fileno(self):
            return self._ep.fileno()

        def register(self, fd, eventmask=_stdlib_select.EPOLLIN | _stdlib_select.EPOLLPRI
                     | _stdlib_select.EPOLLOUT):
            self._ep.register(fd, eventmask)

        def modify(self, fd, eventmask):
            self._ep.modify(fd, eventmask)

        def unregister(self, fd):
            self._ep.unregister(fd)

        def close(self):
            ep = self._ep
            if not ep.closed:
                # A greenlet parked on this epoll fd gets EBADF instead of hanging.
                hub = get_hub_if_exists()
                if hub is not None:
                    hub.cancel_wait(ep.fileno())
            ep.close()

        def __enter__(self):
            if self._ep.closed:
                raise ValueError('I/O operation on closed epoll object')
            return self

        def __exit__(self, *args):
            self.close()

        def poll(self, timeout=None, maxevents=-1):
            """``[(fd, events)]``; ``timeout`` in seconds, None or negative = forever."""
            if timeout is not None:
                if not isinstance(timeout, (int, float)):
                    timeout = _index(timeout)    # TypeError, as the C layer's
                if timeout != timeout:  # noqa: PLR0124 -- NaN
                    raise ValueError('Invalid value NaN (not a number)')
                if timeout < 0:
                    timeout = None
            ep = self._ep
            # (The first check also validates maxevents and a closed epoll.)
            ready = _answer_now(lambda: ep.poll(0, maxevents), bool, timeout)
            if ready is not None:
                return ready
            # (The epoll fd's registration is not kept: an epoll object that is
            # garbage-collected unclosed has its fd closed without telling the hub.)
            return _park_until_ready(lambda: ep.poll(0, maxevents), bool,
                                     ((ep.fileno(), READ),), timeout)


__all__ = _stdlib.reexport(_stdlib_select, globals(), __implements__, drop=__drop__)
