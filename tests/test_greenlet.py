"""Greenlet, spawn, joinall, killall, links, kill and the top-level API."""

import contextvars
import time

import pytest

import gevent_lite
from gevent_lite import Greenlet, GreenletExit, Timeout


def test_three_greenlets_interleave_at_sleep_0():
    out = []

    def worker(name):
        for i in range(3):
            out.append('%s%d' % (name, i))
            gevent_lite.sleep(0)

    gevent_lite.joinall([gevent_lite.spawn(worker, n) for n in 'abc'])
    assert out == ['a0', 'b0', 'c0', 'a1', 'b1', 'c1', 'a2', 'b2', 'c2']


def test_joinall_of_sleeps_ends_in_order_and_takes_the_longest_not_the_sum():
    done = []

    def nap(seconds):
        gevent_lite.sleep(seconds)
        done.append(seconds)

    start = time.monotonic()
    gevent_lite.joinall([gevent_lite.spawn(nap, s) for s in (0.3, 0.2, 0.1)])
    elapsed = time.monotonic() - start
    assert done == [0.1, 0.2, 0.3]
    assert 0.28 <= elapsed < 0.55   # the sum would be 0.6


def test_get_returns_value_and_reraises_exception():
    assert gevent_lite.spawn(lambda: 42).get() == 42

    def boom():
        raise KeyError('nope')

    g = gevent_lite.spawn(boom)
    with pytest.raises(KeyError, match='nope'):
        g.get()
    assert g.ready() and not g.successful()
    assert isinstance(g.exception, KeyError)
    assert g.exc_info[0] is KeyError


def test_get_nonblocking_and_with_timeout_raise_timeout():
    g = gevent_lite.spawn(gevent_lite.sleep, 5)
    with pytest.raises(Timeout):
        g.get(block=False)
    start = time.monotonic()
    with pytest.raises(Timeout):
        g.get(timeout=0.05)
    assert time.monotonic() - start < 2
    g.kill()


def test_join_with_timeout_returns_without_result():
    g = gevent_lite.spawn(gevent_lite.sleep, 5)
    g.join(timeout=0.05)
    assert not g.ready()
    g.kill()
    assert g.ready() and g.successful()
    assert isinstance(g.value, GreenletExit)


def test_kill_interrupts_a_greenlet_waiting_on_a_timer():
    cleaned = []

    def sleeper():
        try:
            gevent_lite.sleep(10)
        finally:
            cleaned.append(True)

    g = gevent_lite.spawn(sleeper)
    gevent_lite.sleep(0.01)
    start = time.monotonic()
    g.kill()
    assert time.monotonic() - start < 1
    assert g.dead and cleaned == [True]


def test_kill_interrupts_a_greenlet_waiting_on_an_fd():
    import os
    r, w = os.pipe()
    try:
        g = gevent_lite.spawn(gevent_lite.wait_read, r)
        gevent_lite.sleep(0.01)
        g.kill()
        assert g.dead
        # The fd can be waited on again: the killed waiter left no registration behind.
        os.write(w, b'x')
        gevent_lite.wait_read(r, timeout=1)
    finally:
        os.close(r)
        os.close(w)


def test_kill_with_custom_exception_is_the_greenlets_exception():
    g = gevent_lite.spawn(gevent_lite.sleep, 5)
    gevent_lite.sleep(0)
    g.kill(ValueError('stop'))
    assert isinstance(g.exception, ValueError)


def test_killing_a_not_started_greenlet_means_it_never_runs():
    ran = []
    g = gevent_lite.spawn(ran.append, 1)
    g.kill()
    assert g.dead
    gevent_lite.sleep(0.01)
    assert ran == []
    g2 = Greenlet(ran.append, 2)
    g2.kill()
    assert g2.dead
    g3 = gevent_lite.spawn_later(0.01, ran.append, 3)
    g3.kill()
    gevent_lite.sleep(0.05)
    assert ran == []


def test_killing_a_not_started_greenlet_releases_its_arguments():
    import weakref

    class Arg:
        pass

    arg, kwarg = Arg(), Arg()
    refs = [weakref.ref(arg), weakref.ref(kwarg)]
    g = gevent_lite.spawn(lambda a, k=None: None, arg, k=kwarg)
    del arg, kwarg
    g.kill()
    # Released at once (no gc needed): nothing keeps them past the kill.
    assert [r() for r in refs] == [None, None]
    assert g.args == () and not g.kwargs


