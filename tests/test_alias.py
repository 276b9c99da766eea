"""gevent_lite.install_as_gevent() and ``python -m gevent_lite.monkey --as-gevent``: ``import gevent``
gives gevent_lite's own module objects, with gevent's API version (each case in a fresh interpreter)."""

import textwrap

from _helpers import check_python as check
from _helpers import run_python as run


def test_import_gevent_gives_the_same_module_objects_never_copies():
    out = check('''
        import sys, gevent_lite, gevent_lite.queue
        gevent_lite.install_as_gevent()
        import gevent, gevent.queue, gevent.pool, gevent.monkey, gevent.server
        from gevent import socket, lock
        import gevent_lite.pool, gevent_lite.monkey, gevent_lite.server, gevent_lite.socket, gevent_lite.lock
        assert gevent is gevent_lite
        assert gevent.queue is gevent_lite.queue and gevent.pool is gevent_lite.pool
        assert gevent.monkey is gevent_lite.monkey and gevent.server is gevent_lite.server
        assert socket is gevent_lite.socket and lock is gevent_lite.lock
        assert gevent.queue.Queue is gevent_lite.queue.Queue
        # each module keeps its own spec: reload/-m still see gevent_lite's name
        assert gevent.pool.__spec__.name == 'gevent_lite.pool', gevent.pool.__spec__
        assert sys.modules['gevent.pool'] is gevent_lite.pool
        # gevent_lite's modules imported before install are entered too
        assert sys.modules['gevent.event'] is sys.modules['gevent_lite.event']
        # no module was executed twice under the gevent name
        dup = [n for n, m in sys.modules.items() if n.startswith('gevent.') and m is not None
               and m is not sys.modules.get('gevent_lite.' + n[len('gevent.'):])]
        assert not dup, dup
        print('ok')
    ''')
    assert out.strip() == 'ok'


def test_version_reports_the_gevent_api_release_gunicorn_accepts():
    out = check('''
        import gevent_lite
        own = gevent_lite.__version__
        gevent_lite.install_as_gevent()
        import gevent
        from packaging.version import parse
        assert parse(gevent.__version__) >= parse('24.10.1'), gevent.__version__
        assert (gevent.version_info.major, gevent.version_info.minor) == tuple(gevent.version_info[:2])
        assert tuple(gevent.version_info[:3]) == tuple(int(x) for x in gevent.__version__.split('.'))
        assert gevent_lite.__lite_version__ == own
        print(gevent.__version__)
    ''')
    assert out.strip().count('.') == 2


def test_gevent_names_absent_from_gevent_lite_raise_import_error():
    check('''
        import gevent_lite
        gevent_lite.install_as_gevent()
        for name in ('gevent.libev', 'gevent._config', 'gevent.no_such_module'):
            try:
                __import__(name)
            except ImportError as e:
                assert name in str(e), e
            else:
                raise AssertionError(name + ' imported')
    ''')


def test_importing_gevent_lite_never_shadows_an_installed_gevent():
    out = check('''
        import gevent_lite, gevent_lite.monkey, gevent_lite.pool
        import gevent
        print(gevent is gevent_lite, gevent.__file__)
    ''')
    assert out.split()[0] == 'False' and 'gevent_lite' not in out.split()[1]


def test_install_after_real_gevent_was_imported_refuses_clearly():
    res = run('''
        import gevent, gevent_lite
        gevent_lite.install_as_gevent()
    ''')
    assert res.returncode == 1
    assert 'RuntimeError' in res.stderr and 'already imported' in res.stderr


def test_install_twice_is_harmless():
    check('''
        import sys, gevent_lite
        gevent_lite.install_as_gevent(); gevent_lite.install_as_gevent()
        import gevent.queue
        assert sum(1 for f in sys.meta_path if type(f).__name__ == '_AliasFinder') == 1
    ''')


def test_monkey_cli_as_gevent_runs_a_gevent_program_unchanged(tmp_path):
    prog = tmp_path / 'prog.py'
    prog.write_text(textwrap.dedent('''
        import gevent, gevent.monkey, time, socket
        from gevent.pool import Pool
        assert gevent.monkey.is_module_patched('socket'), 'patched before the program ran'
        t0 = time.time()
        pool = Pool(20)
        for _ in range(20):
            pool.spawn(time.sleep, 0.3)
        pool.join(timeout=10)
        print(type(gevent).__name__, gevent.__name__, round(time.time() - t0 < 2))
    '''))
    res = run(args=['-m', 'gevent_lite.monkey', '--as-gevent', str(prog)])
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ['module', 'gevent_lite', '1']
    assert 'Warning' not in res.stderr, res.stderr
