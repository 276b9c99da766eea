"""CPython's own test modules under monkey.patch_all(): no unexpected failure, no hang.

Each module runs in a fresh interpreter that patches first (see run_stdlib.py);
the quick modules run by default, the slow ones only with ``-m slow`` (or
``GEVENT_LITE_STDLIB_SLOW=1``). Known
failures are listed, with reasons, in expected_failures.txt.
"""

import importlib.util
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_stdlib  # noqa: E402

EXPECTED = run_stdlib.load_expected()
HANGS = [t for t, why in EXPECTED.items() if why.startswith('hang')]


def _params():
    for name, (limit, quick) in run_stdlib.MODULES.items():
        marks = [] if quick else [pytest.mark.slow]
        # pytest-timeout's 120 s default would fire before the module's own limit.
        marks.append(pytest.mark.timeout(limit + 60))
        yield pytest.param(name, limit, marks=marks, id=name)


@pytest.mark.parametrize('name,limit', list(_params()))
def test_cpython_module_passes_under_patch_all(name, limit, request):
    quick = run_stdlib.MODULES[name][1]
    if not quick and 'slow' not in (request.config.getoption('-m') or '') \
            and not os.environ.get('GEVENT_LITE_STDLIB_SLOW'):
        pytest.skip('slow CPython module: run with -m slow or GEVENT_LITE_STDLIB_SLOW=1')
    if importlib.util.find_spec('test.' + name) is None:
        pytest.skip('test.%s is not installed in this Python' % name)
    # No reruns: a test that hangs (and is not listed) fails this test at once.
    res = run_stdlib.run_module(name, True, timeout=limit, hangs=HANGS, reruns=0)
    assert not res.get('hang'), '%s hangs under patch_all: %s' % (name, run_stdlib.describe(res))
    assert 'crash' not in res, res.get('crash')
    if 'missing' in res:
        pytest.skip(res['missing'])
    unexpected = [t for t in res['bad'] if run_stdlib.expected_reason(t, EXPECTED) is None]
    assert not unexpected, 'unexpected failures under patch_all: %s' % unexpected
    assert res['run'] > 0


def test_expected_failures_lines_with_a_version_condition_count_only_on_those_versions(tmp_path):
    path = tmp_path / 'expected.txt'
    path.write_text('# comment\n'
                    'test.a.A.test_x  # hang: everywhere\n'
                    'py<3.12 test.b.B.test_y  # hang: needs preemption\n'
                    'py>=3.13 test.c.*  # 3.13 only\n')
    assert run_stdlib.load_expected(str(path), (3, 11)) == {
        'test.a.A.test_x': 'hang: everywhere', 'test.b.B.test_y': 'hang: needs preemption'}
    on_313 = run_stdlib.load_expected(str(path), (3, 13))
    assert set(on_313) == {'test.a.A.test_x', 'test.c.*'}
    assert run_stdlib.expected_reason('test.c.C.test_z', on_313) == '3.13 only'
    path.write_text('py~3.12 test.d  # bad\n')
    with pytest.raises(ValueError, match='bad version condition'):
        run_stdlib.load_expected(str(path), (3, 11))


def test_the_report_line_says_run_passed_and_finished_or_where_it_hung():
    done = {'run': 10, 'skipped': 2, 'bad': ['t1', 't2'], 'seconds': 1.5, 'hung': ['t2']}
    assert run_stdlib.describe(done) == \
        'run 10 pass 6 skip 2 finished 1.5s (after leaving out 1 hung: t2)'
    hang = {'hang': True, 'seconds': 60, 'started': ['t1', 't2', 't3'], 'ok': 2}
    assert run_stdlib.describe(hang) == 'HANG (>60s): 3 started, 2 passed; in t3'


def test_patched_only_counts_tests_that_pass_unpatched_and_not_patched():
    un = {'run': 5, 'skipped': 1, 'bad': ['t.env'], 'skipped_ids': ['t.skip']}
    pa = {'run': 5, 'skipped': 2, 'bad': ['t.env', 't.a', 't.hung'], 'skipped_ids': ['t.skip', 't.b']}
    # t.env fails unpatched too and t.skip is skipped either way: no difference of patching.
    assert run_stdlib.patched_only(un, pa) == (['t.a', 't.hung'], ['t.b'])
    assert run_stdlib.patched_only(None, pa) is None
    assert run_stdlib.patched_only(un, {'hang': True, 'seconds': 9}) is None
