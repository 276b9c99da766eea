"""TaskGroup: joins, failure propagation, cancellation, start(), nesting, limits."""

import sys
import time

import pytest

import gevent_lite
from gevent_lite import TaskGroup, move_on_after, sleep, spawn
from gevent_lite.hub import now
from gevent_lite.taskgroup import BaseExceptionGroup
from gevent_lite import socket


def _sleep_then(seconds, value):
    sleep(seconds)
    return value


def _fail_after(seconds, exc):
    sleep(seconds)
    raise exc


def _sleep_100_noting_when_it_ends(ends):
    """Sleep 100 s; append ``now()`` to ``ends`` however the sleep ends (cancelled or not)."""
    try:
        sleep(100)
    finally:
        ends.append(now())


def test_leaving_the_block_joins_every_child_in_real_time():
    started = time.monotonic()
    with TaskGroup() as tg:
        children = [tg.spawn(_sleep_then, 0.05 * i, i) for i in range(5)]
    assert [c.value for c in children] == [0, 1, 2, 3, 4]
    assert all(c.dead for c in children)
    assert time.monotonic() - started < 10


def test_spawn_returns_the_child_greenlet(virtual_clock):
    with TaskGroup() as tg:
        g = tg.spawn(_sleep_then, 1, 'x')
        assert isinstance(g, gevent_lite.Greenlet)
        assert tg.children == [g]
    assert g.get() == 'x' and now() == 1


def test_the_first_failure_kills_siblings_interrupts_the_body_and_raises_a_group(virtual_clock, capsys):
    cleanup = []
    body = []

    def sibling():
        try:
            sleep(100)
        finally:
            sleep(1)              # a cleanup that blocks still runs to its end
            cleanup.append(now())

    with pytest.raises(BaseExceptionGroup) as info:
        with TaskGroup() as tg:
            s = tg.spawn(sibling)
            tg.spawn(_fail_after, 2, ValueError('boom'))
            sleep(50)
            body.append('not reached')
    group = info.value
    assert type(group).__name__ == 'ExceptionGroup'     # only Exceptions inside
    assert [type(e) for e in group.exceptions] == [ValueError]
    assert str(group.exceptions[0]) == 'boom'
    assert body == []
    assert cleanup == [3]
    assert s.successful()           # killed by the group: not a failure
    assert now() == 3
    # The failure is raised, not also printed by the hub.
    assert 'boom' not in capsys.readouterr().err


@pytest.mark.skipif(sys.version_info < (3, 11), reason='except* is Python 3.11+ syntax')
def test_except_star_catches_the_failures(virtual_clock):
    code = '''
caught = []
try:
    with TaskGroup() as tg:
        tg.spawn(_fail_after, 1, KeyError('k'))
        tg.spawn(_fail_after, 1, ValueError('v'))
except* KeyError as eg:
    caught.append(('key', len(eg.exceptions)))
except* ValueError as eg:
    caught.append(('value', len(eg.exceptions)))
'''
    namespace = dict(TaskGroup=TaskGroup, _fail_after=_fail_after)
    exec(code, namespace)
    assert sorted(namespace['caught']) == [('key', 1), ('value', 1)]


def test_failures_at_the_same_time_are_all_collected(virtual_clock):
    with pytest.raises(BaseExceptionGroup) as info:
        with TaskGroup() as tg:
            for i in range(3):
                tg.spawn(_fail_after, 1, RuntimeError(i))
            tg.spawn(sleep, 100)
    assert sorted(e.args[0] for e in info.value.exceptions) == [0, 1, 2]
    assert now() == 1


def test_an_exception_in_the_body_cancels_the_children_and_joins_the_group(virtual_clock):
    cleaned = []
    with pytest.raises(BaseExceptionGroup) as info:
        with TaskGroup() as tg:
            tg.spawn(_sleep_100_noting_when_it_ends, cleaned)
            sleep(2)
            raise LookupError('in the body')
    assert [e.args for e in info.value.exceptions] == [('in the body',)]
    assert cleaned == [2]


def test_a_failure_while_the_owner_waits_in_exit_kills_the_rest(virtual_clock):
    with pytest.raises(BaseExceptionGroup):
        with TaskGroup() as tg:
            slow = tg.spawn(sleep, 100)
            tg.spawn(_fail_after, 3, OSError('late'))
    assert slow.dead and now() == 3


def test_cancel_stops_everything_without_an_error(virtual_clock):
    with TaskGroup() as tg:
        a = tg.spawn(sleep, 100)
        sleep(1)
        tg.cancel()
        sleep(100)
    assert a.dead and a.successful()
    assert tg.cancel_scope.cancelled_caught
    assert now() == 1


def test_an_outer_deadline_cancels_the_group_and_passes_through(virtual_clock):
    cleaned = []
    with move_on_after(4) as scope:
        with TaskGroup() as tg:
            tg.spawn(_sleep_100_noting_when_it_ends, cleaned)
            tg.spawn(_sleep_100_noting_when_it_ends, cleaned)
    assert scope.cancelled_caught
    assert cleaned == [4, 4]


def test_killing_the_owner_kills_the_children_and_it_dies_as_killed(virtual_clock):
    grandchildren = []

    def owner():
        with TaskGroup() as tg:
            grandchildren.append(tg.spawn(sleep, 100))
            grandchildren.append(tg.spawn(sleep, 100))
            sleep(100)

    g = spawn(owner)
    sleep(1)
    g.kill()
    assert g.successful() and isinstance(g.value, gevent_lite.GreenletExit)
    assert all(c.dead for c in grandchildren)
    assert now() == 1


