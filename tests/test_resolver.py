import socket
import subprocess
import sys
import textwrap
import time

import pytest

import gevent_lite
from gevent_lite.hub import get_hub
from gevent_lite.resolver import BlockingResolver, Resolver, get_resolver, set_resolver

# Captured before any test could patch socket.
_std_getaddrinfo = socket.getaddrinfo


@pytest.fixture
def resolver():
    return Resolver(get_hub())


def test_getaddrinfo_equals_stdlib(resolver):
    for args in [('localhost', 80), ('localhost', 'http'), ('127.0.0.1', 8080),
                 ('localhost', None, socket.AF_INET, socket.SOCK_STREAM),
                 (None, 0, 0, 0, 0, socket.AI_PASSIVE)]:
        assert resolver.getaddrinfo(*args) == _std_getaddrinfo(*args), args


def test_getaddrinfo_result_has_stdlib_enum_types(resolver):
    family, kind = resolver.getaddrinfo('localhost', 80)[0][:2]
    assert isinstance(family, socket.AddressFamily)
    assert isinstance(kind, socket.SocketKind)


def test_other_lookups_equal_stdlib(resolver):
    assert resolver.gethostbyname('localhost') == socket.gethostbyname('localhost')
    assert resolver.gethostbyname('127.0.0.1') == '127.0.0.1'
    assert resolver.gethostbyname_ex('localhost') == socket.gethostbyname_ex('localhost')
    assert resolver.gethostbyaddr('127.0.0.1') == socket.gethostbyaddr('127.0.0.1')
    sa = ('127.0.0.1', 80)
    for flags in (0, socket.NI_NUMERICHOST | socket.NI_NUMERICSERV):
        assert resolver.getnameinfo(sa, flags) == socket.getnameinfo(sa, flags)


def test_errors_are_the_stdlib_exceptions(resolver):
    with pytest.raises(socket.gaierror) as ours:
        resolver.getaddrinfo('name.invalid', 80)
    with pytest.raises(socket.gaierror) as theirs:
        _std_getaddrinfo('name.invalid', 80)
    assert ours.value.errno == theirs.value.errno
    with pytest.raises(socket.gaierror):
        resolver.gethostbyname('name.invalid')
    with pytest.raises((socket.herror, socket.gaierror)):
        resolver.gethostbyaddr('name.invalid')
    with pytest.raises(TypeError):
        resolver.getaddrinfo(42, 80)


def test_numeric_addresses_skip_the_thread_pool(resolver):
    pool = get_hub().threadpool
    before = pool._nthreads, len(pool)
    calls = []
    orig = pool.spawn
    pool.spawn = lambda *a, **k: calls.append(a) or orig(*a, **k)
    try:
        resolver.getaddrinfo('127.0.0.1', 80)
        resolver.getaddrinfo('::1', '443', socket.AF_INET6)
        resolver.getaddrinfo(None, 80)
        resolver.gethostbyname('10.0.0.1')
        resolver.getnameinfo(('127.0.0.1', 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)
        assert calls == []
        resolver.getaddrinfo('localhost', 80)
        assert len(calls) == 1
    finally:
        del pool.spawn
    assert pool._nthreads >= before[0]


def test_ticker_keeps_ticking_during_20_concurrent_lookups(resolver):
    ticks = []

    def ticker():
        for _ in range(1000):
            ticks.append(time.monotonic())
            gevent_lite.sleep(0.01)

    t = gevent_lite.spawn(ticker)
    gevent_lite.sleep(0)
    expected = _std_getaddrinfo('localhost', 80)
    start = time.monotonic()
    jobs = [gevent_lite.spawn(resolver.getaddrinfo, 'localhost', 80) for _ in range(20)]
    gevent_lite.joinall(jobs, timeout=10)
    gevent_lite.sleep(0.05)
    t.kill()
    assert all(j.successful() for j in jobs)
    assert all(j.value == expected for j in jobs)
    window = [x for x in ticks if x >= start]
    assert len(window) >= 3
    assert max(b - a for a, b in zip(ticks, ticks[1:])) < 0.2


def test_get_resolver_is_per_hub_and_settable():
    hub = get_hub()
    old = hub.resolver
    try:
        hub.resolver = None
        r = get_resolver()
        assert isinstance(r, Resolver)
        assert hub.resolver is r
        assert get_resolver() is r
        b = BlockingResolver()
        set_resolver(b)
        assert get_resolver() is b
        assert b.getaddrinfo('localhost', 80) == _std_getaddrinfo('localhost', 80)
    finally:
        hub.resolver = old


def _resolver_kind(env):
    code = textwrap.dedent('''
        from gevent_lite.resolver import get_resolver
        print(type(get_resolver()).__name__)
    ''')
    import os
    full = dict(os.environ)
    full.pop('GEVENT_LITE_RESOLVER', None)
    full.pop('GEVENT_RESOLVER', None)
    full.update(env)
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=20, env=full)


