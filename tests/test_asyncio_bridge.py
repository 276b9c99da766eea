"""asyncio and greenlets in one thread: gevent_lite.asyncio_bridge and its loop.

Everything runs on real sockets on 127.0.0.1 and real asyncio machinery; the
tests that need a whole interpreter (patch_all, hub liveness at exit) run one.
Concurrency is shown by overlap: N waits of 0.3 s that finish together in well
under N * 0.3 s, with wide margins for a loaded machine.
"""

import asyncio
import json
import socket
import sys
import threading
import time
import traceback

import pytest

from _helpers import check_patched, redis_server

import gevent_lite
from gevent_lite import asyncio_bridge as ab
from gevent_lite import hub as _hub
from gevent_lite.timeout import Timeout

@pytest.fixture(autouse=True)
def close_background_loop():
    """Stop and close the hub's background loop after each test (the hub itself is
    destroyed by conftest's fixture, after this one)."""
    yield
    hub = _hub.get_hub_if_exists()
    loop = hub.__dict__.get('_asyncio_loop') if hub is not None else None
    if loop is None or loop.is_closed():
        return
    if loop.is_running():
        loop.stop()
        for _ in range(100):
            if not loop.is_running():
                break
            gevent_lite.sleep(0.01)
    assert not loop.is_running()
    loop.close()


def run_script(code, timeout=60):
    """Run ``code`` in a fresh interpreter (which patches first only if ``code`` says
    so); assert a clean exit and return its stdout."""
    return check_patched(code, patch='pass', timeout=timeout)


async def double_later(x, delay=0.3):
    await asyncio.sleep(delay)
    return 2 * x


# -- greenlet -> asyncio: await_ ----------------------------------------------------------

def test_await_in_ten_greenlets_overlaps_and_other_greenlets_keep_running():
    ticks = []

    def ticker():
        for i in range(10):
            gevent_lite.sleep(0.02)
            ticks.append(i)

    t0 = time.monotonic()
    tick = gevent_lite.spawn(ticker)
    jobs = [gevent_lite.spawn(lambda i=i: ab.await_(double_later(i))) for i in range(10)]
    gevent_lite.joinall(jobs + [tick], timeout=10, raise_error=True)
    elapsed = time.monotonic() - t0
    assert [j.value for j in jobs] == [2 * i for i in range(10)]
    assert ticks == list(range(10))
    assert elapsed < 1.5, elapsed          # ten waits of 0.3 s, one after another: 3 s


def test_await_works_from_a_callback_deep_inside_synchronous_code():
    # json's C decoder calls the hook; the hook calls an async function.
    async def lookup(name):
        await asyncio.sleep(0.01)
        return name.upper()

    def hook(obj):
        return {k: ab.await_(lookup(v)) for k, v in obj.items()}

    def parse():
        return json.loads('[{"a": "x"}, {"b": "y"}]', object_hook=hook)

    assert gevent_lite.spawn(parse).get(timeout=10) == [{'a': 'X'}, {'b': 'Y'}]


def test_await_from_the_main_greenlet_returns_the_result():
    assert ab.await_(double_later(21, 0.01)) == 42


def test_await_on_a_done_future_returns_without_running_the_loop():
    loop = ab.get_loop()
    fut = loop.create_future()
    fut.set_result('ready')
    assert ab.await_(fut) == 'ready'
    failed = loop.create_future()
    failed.set_exception(KeyError('k'))
    with pytest.raises(KeyError):
        ab.await_(failed)


def test_await_on_a_future_resolved_by_another_greenlet():
    loop = ab.get_loop()
    fut = loop.create_future()
    gevent_lite.spawn_later(0.05, fut.set_result, 'from a greenlet')
    assert ab.await_(fut) == 'from a greenlet'


def test_await_on_a_future_of_a_loop_in_another_thread():
    # The other thread's loop is woken only through call_soon_threadsafe, and wakes
    # us through the hub's thread-safe queue; the hub stays alive meanwhile.
    other = asyncio.new_event_loop()
    thread = threading.Thread(target=other.run_forever)
    thread.start()
    ticks = []
    try:
        fut = other.create_future()
        other.call_soon_threadsafe(other.call_later, 0.2, fut.set_result, 'from the thread')
        gevent_lite.spawn(lambda: [ticks.append(gevent_lite.sleep(0.02)) for _ in range(5)])
        assert ab.await_(fut) == 'from the thread'
        assert len(ticks) == 5
        # Interrupted: the future is cancelled in its own thread.
        slow = other.create_future()
        with pytest.raises(Timeout):
            with Timeout(0.05):
                ab.await_(slow)
        assert slow.cancelled()
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join(5)
        other.close()


def test_exception_in_a_coroutine_reaches_the_greenlet_with_its_traceback():
    async def inner_failure():
        await asyncio.sleep(0)
        raise ValueError('bad value from the coroutine')

    def caller():
        try:
            ab.await_(inner_failure())
        except ValueError as e:
            return [f.name for f in traceback.extract_tb(e.__traceback__)], str(e)

    names, message = gevent_lite.spawn(caller).get(timeout=10)
    assert message == 'bad value from the coroutine'
    assert names[0] == 'caller' and names[-1] == 'inner_failure', names