def test_nested_groups_a_childs_own_group_is_cancelled_with_it(virtual_clock):
    cleaned = []

    def grandchild(n):
        try:
            sleep(100)
        finally:
            cleaned.append(n)

    def child():
        with TaskGroup() as inner:
            inner.spawn(grandchild, 1)
            inner.spawn(grandchild, 2)

    with pytest.raises(BaseExceptionGroup) as info:
        with TaskGroup() as tg:
            tg.spawn(child)
            tg.spawn(_fail_after, 5, ValueError('sibling failed'))
    assert [str(e) for e in info.value.exceptions] == ['sibling failed']
    assert sorted(cleaned) == [1, 2]
    assert now() == 5


def test_a_failure_deep_in_nested_groups_surfaces_as_nested_groups(virtual_clock):
    def child():
        with TaskGroup() as inner:
            inner.spawn(_fail_after, 1, ValueError('deep'))

    with pytest.raises(BaseExceptionGroup) as info:
        with TaskGroup() as tg:
            tg.spawn(child)
    inner_group = info.value.exceptions[0]
    assert isinstance(inner_group, BaseExceptionGroup)
    assert str(inner_group.exceptions[0]) == 'deep'


def test_limit_bounds_how_many_children_run_at_once(virtual_clock):
    running = [0]
    peak = [0]

    def job():
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        sleep(1)
        running[0] -= 1

    with TaskGroup(limit=3) as tg:
        for _ in range(10):
            tg.spawn(job)
    assert peak[0] == 3
    assert now() == 4          # ceil(10 / 3) rounds of one second


# -- start() ----------------------------------------------------------------------------------

def _echo_server(task_status):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(5)
    task_status.started(listener.getsockname()[1])
    try:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(conn.recv(100).upper())
    finally:
        listener.close()


def test_start_returns_the_port_a_real_server_reports_once_it_listens():
    with TaskGroup() as tg:
        port = tg.start(_echo_server)
        with socket.create_connection(('127.0.0.1', port), timeout=10) as c:
            c.sendall(b'hello')
            assert c.recv(100) == b'HELLO'


def test_start_raises_a_failure_before_started_itself_not_in_the_group(virtual_clock):
    def broken(task_status):
        sleep(1)
        raise ConnectionRefusedError('cannot bind')

    with TaskGroup() as tg:
        with pytest.raises(ConnectionRefusedError):
            tg.start(broken)
        ok = tg.spawn(_sleep_then, 1, 'fine')
    assert ok.value == 'fine'


def test_start_of_a_child_that_returns_without_started_is_a_runtime_error():
    with TaskGroup() as tg:
        with pytest.raises(RuntimeError, match='started'):
            tg.start(lambda task_status: None)


def test_a_started_child_that_fails_later_fails_the_group(virtual_clock):
    def server(task_status):
        task_status.started('ready')
        sleep(2)
        raise ValueError('crashed after start')

    with pytest.raises(BaseExceptionGroup) as info:
        with TaskGroup() as tg:
            assert tg.start(server) == 'ready'
            sleep(100)
    assert str(info.value.exceptions[0]) == 'crashed after start'


def test_started_twice_is_an_error():
    errors = []

    def twice(task_status):
        task_status.started(1)
        try:
            task_status.started(2)
        except RuntimeError as e:
            errors.append(e)

    with TaskGroup() as tg:
        assert tg.start(twice) == 1
    assert errors


# -- bad input ---------------------------------------------------------------------------------

def test_misuse_is_reported_clearly():
    with pytest.raises(ValueError):
        TaskGroup(limit=0)
    with pytest.raises(TypeError):
        TaskGroup(limit='3')
    tg = TaskGroup()
    with pytest.raises(RuntimeError, match='with block'):
        tg.spawn(sleep, 0)
    with tg:
        pass
    with pytest.raises(RuntimeError, match='finished'):
        tg.spawn(sleep, 0)
    with pytest.raises(RuntimeError):
        with tg:
            pass


def test_spawning_into_a_cancelled_group_gives_a_child_that_never_runs(virtual_clock):
    ran = []

    def spawner():
        try:
            sleep(100)
        finally:
            ran.append('cleanup')
            late = tg.spawn(ran.append, 'late child ran')
            ran.append(late.dead)

    with TaskGroup(limit=2) as tg:
        tg.spawn(spawner)
        sleep(1)
        tg.cancel()
    assert ran == ['cleanup', True]
    assert tg._slots.counter == 2       # every slot given back
    with pytest.raises(RuntimeError, match='finished'):
        tg.start(lambda task_status: None)


def test_cancel_from_another_os_thread():
    import threading
    with TaskGroup() as tg:
        child = tg.spawn(sleep, 30)
        t = threading.Thread(target=lambda: (time.sleep(0.1), tg.cancel()))
        started = time.monotonic()
        t.start()
        sleep(30)
    t.join(30)
    assert child.dead and tg.cancel_scope.cancelled_caught
    assert time.monotonic() - started < 10


def test_start_hands_the_child_a_task_status_whose_started_value_it_returns():
    from gevent_lite.taskgroup import TaskStatus
    seen = []

    def child(task_status):
        seen.append(task_status)
        task_status.started('ready')
        sleep(0.01)

    with TaskGroup() as tg:
        assert tg.start(child) == 'ready'
    assert len(seen) == 1 and isinstance(seen[0], TaskStatus)
