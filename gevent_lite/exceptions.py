"""The library's exceptions under gevent's module name, ``gevent.exceptions``.

They are defined where they are raised -- the hub, the one parking primitive --
and only gathered here, so ``from gevent.exceptions import LoopExit`` keeps
working after ``import gevent_lite as gevent``.
"""

from .hub import (  # noqa: F401 (re-exported)
    BlockingSwitchOutError, ConcurrentObjectUseError, InvalidSwitchError, InvalidThreadUseError, LoopExit,
)

__all__ = ['LoopExit', 'BlockingSwitchOutError', 'ConcurrentObjectUseError', 'InvalidSwitchError',
           'InvalidThreadUseError']