def test_await_rejects_what_is_not_awaitable():
    with pytest.raises(TypeError, match='await_'):
        ab.await_(42)


def test_await_inside_a_coroutine_raises_a_clear_error_and_to_greenlet_is_the_way():
    async def misuse():
        coro = double_later(1, 0)
        with pytest.raises(RuntimeError, match='to_greenlet'):
            ab.await_(coro)
        # The right way: blocking-style code in a greenlet of its own.
        return await ab.to_greenlet(lambda: ab.await_(double_later(5, 0.01)))

    assert ab.run(misuse()) == 10


# -- cancellation and timeouts, greenlet side ----------------------------------------------

def _tracked(log, delay):
    async def body():
        try:
            await asyncio.sleep(delay)
            log.append('finished')
        except asyncio.CancelledError:
            log.append('cancelled')
            raise
        finally:
            log.append('cleanup')
    return body()


def test_timeout_around_await_cancels_the_task_and_its_cleanup_runs_first():
    log = []
    t0 = time.monotonic()
    with pytest.raises(Timeout):
        with Timeout(0.1):
            ab.await_(_tracked(log, 10))
    assert log == ['cancelled', 'cleanup']
    assert time.monotonic() - t0 < 3


def test_killing_a_greenlet_in_await_cancels_the_task():
    log = []
    g = gevent_lite.spawn(ab.await_, _tracked(log, 10))
    gevent_lite.sleep(0.05)
    g.kill(timeout=5)
    assert g.dead and isinstance(g.value, gevent_lite.GreenletExit)
    assert log == ['cancelled', 'cleanup']


def test_a_task_cancelled_on_the_asyncio_side_raises_cancelled_error_in_the_greenlet():
    loop = ab.get_loop()
    task = loop.create_task(asyncio.sleep(10))
    gevent_lite.spawn_later(0.05, task.cancel)
    with pytest.raises(asyncio.CancelledError):
        ab.await_(task)


def test_a_cancel_scope_deadline_around_await_cancels_the_task():
    log = []
    with gevent_lite.move_on_after(0.1) as scope:
        ab.await_(_tracked(log, 10))
    assert scope.cancelled_caught
    assert log == ['cancelled', 'cleanup']


def test_cancelling_a_task_group_cancels_the_tasks_its_greenlets_await():
    log = []
    with gevent_lite.TaskGroup() as tg:
        tg.spawn(ab.await_, _tracked(log, 10))
        tg.spawn(ab.await_, _tracked(log, 10))
        gevent_lite.sleep(0.05)
        tg.cancel()
    assert log == ['cancelled', 'cleanup'] * 2


def test_asyncio_timeout_inside_the_awaited_coroutine_reaches_the_greenlet():
    async def slow():
        return await asyncio.wait_for(asyncio.sleep(10), 0.05)

    with pytest.raises(asyncio.TimeoutError):
        ab.await_(slow())


# -- spawn_coroutine ------------------------------------------------------------------------

def test_spawn_coroutine_handles_join_get_and_wait_like_greenlets():
    handles = [ab.spawn_coroutine(double_later(i)) for i in range(5)]
    assert isinstance(handles[0], ab.CoroutineGreenlet) and isinstance(handles[0], gevent_lite.Greenlet)
    assert isinstance(handles[0].task, asyncio.Task)
    t0 = time.monotonic()
    done = gevent_lite.wait(handles, timeout=10)
    assert len(done) == 5 and time.monotonic() - t0 < 1.5
    assert [h.get() for h in handles] == [0, 2, 4, 6, 8]
    assert all(h.successful() for h in handles)


def test_killing_a_spawn_coroutine_handle_cancels_its_task_and_waits_for_it():
    log = []
    h = ab.spawn_coroutine(_tracked(log, 10))
    gevent_lite.sleep(0.05)
    h.kill(timeout=5)
    assert log == ['cancelled', 'cleanup']
    assert h.task.cancelled()
    assert isinstance(h.value, gevent_lite.GreenletExit)


def test_a_handle_killed_before_it_started_still_cancels_its_task():
    log = []
    h = ab.spawn_coroutine(_tracked(log, 10))
    h.kill()                      # before the hub ever ran it
    gevent_lite.sleep(0.05)
    assert h.task.cancelled()


def test_cancelling_the_task_ends_the_handle_as_killed():
    links = []
    h = ab.spawn_coroutine(asyncio.sleep(10))
    h.link(links.append)
    gevent_lite.sleep(0.05)
    h.task.cancel()
    h.join(timeout=5)
    assert h.dead and h.successful()
    assert isinstance(h.value, gevent_lite.GreenletExit)
    gevent_lite.sleep(0.01)
    assert links == [h]


def test_a_failing_coroutine_sets_the_handles_exception():
    async def fails():
        raise OSError('no route')

    h = ab.spawn_coroutine(fails())
    h.join(timeout=5)
    assert isinstance(h.exception, OSError)
    with pytest.raises(OSError, match='no route'):
        h.get()


def test_spawn_coroutine_rejects_a_plain_function():
    with pytest.raises(TypeError, match='spawn_coroutine'):
        ab.spawn_coroutine(double_later)


# -- asyncio -> greenlet: as_future, to_greenlet ------------------------------------------

