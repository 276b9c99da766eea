"""Timeout and with_timeout: firing, cancelling, silence, nesting."""

import time

import pytest

import gevent_lite
from gevent_lite import Timeout, with_timeout


def test_timeout_interrupts_sleep_after_its_seconds():
    start = time.monotonic()
    with pytest.raises(Timeout) as info:
        with Timeout(0.1):
            gevent_lite.sleep(5)
    elapsed = time.monotonic() - start
    assert 0.08 <= elapsed < 2
    assert str(info.value) == '0.1 seconds'


def test_silent_timeout_is_swallowed_by_its_with_block():
    with Timeout(0.05, False):
        gevent_lite.sleep(5)
        pytest.fail('sleep was not interrupted')  # pragma: no cover


def test_timeout_with_custom_exception_raises_that_exception():
    with pytest.raises(ValueError, match='too slow'):
        with Timeout(0.05, ValueError('too slow')):
            gevent_lite.sleep(5)


def test_timeout_cancelled_on_exit_never_fires_later():
    with Timeout(0.05):
        pass
    gevent_lite.sleep(0.15)   # would raise if the timer were still armed


def test_nested_timeouts_raise_the_one_that_fired():
    outer = Timeout(0.05)
    inner = Timeout(5)
    with pytest.raises(Timeout) as info:
        with outer:
            with inner:
                gevent_lite.sleep(5)
    assert info.value is outer
    assert not inner.pending

    outer = Timeout(5)
    inner = Timeout(0.05)
    with outer:
        with pytest.raises(Timeout) as info:
            with inner:
                gevent_lite.sleep(5)
        assert info.value is inner
    assert not outer.pending


def test_start_cancel_and_pending():
    t = Timeout(1)
    assert not t.pending
    t.start()
    assert t.pending
    with pytest.raises(AssertionError):
        t.start()
    t.cancel()
    assert not t.pending
    t.cancel()  # idempotent
    t.close()


def test_start_new_accepts_an_existing_timeout():
    t = Timeout(1)
    assert Timeout.start_new(t) is t
    assert t.pending
    t.cancel()


def test_timeout_none_never_fires():
    with Timeout(None):
        gevent_lite.sleep(0.05)
    assert str(Timeout(None)) == ''


def test_timeout_str_and_repr():
    assert str(Timeout(1)) == '1 second'
    assert str(Timeout(2, False)) == '2 seconds (silent)'
    assert str(Timeout(1, ValueError('x'))) == '1 second: x'
    assert repr(Timeout(1)).startswith('<Timeout at 0x')


def test_timeout_is_not_an_exception_subclass():
    # `except Exception` in interrupted code must not swallow it.
    assert not issubclass(Timeout, Exception)
    caught = []
    with pytest.raises(Timeout):
        with Timeout(0.05):
            try:
                gevent_lite.sleep(5)
            except Exception:  # pragma: no cover
                caught.append(1)
    assert caught == []


def test_bad_timeout_values_are_rejected():
    with pytest.raises(ValueError):
        Timeout(float('nan'))
    with pytest.raises(TypeError):
        Timeout('soon')


def test_with_timeout_returns_value_or_timeout_value():
    assert with_timeout(1, lambda x: x * 2, 21) == 42
    assert with_timeout(0.05, gevent_lite.sleep, 5, timeout_value='late') == 'late'
    with pytest.raises(Timeout):
        with_timeout(0.05, gevent_lite.sleep, 5)


def test_timeout_interrupts_a_greenlet_join():
    g = gevent_lite.spawn(gevent_lite.sleep, 5)
    with pytest.raises(Timeout):
        with Timeout(0.05):
            g.join()
    assert not g.dead
    g.kill()
    assert g.dead


def test_timeout_in_one_greenlet_does_not_touch_another():
    results = []

    def short():
        try:
            with Timeout(0.05):
                gevent_lite.sleep(5)
        except Timeout:
            results.append('short timed out')

    def long():
        gevent_lite.sleep(0.15)
        results.append('long finished')

    gevent_lite.joinall([gevent_lite.spawn(short), gevent_lite.spawn(long)])
    assert results == ['short timed out', 'long finished']


def test_cancel_then_start_again_restarts_the_countdown():
    # gevent#1890: re-arming a Timeout with cancel()+start() must push the deadline
    # back each time, not leave the first timer armed.
    with Timeout(0.5) as timeout:
        for _ in range(8):                 # 0.8 s in all, never 0.5 s between re-arms
            gevent_lite.sleep(0.1)
            timeout.cancel()
            timeout.start()
    assert not timeout.pending             # the with-block cancelled the last one


def test_a_timeout_object_given_as_timeout_raises_itself_from_get_and_is_cancelled_after():
    from gevent_lite.event import AsyncResult
    from gevent_lite.queue import Queue, Channel
    waits = [lambda t: Queue().get(timeout=t), lambda t: Queue(1, [1]).put(2, timeout=t),
             lambda t: Channel().get(timeout=t), lambda t: AsyncResult().get(timeout=t),
             lambda t: gevent_lite.spawn(gevent_lite.sleep, 5).get(timeout=t)]
    for wait in waits:
        t = Timeout(0.05)
        with pytest.raises(Timeout) as info:
            wait(t)
        assert info.value is t and not t.pending
        t = Timeout(0.05, RuntimeError('custom'))
        with pytest.raises(RuntimeError, match='custom'):
            wait(t)
    # a wait that succeeds first cancels it (it must not fire later somewhere else)
    q = Queue()
    gevent_lite.spawn_later(0.01, q.put, 'x')
    t = Timeout(0.2)
    assert q.get(timeout=t) == 'x'
    assert not t.pending
    gevent_lite.sleep(0.3)


def test_timeout_with_a_message_raises_the_timeout_saying_it():
    t = Timeout(0.01, 'no reply from the backend')
    with pytest.raises(Timeout) as info:
        with t:
            gevent_lite.sleep(1)
    assert info.value is t and 'no reply from the backend' in str(info.value)
