"""Shared test fixtures: every test starts with a fresh hub in the main greenlet."""

import pytest

from gevent_lite import hub as _hub


@pytest.fixture(autouse=True)
def fresh_hub():
    """Give each test its own hub, so greenlets or timers a test leaves behind
    cannot keep another test's loop alive or wake inside it."""
    yield
    hub = _hub._get_hub_noargs()
    if hub is not None:
        hub.destroy()


@pytest.fixture
def hub():
    return _hub.get_hub()
