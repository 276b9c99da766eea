"""Event and AsyncResult: waking, timeouts, links, kills, and set() from other OS threads."""

import sys
import threading
import time

import pytest

import gevent_lite as gevent
from gevent_lite.event import AsyncResult, Event
from gevent_lite.hub import get_hub
from gevent_lite.timeout import Timeout

# -- Event ---------------------------------------------------------------------------------

def test_event_set_wakes_all_waiters_in_arrival_order():
    ev = Event()
    order = []

    def waiter(i):
        assert ev.wait() is True
        order.append(i)

    gs = [gevent.spawn(waiter, i) for i in range(10)]
    gevent.sleep(0)
    assert ev.statistics()['waiting'] == 10
    ev.set()
    gevent.joinall(gs, timeout=2)
    assert order == list(range(10))
    assert ev.statistics()['waiting'] == 0


def test_event_wait_returns_immediately_when_set_and_flag_accessors_agree():
    ev = Event()
    assert not ev.is_set() and not ev.isSet() and not ev.ready()
    ev.set()
    assert ev.is_set() and ev.isSet() and ev.ready()
    assert ev.wait() is True
    assert ev.wait(0) is True
    ev.clear()
    assert not ev.is_set()


def test_event_wait_timeout_returns_false_and_leaves_no_waiter():
    ev = Event()
    t0 = time.monotonic()
    assert ev.wait(0.05) is False
    assert 0.03 < time.monotonic() - t0 < 2
    assert ev.statistics()['waiting'] == 0


def test_event_waiters_woken_by_set_see_true_even_if_cleared_before_they_run():
    ev = Event()
    results = []
    gs = [gevent.spawn(lambda: results.append(ev.wait(5))) for _ in range(3)]
    gevent.sleep(0)
    ev.set()
    ev.clear()
    gevent.joinall(gs, timeout=2)
    assert results == [True, True, True]


def test_event_killed_woken_waiter_does_not_wake_a_waiter_that_came_after_clear():
    ev = Event()
    first = gevent.spawn(ev.wait)
    gevent.sleep(0)
    ev.set()                   # first is woken (runnable) ...
    ev.clear()
    late = gevent.spawn(ev.wait, 0.2)
    gevent.sleep(0)             # ... late parks after the clear
    first.kill(block=False)     # first dies before it ran
    t0 = time.monotonic()
    late.join(2)
    assert late.value is False, 'the killed waiter handed its wake-up to a later waiter'
    assert time.monotonic() - t0 > 0.1


def test_event_waiter_killed_after_wake_while_a_later_waiter_is_parked_hands_nothing_on():
    # The race the test above cannot force: the late waiter is already parked (on
    # the event's one lot) when the woken-but-not-yet-run first waiter is killed.
    from gevent_lite.hub import get_hub
    ev = Event()
    first = gevent.spawn(ev.wait)
    gevent.sleep(0)
    ev.set()                    # queues first's resume ...
    ev.clear()
    late = gevent.Greenlet(ev.wait, 0.2)
    hub = get_hub()
    # Run order: late parks, first is killed, then its stale resume finds nobody.
    hub.run_callback_first(first.throw, gevent.GreenletExit)
    hub.run_callback_first(late.switch)
    gevent.sleep(0)
    assert first.dead and ev.statistics()['waiting'] == 1, 'late should be parked on the event'
    late.join(2)
    assert late.value is False, 'the killed waiter handed its wake-up to a later waiter'


def test_many_concurrent_event_waits_with_timeout_finish_concurrently():
    ev = Event()
    t0 = time.monotonic()
    gs = [gevent.spawn(ev.wait, 0.5) for _ in range(20)]
    gevent.joinall(gs, timeout=5)
    assert time.monotonic() - t0 < 2
    assert [g.value for g in gs] == [False] * 20


def test_event_rawlink_called_with_event_by_hub_and_unlink_removes():
    ev = Event()
    seen = []
    cb = seen.append
    other = []
    ev.rawlink(cb)
    ev.rawlink(other.append)
    ev.unlink(other.append)
    ev.set()
    assert seen == []          # called from the hub, not synchronously
    gevent.sleep(0)
    gevent.sleep(0)
    assert seen == [ev]
    assert other == []