def test_a_coroutine_awaits_greenlets_that_block_cooperatively():
    def blocking(i):
        gevent_lite.sleep(0.3)
        return i * 10

    async def main():
        futs = [ab.as_future(gevent_lite.spawn(blocking, i)) for i in range(10)]
        return await asyncio.gather(*futs)

    t0 = time.monotonic()
    assert ab.run(main()) == [i * 10 for i in range(10)]
    assert time.monotonic() - t0 < 1.5


def test_a_greenlets_exception_reaches_the_awaiting_coroutine_with_its_traceback():
    def deep_in_the_greenlet():
        raise LookupError('missing')

    def fails():
        deep_in_the_greenlet()

    async def main():
        try:
            await ab.as_future(gevent_lite.spawn(fails))
        except LookupError as e:
            return str(e), [f.name for f in traceback.extract_tb(e.__traceback__)]

    message, names = ab.run(main())
    assert message == 'missing'
    assert names[0] == 'main' and names[-2:] == ['fails', 'deep_in_the_greenlet'], names


def test_asyncio_timeout_on_a_greenlet_kills_it():
    log = []

    def slow():
        try:
            gevent_lite.sleep(10)
        except gevent_lite.GreenletExit:
            log.append('killed')
            raise

    g = gevent_lite.spawn(slow)

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ab.as_future(g), 0.05)

    ab.run(main())
    g.join(timeout=5)
    assert log == ['killed'] and g.dead


@pytest.mark.skipif(sys.version_info < (3, 11), reason='asyncio.timeout is 3.11+')
def test_asyncio_timeout_context_manager_kills_a_to_greenlet_call():
    log = []

    def slow():
        try:
            gevent_lite.sleep(10)
        finally:
            log.append('greenlet cleanup')

    async def main():
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await ab.to_greenlet(slow)
        await asyncio.sleep(0.05)

    ab.run(main())
    assert log == ['greenlet cleanup']


def test_killing_the_greenlet_cancels_the_future_the_coroutine_awaits():
    g = gevent_lite.spawn(gevent_lite.sleep, 10)
    gevent_lite.spawn_later(0.05, g.kill)

    async def main():
        with pytest.raises(asyncio.CancelledError):
            await ab.as_future(g)
        return 'cancelled'

    assert ab.run(main()) == 'cancelled'


def test_as_future_rejects_a_raw_greenlet():
    with pytest.raises(TypeError, match='as_future'):
        ab.as_future(gevent_lite.spawn_raw(lambda: None))


# -- the loop itself -----------------------------------------------------------------------

def test_run_interleaves_with_greenlets_and_uses_the_hub_clock_and_timers():
    ticks = []
    gevent_lite.spawn(lambda: [ticks.append(gevent_lite.sleep(0.01)) for _ in range(5)])

    async def main():
        loop = asyncio.get_running_loop()
        assert isinstance(loop, ab.HubEventLoop)
        assert abs(loop.time() - _hub.now()) < 0.5
        order = []
        loop.call_later(0.06, order.append, 'late')
        loop.call_later(0.02, order.append, 'early')
        cancelled = loop.call_later(0.04, order.append, 'cancelled')
        cancelled.cancel()
        await asyncio.sleep(0.1)
        return order

    assert ab.run(main()) == ['early', 'late']
    assert len(ticks) == 5


def test_a_virtual_clock_drives_asyncio_sleeps_on_the_hub_loop():
    from gevent_lite.testing import VirtualClock

    async def hour():
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(3600)
        return loop.time() - start

    t0 = time.monotonic()
    with VirtualClock():
        assert ab.run(hour()) == 3600
        assert ab.await_(asyncio.sleep(7200, 'later')) == 'later'
    assert time.monotonic() - t0 < 5


def test_a_timeout_or_kill_around_run_cancels_main_and_its_cleanup_runs():
    log = []

    async def forever():
        try:
            await asyncio.sleep(100)
        finally:
            log.append('cleanup')

    with pytest.raises(Timeout):
        with Timeout(0.1):
            ab.run(forever())
    assert log == ['cleanup']
    g = gevent_lite.spawn(ab.run, forever())
    gevent_lite.sleep(0.05)
    g.kill(timeout=5)
    assert g.dead and log == ['cleanup', 'cleanup']
    assert ab.run(asyncio.sleep(0.01, 'a new loop runs')) == 'a new loop runs'


def test_a_thousand_awaits_leave_nothing_behind():
    loop = ab.get_loop()
    hub = _hub.get_hub()

    async def quick(i):
        await asyncio.sleep(0)
        return i

    def many():
        return sum(ab.await_(quick(i)) for i in range(1000))

    assert gevent_lite.spawn(many).get(timeout=30) == sum(range(1000))
    gevent_lite.sleep(0.01)
    assert loop._nwaiting == 0 and not loop._ready
    assert len(asyncio.all_tasks(loop)) == 0
    stats = hub.statistics()
    assert stats['fds'] <= 2           # the loop's self-pipe (and nothing per await)
    assert stats['ref_timers'] == 0


@pytest.mark.skipif(sys.version_info < (3, 12), reason='asyncio.run(loop_factory=) is 3.12+')
def test_asyncio_run_with_the_loop_factory():
    async def main():
        return type(asyncio.get_running_loop())

    assert asyncio.run(main(), loop_factory=ab.new_event_loop) is ab.HubEventLoop