def test_kill_nonblocking_then_join():
    g = gevent_lite.spawn(gevent_lite.sleep, 5)
    gevent_lite.sleep(0)
    g.kill(block=False)
    assert not g.dead
    g.join(1)
    assert g.dead


def test_killall_kills_every_greenlet():
    gs = [gevent_lite.spawn(gevent_lite.sleep, 5) for _ in range(10)]
    gevent_lite.sleep(0)
    gevent_lite.killall(gs)
    assert all(g.dead for g in gs)


def test_links_fire_once_in_order_after_death():
    calls = []
    g = gevent_lite.spawn(lambda: 7)
    g.rawlink(lambda src: calls.append(('raw', src.value)))
    g.link(lambda src: calls.append(('link', src.value)))
    g.link_value(lambda src: calls.append(('value', src.value)))
    g.link_exception(lambda src: calls.append(('exc', src.value)))
    g.join()
    gevent_lite.sleep(0.01)
    assert calls == [('raw', 7), ('link', 7), ('value', 7)]
    gevent_lite.sleep(0.01)
    assert len(calls) == 3


def test_link_exception_fires_only_on_failure():
    calls = []
    g = gevent_lite.spawn(lambda: 1 / 0)
    g.link_value(lambda src: calls.append('value'))
    g.link_exception(lambda src: calls.append('exc'))
    g.join()
    gevent_lite.sleep(0.01)
    assert calls == ['exc']


def test_link_added_after_death_still_fires():
    g = gevent_lite.spawn(lambda: 3)
    g.join()
    calls = []
    g.rawlink(lambda src: calls.append(src.value))
    gevent_lite.sleep(0)
    assert calls == [3]


def test_unlink_removes_a_link():
    calls = []
    cb = calls.append
    g = gevent_lite.spawn(lambda: 3)
    g.link(cb)
    g.unlink(cb)
    g.join()
    gevent_lite.sleep(0.01)
    assert calls == []


def test_exception_in_greenlet_is_printed_once_and_hub_survives(capsys):
    def boom():
        raise ZeroDivisionError('x')

    g = gevent_lite.spawn(boom)
    g.join()
    err = capsys.readouterr().err
    assert err.count('failed with ZeroDivisionError') == 1
    assert repr(g) in err
    # The hub keeps working.
    assert gevent_lite.spawn(lambda: 'alive').get() == 'alive'


def test_system_exit_in_greenlet_reaches_the_main_greenlet():
    def leave():
        raise SystemExit(3)

    gevent_lite.spawn(leave)
    with pytest.raises(SystemExit):
        gevent_lite.sleep(0.1)


def test_keyboard_interrupt_in_callback_reaches_the_main_greenlet():
    def interrupt():
        raise KeyboardInterrupt

    gevent_lite.get_hub().run_callback(interrupt)
    with pytest.raises(KeyboardInterrupt):
        gevent_lite.sleep(0.1)


def test_repr_looks_like_geventss():
    def f(x):
        return x

    g = Greenlet(f, 5)
    # gevent's form: the function's __name__, even for a nested function
    assert repr(g) == '<Greenlet at 0x%x: f(5)>' % (id(g),)
    g.name = 'worker'
    assert repr(g).startswith('<Greenlet "worker" at 0x')
    assert g.name == 'worker'
    assert Greenlet(f).minimal_ident != Greenlet(f).minimal_ident


def test_state_properties_through_a_lifetime():
    g = Greenlet(gevent_lite.sleep, 0.01)
    assert not g.started and not g.dead and not g.ready() and not g
    g.start()
    assert g.started and g and not g.dead
    g.join()
    assert g.dead and g.ready() and g.successful() and not g
    # gevent: started is false once dead
    assert not g.started
    # the arguments are released when the run ends (gevent frees them too)
    assert g.args == () and g.kwargs == {}


def test_arguments_are_released_when_the_run_ends_but_repr_keeps_them():
    import gc
    import weakref

    class Big:
        pass

    big = Big()
    ref = weakref.ref(big)
    g = Greenlet(lambda obj: None, big)
    info = repr(g)
    del big
    g.start()
    g.join()
    gc.collect()
    assert ref() is None, 'the finished greenlet still holds its argument'
    assert repr(g) == info and '<lambda>(' in info


