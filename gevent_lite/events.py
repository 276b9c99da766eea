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

The names match ``gevent.events``. When ``zope.event`` is installed,
:data:`subscribers` is ``zope.event.subscribers`` itself, as in gevent, so a
plugin that subscribes through ``zope.event`` sees these events too (our
:func:`notify` stays ours: it iterates a copy, which zope's does not). gevent's
``I*`` interfaces (``IEventLoopBlocked``, ...) are ``zope.interface`` interfaces
that the event classes implement when ``zope.interface`` is installed (gevent
requires it; gevent_lite does not), and plain marker classes otherwise. Events from the monitor arrive in the
monitor's OS thread, not in the hub's: a subscriber that wants to act in the hub
should hand over with ``hub.run_callback_threadsafe``. Exceptions raised by a
subscriber propagate to whoever called :func:`notify` (the monitor prints them
and carries on).

This module imports nothing from gevent_lite.
"""

from typing import Any

__all__ = [
    'subscribers', 'notify', 'notify_and_call_entry_points', 'DoNotPatch',
    'EventLoopBlocked', 'MemoryUsageThresholdExceeded', 'MemoryUsageUnderThreshold',
    'PeriodicMonitorThreadStartedEvent',
    'GeventPatchEvent', 'GeventWillPatchEvent', 'GeventDidPatchEvent',
    'GeventWillPatchModuleEvent', 'GeventDidPatchModuleEvent',
    'GeventWillPatchAllEvent', 'GeventDidPatchBuiltinModulesEvent',
    'GeventDidPatchAllEvent',
    'IPeriodicMonitorThread', 'IPeriodicMonitorThreadStartedEvent', 'IEventLoopBlocked',
    'IMemoryUsageThresholdExceeded', 'IMemoryUsageUnderThreshold',
    'IGeventPatchEvent', 'IGeventWillPatchEvent', 'IGeventDidPatchEvent',
    'IGeventWillPatchModuleEvent', 'IGeventDidPatchModuleEvent', 'IGeventWillPatchAllEvent',
    'IGeventDidPatchBuiltinModulesEvent', 'IGeventDidPatchAllEvent',
]

#: Callables ``f(event)``; append to subscribe, remove to unsubscribe.
subscribers: list[Any] = []


def notify(event):
    """Call every subscriber with ``event`` (a copy of the list is iterated, so a
    subscriber may unsubscribe itself)."""
    for subscriber in list(subscribers):
        subscriber(event)


try:
    # One list for everybody: tools written for gevent subscribe through zope.event.
    subscribers = __import__('zope.event', fromlist=['subscribers']).subscribers
except ImportError:
    pass


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
    for ep in _entry_points(group):
        ep.load()(event)


_entry_point_groups = None


def _entry_points(group):
    # Scanning the installed distributions costs milliseconds and patch_all sends
    # two dozen events, so the scan is done once per process and kept by group.
    global _entry_point_groups
    if _entry_point_groups is None:
        from importlib.metadata import entry_points
        eps = entry_points()
        if hasattr(eps, 'select'):      # 3.10+: EntryPoints / SelectableGroups
            groups = {g: list(eps.select(group=g)) for g in eps.groups if g.startswith('gevent_lite.')}
        else:  # pragma: no cover - Python 3.9: {group: [entry points]}
            groups = {g: list(v) for g, v in eps.items() if g.startswith('gevent_lite.')}
        _entry_point_groups = groups
    return _entry_point_groups.get(group, ())


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
    """The stdlib module ``module_name`` is about to be patched from ``source``.

    ``target_item_names`` is the list of names that will be copied from
    ``source`` into ``target``; a subscriber may edit it in place (with care).
    """

    __slots__ = ('module_name', 'target_item_names')
    ENTRY_POINT_NAME = 'gevent_lite.plugins.monkey.will_patch_module'

    def __init__(self, module_name, source, target, items=None):
        GeventWillPatchEvent.__init__(self, source, target)
        self.module_name = module_name
        self.target_item_names = items if items is not None else []


class GeventDidPatchModuleEvent(GeventDidPatchEvent):
    """The stdlib module ``module_name`` was patched."""

    __slots__ = ('module_name',)
    ENTRY_POINT_NAME = 'gevent_lite.plugins.monkey.did_patch_module'

    def __init__(self, module_name, source, target):
        GeventDidPatchEvent.__init__(self, source, target)
        self.module_name = module_name


class _PatchAllFields:
    # The arguments of the patch_all call, shared by the three patch_all events.
    __slots__ = ()

    def _set_arguments(self, patch_all_arguments, patch_all_kwargs):
        self.patch_all_arguments = patch_all_arguments
        self.patch_all_kwargs = patch_all_kwargs if patch_all_kwargs is not None else {}

    def will_patch_module(self, module_name):
        """Whether ``patch_all`` was asked to patch ``module_name`` (in this call)."""
        return bool(self.patch_all_arguments.get(module_name))


class GeventWillPatchAllEvent(_PatchAllFields, GeventWillPatchEvent):
    """``patch_all`` is starting; ``patch_all_arguments`` maps each option to its value.

    Nothing is patched yet. Raising :class:`DoNotPatch` cancels the whole call.
    """

    __slots__ = ('patch_all_arguments', 'patch_all_kwargs')
    ENTRY_POINT_NAME = 'gevent_lite.plugins.monkey.will_patch_all'

    def __init__(self, patch_all_arguments, patch_all_kwargs=None):
        GeventWillPatchEvent.__init__(self, None, None)
        self._set_arguments(patch_all_arguments, patch_all_kwargs)


class GeventDidPatchBuiltinModulesEvent(_PatchAllFields, GeventDidPatchEvent):
    """All stdlib modules ``patch_all`` was asked for are patched (plugins not yet).

    The time for a plugin to patch a third-party library (with
    ``monkey.patch_module``).
    """

    __slots__ = ('patch_all_arguments', 'patch_all_kwargs')
    ENTRY_POINT_NAME = 'gevent_lite.plugins.monkey.did_patch_builtins'

    def __init__(self, patch_all_arguments, patch_all_kwargs=None):
        GeventDidPatchEvent.__init__(self, None, None)
        self._set_arguments(patch_all_arguments, patch_all_kwargs)


class GeventDidPatchAllEvent(_PatchAllFields, GeventDidPatchEvent):
    """``patch_all`` finished. A sibling of :class:`GeventDidPatchBuiltinModulesEvent`,
    not a subclass (as in gevent), so a subscriber testing for either sees it once."""

    __slots__ = ('patch_all_arguments', 'patch_all_kwargs')
    ENTRY_POINT_NAME = 'gevent_lite.plugins.monkey.did_patch_all'

    def __init__(self, patch_all_arguments, patch_all_kwargs=None):
        GeventDidPatchEvent.__init__(self, None, None)
        self._set_arguments(patch_all_arguments, patch_all_kwargs)


# -- gevent's interfaces -----------------------------------------------------------------

try:
    _zi: Any = __import__('zope.interface', fromlist=['Interface'])
except ImportError:  # pragma: no cover - zope.interface comes with the test extra
    _zi = None


def _interface(name, doc, bases=(), **attributes):
    # A zope.interface interface (what gevent's are), or without zope.interface a
    # marker class of the same name, so the names exist either way.
    if _zi is None:
        return type(name, bases or (object,), {'__doc__': doc, '__module__': __name__})
    attrs = {key: _zi.Attribute(text) for key, text in attributes.items()}
    return _zi.interface.InterfaceClass(name, bases or (_zi.Interface,), attrs, doc, __name__)


IPeriodicMonitorThread = _interface(
    'IPeriodicMonitorThread', 'The monitor thread of a hub (see gevent_lite.monitor).')
IPeriodicMonitorThreadStartedEvent = _interface(
    'IPeriodicMonitorThreadStartedEvent', 'A monitor thread was started.',
    monitor='The monitor thread.')
IEventLoopBlocked = _interface(
    'IEventLoopBlocked', 'A greenlet kept the hub from running too long.',
    greenlet='The greenlet that blocked.', blocking_time='How long, in seconds.',
    info='Report lines, with its stack.', hub='The hub that was blocked.')
IMemoryUsageThresholdExceeded = _interface(
    'IMemoryUsageThresholdExceeded', 'Resident memory went above the threshold.',
    mem_usage='Bytes in use.', max_allowed='The threshold.', memory_info='psutil memory info, or None.')
IMemoryUsageUnderThreshold = _interface(
    'IMemoryUsageUnderThreshold', 'Resident memory went back under the threshold.',
    mem_usage='Bytes in use.', max_allowed='The threshold.',
    max_memory_usage='The highest usage seen while over.', memory_info='psutil memory info, or None.')
IGeventPatchEvent = _interface(
    'IGeventPatchEvent', 'Something is patched.', source='Our module.', target='The stdlib module.')
IGeventWillPatchEvent = _interface(
    'IGeventWillPatchEvent', 'Something is about to be patched.', (IGeventPatchEvent,))
IGeventDidPatchEvent = _interface(
    'IGeventDidPatchEvent', 'Something was patched.', (IGeventPatchEvent,))
IGeventWillPatchModuleEvent = _interface(
    'IGeventWillPatchModuleEvent', 'A stdlib module is about to be patched.', (IGeventWillPatchEvent,),
    module_name='Its name.', target_item_names='The names that will be copied.')
IGeventDidPatchModuleEvent = _interface(
    'IGeventDidPatchModuleEvent', 'A stdlib module was patched.', (IGeventDidPatchEvent,),
    module_name='Its name.')
IGeventWillPatchAllEvent = _interface(
    'IGeventWillPatchAllEvent', 'patch_all() is starting.', (IGeventWillPatchEvent,),
    patch_all_arguments='Option -> value.', patch_all_kwargs='Extra keyword arguments.')
IGeventDidPatchBuiltinModulesEvent = _interface(
    'IGeventDidPatchBuiltinModulesEvent', 'The stdlib modules are patched.', (IGeventDidPatchEvent,),
    patch_all_arguments='Option -> value.', patch_all_kwargs='Extra keyword arguments.')
IGeventDidPatchAllEvent = _interface(
    'IGeventDidPatchAllEvent', 'patch_all() finished.', (IGeventDidPatchEvent,))

if _zi is not None:
    for _cls, _iface in ((PeriodicMonitorThreadStartedEvent, IPeriodicMonitorThreadStartedEvent),
                         (EventLoopBlocked, IEventLoopBlocked),
                         (MemoryUsageThresholdExceeded, IMemoryUsageThresholdExceeded),
                         (MemoryUsageUnderThreshold, IMemoryUsageUnderThreshold),
                         (GeventPatchEvent, IGeventPatchEvent),
                         (GeventWillPatchEvent, IGeventWillPatchEvent),
                         (GeventDidPatchEvent, IGeventDidPatchEvent),
                         (GeventWillPatchModuleEvent, IGeventWillPatchModuleEvent),
                         (GeventDidPatchModuleEvent, IGeventDidPatchModuleEvent),
                         (GeventWillPatchAllEvent, IGeventWillPatchAllEvent),
                         (GeventDidPatchBuiltinModulesEvent, IGeventDidPatchBuiltinModulesEvent),
                         (GeventDidPatchAllEvent, IGeventDidPatchAllEvent)):
        _zi.classImplements(_cls, _iface)
    del _cls, _iface
