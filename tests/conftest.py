"""Shared test fixtures: every test starts with a fresh hub in the main greenlet."""

import shutil

import pytest

from _helpers import make_certificate
from gevent_lite import hub as _hub

# The package's own pytest plugin (virtual_clock, isolated_hub), as an installed
# package gets it through its pytest11 entry point (registered under this name).
pytest_plugins = ['gevent_lite.testing']


@pytest.fixture(autouse=True)
def fresh_hub():
    """Give each test its own hub, so greenlets or timers a test leaves behind
    cannot keep another test's loop alive or wake inside it."""
    yield
    hub = _hub.get_hub_if_exists()
    if hub is not None:
        hub.destroy()


@pytest.fixture
def hub():
    return _hub.get_hub()


@pytest.fixture(scope='session')
def cert(tmp_path_factory):
    """``(certfile, keyfile)`` of a self-signed certificate for localhost/127.0.0.1."""
    if shutil.which('openssl') is None:
        pytest.skip('the openssl command is needed to make a test certificate')
    return make_certificate(tmp_path_factory.mktemp('tls'))
