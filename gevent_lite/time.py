"""Cooperative ``time``: ``sleep`` parks only the greenlet; every other name is the stdlib's.

``sleep(seconds)`` is the hub's sleep (a timer wakes the greenlet; ``sleep(0)``
yields to every greenlet that was ready) with the stdlib's argument checks:
negative or NaN lengths raise ``ValueError`` and non-numbers ``TypeError``,
exactly as ``time.sleep`` does.
"""

import math as _math
import time as _stdlib_time
from operator import index as _index

from . import _stdlib
from .hub import sleep as _hub_sleep

__implements__ = ['sleep']
__stdlib__ = _stdlib_time
__target__ = 'time'

_original_sleep = _stdlib_time.sleep


def sleep(secs: float) -> None:
    """Park the current greenlet for ``secs`` seconds."""
    if not isinstance(secs, (int, float)):
        # The stdlib takes floats and integers (anything with __index__), nothing else.
        try:
            secs = _index(secs)
        except TypeError:
            _original_sleep(secs)       # raises the stdlib's own TypeError, never sleeps
            raise
    if secs < 0:
        raise ValueError('sleep length must be non-negative')
    if _math.isnan(secs):
        raise ValueError('Invalid value NaN (not a number)')
    if _math.isinf(secs):
        _original_sleep(secs)   # raises this version's OverflowError at once
        raise OverflowError('sleep length is too large')
    _hub_sleep(secs)


__all__ = _stdlib.reexport(_stdlib_time, globals(), __implements__)
