"""Cancel scopes: deadlines, nesting, cancel(), shields (gevent#846), bad input.

Timing-sensitive behaviour runs on the virtual clock (exact, load-independent);
a few tests use real time with wide margins to show the real clock works too.
"""

import math
import time

import pytest

import gevent_lite
from gevent_lite import (
    CancelScope, Cancelled, Timeout, move_on_after, move_on_at, fail_after, fail_at,
    sleep, spawn,
)
from gevent_lite.event import Event
from gevent_lite.hub import now, get_hub


def test_move_on_after_leaves_a_blocked_block_at_the_deadline_in_real_time():
    started = time.monotonic()
    reached = []
    with move_on_after(0.1) as scope:
        sleep(30)
        reached.append('body end')
    elapsed = time.monotonic() - started
    assert scope.cancelled_caught
    assert reached == []
    assert elapsed < 10


def test_move_on_after_not_reached_runs_the_body_to_the_end(virtual_clock):
    with move_on_after(5) as scope:
        sleep(1)
    assert not scope.cancelled_caught
    assert not scope.cancel_called
    assert now() == 1


def test_deadline_is_exact_on_the_virtual_clock(virtual_clock):
    with move_on_after(7.5) as scope:
        sleep(100)
    assert scope.cancelled_caught
    assert now() == 7.5
    assert scope.deadline == 7.5


def test_fail_after_raises_timeout_error_when_the_deadline_passes(virtual_clock):
    with pytest.raises(TimeoutError):
        with fail_after(3):
            sleep(10)
    assert now() == 3


def test_fail_after_explicit_cancel_just_leaves_the_block(virtual_clock):
    with fail_after(3) as scope:
        scope.cancel()
        sleep(1)
    assert scope.cancelled_caught
    assert now() == 0


def test_move_on_at_and_fail_at_use_absolute_hub_time(virtual_clock):
    virtual_clock.jump(100)
    with move_on_at(104) as scope:
        sleep(50)
    assert scope.cancelled_caught and now() == 104
    with pytest.raises(TimeoutError):
        with fail_at(110):
            sleep(50)
    assert now() == 110


def test_an_outer_deadline_passes_through_an_inner_move_on_after(virtual_clock):
    with move_on_after(2) as outer:
        with move_on_after(10) as inner:
            sleep(100)
        pytest.fail('the outer cancellation must not stop at the inner scope')
    assert outer.cancelled_caught
    assert not inner.cancelled_caught
    assert now() == 2


def test_an_inner_deadline_is_caught_by_the_inner_scope_only(virtual_clock):
    after_inner = []
    with move_on_after(10) as outer:
        with move_on_after(2) as inner:
            sleep(100)
        after_inner.append(now())
        sleep(1)
    assert inner.cancelled_caught and not outer.cancelled_caught
    assert after_inner == [2]
    assert now() == 3


def test_cancel_from_another_greenlet_interrupts_a_parked_wait(virtual_clock):
    event = Event()
    scope = CancelScope()
    outcome = []

    def waiter():
        with scope:
            event.wait()
            outcome.append('woken')
        outcome.append(scope.cancelled_caught)

    g = spawn(waiter)
    sleep(1)
    scope.cancel()
    g.join()
    assert outcome == [True]
    assert now() == 1


def test_cancel_from_inside_takes_effect_at_the_next_blocking_call(virtual_clock):
    steps = []
    with CancelScope() as scope:
        scope.cancel()
        steps.append('still running')      # no checkpoint yet: nothing raised
        sleep(5)
        steps.append('not reached')
    assert steps == ['still running']
    assert scope.cancelled_caught
    assert now() == 0


def test_cancel_from_inside_without_blocking_again_raises_nothing():
    with CancelScope() as scope:
        scope.cancel()
    assert scope.cancel_called and not scope.cancelled_caught
    sleep(0)    # the pending delivery finds the scope gone and does nothing
    sleep(0)


def test_a_scope_cancelled_before_it_is_entered_cancels_its_first_wait(virtual_clock):
    scope = CancelScope()
    scope.cancel()
    with scope:
        sleep(10)
    assert scope.cancelled_caught and now() == 0


def test_deadline_can_be_moved_later_and_earlier_while_inside(virtual_clock):
    with move_on_after(1) as scope:
        scope.deadline = 5
        sleep(100)
    assert now() == 5
    start = now()
    with move_on_after(50) as scope:
        sleep(1)
        scope.deadline = now() + 2
        sleep(100)
    assert now() - start == 3
    with CancelScope() as scope:
        assert scope.deadline == math.inf
        scope.deadline = now() + 1
        sleep(100)
    assert scope.cancelled_caught


def test_cancelled_is_not_caught_by_except_exception(virtual_clock):
    swallowed = []
    with move_on_after(1) as scope:
        try:
            sleep(10)
        except Exception:
            swallowed.append(True)
    assert scope.cancelled_caught and not swallowed


def test_cancellation_is_thrown_once_so_a_finally_block_may_block(virtual_clock):
    cleaned = []
    with move_on_after(1) as scope:
        try:
            sleep(10)
        finally:
            sleep(2)
            cleaned.append(now())
    assert scope.cancelled_caught
    assert cleaned == [3]


# -- shields ---------------------------------------------------------------------------------

