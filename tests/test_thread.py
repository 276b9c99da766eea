"""gevent_lite.thread: the green ``_thread`` API, used directly (no patching needed)."""

import signal
import sys
import time

import pytest
from greenlet import getcurrent

import gevent_lite
from gevent_lite import thread


def test_start_new_thread_runs_functions_concurrently_in_greenlets():
    done = []
    t0 = time.monotonic()
    idents = [thread.start_new_thread(lambda i: (gevent_lite.sleep(0.3), done.append(i)), (i,))
              for i in range(20)]
    gevent_lite.sleep(0.6)
    assert sorted(done) == list(range(20))
    assert time.monotonic() - t0 < 2.0
    assert len(set(idents)) == 20


def test_start_new_thread_validates_arguments():
    with pytest.raises(TypeError):
        thread.start_new_thread(42, ())
    with pytest.raises(TypeError):
        thread.start_new_thread(print, [1])
    with pytest.raises(TypeError):
        thread.start_new_thread(print, (), [])


def test_get_ident_differs_per_greenlet_and_matches_start_new_thread():
    seen = {}

    def f(key):
        seen[key] = thread.get_ident()
    ident = thread.start_new_thread(f, ('a',))
    gevent_lite.sleep(0.01)
    assert seen['a'] == ident
    # The root greenlet of the OS thread keeps the thread's real ident.
    assert thread.get_ident() == thread._original_get_ident() != ident
    assert thread.get_ident(getcurrent()) == thread.get_ident()
    g = gevent_lite.spawn(lambda: thread.get_ident())
    g.join()
    assert g.value == id(g) == thread.get_ident(g)


def test_allocate_lock_parks_only_the_greenlet():
    lock = thread.allocate_lock()
    lock.acquire()
    order = []

    def waiter():
        with lock:
            order.append('waiter got it')
    thread.start_new_thread(waiter, ())
    gevent_lite.sleep(0.05)
    order.append('holder releases')
    lock.release()
    gevent_lite.sleep(0.05)
    assert order == ['holder releases', 'waiter got it']
    assert isinstance(lock, thread.LockType)
    assert lock.acquire(True, 0.05) and not lock.acquire(True, 0.05)


def test_rlock_is_reentrant_per_greenlet():
    rl = thread.RLock()
    rl.acquire()
    rl.acquire()
    got = []
    thread.start_new_thread(lambda: got.append(rl.acquire(timeout=0.05)), ())
    gevent_lite.sleep(0.2)
    assert got == [False]
    rl.release()
    rl.release()


def test_count_tracks_running_green_threads():
    before = thread._count()
    ev = gevent_lite.event.Event() if hasattr(gevent_lite, 'event') else None
    from gevent_lite.event import Event
    ev = Event()
    for _ in range(3):
        thread.start_new_thread(ev.wait, ())
    gevent_lite.sleep(0.01)
    assert thread._count() == before + 3
    ev.set()
    gevent_lite.sleep(0.01)
    assert thread._count() == before


def test_unhandled_exception_goes_to_unraisablehook_and_systemexit_is_silent(monkeypatch):
    seen = []
    monkeypatch.setattr(sys, 'unraisablehook', lambda u: seen.append(u.exc_type))

    def boom():
        raise ValueError('x')
    thread.start_new_thread(boom, ())
    thread.start_new_thread(thread.exit, ())
    gevent_lite.sleep(0.02)
    assert seen == [ValueError]


def test_interrupt_main_raises_keyboardinterrupt_in_main_greenlet():
    # A shell that starts the suite in the background leaves SIGINT ignored, and
    # interrupt_main() then does nothing: install the default handler ourselves.
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        thread.start_new_thread(thread.interrupt_main, ())
        with pytest.raises(KeyboardInterrupt):
            gevent_lite.sleep(1)
    finally:
        signal.signal(signal.SIGINT, old)


def test_local_is_per_greenlet():
    loc = thread._local()
    loc.x = 'main'
    seen = []

    def f():
        seen.append(getattr(loc, 'x', None))
        loc.x = 'other'
    thread.start_new_thread(f, ())
    gevent_lite.sleep(0.01)
    assert seen == [None] and loc.x == 'main'


def test_stack_size_is_accepted():
    assert thread.stack_size(65536) == 0
    assert thread.stack_size() == 65536 and thread.stack_size() == 0
    with pytest.raises(ValueError):
        thread.stack_size(100)


@pytest.mark.skipif(not hasattr(thread, 'start_joinable_thread'), reason='3.13+ API')
def test_start_joinable_thread_handle_joins_with_timeout():
    handle = thread.start_joinable_thread(lambda: gevent_lite.sleep(0.2), daemon=False)
    handle.join(0.01)
    assert not handle.is_done()
    t0 = time.monotonic()
    handle.join()
    assert handle.is_done() and time.monotonic() - t0 < 1


def test_thread_handle_join_of_current_thread_raises():
    errors = []

    def f():
        try:
            holder[0].join()
        except RuntimeError as exc:
            errors.append(str(exc))
    holder = [None]
    h = thread._ThreadHandle()
    h._started = True
    holder[0] = h
    thread._spawn(thread._GreenThreadState(h, True), f, (), {})
    gevent_lite.sleep(0.02)
    assert errors and 'current thread' in errors[0]