def test_spawn_callbacks_see_each_started_greenlet_until_removed():
    seen = []
    Greenlet.add_spawn_callback(seen.append)
    try:
        g1 = gevent_lite.spawn(gevent_lite.sleep, 0)
        g2 = Greenlet(gevent_lite.sleep, 0)
        assert seen == [g1]
        g2.start_later(0.01)
        assert seen == [g1, g2]
    finally:
        Greenlet.remove_spawn_callback(seen.append)
        Greenlet.remove_spawn_callback(seen.append)     # a second removal is harmless
    gevent_lite.spawn(gevent_lite.sleep, 0).join()
    assert seen == [g1, g2]
    with pytest.raises(TypeError):
        Greenlet.add_spawn_callback(None)


def test_has_links_counts_the_links():
    g = Greenlet(gevent_lite.sleep, 0)
    assert not g.has_links()
    g.link(lambda _: None)
    g.rawlink(lambda _: None)
    assert g.has_links() == 2


def test_spawn_of_non_callable_raises_type_error_at_spawn_time():
    with pytest.raises(TypeError):
        gevent_lite.spawn(5)
    with pytest.raises(TypeError):
        gevent_lite.spawn_raw(5)


def test_subclass_overriding_run():
    class Worker(Greenlet):
        def __init__(self, n):
            Greenlet.__init__(self)
            self.n = n

        def _run(self):
            return self.n * 2

    assert Worker.spawn(4).get() == 8


def test_spawn_later_starts_after_the_delay():
    start = time.monotonic()
    g = gevent_lite.spawn_later(0.1, time.monotonic)
    assert g.get() - start >= 0.09


def test_spawn_raw_runs_function_with_args_and_kwargs():
    out = []
    gevent_lite.spawn_raw(lambda a, b=0: out.append(a + b), 1, b=2)
    gevent_lite.sleep(0)
    assert out == [3]


def test_joinall_raise_error_raises_first_failure():
    def boom():
        gevent_lite.sleep(0.01)
        raise ValueError('first')

    gs = [gevent_lite.spawn(gevent_lite.sleep, 0.05), gevent_lite.spawn(boom)]
    with pytest.raises(ValueError, match='first'):
        gevent_lite.joinall(gs, raise_error=True)


def test_joinall_with_timeout_and_count():
    gs = [gevent_lite.spawn(gevent_lite.sleep, s) for s in (0.01, 0.02, 5)]
    done = gevent_lite.joinall(gs, timeout=0.2)
    assert set(done) == set(gs[:2])
    done = gevent_lite.joinall(gs, count=1)
    assert len(done) == 1
    gevent_lite.killall(gs)


def test_ten_thousand_greenlets_sleep_concurrently():
    start = time.monotonic()
    gs = [gevent_lite.spawn(gevent_lite.sleep, 0.5) for _ in range(10000)]
    gevent_lite.joinall(gs)
    assert all(g.successful() for g in gs)
    assert time.monotonic() - start < 5   # 10,000 x 0.5 s in sequence would be 5000 s


def test_greenlet_starts_with_a_copy_of_the_spawners_context():
    var = contextvars.ContextVar('var', default='unset')
    var.set('parent')

    def child():
        seen = var.get()
        var.set('child')
        return seen

    assert gevent_lite.spawn(child).get() == 'parent'
    assert var.get() == 'parent'   # the child's change stayed in its copy


def test_getcurrent_is_the_running_greenlet():
    g = gevent_lite.spawn(gevent_lite.getcurrent)
    assert g.get() is g


def test_self_kill_raises_in_the_greenlet():
    def suicide():
        gevent_lite.getcurrent().kill(ValueError('me'))
        return 'not reached'

    g = gevent_lite.spawn(suicide)
    g.join()
    assert isinstance(g.exception, ValueError)


def test_greenlet_as_context_manager_is_dead_after_the_block():
    with gevent_lite.spawn(gevent_lite.sleep, 0.05) as g:
        gevent_lite.sleep(0)
    assert g.dead


def test_top_level_kill_of_raw_greenlet():
    out = []

    def raw():
        try:
            gevent_lite.sleep(5)
        except GreenletExit:
            out.append('killed')

    g = gevent_lite.spawn_raw(raw)
    gevent_lite.sleep(0)
    gevent_lite.kill(g)
    gevent_lite.sleep(0.01)
    assert out == ['killed'] and g.dead