def test_shield_defers_a_kill_until_the_cleanup_block_finishes(virtual_clock):
    # gevent#846: a second kill must not cut the cleanup short.
    log = []

    def worker():
        try:
            sleep(100)
        finally:
            log.append('cleanup start')
            with CancelScope(shield=True):
                sleep(5)
                log.append('cleanup done')
            log.append('after shield')      # the deferred kill lands at the shield's exit

    g = spawn(worker)
    sleep(1)
    g.kill(block=False)
    sleep(1)
    g.kill(block=False)     # during the shielded cleanup
    g.join()
    assert log == ['cleanup start', 'cleanup done']
    assert g.dead and g.successful()
    assert isinstance(g.value, gevent_lite.GreenletExit)
    assert now() == 6


def test_shield_defers_an_outer_deadline_then_delivers_it(virtual_clock):
    log = []
    with move_on_after(1) as outer:
        with CancelScope(shield=True):
            sleep(5)
            log.append('shielded work done')
        log.append('not reached')
    assert log == ['shielded work done']
    assert outer.cancelled_caught
    assert now() == 5


def test_a_shielded_scope_still_obeys_its_own_deadline(virtual_clock):
    with move_on_after(2, shield=True) as scope:
        sleep(10)
    assert scope.cancelled_caught and now() == 2


def test_shield_defers_a_timeout_started_outside_but_not_one_started_inside(virtual_clock):
    with pytest.raises(Timeout):
        with Timeout(1):
            with CancelScope(shield=True):
                sleep(3)
    assert now() == 3
    with CancelScope(shield=True):
        with Timeout(1, False):
            sleep(3)
    assert now() == 4


def test_turning_the_shield_off_delivers_what_it_held_back(virtual_clock):
    with move_on_after(1) as outer:
        with CancelScope(shield=True) as inner:
            sleep(2)
            inner.shield = False
            sleep(10)
    assert outer.cancelled_caught
    assert now() == 2


def test_a_shield_inside_a_shield_hands_the_kill_outward(virtual_clock):
    log = []

    def worker():
        with CancelScope(shield=True):
            with CancelScope(shield=True):
                sleep(2)
                log.append('inner done')
            sleep(2)
            log.append('outer done')
        log.append('not reached')

    g = spawn(worker)
    sleep(1)
    g.kill()
    assert log == ['inner done', 'outer done']
    assert now() == 4


def test_timeout_and_kill_keep_gevent_semantics_outside_shields(virtual_clock):
    with Timeout(1, False):
        sleep(5)
    assert now() == 1
    g = spawn(sleep, 100)
    sleep(0)
    g.kill()
    assert g.dead and now() == 1


# -- bad input ---------------------------------------------------------------------------------

def test_a_scope_is_entered_once():
    scope = CancelScope()
    with scope:
        pass
    with pytest.raises(RuntimeError, match='already entered'):
        with scope:
            pass


def test_bad_deadlines_are_rejected_clearly():
    with pytest.raises(TypeError):
        CancelScope(deadline='soon')
    with pytest.raises(ValueError):
        CancelScope(deadline=float('nan'))
    with pytest.raises(TypeError):
        move_on_after(None)
    with pytest.raises(TypeError):
        fail_after('1')
    with pytest.raises(ValueError):
        move_on_after(float('nan'))
    scope = CancelScope()
    with pytest.raises(TypeError):
        scope.deadline = [1]


def test_entering_a_scope_in_a_hub_callback_is_an_error_not_a_dead_hub():
    errors = []

    def callback():
        try:
            with CancelScope():
                pass
        except RuntimeError as e:
            errors.append(e)

    get_hub().run_callback(callback)
    sleep(0)
    assert errors and 'hub' in str(errors[0])


def test_a_negative_delay_cancels_at_the_first_wait():
    started = time.monotonic()
    with move_on_after(-1) as scope:
        sleep(30)
    assert scope.cancelled_caught
    assert time.monotonic() - started < 10


def test_cancelled_carries_its_scope():
    caught = []
    with CancelScope() as scope:
        scope.cancel()
        try:
            sleep(1)
        except Cancelled as e:
            caught.append(e.scope)
            raise
    assert caught == [scope]


def test_cancel_from_another_os_thread_wakes_the_hub_and_cancels():
    import threading
    scope = CancelScope()

    def canceller():
        time.sleep(0.1)
        scope.cancel()

    t = threading.Thread(target=canceller)
    started = time.monotonic()
    with scope:
        t.start()
        sleep(30)
    t.join(30)
    assert scope.cancelled_caught
    assert time.monotonic() - started < 10


def test_random_nestings_the_earliest_deadline_wins_and_only_its_scope_catches(virtual_clock):
    import random
    from contextlib import ExitStack
    rng = random.Random(1697)
    for _ in range(200):
        start = now()
        delays = [rng.choice([rng.uniform(0.1, 100), math.inf]) for _ in range(rng.randint(1, 6))]
        if all(d == math.inf for d in delays):
            delays[rng.randrange(len(delays))] = rng.uniform(0.1, 100)
        with ExitStack() as stack:
            scopes = [stack.enter_context(CancelScope(deadline=start + d)) for d in delays]
            sleep(1000)
        winner = delays.index(min(delays))
        assert [s.cancelled_caught for s in scopes] == [i == winner for i in range(len(delays))]
        assert now() == start + min(delays)
