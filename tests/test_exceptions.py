"""gevent's module paths for names defined elsewhere: gevent_lite.exceptions, .baseserver,
and the top-level names gevent programs use (fork, get/setswitchinterval)."""

import sys

import pytest

import gevent_lite
from gevent_lite import hub


def test_exceptions_module_gives_the_hubs_exception_classes():
    from gevent_lite import exceptions
    assert exceptions.LoopExit is hub.LoopExit
    assert exceptions.BlockingSwitchOutError is hub.BlockingSwitchOutError
    assert exceptions.ConcurrentObjectUseError is hub.ConcurrentObjectUseError
    assert issubclass(exceptions.InvalidSwitchError, AssertionError)


def test_a_waiter_reused_after_an_exception_raises_invalid_switch_error(hub):
    from gevent_lite.exceptions import InvalidSwitchError
    waiter = gevent_lite.Waiter()
    hub.run_callback(waiter.throw, ValueError("boom"))
    with pytest.raises(ValueError):
        waiter.get()
    with pytest.raises(InvalidSwitchError):
        waiter.get()


def test_baseserver_module_gives_the_server_base_class():
    from gevent_lite import baseserver, server
    assert baseserver.BaseServer is server.BaseServer
    assert issubclass(server.StreamServer, baseserver.BaseServer)


def test_top_level_fork_and_switch_interval_are_gevents_names():
    from gevent_lite import os as gos
    assert gevent_lite.fork is gos.fork
    assert gevent_lite.getswitchinterval is sys.getswitchinterval
    assert gevent_lite.setswitchinterval is sys.setswitchinterval
    for name in ('fork', 'getswitchinterval', 'setswitchinterval'):
        assert name in gevent_lite.__all__
