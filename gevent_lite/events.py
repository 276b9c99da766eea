"""Events: how tools hook into gevent_lite without patching it.

:data:`subscribers` is a plain list of callables; :func:`notify` calls each of
them, in order, with an event object. gevent_lite sends:

* :class:`EventLoopBlocked` -- from the monitor thread (``gevent_lite.monitor``)
  when a greenlet kept the hub from running for longer than
  ``config.max_blocking_time``; it carries the greenlet, the time and the
  report lines (with the greenlet's stack).
* :class:`MemoryUsageThresholdExceeded` / :class:`MemoryUsageUnderThreshold` --
  from the monitor thread, when the process's resident memory crosses
  ``config.max_memory_usage`` upwards / back down.
* :class:`PeriodicMonitorThreadStartedEvent` -- when a monitor thread starts.
* :class:`GeventWillPatchAllEvent`, :class:`GeventWillPatchModuleEvent`,
  :class:`GeventDidPatchModuleEvent`, :class:`GeventDidPatchBuiltinModulesEvent`,
  :class:`GeventDidPatchAllEvent` -- around ``monkey.patch_all()``; a subscriber
  may raise :class:`DoNotPatch` from a *will* event to skip that patch.

The names match ``gevent.events``. Events from the monitor arrive in the
monitor's OS thread, not in the hub's: a subscriber that wants to act in the hub
should hand over with ``hub.run_callback_threadsafe``. Exceptions raised by a
subscriber propagate to whoever called :func:`notify` (the monitor prints them
and carries on).

This module imports nothing from gevent_lite.
"""

__all__ = [
    'subscribers', 'notify', 'notify_and_call_entry_points', 'DoNotPatch',
    'EventLoopBlocked', 'MemoryUsageThresholdExceeded', 'MemoryUsageUnderThreshold',
    'PeriodicMonitorThreadStartedEvent',
    'GeventPatchEvent', 'GeventWillPatchEvent', 'GeventDidPatchEvent',
    'GeventWillPatchModuleEvent', 'GeventDidPatchModuleEvent',
    'GeventWillPatchAllEvent', 'GeventDidPatchBuiltinModulesEvent',
    'GeventDidPatchAllEvent',
]

#: Callables ``f(event)``; append to subscribe, remove to unsubscribe.
subscribers = []


def notify(event):
    """Call every subscriber with ``event`` (a copy of the list is iterated, so a
    subscriber may unsubscribe itself)."""
    for subscriber in list(subscribers):
        subscriber(event)


def notify_and_call_entry_points(event):
    """:func:`notify`, then call the installed entry points of the event's group.

    Packages can react to an event without being imported first by declaring an
    entry point in the group named by ``event.ENTRY_POINT_NAME``
    (e.g. ``gevent_lite.plugins.monkey.will_patch_all``); each is loaded and
    called with the event.
    """
    notify(event)
    group = getattr(event, 'ENTRY_POINT_NAME', None)
    if not group:
        return
    try:
        from importlib.metadata import entry_points
    except ImportError:  # pragma: no cover
        return
    eps = entry_points()
    selected = eps.select(group=group) if hasattr(eps, 'select') else eps.get(group, ())
    for ep in selected:
        ep.load()(event)


class _Event:
    __slots__ = ()

    def __repr__(self):
        fields = ', '.join('%s=%r' % (n, getattr(self, n, None)) for n in self._fields())
        return '<%s %s>' % (type(self).__name__, fields)

    def _fields(self):
        names = []
        for cls in type(self).__mro__:
            for n in getattr(cls, '__slots__', ()):
                if n not in names:
                    names.append(n)
        return names


# -- monitor ---------------------------------------------------------------------------

class PeriodicMonitorThreadStartedEvent(_Event):
    """A monitor thread was started for a hub; ``monitor`` is the thread object."""

    __slots__ = ('monitor',)
    ENTRY_POINT_NAME = 'gevent_lite.plugins.hub.periodic_monitor_thread_started'

    def __init__(self, monitor):
        self.monitor = monitor


class EventLoopBlocked(_Event):
    """``greenlet`` ran for at least ``blocking_time`` seconds without letting the hub run.

    ``info`` is a list of report lines (what the monitor prints), including the
    stack of the blocking code; ``hub`` is the hub that was blocked.
    """

    __slots__ = ('greenlet', 'blocking_time', 'info', 'hub')

    def __init__(self, greenlet, blocking_time, info, hub=None):
        self.greenlet = greenlet
        self.blocking_time = blocking_time
        self.info = info
        self.hub = hub


