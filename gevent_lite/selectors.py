"""Cooperative ``selectors``: a ``DefaultSelector`` whose ``select()`` parks only the greenlet.

:class:`GreenSelector` (the class :class:`PollSelector`) is the stdlib's poll selector driven by
:class:`gevent_lite.select.poll`: ``select(timeout)`` first polls without
blocking, then parks the greenlet in the hub (one Waiter for all registered fds)
and polls again, so ``socketserver.serve_forever`` and ``subprocess.communicate``
let other greenlets run and never lose a wake-up. ``DefaultSelector``,
``SelectSelector`` and ``PollSelector`` are all this class.

On Linux, :class:`EpollSelector` is the stdlib's epoll selector on a
cooperative epoll object: it polls its epoll fd without blocking and, when
nothing is ready, parks on that one fd (readable whenever a registered fd has an
event) -- cheap to park however many fds it holds. The kqueue and devpoll
selectors are not re-exported (they would block the hub). Everything else
(``BaseSelector``, ``SelectorKey``, ``EVENT_READ``, ...) is the stdlib's.
"""

import errno as _errno
import os as _os
import selectors as _stdlib_selectors

from . import _stdlib
from . import select as _green_select

__implements__ = ['SelectSelector', 'PollSelector', 'DefaultSelector']
#: Ours, not the stdlib's (monkey does not copy them into ``selectors``).
__extensions__ = ['GreenSelector', 'GeventSelector']
__stdlib__ = _stdlib_selectors
__target__ = 'selectors'
__drop__ = ['KqueueSelector', 'DevpollSelector']


class PollSelector(_stdlib_selectors._PollLikeSelector):
    """``selectors.PollSelector`` on the green ``poll``: ``select()`` is cooperative.

    Also named :data:`GreenSelector` (gevent: ``GeventSelector``), ``DefaultSelector``
    and ``SelectSelector``.
    (``_PollLikeSelector`` is the stdlib's shared poll/epoll/devpoll base, present
    with the same shape in CPython 3.5 to 3.13; it calls ``self._selector_cls()``
    and ``register/modify/unregister/poll`` on it. The class keeps the stdlib's
    name: code such as CPython's test_selectors tells selectors apart by it.)
    """

    _selector_cls = _green_select.poll
    _EVENT_READ = _green_select.POLLIN  # type: ignore[attr-defined]  # (re-exported at import)
    _EVENT_WRITE = _green_select.POLLOUT  # type: ignore[attr-defined]

    def register(self, fileobj, events, data=None):
        """As the stdlib's; an fd that is not open is refused here, as epoll refuses it.

        ``poll`` itself would accept it and only report it later; the stdlib's
        ``DefaultSelector`` on Linux (epoll) raises ``OSError(EBADF)`` at once and
        gevent's selector ``ValueError('Invalid file ...')``: the error raised is both.
        """
        key = super().register(fileobj, events, data)
        try:
            _os.fstat(key.fd)
        except OSError:
            super().unregister(fileobj)
            raise _InvalidFile(_errno.EBADF, 'Invalid file descriptor %d: it is not open'
                               % key.fd) from None
        return key


class _InvalidFile(OSError, ValueError):
    """``register()`` of a closed fd: the ``OSError(EBADF)`` of the stdlib's epoll
    and kqueue selectors, and the ``ValueError`` of gevent's (as ``io.UnsupportedOperation``
    is both an ``OSError`` and a ``ValueError``)."""


# GeventSelector is gevent's spelling of the cooperative default.
GreenSelector = GeventSelector = DefaultSelector = SelectSelector = PollSelector

_StdEpollSelector = getattr(_stdlib_selectors, 'EpollSelector', None)
if _StdEpollSelector is not None and hasattr(_green_select, '_epoll'):
    class EpollSelector(_StdEpollSelector):  # type: ignore[valid-type,misc]  # (if the OS has it)
        """``selectors.EpollSelector`` on a cooperative epoll object: ``select()`` parks the greenlet.

        Same registrations, results and errors as the stdlib's (a regular file
        cannot be registered: ``PermissionError``); ``fileno()`` is the epoll fd.
        """

        _selector_cls = _green_select._epoll

    # Listed before DefaultSelector: the stdlib's DefaultSelector IS its
    # EpollSelector, and monkey re-points a captured copy of that class to the
    # replacement named last -- the green DefaultSelector, as documented.
    __implements__.insert(0, 'EpollSelector')
else:  # pragma: no cover - no epoll (macOS, Windows), or selectors imported after patching
    __drop__.append('EpollSelector')

__all__ = _stdlib.reexport(_stdlib_selectors, globals(), __implements__ + __extensions__, drop=__drop__)