def test_spawn_tree_records_the_spawner_weakly_and_shares_tree_locals():
    import gc

    def child():
        return id(gevent_lite.getcurrent().spawning_greenlet())

    def parent():
        gevent_lite.getcurrent().spawn_tree_locals['k'] = 'v'
        c = gevent_lite.spawn(child)
        return c, c.get(), c.spawn_tree_locals.get('k')

    p = gevent_lite.spawn(parent)
    c, spawner_id, value = p.get()
    assert spawner_id == id(p) and value == 'v'
    del p
    gevent_lite.sleep(0)   # let the hub finish the callback that woke us
    gc.collect()
    assert c.spawning_greenlet() is None   # the tree did not keep the parent alive


def test_spawning_stack_is_captured_only_when_enabled():
    assert gevent_lite.spawn(lambda: None).spawning_stack is None
    Greenlet.capture_spawning_stack = True
    try:
        g = gevent_lite.spawn(lambda: None)
    finally:
        Greenlet.capture_spawning_stack = False
    assert any('test_greenlet.py' in frame.filename for frame in g.spawning_stack)


def test_killall_of_not_started_greenlets_means_they_never_run():
    # gevent#1473: killall must stop fresh greenlets as kill() does (#330).
    ran = []
    gs = [gevent_lite.spawn(ran.append, i) for i in range(3)]
    gevent_lite.killall(gs)
    gevent_lite.sleep(0.02)
    assert ran == [] and all(g.dead for g in gs)
    gs = [gevent_lite.spawn(ran.append, i) for i in range(3)]
    gevent_lite.killall(gs, block=False)
    gevent_lite.sleep(0.02)
    assert ran == [] and all(g.dead for g in gs)


def test_greenlet_killed_with_an_exception_is_not_successful():
    # gevent#607: killed with an exception (started or not) means failed, and get() raises it.
    started = gevent_lite.spawn(gevent_lite.sleep, 5)
    gevent_lite.sleep(0)
    fresh = gevent_lite.spawn(gevent_lite.sleep, 5)
    for g in (fresh, started):
        g.kill(ZeroDivisionError)
        assert g.dead and not g.successful()
        assert isinstance(g.exception, ZeroDivisionError)
        with pytest.raises(ZeroDivisionError):
            g.get()


def test_joinall_of_greenlets_returns_them_all_in_the_given_order():
    gs = [gevent_lite.spawn(gevent_lite.sleep, d) for d in (0.03, 0.0, 0.01, 0.02)]
    assert gevent_lite.joinall(gs) == gs
    assert all(g.dead and g.successful() for g in gs)


def test_joinall_timeout_is_one_deadline_for_all_the_greenlets():
    # Parking on each unfinished greenlet in turn must not give each one the full
    # timeout: 5 greenlets that never finish in time cost one timeout, not five.
    slow = [gevent_lite.spawn(gevent_lite.sleep, 10) for _ in range(5)]
    start = time.monotonic()
    assert gevent_lite.joinall(slow, timeout=0.3) == []
    assert time.monotonic() - start < 1.2
    gevent_lite.killall(slow)


def test_joinall_with_timeout_reports_greenlets_finished_after_an_unfinished_one():
    gs = [gevent_lite.spawn(gevent_lite.sleep, 10), gevent_lite.spawn(gevent_lite.sleep, 0.01),
          gevent_lite.spawn(lambda: 'at once')]
    done = gevent_lite.joinall(gs, timeout=0.3)
    assert done == gs[1:]
    gevent_lite.killall(gs)


def test_joinall_returns_after_the_finished_greenlets_links_ran():
    # Pool.kill() and others join until a death link has run; joinall keeps gevent's
    # order: links added before the join are called by the time it returns.
    seen = []
    gs = [gevent_lite.spawn(lambda: None) for _ in range(3)]
    for g in gs:
        g.rawlink(seen.append)
    gevent_lite.sleep(0)            # all three finished; their links are queued in the hub
    assert all(g.dead for g in gs)
    assert gevent_lite.joinall(gs) == gs
    assert seen == gs