class _MemoryEvent(_Event):
    __slots__ = ('mem_usage', 'max_allowed', 'memory_info')

    def __init__(self, mem_usage, max_allowed, memory_info=None):
        self.mem_usage = mem_usage
        self.max_allowed = max_allowed
        self.memory_info = memory_info


class MemoryUsageThresholdExceeded(_MemoryEvent):
    """Resident memory ``mem_usage`` (bytes) went above ``max_allowed``.

    Sent once per crossing, not on every check while memory stays high.
    """

    __slots__ = ()


class MemoryUsageUnderThreshold(_MemoryEvent):
    """Memory dropped back under the threshold after an exceeded event.

    ``max_memory_usage`` is the highest usage seen while it was over.
    """

    __slots__ = ('max_memory_usage',)

    def __init__(self, mem_usage, max_allowed, max_memory_usage, memory_info=None):
        _MemoryEvent.__init__(self, mem_usage, max_allowed, memory_info)
        self.max_memory_usage = max_memory_usage


# -- monkey patching -------------------------------------------------------------------

class DoNotPatch(BaseException):
    """Raise from a subscriber to a *will patch* event to skip that patch."""


class GeventPatchEvent(_Event):
    """Base of the patching events: ``source`` (our module) patches ``target`` (stdlib)."""

    __slots__ = ('source', 'target')

    def __init__(self, source, target):
        self.source = source
        self.target = target


class GeventWillPatchEvent(GeventPatchEvent):
    """Something is about to be patched; raising :class:`DoNotPatch` vetoes it."""

    __slots__ = ()


class GeventDidPatchEvent(GeventPatchEvent):
    """Something was patched."""

    __slots__ = ()


class GeventWillPatchModuleEvent(GeventWillPatchEvent):
    """The stdlib module ``module_name`` is about to be patched from ``source``."""

    __slots__ = ('module_name',)
    ENTRY_POINT_NAME = 'gevent_lite.plugins.monkey.will_patch_module'

    def __init__(self, module_name, source, target):
        GeventWillPatchEvent.__init__(self, source, target)
        self.module_name = module_name


class GeventDidPatchModuleEvent(GeventDidPatchEvent):
    """The stdlib module ``module_name`` was patched."""

    __slots__ = ('module_name',)
    ENTRY_POINT_NAME = 'gevent_lite.plugins.monkey.did_patch_module'

    def __init__(self, module_name, source, target):
        GeventDidPatchEvent.__init__(self, source, target)
        self.module_name = module_name


class GeventWillPatchAllEvent(GeventWillPatchEvent):
    """``patch_all`` is starting; ``patch_all_arguments`` maps each option to its value."""

    __slots__ = ('patch_all_arguments', 'patch_all_kwargs')
    ENTRY_POINT_NAME = 'gevent_lite.plugins.monkey.will_patch_all'

    def __init__(self, patch_all_arguments, patch_all_kwargs=None):
        GeventWillPatchEvent.__init__(self, None, None)
        self.patch_all_arguments = patch_all_arguments
        self.patch_all_kwargs = patch_all_kwargs if patch_all_kwargs is not None else {}

    def will_patch_module(self, module_name):
        """Whether ``patch_all`` was asked to patch ``module_name``."""
        return bool(self.patch_all_arguments.get(module_name))


class GeventDidPatchBuiltinModulesEvent(GeventDidPatchEvent):
    """All stdlib modules ``patch_all`` was asked for are patched (plugins not yet)."""

    __slots__ = ('patch_all_arguments', 'patch_all_kwargs')
    ENTRY_POINT_NAME = 'gevent_lite.plugins.monkey.did_patch_builtins'

    def __init__(self, patch_all_arguments, patch_all_kwargs=None):
        GeventDidPatchEvent.__init__(self, None, None)
        self.patch_all_arguments = patch_all_arguments
        self.patch_all_kwargs = patch_all_kwargs if patch_all_kwargs is not None else {}


class GeventDidPatchAllEvent(GeventDidPatchBuiltinModulesEvent):
    """``patch_all`` finished."""

    __slots__ = ()
    ENTRY_POINT_NAME = 'gevent_lite.plugins.monkey.did_patch_all'