def test_the_policy_makes_asyncio_run_use_the_hub_loop():
    old = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(ab.EventLoopPolicy())
    try:
        async def main():
            return type(asyncio.get_running_loop())
        assert asyncio.run(main()) is ab.HubEventLoop
    finally:
        asyncio.set_event_loop_policy(old)


def test_call_soon_threadsafe_from_a_real_thread_wakes_the_parked_loop():
    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        threading.Thread(target=lambda: (time.sleep(0.05),
                                         loop.call_soon_threadsafe(fut.set_result, 'hi'))).start()
        return await asyncio.wait_for(fut, 5)

    assert ab.run(main()) == 'hi'


def test_run_in_executor_delivers_its_result():
    async def main():
        return await asyncio.get_running_loop().run_in_executor(None, sum, [1, 2, 3])

    assert ab.run(main()) == 6


def test_two_loops_run_in_two_greenlets_at_once():
    # While a loop's greenlet is parked it is not the running loop, so a second
    # asyncio.run in another greenlet works, as in another thread.
    def one(i):
        return ab.run(double_later(i))

    t0 = time.monotonic()
    jobs = [gevent_lite.spawn(one, i) for i in range(3)]
    gevent_lite.joinall(jobs, timeout=10, raise_error=True)
    assert [j.value for j in jobs] == [0, 2, 4]
    assert time.monotonic() - t0 < 1.5


def test_a_busy_asyncio_loop_does_not_starve_greenlets():
    counter = []

    def count():
        while True:
            counter.append(1)
            gevent_lite.sleep(0)

    g = gevent_lite.spawn(count)

    async def busy():
        for _ in range(2000):
            await asyncio.sleep(0)
        return len(counter)

    seen = ab.run(busy())
    g.kill()
    assert seen > 20, seen        # the greenlet ran while the loop was busy


def test_a_loop_refuses_to_run_in_another_thread():
    loop = ab.new_event_loop()
    errors = []

    def other():
        coro = asyncio.sleep(0)
        try:
            loop.run_until_complete(coro)
        except RuntimeError as e:
            errors.append(str(e))
            coro.close()             # refused before a task was made of it

    try:
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(10)
    finally:
        loop.close()
    assert len(errors) == 1 and 'thread' in errors[0], errors


@pytest.mark.parametrize('patched', [False, True])
def test_asyncio_subprocesses_and_signal_handlers_work_on_the_hub_loop(patched):
    out = run_script('''
        if %r:
            from gevent_lite import monkey; monkey.patch_all()
        import asyncio, os, signal, gevent_lite
        from gevent_lite import asyncio_bridge as ab
        async def main():
            proc = await asyncio.create_subprocess_exec(
                'sh', '-c', 'sleep 0.2; echo hi', stdout=asyncio.subprocess.PIPE)
            out, _ = await asyncio.wait_for(proc.communicate(), 10)
            loop = asyncio.get_running_loop()
            got = loop.create_future()
            loop.add_signal_handler(signal.SIGUSR1, got.set_result, 'usr1')
            loop.call_later(0.05, os.kill, os.getpid(), signal.SIGUSR1)
            return out, proc.returncode, await asyncio.wait_for(got, 10)
        ticks = []
        gevent_lite.spawn(lambda: [ticks.append(gevent_lite.sleep(0.02)) for _ in range(5)])
        print(ab.run(main()), len(ticks))
    ''' % patched)
    assert out.strip() == "(b'hi\\n', 0, 'usr1') 5"


def _hub_fds():
    return set(_hub.get_hub().watched_fds())


def test_an_asyncio_servers_socket_is_registered_in_the_hubs_poller_not_a_nested_one():
    before = _hub_fds()
    loop = ab.new_event_loop()
    try:
        # No selector of its own: no epoll fd per loop, nothing to nest.
        assert not hasattr(loop._selector, 'fileno')
        server = loop.run_until_complete(
            asyncio.start_server(lambda r, w: None, '127.0.0.1', 0))
        lfd = server.sockets[0].fileno()
        watch = _hub.get_hub().fd_info(lfd)
        assert watch['events'] & _hub.READ and watch['reader'] is not None
        assert loop._ssock.fileno() in _hub_fds()   # asyncio's self-pipe too
        server.close()
        loop.run_until_complete(server.wait_closed())
        assert lfd not in _hub_fds()
    finally:
        loop.close()
    assert _hub_fds() == before


def test_remove_reader_and_writer_drop_the_hub_registration_at_once():
    a, b = socket.socketpair()
    loop = ab.new_event_loop()
    hub = _hub.get_hub()
    try:
        loop.add_reader(a.fileno(), lambda: None)
        loop.add_writer(a.fileno(), lambda: None)
        assert hub.fd_info(a.fileno())['events'] == _hub.READ | _hub.WRITE
        loop.remove_writer(a.fileno())
        assert hub.fd_info(a.fileno())['events'] == _hub.READ
        assert hub.fd_info(a.fileno())['writer'] is None
        loop.remove_reader(a.fileno())
        assert hub.fd_info(a.fileno()) is None
        # The fd number can be closed and reused at once: a green wait on the new
        # fd of that number is registered afresh and woken.
        fd = a.fileno()
        a.close()
        c, d = socket.socketpair()
        try:
            d.send(b'x')
            assert hub.wait_fd(c.fileno(), _hub.READ, timeout=5) == _hub.READ
        finally:
            hub.cancel_wait(c.fileno())
            hub.cancel_wait(d.fileno())
            c.close()
            d.close()
        assert (hub.fd_info(fd) or {}).get('reader') is None
    finally:
        loop.close()
        b.close()


