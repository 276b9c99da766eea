import pytest

from gevent_lite import events


@pytest.fixture
def subscribed():
    got = []
    events.subscribers.append(got.append)
    yield got
    events.subscribers.remove(got.append)


def test_notify_calls_every_subscriber_in_order(subscribed):
    order = []
    first = lambda e: order.append(('first', e))   # noqa: E731
    events.subscribers.insert(0, first)
    try:
        ev = events.PeriodicMonitorThreadStartedEvent('m')
        events.notify(ev)
    finally:
        events.subscribers.remove(first)
    assert subscribed == [ev]
    assert order == [('first', ev)]


def test_a_subscriber_may_unsubscribe_itself_during_notify(subscribed):
    def once(event):
        events.subscribers.remove(once)
    events.subscribers.insert(0, once)
    events.notify('x')
    events.notify('y')
    assert subscribed == ['x', 'y']
    assert once not in events.subscribers


def test_subscriber_errors_propagate_to_the_notifier():
    def bad(event):
        raise KeyError(event)
    events.subscribers.append(bad)
    try:
        with pytest.raises(KeyError):
            events.notify('e')
    finally:
        events.subscribers.remove(bad)


def test_event_classes_have_gevents_names_and_fields():
    blocked = events.EventLoopBlocked('g', 0.2, ['line'])
    assert (blocked.greenlet, blocked.blocking_time, blocked.info, blocked.hub) == ('g', 0.2, ['line'], None)
    assert 'blocking_time=0.2' in repr(blocked)
    over = events.MemoryUsageThresholdExceeded(10, 5)
    under = events.MemoryUsageUnderThreshold(4, 5, 12)
    assert (over.mem_usage, over.max_allowed) == (10, 5)
    assert under.max_memory_usage == 12
    mod = events.GeventWillPatchModuleEvent('socket', 'src', 'tgt')
    assert isinstance(mod, events.GeventWillPatchEvent)
    assert isinstance(mod, events.GeventPatchEvent)
    assert (mod.module_name, mod.source, mod.target) == ('socket', 'src', 'tgt')
    did = events.GeventDidPatchModuleEvent('socket', 'src', 'tgt')
    assert isinstance(did, events.GeventDidPatchEvent)
    will_all = events.GeventWillPatchAllEvent({'socket': True, 'ssl': False}, {})
    assert will_all.will_patch_module('socket') and not will_all.will_patch_module('ssl')
    # Siblings, as in gevent: a subscriber testing for the builtins event must not also
    # take the did-patch-all event that follows it for a second one.
    did_all = events.GeventDidPatchAllEvent({'socket': True}, {'x': 1})
    assert not isinstance(did_all, events.GeventDidPatchBuiltinModulesEvent)
    assert isinstance(did_all, events.GeventDidPatchEvent)
    assert did_all.will_patch_module('socket') and did_all.patch_all_kwargs == {'x': 1}
    will_mod = events.GeventWillPatchModuleEvent('time', 'src', 'tgt', ['sleep'])
    assert will_mod.target_item_names == ['sleep']
    assert issubclass(events.DoNotPatch, BaseException)


def test_names_are_the_ones_gevent_uses():
    ge = pytest.importorskip('gevent.events')
    for name in ('EventLoopBlocked', 'MemoryUsageThresholdExceeded', 'MemoryUsageUnderThreshold',
                 'PeriodicMonitorThreadStartedEvent', 'GeventWillPatchAllEvent',
                 'GeventDidPatchAllEvent', 'GeventWillPatchModuleEvent',
                 'GeventDidPatchModuleEvent', 'GeventDidPatchBuiltinModulesEvent', 'DoNotPatch',
                 'subscribers', 'notify', 'notify_and_call_entry_points'):
        assert hasattr(ge, name) and hasattr(events, name), name


def test_notify_and_call_entry_points_notifies_subscribers(subscribed):
    ev = events.GeventDidPatchAllEvent({}, {})
    events.notify_and_call_entry_points(ev)
    assert subscribed == [ev]


def test_subscribers_is_zope_events_list_when_zope_event_is_installed(subscribed):
    zope_event = pytest.importorskip('zope.event')
    assert events.subscribers is zope_event.subscribers
    seen = []
    zope_event.subscribers.append(seen.append)
    try:
        ev = events.GeventDidPatchModuleEvent('socket', None, None)
        events.notify(ev)
    finally:
        zope_event.subscribers.remove(seen.append)
    assert seen == [ev]


def test_gevents_interfaces_are_declared_and_implemented_with_zope_interface():
    verify = pytest.importorskip('zope.interface.verify')
    verify.verifyClass(events.IEventLoopBlocked, events.EventLoopBlocked)
    verify.verifyObject(events.IMemoryUsageThresholdExceeded, events.MemoryUsageThresholdExceeded(0, 0, 0))
    verify.verifyObject(events.IMemoryUsageUnderThreshold, events.MemoryUsageUnderThreshold(0, 0, 0, 0))
    ev = events.GeventDidPatchModuleEvent('socket', None, None)
    assert events.IGeventDidPatchModuleEvent.providedBy(ev)
    assert events.IGeventPatchEvent.providedBy(ev)         # through the interface bases
    assert not events.IGeventWillPatchEvent.providedBy(ev)


def test_interfaces_are_marker_classes_without_zope_interface(monkeypatch):
    monkeypatch.setattr(events, '_zi', None)
    marker = events._interface('IThing', 'A thing.', size='Its size.')
    assert isinstance(marker, type) and marker.__name__ == 'IThing' and marker.__doc__ == 'A thing.'