def test_event_rawlink_on_set_event_fires_and_rejects_non_callable():
    ev = Event()
    ev.set()
    seen = []
    ev.rawlink(seen.append)
    gevent.sleep(0)
    assert seen == [ev]
    with pytest.raises(TypeError):
        ev.rawlink(42)


def test_gevent_wait_and_iwait_accept_events():
    a, b = Event(), Event()
    gevent.spawn_later(0.05, a.set)
    gevent.spawn_later(0.1, b.set)
    assert gevent.wait([a, b], timeout=2) == [a, b]
    c, d = Event(), Event()
    gevent.spawn_later(0.02, d.set)
    assert list(gevent.iwait([c, d], timeout=1, count=1)) == [d]
    assert c.linkcount() == 0 and d.linkcount() == 0


def test_event_wait_bad_timeout_raises_type_error():
    with pytest.raises(TypeError):
        Event().wait('soon')


def test_event_repr_shows_state_and_waiters():
    ev = Event()
    g = gevent.spawn(ev.wait)
    gevent.sleep(0)
    assert 'unset' in repr(ev) and 'waiting=1' in repr(ev)
    ev.set()
    g.join(1)
    assert ' set ' in repr(ev)


def test_event_set_from_another_os_thread_wakes_waiter():
    ev = Event()
    hub = get_hub()
    hub.ref()      # keep the loop alive for the thread's hand-back
    try:
        th = threading.Thread(target=lambda: (time.sleep(0.05), ev.set()))
        th.start()
        t0 = time.monotonic()
        assert ev.wait(5) is True
        assert time.monotonic() - t0 < 2
        th.join(5)
    finally:
        hub.unref()


# -- AsyncResult ---------------------------------------------------------------------------

def test_asyncresult_get_returns_value_set_later():
    r = AsyncResult()
    gevent.spawn_later(0.02, r.set, 42)
    assert r.get(timeout=2) == 42
    assert r.ready() and r.successful() and r.value == 42
    assert r.exception is None and r.exc_info == ()
    assert r.get_nowait() == 42 and r.wait() == 42 and r.result() == 42 and r.done()


def test_asyncresult_set_exception_raised_by_get_with_original_traceback():
    r = AsyncResult()
    try:
        raise KeyError('k')
    except KeyError as e:
        r.set_exception(e, sys.exc_info())
    assert r.ready() and not r.successful()
    assert isinstance(r.exception, KeyError)
    assert r.exc_info[0] is KeyError
    with pytest.raises(KeyError) as info:
        r.get()
    assert info.value.__traceback__ is not None
    assert r.wait() is None and r.value is None


def test_asyncresult_get_nonblocking_and_timeout_raise_timeout():
    r = AsyncResult()
    with pytest.raises(Timeout):
        r.get(block=False)
    with pytest.raises(Timeout):
        r.get_nowait()
    t0 = time.monotonic()
    with pytest.raises(Timeout):
        r.get(timeout=0.05)
    assert time.monotonic() - t0 < 2
    assert r.wait(0.01) is None
    assert r.statistics()['waiting'] == 0


def test_asyncresult_wakes_all_getters_fifo():
    r = AsyncResult()
    order = []
    gs = [gevent.spawn(lambda i=i: order.append((i, r.get()))) for i in range(5)]
    gevent.sleep(0)
    r.set('x')
    gevent.joinall(gs, timeout=2)
    assert order == [(i, 'x') for i in range(5)]


def test_asyncresult_is_a_link_target_for_greenlets():
    ok = AsyncResult()
    g = gevent.spawn(lambda: 7)
    g.link(ok)
    assert ok.get(timeout=2) == 7
    bad = AsyncResult()
    g2 = gevent.spawn(lambda: 1 / 0)
    g2.rawlink(bad)
    with pytest.raises(ZeroDivisionError):
        bad.get(timeout=2)