def test_closing_a_loop_with_open_transports_leaves_nothing_registered_in_the_hub():
    before = _hub_fds()
    loop = ab.new_event_loop()
    a, b = socket.socketpair()
    loop.add_reader(a.fileno(), lambda: None)       # never removed by the user
    loop.run_until_complete(asyncio.sleep(0.01))
    assert a.fileno() in _hub_fds()
    loop.close()
    assert _hub_fds() == before
    a.close()
    b.close()


def test_an_fd_closed_by_a_greenlet_under_an_asyncio_reader_reaches_its_callback():
    a, b = socket.socketpair()
    loop = ab.new_event_loop()
    hub = _hub.get_hub()

    async def main():
        called = loop.create_future()
        loop.add_reader(a.fileno(), lambda: called.done() or called.set_result('called'))
        # A greenlet closes the fd the green way (hub.cancel_wait): asyncio's reader
        # must hear of it, as it would from epoll, instead of waiting forever.
        gevent_lite.spawn_later(0.02, hub.cancel_wait, a.fileno())
        try:
            return await asyncio.wait_for(called, 10)
        finally:
            loop.remove_reader(a.fileno())

    try:
        assert loop.run_until_complete(main()) == 'called'
        assert hub.fd_info(a.fileno()) is None
    finally:
        loop.close()
        a.close()
        b.close()


def test_io_that_is_ready_between_callbacks_is_seen_at_once_as_on_the_stdlib_loop():
    def first_seen_at(loop):
        a, b = socket.socketpair()
        ticks, seen = [], []

        def tick():
            ticks.append(1)
            if len(ticks) == 5:
                b.send(b'x')          # ready from now on, while callbacks keep coming
            if len(ticks) < 50:
                loop.call_soon(tick)
            else:
                loop.stop()

        def readable():
            seen.append(len(ticks))
            loop.remove_reader(a.fileno())

        try:
            loop.add_reader(a.fileno(), readable)
            loop.call_soon(tick)
            loop.run_forever()
        finally:
            loop.close()
            a.close()
            b.close()
        return seen

    # Callbacks are ready in every iteration, so the loop never parks: the hub
    # loop still asks the (hub's) poller each time, as the stdlib loop asks its own.
    expected = first_seen_at(asyncio.SelectorEventLoop())
    assert expected in ([5], [6])
    assert first_seen_at(ab.new_event_loop()) == expected


def test_a_ready_fd_wakes_the_parked_loop_through_the_hubs_poll():
    a, b = socket.socketpair()
    loop = ab.new_event_loop()
    got = []

    async def main():
        fut = loop.create_future()
        loop.add_reader(a.fileno(), lambda: fut.done() or fut.set_result(a.recv(10)))
        try:
            return await asyncio.wait_for(fut, 10)
        finally:
            loop.remove_reader(a.fileno())

    def writer():
        gevent_lite.sleep(0.05)
        got.append('sent')
        b.send(b'ping')

    try:
        g = gevent_lite.spawn(writer)
        assert loop.run_until_complete(main()) == b'ping'
        g.join(5)
        assert got == ['sent']
    finally:
        loop.close()
        a.close()
        b.close()


def test_asyncio_and_green_servers_serve_asyncio_and_green_clients_at_once_in_one_thread():
    from gevent_lite import socket as gsocket
    from gevent_lite.server import StreamServer
    n = 40
    threads_before = threading.active_count()

    def green_echo(sock, addr):
        with sock:
            while True:
                data = sock.recv(100)
                if not data:
                    break
                gevent_lite.sleep(0.2)      # slow replies: only overlap makes it quick
                sock.sendall(b'g:' + data)

    green = StreamServer(('127.0.0.1', 0), green_echo)
    green.start()

    async def aio_echo(reader, writer):
        while True:
            data = await reader.read(100)
            if not data:
                break
            await asyncio.sleep(0.2)
            writer.write(b'a:' + data)
            await writer.drain()
        writer.close()

    async def aio_client(port, i):
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        out = []
        for k in range(3):
            writer.write(b'%d.%d' % (i, k))
            await writer.drain()
            out.append(await reader.read(100))
        writer.close()
        return out

    def green_client(port, i):
        with gsocket.create_connection(('127.0.0.1', port)) as c:
            out = []
            for k in range(3):
                c.sendall(b'%d.%d' % (i, k))
                out.append(c.recv(100))
            return out

    async def main():
        server = await asyncio.start_server(aio_echo, '127.0.0.1', 0)
        aport = server.sockets[0].getsockname()[1]
        gport = green.server_port
        t0 = time.monotonic()
        # Green clients of both servers run while asyncio clients of both run.
        greens = [gevent_lite.spawn(green_client, port, i)
                  for i in range(n) for port in (aport, gport)]
        aios = await asyncio.gather(*[aio_client(port, i)
                                      for i in range(n) for port in (aport, gport)])
        gouts = await asyncio.gather(*[ab.as_future(g) for g in greens])
        elapsed = time.monotonic() - t0
        server.close()
        await server.wait_closed()
        return aios, gouts, elapsed

    loop = ab.new_event_loop()
    try:
        aios, gouts, elapsed = loop.run_until_complete(asyncio.wait_for(main(), 60))
    finally:
        loop.close()
        green.stop()
    for outs in (aios, gouts):
        for j, out in enumerate(outs):
            i, prefix = j // 2, (b'a:', b'g:')[j % 2]
            assert out == [prefix + b'%d.%d' % (i, k) for k in range(3)]
    # 160 clients, 3 replies of 0.2 s each: 0.6 s at once, 96 s one after another.
    assert elapsed < 15, elapsed
    assert threading.active_count() == threads_before    # one thread did it all


