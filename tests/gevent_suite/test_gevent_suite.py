"""gevent's own test suite (the files the installed gevent ships) on gevent_lite: every test
that passes on gevent passes here, or is listed in expected_failures.txt with its reason.

Each file runs in a fresh interpreter in which ``import gevent`` is gevent_lite (see
run_gevent_suite.py); the quick files run by default, the slow ones with ``-m slow`` (or
``GEVENT_LITE_STDLIB_SLOW=1``, as for tests/stdlib). The tests that pass on gevent are
recorded in baseline_gevent.json (``run_gevent_suite.py --on gevent --record``).
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_gevent_suite as runner  # noqa: E402

GEVENT_DIR = runner.gevent_dir()


def _installed_gevent_version():
    try:
        from importlib.metadata import version
        return version('gevent')
    except Exception:
        return None


pytestmark = [
    pytest.mark.skipif(GEVENT_DIR is None, reason='gevent is not installed (it is in the test extra)'),
    pytest.mark.skipif(sys.version_info[:2] != runner.BASELINE_PYTHON or
                       _installed_gevent_version() != runner.BASELINE_GEVENT,
                       reason='baseline_gevent.json was recorded on Python %d.%d with gevent %s' % (
                           runner.BASELINE_PYTHON + (runner.BASELINE_GEVENT,))),
]
BASELINE = runner.load_baseline()
EXPECTED = runner.load_expected()


def _params():
    for name in sorted(BASELINE):
        limit = runner.SLOW.get(name, runner.DEFAULT_LIMIT)
        marks = [pytest.mark.timeout(limit + 60)]
        if name in runner.SLOW:
            marks.append(pytest.mark.slow)
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize('name', list(_params()))
def test_gevent_file_passes_on_gevent_lite(name, request):
    if name in runner.SLOW and 'slow' not in (request.config.getoption('-m') or '') \
            and not os.environ.get('GEVENT_LITE_STDLIB_SLOW'):
        pytest.skip('slow gevent test file: run with -m slow or GEVENT_LITE_STDLIB_SLOW=1')
    if not os.path.exists(os.path.join(GEVENT_DIR, 'tests', name + '.py')):
        pytest.skip('the installed gevent has no tests/%s.py' % name)
    res = runner.run_file(name, lite=True)
    want, both, unexpected = runner.compare(name, res, BASELINE, EXPECTED)
    if unexpected:
        # Some of gevent's tests measure elapsed time with tight margins; on a loaded
        # machine one may miss once. A failure counts only if it happens twice.
        again = runner.run_file(name, lite=True)
        unexpected = [t for t in unexpected if t in runner.compare(name, again, BASELINE, EXPECTED)[2]]
    assert not unexpected, '%s: %d of %d pass (%s); not passing and not in expected_failures.txt: %s' % (
        name, both, want, runner.describe(res), unexpected)


def test_every_expected_failure_names_a_recorded_test_and_gives_a_reason():
    ids = {t for tests in BASELINE.values() for t in tests}
    for pattern, reason in EXPECTED.items():
        assert reason, 'no reason given for %s' % pattern
        if pattern.endswith('*'):
            assert any(t.startswith(pattern[:-1]) for t in ids), 'stale pattern %s' % pattern
        else:
            assert pattern in ids, 'stale entry %s (not a test that passes on gevent)' % pattern


def test_private_module_tests_are_counted_apart_from_the_public_api():
    assert runner.is_private('gevent.tests.test___config.TestConfig.test_getattr')
    assert runner.is_private('gevent.tests.test__all__.Test_gevent__ffi.test_all_formula')
    assert runner.is_private('gevent.tests.test__all__.Test_gevent_monkey__state.test_implements_presence_justified')
    assert not runner.is_private('gevent.tests.test__all__.Test_gevent_queue.test_all_formula')
    assert not runner.is_private('gevent.tests.test__all__.Test_gevent_libuv_loop.test_all_formula')
    assert not runner.is_private('gevent.tests.test__queue.TestChannel.test_send')
    res = {'ok': ['gevent.tests.test__all__.Test_gevent_queue.a']}
    baseline = {'test__all__': ['gevent.tests.test__all__.Test_gevent_queue.a',
                                'gevent.tests.test__all__.Test_gevent_queue.b',
                                'gevent.tests.test__all__.Test_gevent__ffi.a']}
    assert runner.compare_split('test__all__', res, baseline) == {'public': [2, 1], 'private': [1, 0]}