def test_asyncresult_set_exception_rejects_non_exceptions_and_accepts_classes():
    r = AsyncResult()
    with pytest.raises(TypeError):
        r.set_exception('boom')
    r.set_exception(ValueError)
    with pytest.raises(ValueError):
        r.get()


def test_asyncresult_killed_getter_leaves_result_usable():
    r = AsyncResult()
    g = gevent.spawn(r.get)
    gevent.sleep(0)
    g.kill()
    assert r.statistics()['waiting'] == 0
    r.set(1)
    assert r.get() == 1


def test_asyncresult_set_from_another_os_thread_wakes_getters():
    r = AsyncResult()
    hub = get_hub()
    hub.ref()
    try:
        got = []
        gs = [gevent.spawn(lambda: got.append(r.get(timeout=5))) for _ in range(3)]
        gevent.sleep(0)
        th = threading.Thread(target=lambda: (time.sleep(0.05), r.set('from-thread')))
        th.start()
        gevent.joinall(gs, timeout=5)
        th.join(5)
        assert got == ['from-thread'] * 3
    finally:
        hub.unref()


def test_asyncresult_set_exception_from_another_os_thread():
    r = AsyncResult()
    hub = get_hub()
    hub.ref()
    try:
        th = threading.Thread(target=lambda: (time.sleep(0.02), r.set_exception(OSError('t'))))
        th.start()
        with pytest.raises(OSError):
            r.get(timeout=5)
        th.join(5)
    finally:
        hub.unref()


def test_asyncresult_created_and_set_in_thread_without_hub_then_read_in_hub():
    box = []
    th = threading.Thread(target=lambda: (box.append(AsyncResult()), box[0].set(5)))
    th.start()
    th.join(5)
    assert box[0].get(block=False) == 5


def test_asyncresult_rawlink_fires_for_result_set_from_thread():
    r = AsyncResult()
    seen = []
    r.rawlink(seen.append)
    hub = get_hub()
    hub.ref()
    try:
        th = threading.Thread(target=lambda: r.set(3))
        th.start()
        th.join(5)
        assert gevent.wait([r], timeout=5) == [r]
        gevent.sleep(0)
        assert seen == [r]
    finally:
        hub.unref()


def test_link_callback_error_is_reported_not_fatal(capsys):
    ev = Event()

    def bad(_):
        raise RuntimeError('in link')
    good = []
    ev.rawlink(bad)
    ev.rawlink(good.append)
    ev.set()
    gevent.sleep(0.01)
    assert good == [ev]
    assert 'in link' in capsys.readouterr().err


def test_result_made_by_main_thread_is_waited_on_by_a_worker_threads_hub_and_set_by_main():
    # gevent binds an Event/AsyncResult to the hub of the thread that first waits on
    # it, not of the thread that creates it (even when the creator has a hub).
    get_hub()                       # the main thread has a hub
    for make, setter, expect in ((AsyncResult, lambda o: o.set('from main'), 'from main'),
                                 (Event, lambda o: o.set(), True)):
        obj = make()
        waiting = threading.Event()
        result = []

        def worker(obj=obj, waiting=waiting, result=result):
            keepalive = gevent.spawn(gevent.sleep, 5)     # the worker's hub has a timer
            waiting.set()
            result.append(obj.wait(5))
            keepalive.kill()
            get_hub().destroy(destroy_loop=True)

        th = threading.Thread(target=worker, daemon=True)
        th.start()
        assert waiting.wait(5)
        time.sleep(0.05)            # let the worker park
        setter(obj)
        th.join(5)
        assert not th.is_alive() and result == [expect], (make, result)


def test_linkcount_counts_waiting_greenlets_as_well_as_link_callbacks():
    # gevent's rule: a greenlet in wait() is one of the object's links.
    ev = Event()
    ev.rawlink(lambda _: None)
    gs = [gevent.spawn(ev.wait) for _ in range(2)]
    gevent.sleep(0)
    assert ev.linkcount() == 3 and ev.has_links()
    ev.set()
    gevent.joinall(gs, timeout=5)
    gevent.sleep(0)
    assert ev.linkcount() == 0 and not ev.has_links()