def test_the_background_loop_does_not_keep_the_program_alive():
    out = run_script('''
        import asyncio, time, gevent_lite
        from gevent_lite.asyncio_bridge import await_, spawn_coroutine
        async def work():
            await asyncio.sleep(0.05)
            asyncio.get_running_loop().call_later(30, print, 'never')
            return 'done'
        print(gevent_lite.spawn(await_, work()).get())
        print(spawn_coroutine(work()).get())
        t0 = time.monotonic()
        print(gevent_lite.wait(timeout=20), time.monotonic() - t0 < 5)
    ''')
    assert out.split() == ['done', 'done', 'True', 'True']


# -- under monkey.patch_all -----------------------------------------------------------------

def test_patch_all_asyncio_run_to_thread_and_run_in_executor_deliver_results():
    out = run_script('''
        from gevent_lite import monkey; monkey.patch_all()
        import asyncio, time, threading
        def work(x):
            time.sleep(0.2)            # green: other green threads run meanwhile
            return x * 2
        async def main():
            loop = asyncio.get_running_loop()
            t0 = time.monotonic()
            res = await asyncio.gather(asyncio.to_thread(work, 1),
                                       loop.run_in_executor(None, work, 2),
                                       asyncio.wait_for(asyncio.to_thread(work, 3), 10))
            return type(loop).__name__, res, time.monotonic() - t0
        print(asyncio.run(main()))
    ''')
    name, res, elapsed = eval(out)
    assert name == 'HubEventLoop' and res == [2, 4, 6]
    assert elapsed < 2, elapsed


def test_patch_all_executor_results_arrive_with_cpython_3_13_12s_chain_future():
    # CPython 3.13.12 / 3.14.3 changed _chain_future to set the result directly when
    # the running loop is the destination loop -- which every green thread saw under
    # gevent, so the parked loop never woke (gevent#2213). Reproduce that code here.
    out = run_script('''
        from gevent_lite import monkey; monkey.patch_all()
        import asyncio, asyncio.futures as F, inspect, time
        src = inspect.getsource(F._chain_future)
        assert 'dest_loop is source_loop' in src or 'events._get_running_loop()' in src
        ns = dict(F.__dict__)
        exec(src.replace('dest_loop is source_loop', 'dest_loop is events._get_running_loop()'), ns)
        F._chain_future = ns['_chain_future']
        F.wrap_future.__globals__['_chain_future'] = ns['_chain_future']
        from gevent_lite.server import StreamServer
        def echo(sock, addr):
            sock.sendall(sock.recv(100))
            sock.close()
        server = StreamServer(('127.0.0.1', 0), echo)
        server.start()
        async def main():
            t0 = time.monotonic()
            r = await asyncio.wait_for(asyncio.to_thread(sum, [1, 2]), 20)
            # A host name: create_connection resolves it with getaddrinfo in the
            # default executor -- the everyday way into the bug.
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection('localhost', server.server_port), 20)
            writer.write(b'ping')
            echoed = await asyncio.wait_for(reader.read(100), 20)
            writer.close()
            return r, echoed, time.monotonic() - t0
        print(asyncio.run(main()))
        server.stop()
    ''')
    r, echoed, elapsed = eval(out)
    assert r == 3 and echoed == b'ping' and elapsed < 3, elapsed


def test_patch_all_two_threads_run_asyncio_run_at_once():
    out = run_script('''
        from gevent_lite import monkey; monkey.patch_all()
        import asyncio, threading, time
        results = []
        async def job(i):
            await asyncio.sleep(0.3)
            return i
        def thread_main(i):
            results.append(asyncio.run(job(i)))
        t0 = time.monotonic()
        threads = [threading.Thread(target=thread_main, args=(i,)) for i in range(4)]
        for t in threads: t.start()
        for t in threads: t.join(10)
        print(sorted(results), time.monotonic() - t0 < 1.5)
    ''')
    assert out.strip() == '[0, 1, 2, 3] True'


