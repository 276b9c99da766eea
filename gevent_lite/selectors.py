"""Cooperative ``selectors``: a ``DefaultSelector`` whose ``select()`` parks only the greenlet.

:class:`GreenSelector` is the stdlib's poll-style selector driven by
:class:`gevent_lite.select.poll`: ``select(timeout)`` first polls without
blocking, then parks the greenlet in the hub (one Waiter for all registered fds)
and polls again, so ``socketserver.serve_forever`` and ``subprocess.communicate``
let other greenlets run and never lose a wake-up. ``DefaultSelector``,
``SelectSelector`` and ``PollSelector`` are all this class; the epoll, kqueue and
devpoll selectors are not re-exported (they would block the hub). Everything else
(``BaseSelector``, ``SelectorKey``, ``EVENT_READ``, ...) is the stdlib's.
"""

import selectors as _stdlib_selectors

from . import _stdlib
from . import select as _green_select

__implements__ = ['DefaultSelector', 'SelectSelector', 'PollSelector', 'GreenSelector']
__stdlib__ = _stdlib_selectors
__target__ = 'selectors'
__drop__ = ['EpollSelector', 'KqueueSelector', 'DevpollSelector']


class GreenSelector(_stdlib_selectors._PollLikeSelector):
    """``selectors.PollSelector`` on the green ``poll``: ``select()`` is cooperative.

    (``_PollLikeSelector`` is the stdlib's shared poll/epoll/devpoll base, present
    with the same shape in CPython 3.5 to 3.13; it calls ``self._selector_cls()``
    and ``register/modify/unregister/poll`` on it.)
    """

    _selector_cls = _green_select.poll
    _EVENT_READ = _green_select.POLLIN
    _EVENT_WRITE = _green_select.POLLOUT


DefaultSelector = SelectSelector = PollSelector = GreenSelector

__all__ = _stdlib.reexport(_stdlib_selectors, globals(), __implements__, drop=__drop__)