def test_joinall_of_a_greenlet_killed_before_it_started_returns_at_once():
    g = gevent_lite.spawn(gevent_lite.sleep, 10)
    g.kill(block=False)
    start = time.monotonic()
    assert gevent_lite.joinall([g], timeout=5) == [g]
    assert time.monotonic() - start < 1


def test_joinall_of_greenlets_and_events_waits_for_both():
    from gevent_lite.event import Event
    ev = Event()
    g = gevent_lite.spawn(lambda: ev.set())
    assert set(gevent_lite.joinall([g, ev], timeout=2)) == {g, ev}


def test_greenlet_spawned_from_an_empty_context_keeps_its_context_changes_to_itself():
    var = contextvars.ContextVar('var', default='unset')

    def child(value):
        seen = var.get()
        var.set(value)
        gevent_lite.sleep(0.01)           # the siblings run and set theirs meanwhile
        return seen, var.get()

    def spawner():
        gs = [gevent_lite.spawn(child, i) for i in range(3)]
        gevent_lite.joinall(gs)
        return [g.value for g in gs], var.get()

    # contextvars.Context().run: the spawner runs in an empty context, as a program that
    # never set a context variable does.
    values, own = contextvars.Context().run(spawner)
    assert values == [('unset', 0), ('unset', 1), ('unset', 2)]
    assert own == 'unset'


def test_greenlet_without_arguments_has_empty_read_only_kwargs():
    g = gevent_lite.spawn(lambda: None)
    g.join()
    assert g.args == () and dict(g.kwargs) == {}
    with pytest.raises(TypeError):
        g.kwargs['x'] = 1             # the shared empty mapping cannot be changed
    h = gevent_lite.spawn(lambda **kw: kw, a=1)
    assert h.get() == {'a': 1}


def test_spawn_later_forgets_its_start_timer_once_it_ran():
    g = gevent_lite.spawn_later(0.01, lambda: 'late')
    assert g._start_timer is not None
    assert g.get(timeout=2) == 'late'
    assert g._start_timer is None       # no fired timer (and its callback) kept alive


def test_top_level_kill_schedules_the_kill_and_returns_at_once_as_gevents_does():
    g = gevent_lite.spawn(gevent_lite.sleep, 5)
    gevent_lite.sleep(0)
    gevent_lite.kill(g)
    assert not g.dead                   # not yet: the kill is delivered by the hub
    g.join(timeout=5)
    assert g.dead and isinstance(g.value, gevent_lite.GreenletExit)
    g2 = gevent_lite.spawn(gevent_lite.sleep, 5)
    gevent_lite.sleep(0)
    gevent_lite.kill(g2, block=True)
    assert g2.dead


def test_killall_with_a_timeout_raises_timeout_when_some_outlive_it():
    def stubborn():
        try:
            gevent_lite.sleep(5)
        except gevent_lite.GreenletExit:
            gevent_lite.sleep(1)        # takes its time to die

    gs = [gevent_lite.spawn(stubborn) for _ in range(2)]
    gevent_lite.sleep(0.01)
    with pytest.raises(gevent_lite.Timeout):
        gevent_lite.killall(gs, timeout=0.2)
    assert not any(g.dead for g in gs)
    gevent_lite.joinall(gs, timeout=5)
    assert all(g.dead for g in gs)


def test_greenlet_as_context_manager_joins_after_a_clean_body_and_kills_with_the_bodys_exception():
    def slow():
        gevent_lite.sleep(0.05)
        return 'done'

    with gevent_lite.spawn(slow) as g:
        pass
    assert g.dead and g.get() == 'done'           # waited for, not killed before it ran

    def boom():
        raise ValueError('from the greenlet')

    with gevent_lite.spawn(boom) as g2:
        pass
    with pytest.raises(ValueError, match='from the greenlet'):
        g2.get()

    class BodyError(Exception):
        pass

    with pytest.raises(BodyError):
        with gevent_lite.spawn(gevent_lite.sleep, 5) as g3:
            raise BodyError('from the body')
    assert g3.dead and not g3.successful()
    with pytest.raises(BodyError):
        g3.get()


def test_links_added_before_join_have_run_when_join_returns():
    out = []
    g = gevent_lite.spawn(out.append, 0)
    for i in range(1, 50):
        g.link(lambda _g, i=i: out.append(i))
    g.join()
    assert out == list(range(50))