def test_patch_all_wsgi_requests_each_calling_asyncio_run_overlap():
    # A synchronous web app that calls asyncio.run() per request: with gevent this
    # fails ("cannot be called from a running event loop") once two overlap.
    out = run_script('''
        from gevent_lite import monkey; monkey.patch_all()
        import asyncio, http.client, time, gevent_lite
        from gevent_lite.pywsgi import WSGIServer
        async def work(x):
            await asyncio.sleep(0.3)
            return x * 2
        def app(environ, start_response):
            body = str(asyncio.run(work(int(environ['PATH_INFO'][1:])))).encode()
            start_response('200 OK', [('Content-Length', str(len(body)))])
            return [body]
        def get(port, path):
            conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
            conn.request('GET', path)
            return conn.getresponse().read().decode()
        server = WSGIServer(('127.0.0.1', 0), app, log=None)
        server.start()
        t0 = time.monotonic()
        jobs = [gevent_lite.spawn(get, server.server_port, '/%d' % i) for i in range(10)]
        gevent_lite.joinall(jobs, timeout=20, raise_error=True)
        print([j.value for j in jobs], time.monotonic() - t0 < 1.5)
    ''')
    assert out.strip() == "%r True" % [str(2 * i) for i in range(10)]


def test_patch_all_a_stdlib_loop_in_a_greenlet_awaits_a_greenlet():
    # Not a hub loop: asyncio's own SelectorEventLoop on the green selector. It is
    # woken through call_soon_threadsafe when the greenlet ends.
    out = run_script('''
        from gevent_lite import monkey; monkey.patch_all()
        import asyncio, gevent_lite
        from gevent_lite.asyncio_bridge import as_future, await_
        def work():
            gevent_lite.sleep(0.1)
            return 'green result'
        async def main():
            g = gevent_lite.spawn(work)
            return await asyncio.wait_for(as_future(g), 10)
        loop = asyncio.SelectorEventLoop()
        print(type(loop).__name__, loop.run_until_complete(main()))
        fut = loop.create_future()
        gevent_lite.spawn_later(0.05, loop.call_soon_threadsafe, fut.set_result, 'late')
        runner = gevent_lite.spawn(loop.run_until_complete, asyncio.sleep(0.2))
        print(await_(fut))
        runner.join(10)
        loop.close()
    ''')
    assert out.split('\n')[:2] == ['_UnixSelectorEventLoop green result', 'late']


def test_patch_all_leaves_a_policy_the_program_installed():
    out = run_script('''
        import asyncio
        class Mine(asyncio.DefaultEventLoopPolicy):
            pass
        asyncio.set_event_loop_policy(Mine())
        from gevent_lite import monkey; monkey.patch_all()
        print(type(asyncio.get_event_loop_policy()).__name__)
    ''')
    assert out.strip() == 'Mine'


# -- real servers and clients, both kinds, in one thread -----------------------------------

