"""gevent_lite.contextvars: the stdlib's contextvars, per greenlet, under gevent's module name."""

import contextvars

import gevent_lite
from gevent_lite import contextvars as gcontextvars


def test_names_are_the_stdlib_objects():
    for name in ('ContextVar', 'Context', 'copy_context', 'Token'):
        assert getattr(gcontextvars, name) is getattr(contextvars, name)
    assert sorted(gcontextvars.__all__) == sorted(contextvars.__all__)


def test_a_value_set_in_one_greenlet_is_not_seen_in_another():
    var = gcontextvars.ContextVar('var', default='unset')
    seen = {}

    def setter():
        var.set('mine')
        gevent_lite.sleep(0.01)          # the reader runs meanwhile
        seen['setter'] = var.get()

    def reader():
        gevent_lite.sleep(0)
        seen['reader'] = var.get()

    gevent_lite.joinall([gevent_lite.spawn(setter), gevent_lite.spawn(reader)], timeout=5)
    assert seen == {'setter': 'mine', 'reader': 'unset'}
    assert var.get() == 'unset'


def test_a_spawned_greenlet_starts_with_a_copy_of_its_spawners_context():
    var = gcontextvars.ContextVar('request_id')
    token = var.set('r-42')
    try:
        def child():
            before = var.get()
            var.set('changed in child')
            return before
        g = gevent_lite.spawn(child)
        assert g.get(timeout=5) == 'r-42'
        assert var.get() == 'r-42'       # the child's change stays in the child
    finally:
        var.reset(token)


def test_importable_as_gevent_contextvars_after_install_as_gevent():
    import subprocess
    import sys
    code = ('import gevent_lite; gevent_lite.install_as_gevent(); '
            'from gevent.contextvars import ContextVar; import contextvars; '
            'print(ContextVar is contextvars.ContextVar)')
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == 'True'