@pytest.mark.parametrize('env, expected', [
    ({}, 'Resolver'),
    ({'GEVENT_LITE_RESOLVER': 'block'}, 'BlockingResolver'),
    ({'GEVENT_LITE_RESOLVER': 'thread'}, 'Resolver'),
    ({'GEVENT_RESOLVER': 'block'}, 'BlockingResolver'),
    ({'GEVENT_RESOLVER': 'ares,thread'}, 'Resolver'),
])
def test_resolver_selected_by_environment(env, expected):
    proc = _resolver_kind(env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == expected


@pytest.mark.parametrize('env', [
    {'GEVENT_LITE_RESOLVER': 'ares'},
    {'GEVENT_RESOLVER': 'ares'},                # only resolvers gevent_lite does not have
    {'GEVENT_RESOLVER': 'ares,dnspython'},
    {'GEVENT_RESOLVER': 'dns'},
])
def test_unknown_resolver_name_is_configs_error_naming_the_variable(env):
    # The same message gevent_lite.config gives for the setting: the resolver reads
    # config.resolver and nothing else.
    (key, value), = env.items()
    proc = _resolver_kind(env)
    assert proc.returncode != 0
    assert 'ValueError: %s=%r: expected one of thread, block' % (key, value) in proc.stderr, proc.stderr


def test_config_resolver_assigned_in_the_program_chooses_the_kind():
    from gevent_lite import hub as hubmod
    from gevent_lite.config import config
    old = hubmod.get_hub_if_exists()
    if old is not None:
        old.destroy()
    config.resolver = 'block'
    try:
        r = get_resolver()                      # a new hub makes its resolver now
        assert type(r) is BlockingResolver
        assert r.getaddrinfo('127.0.0.1', 80) == _std_getaddrinfo('127.0.0.1', 80)
    finally:
        config.reset('resolver')


def test_forked_child_gets_fresh_resolver_and_pool():
    code = textwrap.dedent('''
        import os
        import gevent_lite.os as gos
        from gevent_lite.hub import get_hub
        from gevent_lite.resolver import get_resolver
        parent_r = get_resolver()
        parent_r.getaddrinfo('localhost', 80)
        parent_pool = get_hub().threadpool
        pid = gos.fork()
        if pid == 0:
            r = get_resolver()
            ok = r is not parent_r and get_hub().threadpool is not parent_pool
            import socket
            ok = ok and r.getaddrinfo('localhost', 80) == socket.getaddrinfo('localhost', 80)
            os._exit(0 if ok else 3)
        _, status = gos.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status) if hasattr(os, 'waitstatus_to_exitcode')
              else status >> 8)
    ''')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '0'


def test_gevents_import_paths_name_the_same_resolver_classes():
    import gevent_lite.resolver.blocking
    import gevent_lite.resolver.thread
    assert gevent_lite.resolver.thread.Resolver is Resolver
    assert gevent_lite.resolver.blocking.Resolver is BlockingResolver
