"""The benchmark harness (benchmarks/run.py) runs each core case and catches cases that cheat.

Every measurement here is a real subprocess, as in a real run; sizes are tiny so
the whole file stays fast. Only gevent_lite (and raw greenlet) are measured, so
it runs on interpreters without gevent/eventlet too.
"""

import importlib.util
import json
import os
import sys
import textwrap
import time

import pytest

BENCH_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'benchmarks')


def _load(name):
    spec = importlib.util.spec_from_file_location('_test_bench_' + name, os.path.join(BENCH_DIR, name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = _load('run')
render = _load('render')

CORE = run.discover([os.path.join(BENCH_DIR, 'bench_core.py')])
CORE_BY_NAME = {c.name: c for c in CORE}
TINY = {'switch': 2000, 'sleep0': 300, 'spawn': 300, 'timers': 100, 'memory': 100}

BROKEN = textwrap.dedent('''
    import time

    def honest(n):
        return 1.5 * n, n

    def skips_one(n):
        return 1.0, n - 1

    def no_count(n):
        return 1.0

    def crashes(n):
        raise RuntimeError('boom in the case')

    def hangs(n):
        time.sleep(60)
        return 1.0, n

    def nan_value(n):
        return float('nan'), n

    CASES = [
        dict(name='honest', description='does its work', unit='ops/s', higher_is_better=True,
             n=10, quick_n=4, impls={'lite': honest, 'gevent': honest}),
        dict(name='broken', description='misbehaves', unit='ops/s', higher_is_better=True, n=10,
             impls={'skips': skips_one, 'nocount': no_count, 'crashes': crashes,
                    'hangs': hangs, 'nan': nan_value}),
        dict(name='command', description='an external script', unit='ops/s', higher_is_better=True,
             n=7, impls={'lite': ['{python}', '-c', 'print("noise"); print(\\'{"value": 2.0, "done": {n}}\\')'],
                         'gevent': ['{python}', '-c', 'print(\\'{"value": 2.0, "done": 1}\\')']}),
    ]
''')


@pytest.fixture
def broken_dir(tmp_path):
    (tmp_path / 'bench_fake.py').write_text(BROKEN)
    (tmp_path / 'not_a_bench.py').write_text('raise SystemExit("must not be imported")\n')
    return str(tmp_path)


def test_core_module_declares_the_core_cases_with_lite():
    assert set(CORE_BY_NAME) == {'switch', 'sleep0', 'sleep0_monitor', 'spawn', 'timers', 'memory'}
    assert {'lite', 'lite_monitor', 'gevent', 'gevent_monitor'} <= set(CORE_BY_NAME['sleep0_monitor'].impls)
    assert set(CORE_BY_NAME['switch'].impls) == {'greenlet'}
    for name in ('sleep0', 'spawn', 'timers', 'memory'):
        assert {'lite', 'gevent', 'eventlet', 'asyncio'} <= set(CORE_BY_NAME[name].impls)


def test_core_cases_have_the_uvloop_anchor_wherever_they_have_asyncio():
    for case in CORE:
        if 'asyncio' in case.impls:
            assert 'uvloop' in case.impls, case.name
    # spawn + join sits beside its physical limit: a raw greenlet created, run, finished.
    assert 'greenlet' in CORE_BY_NAME['spawn'].impls
    assert CORE_BY_NAME['spawn'].target == '>= 0.8x greenlet'


def test_raw_greenlet_create_run_finish_case_runs_every_greenlet_to_the_end():
    case = CORE_BY_NAME['spawn']
    m = run.measure(case, 'greenlet', 500, timeout=60)
    assert m.ok, m.error
    assert m.done == 500 and m.value > 0


@pytest.mark.parametrize('name', ['sleep0', 'spawn', 'timers', 'memory'])
def test_uvloop_anchor_case_runs_and_passes_its_self_check(name):
    pytest.importorskip('uvloop')
    case = CORE_BY_NAME[name]
    n = TINY[name]
    m = run.measure(case, 'uvloop', n, timeout=60)
    assert m.ok, m.error
    assert m.done == case.expected(n) and m.value > 0


def test_loading_case_modules_imports_no_implementation():
    # The harness process must stay clean: each implementation is imported only in
    # its own measurement subprocess.
    code = ('import sys; sys.path.insert(0, %r); import run; run.discover(); '
            'bad = [m for m in ("gevent", "eventlet", "gevent_lite", "asyncio") if m in sys.modules]; '
            'print(bad)' % BENCH_DIR)
    import subprocess
    out = subprocess.run([sys.executable, '-c', code], stdout=subprocess.PIPE, timeout=60,
                         text=True).stdout
    assert out.strip().splitlines()[-1] == '[]'


@pytest.mark.parametrize('name', sorted(TINY))
def test_core_case_runs_for_gevent_lite_and_passes_its_self_check(name):
    case = CORE_BY_NAME[name]
    impl = 'greenlet' if name == 'switch' else 'lite'
    n = TINY[name]
    m = run.measure(case, impl, n, timeout=60)
    assert m.ok, m.error
    assert m.done == case.expected(n)
    if case.higher_is_better:
        assert m.value > 0
    elif name == 'timers':
        assert -0.01 < m.value < 5     # overhead in seconds: wall time minus the longest sleep
    else:
        assert m.value < 1024           # KB per parked greenlet: below a megabyte


def test_case_that_did_not_do_all_its_work_is_an_error(broken_dir):
    case = {c.name: c for c in run.discover([broken_dir])}['broken']
    m = run.measure(case, 'skips', 10, timeout=30)
    assert not m.ok
    assert 'did not do its work' in m.error and 'done=9' in m.error


def test_case_without_work_count_crash_or_nan_is_an_error(broken_dir):
    case = {c.name: c for c in run.discover([broken_dir])}['broken']
    assert 'no work count' in run.measure(case, 'nocount', 10, timeout=30).error
    assert 'boom in the case' in run.measure(case, 'crashes', 10, timeout=30).error
    assert 'bad value' in run.measure(case, 'nan', 10, timeout=30).error


def test_hanging_case_is_killed_at_the_timeout_and_reported(broken_dir):
    case = {c.name: c for c in run.discover([broken_dir])}['broken']
    t0 = time.monotonic()
    m = run.measure(case, 'hangs', 10, timeout=1)
    assert time.monotonic() - t0 < 10
    assert not m.ok and 'timed out' in m.error


def test_command_case_is_checked_like_a_callable_case(broken_dir):
    case = {c.name: c for c in run.discover([broken_dir])}['command']
    good = run.measure(case, 'lite', 7, timeout=30)
    assert good.ok, good.error
    assert (good.value, good.done) == (2.0, 7)
    bad = run.measure(case, 'gevent', 7, timeout=30)
    assert not bad.ok and 'did not do its work' in bad.error


def test_rounds_interleave_implementations_and_summary_has_ratio(broken_dir):
    cases = [c for c in run.discover([broken_dir]) if c.name == 'honest']
    order = []
    data = run.run_cases(cases, rounds=2, quick=True, log=order.append)
    assert [line.split()[1:4] for line in order] == [
        ['1', 'lite', '6.000'], ['1', 'gevent', '6.000'], ['2', 'lite', '6.000'], ['2', 'gevent', '6.000']]
    res = data['cases'][0]['results']
    assert data['cases'][0]['n'] == 4               # quick_n
    assert res['lite']['samples'] == [6.0, 6.0]
    assert res['lite']['ratio'] == 1.0 and res['lite']['min'] == res['lite']['max'] == 6.0


def test_cli_writes_json_renders_tables_and_fails_loudly_on_errors(broken_dir, tmp_path, capsys):
    out = str(tmp_path / 'r.json')
    rc = run.main(['--bench-dir', broken_dir, '--cases', 'honest,broken', '--impl', 'lite,gevent,skips',
                   '--rounds', '1', '--json', out, '--quiet', '--timeout', '30'])
    printed = capsys.readouterr().out
    assert rc == 1                                   # 'broken/skips' failed its check
    assert 'ERROR: did not do its work' in printed
    with open(out) as f:
        data = json.load(f)
    assert [c['name'] for c in data['cases']] == ['honest', 'broken']
    md = render.render(data, 'md')
    assert '| does its work | ops/s ↑ | 15.0 (1.00×) | 15.0 |' in md
    assert 'ERROR' in md
    rst = render.render(data, 'rst')
    assert rst.startswith('.. list-table::') and '     - ERROR' in rst


def test_cli_rejects_unknown_case_and_implementation_names(broken_dir, capsys):
    with pytest.raises(SystemExit):
        run.main(['--bench-dir', broken_dir, '--cases', 'nosuchcase'])
    assert 'unknown case(s) nosuchcase' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.main(['--bench-dir', broken_dir, '--impl', 'nosuchimpl'])
    assert 'unknown implementation(s) nosuchimpl' in capsys.readouterr().err


def test_malformed_case_spec_is_rejected_with_a_clear_message(tmp_path):
    (tmp_path / 'bench_bad.py').write_text("CASES = [dict(name='x', unit='s', impls={})]\n")
    with pytest.raises(ValueError, match='lacks description, higher_is_better'):
        run.discover([str(tmp_path)])


@pytest.mark.parametrize('target, lite, met', [
    ('>= gevent', 106, True), ('>= gevent', 90, False), ('<= gevent', 73, True),
    ('>= 1.2x gevent', 110, False), ('>= 0.8x gevent', 85, True), ('fast', 200, None),
    ('>= 1.2x gevent_nodelay', 130, True), ('>= eventlet', 100, None)])
def test_target_met_compares_lite_with_the_named_implementation(target, lite, met):
    entry = {'target': target, 'results': {'lite': {'median': lite}, 'gevent': {'median': 100},
                                           'gevent_nodelay': {'median': 105}}}
    assert run.target_met(entry) is met


def test_time_budget_cuts_slow_cases_to_two_rounds(tmp_path):
    (tmp_path / 'bench_slow.py').write_text(textwrap.dedent('''
        import time
        def slow(n):
            time.sleep(0.3)
            return 1.0, n
        CASES = [dict(name='slow', description='slow', unit='s', higher_is_better=False, n=1,
                      impls={'lite': slow})]
    '''))
    data = run.run_cases(run.discover([str(tmp_path)]), rounds=5, budget=0.1)
    entry = data['cases'][0]
    assert entry['rounds'] == 2 and len(entry['results']['lite']['samples']) == 2
    assert '2 round(s)' in run.format_table(entry)


def test_quick_rounds_caps_a_steady_case_in_quick_mode_only(tmp_path):
    (tmp_path / 'bench_steady.py').write_text(textwrap.dedent('''
        def steady(n):
            return 4.0, n
        CASES = [dict(name='steady', description='steady', unit='KB', higher_is_better=False, n=3,
                      quick_rounds=1, impls={'lite': steady})]
    '''))
    cases = run.discover([str(tmp_path)])
    assert run.run_cases(cases, rounds=3, quick=True)['cases'][0]['rounds'] == 1
    assert run.run_cases(cases, rounds=3, quick=False)['cases'][0]['rounds'] == 3


def test_name_only_case_module_runs_per_case_and_its_ok_flag_is_checked(tmp_path):
    # The shape of bench_primitives.py: CASES are names, case_<name>(api, n) -> (rate, ok).
    (tmp_path / 'bench_named.py').write_text(textwrap.dedent('''
        IMPLS = ('gevent_lite', 'gevent')
        CASES = ('good', 'bad')
        UNITS = {'good': 'items/s'}
        def _api(impl):
            return {'impl': impl}
        def case_good(api, n):
            return (10.0 if api['impl'] == 'gevent_lite' else 5.0), True
        def case_bad(api, n):
            return 1.0, False
    '''))
    cases = {c.name: c for c in run.discover([str(tmp_path)])}
    assert set(cases['good'].impls) == {'lite', 'gevent'}
    assert cases['good'].unit == 'items/s'
    good = run.measure(cases['good'], 'lite', 50, timeout=30)
    assert good.ok and (good.value, good.done) == (10.0, 50)
    bad = run.measure(cases['bad'], 'gevent', 50, timeout=30)
    assert not bad.ok and 'did not do its work' in bad.error


def test_every_bench_module_in_the_checkout_loads_into_cases():
    cases = run.discover()
    names = [c.name for c in cases]
    assert len(names) == len(set(names))
    assert {'switch', 'sleep0', 'spawn', 'timers', 'memory'} <= set(names)
    for c in cases:
        assert c.impls and c.unit and c.description


@pytest.mark.parametrize('name', ['queue', 'event', 'pool_map', 'echo_50x64', 'aio_await_done',
                                  'aio_await_sleep0'])
def test_checkout_case_runs_for_gevent_lite_through_the_harness(name):
    # Each non-core case of the checkout, at a tiny size, through run.py's own
    # measurement path: a change in a case module's result format fails here, not
    # in the middle of a benchmark run.
    case = {c.name: c for c in run.discover()}[name]
    n = 200 if name.startswith('echo') else 1000
    m = run.measure(case, 'lite', n, timeout=120)
    assert m.ok, m.error
    assert m.done == case.expected(n) and m.value > 0


@pytest.mark.parametrize('impl', ['asyncio', 'uvloop'])
def test_echo_anchor_servers_echo_every_byte_through_the_harness(impl):
    if impl == 'uvloop':
        pytest.importorskip('uvloop')
    case = {c.name: c for c in run.discover()}['echo_50x64']
    m = run.measure(case, impl, 200, timeout=120)
    assert m.ok, m.error
    assert m.done == 200 and m.value > 0


@pytest.mark.parametrize('impl, modules', [('uvicorn', ('uvicorn', 'uvloop', 'httptools')),
                                           ('waitress', ('waitress',))])
def test_http_anchor_servers_answer_the_hello_body_over_keep_alive(impl, modules):
    # The wrk numbers are only worth comparing if every anchor serves the same
    # response; check_response reads it twice on one keep-alive connection.
    for name in modules:
        pytest.importorskip(name)
    bench_wsgi = _load('bench_wsgi')
    proc, port = bench_wsgi.start_server(impl)
    try:
        assert bench_wsgi.check_response(port) is None
    finally:
        bench_wsgi.stop_server(proc)


def test_monitor_case_runs_with_the_monitor_thread_started():
    m = run.measure(CORE_BY_NAME['sleep0_monitor'], 'lite_monitor', 300, timeout=60)
    assert m.ok, m.error
    assert m.done == 600 and m.value > 0


count_instructions = _load('count_instructions')


@pytest.mark.parametrize('case', count_instructions.CASES)
def test_instruction_count_workload_does_its_work_for_gevent_lite(case):
    # The workload asserts that it did n units; run it plainly (no valgrind) here.
    import subprocess
    env = dict(os.environ, PYTHONPATH=os.path.dirname(BENCH_DIR))
    proc = subprocess.run([sys.executable, '-c', count_instructions.WORKLOAD, 'lite', case, '200']
                          + count_instructions.workload_extra(case),
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_instruction_count_raw_greenlet_workload_runs_spawn_only():
    # The floor under any library's spawn: raw greenlets created, run and finished.
    import subprocess
    proc = subprocess.run([sys.executable, '-c', count_instructions.WORKLOAD, 'greenlet', 'spawn', '200'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([sys.executable, '-c', count_instructions.WORKLOAD, 'greenlet', 'sleep0', '200'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and 'only the spawn case' in proc.stderr


def test_instruction_count_grows_with_the_work_and_gives_a_per_unit_cost():
    import shutil
    if shutil.which('valgrind') is None:
        pytest.skip('valgrind is not installed (apt-get install valgrind)')
    small = count_instructions.count('lite', 'sleep0', 50)
    large = count_instructions.count('lite', 'sleep0', 550)
    assert large > small > 0
    per_unit = (large - small) / 500
    # A sleep(0) pair is thousands of instructions (two greenlet switches each), not 0
    # and not millions: the difference measures the work, not the start-up.
    assert 2_000 < per_unit < 500_000, per_unit


def test_instruction_count_cli_rejects_unknown_names(capsys):
    import shutil
    if shutil.which('valgrind') is None:
        pytest.skip('valgrind is not installed (apt-get install valgrind)')
    with pytest.raises(SystemExit):
        count_instructions.main(['--cases', 'nope'])
    assert 'unknown case' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        count_instructions.main(['--sizes', '10,5'])


bench_idle = _load('bench_idle')
IDLE = {c.name: c for c in run.discover([os.path.join(BENCH_DIR, 'bench_idle.py')])}


@pytest.mark.parametrize('name', ['idle_stream', 'idle_http'])
def test_idle_connections_case_holds_every_connection_open_and_reports_server_memory(name):
    # 300 connections (three batches): every one got its answer and was still open
    # when the server's RSS was read; KB per connection is positive and sane.
    case = IDLE[name]
    m = run.measure(case, 'lite', 300, timeout=120)
    assert m.ok, m.error
    assert m.done == 300
    assert 0 < m.value < 1024


def test_idle_connections_case_says_when_the_descriptor_limit_is_too_low():
    import resource
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip('no hard limit on file descriptors here')
    with pytest.raises(RuntimeError, match='hard limit is %d' % hard):
        bench_idle.measure('stream', 'lite', hard + 1000)


charts = _load('charts')


def _chart_data():
    def row(median):
        return {'samples': [median], 'errors': [], 'median': median, 'min': median * 0.9,
                'max': median * 1.1, 'ratio': None, 'n': 1}
    cases = [{'name': 'spawn', 'description': 'spawn + join', 'unit': 'greenlets/s', 'higher_is_better': True,
              'target': '>= 0.8x greenlet',
              'results': {'greenlet': row(160e3), 'lite': row(100e3),
                          'gevent': {'samples': [], 'errors': ['boom'], 'n': 1, 'ratio': None}}}]
    for conns, lite in ((50, 140e3), (1000, 70e3), (5000, 60e3)):
        cases.append({'name': 'echo_%dx64' % conns, 'description': 'echo %d' % conns, 'unit': 'req/s',
                      'higher_is_better': True, 'target': '>= uvloop',
                      'results': {'lite': row(lite), 'uvloop': row(lite * 0.9)}})
    return {'meta': {'python': '3.11', 'cpus': 2, 'rounds': 1, 'quick': True, 'commit': 'abc', 'date': 'x'},
            'cases': cases}


def test_charts_command_draws_bars_and_the_connections_line_from_run_json(tmp_path):
    pytest.importorskip('matplotlib')
    src = tmp_path / 'r.json'
    src.write_text(json.dumps(_chart_data()))
    assert charts.main([str(src), '--out', str(tmp_path / 'a')]) == 0
    assert charts.main([str(src), '--out', str(tmp_path / 'b')]) == 0
    for name in ('bench_cases.png', 'bench_echo_conns.png'):
        first = (tmp_path / 'a' / name).read_bytes()
        assert first.startswith(b'\x89PNG\r\n\x1a\n') and len(first) > 10_000
        # No date in the file: the same numbers give the same bytes (no churn in git).
        assert first == (tmp_path / 'b' / name).read_bytes()


def test_echo_cases_give_the_line_chart_six_connection_counts_and_only_targeted_ones_get_bars():
    echo = {c.name: c for c in run.discover() if c.name.startswith('echo_') and c.name.endswith('x64')}
    conns = sorted(int(name[5:-3]) for name in echo)
    assert conns == [50, 200, 500, 1000, 2000, 5000]
    for name, case in echo.items():
        targeted = name in ('echo_50x64', 'echo_1000x64', 'echo_5000x64')
        assert (case.target == '>= uvloop') is targeted
        # The extra points run one round in --quick (the quick run stays short).
        assert (case.quick_rounds is None) is targeted
    data = _chart_data()
    data['cases'].append({'name': 'echo_200x64', 'description': 'echo 200', 'unit': 'req/s',
                          'higher_is_better': True, 'target': '',
                          'results': {'lite': data['cases'][1]['results']['lite']}})
    assert [c['name'] for c in charts.bar_cases(data)] == ['spawn', 'echo_50x64', 'echo_1000x64',
                                                            'echo_5000x64']


def test_line_chart_without_echo_cases_is_a_clear_error(tmp_path):
    pytest.importorskip('matplotlib')
    data = _chart_data()
    data['cases'] = data['cases'][:1]
    with pytest.raises(ValueError, match='no echo_<C>x64 case'):
        charts.echo_line_chart(data, str(tmp_path / 'x.png'))


def test_performance_page_shows_the_checked_in_charts():
    docs = os.path.join(os.path.dirname(BENCH_DIR), 'docs')
    page = open(os.path.join(docs, 'performance.rst'), encoding='utf-8').read()
    for name in ('bench_cases.png', 'bench_echo_conns.png'):
        assert 'images/' + name in page
        with open(os.path.join(docs, 'images', name), 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'


count_asyncio_bridge = _load('count_asyncio_bridge')


@pytest.mark.parametrize('case', count_asyncio_bridge.CASES)
def test_asyncio_bridge_instruction_workload_does_its_work(case):
    # The workload asserts that it did n units; run it plainly (no valgrind) here.
    import subprocess
    env = dict(os.environ, PYTHONPATH=os.path.dirname(BENCH_DIR))
    proc = subprocess.run([sys.executable, '-c', count_asyncio_bridge.WORKLOAD, case, '200'],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_asyncio_bridge_round_trip_is_counted_per_unit():
    import shutil
    if shutil.which('valgrind') is None:
        pytest.skip('valgrind is not installed (apt-get install valgrind)')
    per_unit = (count_asyncio_bridge.count('rt', 300) - count_asyncio_bridge.count('rt', 100)) / 200
    # A round trip is a task, switches and hub wake-ups: tens of thousands of
    # instructions, not 0 and not millions.
    assert 10_000 < per_unit < 2_000_000, per_unit