def test_repr_of_a_greenlet_made_without_function_names_its_run_method_before_the_start():
    class Sub(Greenlet):
        pass
    for g, tail in ((Greenlet(), ': _run>'), (Sub(), ': _run>'),
                    (Sub(None, 'question', answer=42), ": _run('question', answer=42)>")):
        assert repr(g) == '<%s at 0x%x%s' % (type(g).__name__, id(g), tail)


def test_blocking_kill_of_a_running_greenlet_waits_through_join_which_a_subclass_may_override():
    class Counting(Greenlet):
        joins = 0

        def join(self, timeout=None):
            self.joins += 1
            return Greenlet.join(self, timeout)

    g = Counting.spawn(gevent_lite.sleep, 5)
    gevent_lite.sleep(0)                     # running (parked in its sleep)
    g.kill(timeout=2)
    assert g.dead and g.joins == 1
    early = Counting.spawn(gevent_lite.sleep, 5)
    early.kill()                        # never started: nothing to wait for
    assert early.dead and early.joins == 0


def test_killall_kills_raw_greenlets_from_spawn_raw_too():
    out = []

    def raw_body():
        try:
            gevent_lite.sleep(10)
        except gevent_lite.GreenletExit:
            out.append('killed')
            raise

    g = gevent_lite.spawn_raw(raw_body)
    gevent_lite.sleep(0)
    t0 = time.monotonic()
    gevent_lite.killall([g])
    assert g.dead and out == ['killed']
    assert time.monotonic() - t0 < 5
    # killall() of a raw greenlet that never ran returns with it dead (its start was
    # queued before the kill, so, as in gevent, it runs first).
    not_started = gevent_lite.spawn_raw(out.append, 'ran')
    gevent_lite.killall([not_started])
    assert not_started.dead


def test_spawning_greenlet_is_a_weak_reference_called_for_the_spawner_as_in_gevent():
    def child():
        return gevent_lite.getcurrent().spawning_greenlet()

    def parent():
        return gevent_lite.spawn(child).get()

    p = gevent_lite.spawn(parent)
    assert p.get() is p
    assert p.spawning_greenlet() is gevent_lite.getcurrent()


def test_hub_and_greenlets_have_a_small_minimal_ident():
    hub = gevent_lite.get_hub()
    g = gevent_lite.spawn(lambda: 1)
    assert isinstance(hub.minimal_ident, int) and hub.minimal_ident >= 0
    assert hub.minimal_ident == hub.minimal_ident
    assert g.minimal_ident >= 0
    g.join()


def test_throw_into_a_greenlet_that_has_not_started_ends_it_without_running_it():
    # gevent: throw() before the start behaves as kill(): the function never runs,
    # and control stays with the caller (no trip into the hub for good).
    ran = []
    g = gevent_lite.spawn(ran.append, 1)
    g2 = gevent_lite.Greenlet(ran.append, 2)
    g.throw(gevent_lite.GreenletExit)
    g2.throw(ValueError, ValueError('boom'))
    gevent_lite.joinall([g, g2], timeout=5)
    assert ran == []
    assert isinstance(g.value, gevent_lite.GreenletExit) and g.exception is None
    assert isinstance(g2.exception, ValueError) and str(g2.exception) == 'boom'
    # a started one is thrown into as greenlet.throw does
    h = gevent_lite.spawn(gevent_lite.sleep, 5)
    gevent_lite.sleep(0)
    gevent_lite.get_hub().run_callback(h.throw, gevent_lite.GreenletExit)
    h.join(timeout=5)
    assert h.dead and isinstance(h.value, gevent_lite.GreenletExit)


def test_a_started_greenlet_parked_in_its_run_is_killed_by_a_throw_not_as_not_started():
    # run() keeps no "running" state: kill() and throw() ask the greenlet itself
    # whether it was switched into.
    from gevent_lite.event import Event
    ev, log = Event(), []

    def parked():
        try:
            ev.wait()
        finally:
            log.append('cleaned up')

    g = gevent_lite.Greenlet(parked)
    assert not g and not g.started
    g.start()
    assert g and g.started                 # scheduled counts as started (gevent)
    gevent_lite.sleep(0)                   # now it runs, parked in ev.wait()
    assert g and not g.dead
    g.kill(timeout=5)
    assert g.dead and not g and log == ['cleaned up']
    assert isinstance(g.value, gevent_lite.GreenletExit)
    h = gevent_lite.spawn(parked)
    gevent_lite.sleep(0)
    h.kill(ValueError('in the wait'), timeout=5)
    assert h.dead and isinstance(h.exception, ValueError) and log[-1] == 'cleaned up'


