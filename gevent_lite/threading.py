"""Green pieces of ``threading``: what ``monkey.patch_thread()`` puts into the stdlib module.

The stdlib ``threading`` module is pure Python on top of ``_thread``: its
``Thread``, ``Condition``, ``Event``, ``Semaphore``, ``Barrier`` and ``Timer``
become cooperative once the few ``_thread`` functions it captured at import
(``_start_new_thread``, ``_allocate_lock``, ``get_ident``, ...) are the green
ones of :mod:`gevent_lite.thread`. So this module replaces only names, never
``threading``'s classes:

* public names, listed in :data:`__implements__`: ``local`` (greenlet-local),
  ``Lock``, ``get_ident``;
* private names (different in every CPython minor release): all of them live in
  :mod:`gevent_lite._threading_compat`, with the versions that need each one.

``Thread.start()`` then runs the target in a greenlet; ``join(timeout)`` and
``is_alive()`` wait on green locks/events (ParkingLot underneath), so they park
only the calling greenlet.
"""

import threading as _stdlib_threading

from . import thread as _green_thread
from .lock import Lock  # noqa: F401  (threading.Lock after patching)

__target__ = 'threading'
__stdlib__ = _stdlib_threading

__implements__ = ['local', 'Lock', 'get_ident']

#: Greenlet-local storage (``threading.local`` after patching).
local = _green_thread._local

#: ``threading.get_ident`` after patching: unique per greenlet.
get_ident = _green_thread.get_ident

__all__ = list(__implements__)


def private_items():
    """The private ``threading`` names to replace on this CPython, with their green values."""
    from . import _threading_compat
    return _threading_compat.private_items(_stdlib_threading)
