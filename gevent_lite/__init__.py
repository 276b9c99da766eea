"""gevent_lite: cooperative concurrency for ordinary Python code, on greenlets.

A hub greenlet per OS thread runs an event loop on the stdlib poller; the names
below mirror gevent's, so ``import gevent_lite as gevent`` runs gevent programs.
See ``gevent_lite.monkey`` to make the stdlib cooperative.
"""

from typing import Any, Optional

from greenlet import GreenletExit, getcurrent

from .hub import (
    get_hub, Hub, Waiter, sleep, idle, wait, iwait, reinit, LoopExit,
    BlockingSwitchOutError, ConcurrentObjectUseError,
    wait_read, wait_write, wait_readwrite,
)
from .timeout import Timeout, with_timeout
from .greenlet import Greenlet, spawn, spawn_later, spawn_raw, joinall, killall
from .scopes import _deliver, CancelScope, Cancelled, move_on_after, move_on_at, fail_after, fail_at
from .taskgroup import TaskGroup

__version__ = '0.1.0'
#: gevent_lite's own release; ``__version__`` reports gevent's API version after install_as_gevent().
__lite_version__ = __version__

from .config import config as _config
from . import hub as _hub_module
from .hub import new_hub_hooks as _new_hub_hooks


def _monitor_new_hub(hub):
    # config.monitor_thread (GEVENT_LITE_MONITOR_THREAD / GEVENT_MONITOR_THREAD_ENABLE,
    # or an assignment in the program) is read as each hub is made, so it applies to
    # every hub created after it is set. The monitor module is imported only then.
    # As gevent's, the monitor starts when the hub first runs (its first callback),
    # not when it is made: a thread that only asks for its hub (a thread-pool
    # worker) and never switches has nothing to monitor.
    if _config.monitor_thread:
        hub.run_callback(_start_monitor_if_enabled, hub)


def _start_monitor_if_enabled(hub):
    if _config.monitor_thread and hub.periodic_monitoring_thread is None:
        hub.start_periodic_monitoring_thread()


_new_hub_hooks.append(_monitor_new_hub)


def _preempt_new_hub(hub):
    # Preemption (gevent_lite.preempt) carries over to the new hubs of a thread
    # patch_thread ran in, and config.preempt_greenlets applies to every hub made
    # after it is set. The module is imported only then.
    import sys
    if 'gevent_lite.preempt' in sys.modules or _config.preempt_greenlets:
        from .preempt import _on_new_hub
        _on_new_hub(hub)


_new_hub_hooks.append(_preempt_new_hub)


def _monitor_on_config_change(name, value):
    # ``config.monitor_thread = True`` in a running program starts the monitor for
    # the current thread's hub at once (later hubs start theirs as they are made).
    if name == 'monitor_thread' and value:
        hub = _hub_module.get_hub_if_exists()
        if hub is not None and hub.periodic_monitoring_thread is None:
            hub.start_periodic_monitoring_thread()


from .config import on_change as _config_on_change  # noqa: E402

_config_on_change.append(_monitor_on_config_change)

__all__ = [
    'Greenlet', 'GreenletExit', 'spawn', 'spawn_later', 'spawn_raw', 'joinall',
    'killall', 'sleep', 'idle', 'getcurrent', 'get_hub', 'Hub', 'Waiter', 'wait',
    'iwait', 'reinit', 'Timeout', 'with_timeout', 'LoopExit',
    'BlockingSwitchOutError', 'ConcurrentObjectUseError', 'wait_read', 'wait_write',
    'wait_readwrite', 'kill', 'TaskGroup', 'CancelScope', 'Cancelled', 'move_on_after',
    'move_on_at', 'fail_after', 'fail_at',
]


def kill(greenlet: Any, exception: Any = GreenletExit, block: bool = False,
         timeout: Optional[float] = None) -> None:
    """Kill ``greenlet`` (a :class:`Greenlet` or a raw greenlet) with ``exception``.

    As gevent's, it schedules the kill and returns at once; ``block=True`` waits
    for the greenlet to die (``Greenlet.kill`` waits by default).
    """
    if hasattr(greenlet, 'kill'):
        return greenlet.kill(exception, block=block, timeout=timeout)
    if not greenlet.dead:
        hub = get_hub()
        hub.run_callback(_deliver, greenlet, exception, -1)   # held back by a shield


# gevent's signal API (the module gevent_lite.signal is the green ``signal``).
from .signal import signal_handler  # noqa: E402, F401 (exported below)
# gevent.fork is the cooperative fork (the child gets a fresh hub).
from .os import fork  # noqa: E402, F401 (exported below)
# gevent.getswitchinterval/setswitchinterval are the interpreter's own.
from sys import getswitchinterval, setswitchinterval  # noqa: E402, F401 (exported below)

__all__ += ['signal_handler', 'fork', 'getswitchinterval', 'setswitchinterval', 'install_as_gevent']


def install_as_gevent() -> None:
    """From now on ``import gevent`` and ``import gevent.X`` give gevent_lite's modules.

    The same module objects, never copies; ``gevent.__version__`` and
    ``gevent.version_info`` then report the gevent release whose API gevent_lite
    mirrors (libraries gate on it). Explicit only: importing gevent_lite never
    shadows an installed gevent. Raises RuntimeError if a real gevent is already
    imported. For programs others start: ``python -m gevent_lite.monkey --as-gevent``.
    """
    from ._alias import install
    install()


def _lazy_threadpool_factory(hub):
    # ``get_hub().threadpool`` works right after ``import gevent_lite`` (gevent
    # programs use it) without importing the pool module at package import.
    # monkey imports gevent_lite.threadpool before patching, so the thread
    # functions it captures are the originals either way.
    from .threadpool import _default_factory
    return _default_factory(hub)


if _hub_module._default_threadpool_factory is None:
    _hub_module._default_threadpool_factory = _lazy_threadpool_factory


def _lazy_start_monitor(hub, stream):
    # Hub.start_periodic_monitoring_thread's hook (the one way the monitor plugs in):
    # the monitor, a tool floors above the hub, is imported on first use.
    from .monitor import start_periodic_monitoring_thread
    return start_periodic_monitoring_thread(hub, stream)


_hub_module._start_monitor = _lazy_start_monitor