def test_tls_both_ways_asyncio_server_with_green_clients_and_green_server_with_asyncio_clients(cert):
    import ssl as stdlib_ssl
    from gevent_lite import ssl as gssl
    from gevent_lite import socket as gsocket
    from gevent_lite.server import StreamServer
    certfile, keyfile = cert

    def green_tls_echo(sock, addr):
        with sock:
            data = sock.recv(100)
            gevent_lite.sleep(0.2)
            sock.sendall(b'green:' + data)

    green = StreamServer(('127.0.0.1', 0), green_tls_echo, certfile=certfile, keyfile=keyfile)
    green.start()
    server_ctx = stdlib_ssl.SSLContext(stdlib_ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(certfile, keyfile)
    client_ctx = stdlib_ssl.create_default_context(cafile=certfile)

    async def aio_tls_echo(reader, writer):
        data = await reader.read(100)
        await asyncio.sleep(0.2)
        writer.write(b'aio:' + data)
        await writer.drain()
        writer.close()

    def green_client(port, n):
        ctx = gssl.create_default_context(cafile=certfile)
        with gsocket.create_connection(('127.0.0.1', port)) as raw:
            with ctx.wrap_socket(raw, server_hostname='localhost') as s:
                s.sendall(b'%d' % n)
                return s.recv(100)

    async def aio_client(port, n):
        reader, writer = await asyncio.open_connection('127.0.0.1', port, ssl=client_ctx,
                                                       server_hostname='localhost')
        writer.write(b'%d' % n)
        data = await reader.read(100)
        writer.close()
        return data

    async def main():
        server = await asyncio.start_server(aio_tls_echo, '127.0.0.1', 0, ssl=server_ctx)
        aio_port = server.sockets[0].getsockname()[1]
        t0 = time.monotonic()
        greenlets = [gevent_lite.spawn(green_client, aio_port, i) for i in range(5)]
        from_aio_clients = await asyncio.gather(*(aio_client(green.server_port, i) for i in range(5)))
        from_green_clients = await asyncio.gather(*(ab.as_future(g) for g in greenlets))
        elapsed = time.monotonic() - t0
        server.close()
        await server.wait_closed()
        return from_aio_clients, from_green_clients, elapsed

    try:
        from_aio_clients, from_green_clients, elapsed = ab.run(main())
    finally:
        green.stop()
    assert from_aio_clients == [b'green:%d' % i for i in range(5)]
    assert from_green_clients == [b'aio:%d' % i for i in range(5)]
    assert elapsed < 1.5, elapsed     # ten TLS replies of 0.2 s each, in sequence: 2 s


def test_aiohttp_client_against_green_pywsgi_in_the_same_process():
    aiohttp = pytest.importorskip('aiohttp')
    from gevent_lite.pywsgi import WSGIServer

    def app(environ, start_response):
        gevent_lite.sleep(0.2)          # the app blocks cooperatively
        body = ('hello %s' % environ['PATH_INFO']).encode()
        start_response('200 OK', [('Content-Type', 'text/plain'),
                                  ('Content-Length', str(len(body)))])
        return [body]

    server = WSGIServer(('127.0.0.1', 0), app, log=None)
    server.start()
    port = server.server_port

    async def fetch_all():
        async with aiohttp.ClientSession() as session:
            async def one(i):
                async with session.get('http://127.0.0.1:%d/p%d' % (port, i)) as resp:
                    return resp.status, await resp.text()
            return await asyncio.gather(*(one(i) for i in range(10)))

    try:
        t0 = time.monotonic()
        # From a greenlet, through await_: the bridge's background loop.
        results = gevent_lite.spawn(ab.await_, fetch_all()).get(timeout=30)
        elapsed = time.monotonic() - t0
        # And from a loop run by run().
        again = ab.run(fetch_all())
    finally:
        server.stop()
    assert results == [(200, 'hello /p%d' % i) for i in range(10)] == again
    assert elapsed < 1.8, elapsed       # ten 0.2 s responses in sequence: 2 s


def test_a_long_lived_aiohttp_session_serves_many_greenlets():
    aiohttp = pytest.importorskip('aiohttp')
    from gevent_lite.pywsgi import WSGIServer

    def app(environ, start_response):
        gevent_lite.sleep(0.2)
        start_response('200 OK', [('Content-Length', '2')])
        return [b'ok']

    server = WSGIServer(('127.0.0.1', 0), app, log=None)
    server.start()
    url = 'http://127.0.0.1:%d/' % server.server_port

    async def make_session():
        return aiohttp.ClientSession()

    async def fetch(session):
        async with session.get(url) as resp:
            return await resp.text()

    try:
        session = ab.await_(make_session())        # on the background loop, for good
        t0 = time.monotonic()
        jobs = [gevent_lite.spawn(lambda: ab.await_(fetch(session))) for _ in range(10)]
        gevent_lite.joinall(jobs, timeout=20, raise_error=True)
        elapsed = time.monotonic() - t0
        again = ab.await_(fetch(session))          # the same session, later
        ab.await_(session.close())
    finally:
        server.stop()
    assert [j.value for j in jobs] == ['ok'] * 10 and again == 'ok'
    assert elapsed < 1.8, elapsed


@pytest.mark.skipif(not __import__('shutil').which('redis-server'),
                    reason='redis-server is not installed (.ci/run installs it)')
def test_redis_asyncio_and_green_redis_py_clients_share_one_real_server(tmp_path):
    pytest.importorskip('redis.asyncio')
    with redis_server(tmp_path) as port:
        # One interpreter, patched: redis-py's sockets are green; redis.asyncio runs
        # on the hub's loop (await_ from greenlets, and a coroutine in run()).
        # Each side BLPOPs 0.5 s in the server on keys nobody pushes while the other
        # side pushes to keys it waits on: all must overlap.
        out = run_script('''
            from gevent_lite import monkey; monkey.patch_all()
            import time, redis, redis.asyncio as aredis, gevent_lite
            from gevent_lite.asyncio_bridge import await_, spawn_coroutine
            PORT = %d
            async def aio_wait(i):
                r = aredis.Redis(host='127.0.0.1', port=PORT)
                try:
                    empty = await r.blpop(['aio:empty:%%d' %% i], timeout=0.5)
                    got = await r.blpop(['aio:fed:%%d' %% i], timeout=5)
                    return empty, got
                finally:
                    await r.aclose() if hasattr(r, 'aclose') else await r.close()
            def green_wait(i):
                r = redis.Redis(host='127.0.0.1', port=PORT, socket_timeout=10)
                try:
                    empty = r.blpop(['green:empty:%%d' %% i], timeout=0.5)
                    r.rpush('aio:fed:%%d' %% i, 'from-green-%%d' %% i)
                    return empty, r.blpop(['green:fed:%%d' %% i], timeout=5)
                finally:
                    r.close()
            async def feeder(i):
                r = aredis.Redis(host='127.0.0.1', port=PORT)
                try:
                    await r.rpush('green:fed:%%d' %% i, 'from-aio-%%d' %% i)
                finally:
                    await r.aclose() if hasattr(r, 'aclose') else await r.close()
            t0 = time.monotonic()
            handles = [spawn_coroutine(aio_wait(i)) for i in range(5)]
            greens = [gevent_lite.spawn(green_wait, i) for i in range(5)]
            feeders = [gevent_lite.spawn(await_, feeder(i)) for i in range(5)]
            gevent_lite.joinall(handles + greens + feeders, timeout=20, raise_error=True)
            elapsed = time.monotonic() - t0
            # (blpop answers a tuple in one client, a list in the other)
            print([(e, list(got)) for e, got in (h.value for h in handles)])
            print([(e, list(got)) for e, got in (g.value for g in greens)])
            print(elapsed)
        ''' % port)
    aio_line, green_line, elapsed = out.strip().splitlines()
    assert eval(aio_line) == [(None, [b'aio:fed:%d' % i, b'from-green-%d' % i]) for i in range(5)]
    assert eval(green_line) == [(None, [b'green:fed:%d' % i, b'from-aio-%d' % i]) for i in range(5)]
    assert float(elapsed) < 3, elapsed     # ten 0.5 s server-side waits in sequence: 5 s