def test_spawn_passes_positional_and_keyword_arguments_and_releases_them_after_the_run():
    g = gevent_lite.spawn(lambda *a, **k: (a, k), 1, 2, b=3)
    assert g.get(timeout=5) == ((1, 2), {'b': 3})
    assert g.args == () and dict(g.kwargs) == {}
    plain = gevent_lite.spawn(lambda *a, **k: (a, k), 4)
    assert plain.get(timeout=5) == ((4,), {})


def test_spawn_raw_records_the_spawner_and_the_spawn_trees_locals_as_gevent():
    seen = {}

    def raw_body():
        child = gevent_lite.Greenlet(lambda: None)
        seen['child_locals'] = child.spawn_tree_locals
        seen['mine'] = gevent_lite.getcurrent().spawn_tree_locals

    raw = gevent_lite.spawn_raw(raw_body)
    assert raw.spawning_greenlet() is gevent_lite.getcurrent()
    assert isinstance(raw.spawn_tree_locals, dict)
    gevent_lite.sleep(0)
    assert seen['child_locals'] is seen['mine'] is raw.spawn_tree_locals

    def parent():
        gevent_lite.getcurrent().spawn_tree_locals['k'] = 1
        r = gevent_lite.spawn_raw(lambda: None)
        return r.spawn_tree_locals

    assert gevent_lite.spawn(parent).get(timeout=5) == {'k': 1}


def test_a_plain_spawn_keeps_its_state_in_slots_and_users_still_get_an_instance_dict():
    g = gevent_lite.spawn(lambda: 42)
    gevent_lite.sleep(0)                    # it runs (a join would make it a wait queue)
    assert g.dead and g.get() == 42
    assert g.__dict__ == {}                 # nothing per spawn went into a dict
    g.note = 'mine'                         # gevent code sets its own attributes
    assert g.note == 'mine' and g.__dict__ == {'note': 'mine'}

    class Sub(Greenlet):
        def __init__(self, base):
            Greenlet.__init__(self)
            self.base = base

        def _run(self):
            return self.base + 1

    s = Sub(1)
    assert '_run' in repr(s)
    s.start()
    assert s.get(timeout=5) == 2
    # _run set on the instance, before the start, replaces the method or the function.
    t = Sub(5)
    t._run = lambda: 'replaced'
    t.start()
    assert t.get(timeout=5) == 'replaced'
    plain = Greenlet()
    assert repr(plain).endswith(': _run>')
    plain.start()
    assert plain.get(timeout=5) is None and plain.successful()
    with pytest.raises(TypeError, match='must be callable'):
        Greenlet(42)


def test_greenlets_spawned_in_a_row_start_in_order_with_callbacks_queued_between_them():
    # Spawns in a row share one ready entry; a callback queued between two spawns
    # still runs between their starts, and a greenlet killed before its start
    # never runs while the rest of its batch does.
    from gevent_lite.hub import get_hub
    from gevent_lite.util import format_run_info
    log = []
    a = gevent_lite.spawn(log.append, 'a')
    b = gevent_lite.spawn(log.append, 'b')
    killed = gevent_lite.spawn(log.append, 'killed')
    get_hub().run_callback(log.append, 'callback')
    c = gevent_lite.spawn(log.append, 'c')
    d = gevent_lite.spawn(log.append, 'd')
    dump = '\n'.join(format_run_info())
    assert '3 greenlet(s) to start' in dump and '2 greenlet(s) to start' in dump
    killed.kill()
    gevent_lite.joinall([a, b, killed, c, d], timeout=5)
    assert log == ['a', 'b', 'callback', 'c', 'd']
    assert killed.dead and all(g.successful() for g in (a, b, c, d))
    # One spawned by a greenlet of a batch that is running starts in a later one.
    order = []

    def parent(i):
        order.append(i)
        if i == 0:
            gevent_lite.spawn(order.append, 'child')

    gevent_lite.joinall([gevent_lite.spawn(parent, i) for i in range(3)], timeout=5)
    gevent_lite.sleep(0)
    assert order == [0, 1, 2, 'child']
