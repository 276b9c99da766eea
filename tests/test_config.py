import os
import subprocess
import sys

import pytest

from gevent_lite.config import Config, config, settings


@pytest.fixture
def env(monkeypatch):
    for _name, _default, keys, _doc in settings():
        for key in keys:
            monkeypatch.delenv(key, raising=False)
    return monkeypatch


def test_defaults_match_gevent(env):
    c = Config()
    assert c.resolver == 'thread'
    assert c.threadpool_size == 10
    assert c.monitor_thread is False
    assert c.max_blocking_time == 0.1
    assert c.memory_monitor_period == 5.0
    assert c.max_memory_usage is None
    assert c.track_greenlet_tree is True
    assert c.print_blocking_reports is True


def test_keyword_arguments_and_assignment_override(env):
    c = Config(max_blocking_time=0.5, monitor_thread='yes')
    assert c.max_blocking_time == 0.5
    assert c.monitor_thread is True
    c.threadpool_size = '4'
    assert c.threadpool_size == 4
    c.set(resolver='block')
    assert c.resolver == 'block'


def test_gevent_lite_environment_variables_are_read(env):
    env.setenv('GEVENT_LITE_MAX_BLOCKING_TIME', '0.25')
    env.setenv('GEVENT_LITE_MONITOR_THREAD', 'on')
    env.setenv('GEVENT_LITE_THREADPOOL_SIZE', '3')
    env.setenv('GEVENT_LITE_MAX_MEMORY_USAGE', '512MB')
    c = Config()
    assert c.max_blocking_time == 0.25
    assert c.monitor_thread is True
    assert c.threadpool_size == 3
    assert c.max_memory_usage == 512 * 1024 * 1024


def test_gevent_spellings_carry_over(env):
    env.setenv('GEVENT_MAX_BLOCKING_TIME', '2')
    env.setenv('GEVENT_MONITOR_THREAD_ENABLE', 'true')
    env.setenv('GEVENT_RESOLVER', 'ares,block')     # gevent's preference list
    env.setenv('GEVENT_MONITOR_MEMORY_MAX', '1048576')
    c = Config()
    assert c.max_blocking_time == 2.0
    assert c.monitor_thread is True
    assert c.resolver == 'block'
    assert c.max_memory_usage == 1048576


def test_gevents_dotted_class_paths_name_the_same_kinds(env):
    env.setenv('GEVENT_RESOLVER', 'gevent.resolver.blocking.Resolver')
    assert Config().resolver == 'block'
    env.setenv('GEVENT_RESOLVER', 'gevent.resolver.ares.Resolver,gevent.resolver.thread.Resolver')
    assert Config().resolver == 'thread'
    env.setenv('GEVENT_FILE', 'gevent.fileobject.FileObjectThread')
    assert Config().fileobject == 'thread'
    env.setenv('GEVENT_RESOLVER', 'mypackage.MyResolver')
    with pytest.raises(ValueError, match="GEVENT_RESOLVER='mypackage.MyResolver': expected one of"):
        _ = Config().resolver


def test_our_variable_wins_over_gevents(env):
    env.setenv('GEVENT_MAX_BLOCKING_TIME', '2')
    env.setenv('GEVENT_LITE_MAX_BLOCKING_TIME', '3')
    assert Config().max_blocking_time == 3.0


def test_assignment_wins_over_environment_and_reset_rereads_it(env):
    env.setenv('GEVENT_LITE_MAX_BLOCKING_TIME', '3')
    c = Config()
    c.max_blocking_time = 0.2
    assert c.max_blocking_time == 0.2
    c.reset('max_blocking_time')
    assert c.max_blocking_time == 3.0
    env.setenv('GEVENT_LITE_MAX_BLOCKING_TIME', '4')
    assert c.max_blocking_time == 3.0      # cached
    c.reset()
    assert c.max_blocking_time == 4.0


def test_bad_environment_value_names_the_variable(env):
    env.setenv('GEVENT_LITE_MAX_BLOCKING_TIME', 'abc')
    with pytest.raises(ValueError) as info:
        _ = Config().max_blocking_time
    assert str(info.value) == "GEVENT_LITE_MAX_BLOCKING_TIME='abc': expected a number of seconds"


def test_bad_gevent_value_names_the_gevent_variable(env):
    env.setenv('GEVENT_MONITOR_THREAD_ENABLE', 'maybe')
    with pytest.raises(ValueError, match="GEVENT_MONITOR_THREAD_ENABLE='maybe': expected a boolean"):
        _ = Config().monitor_thread
    env.setenv('GEVENT_RESOLVER', 'ares')
    with pytest.raises(ValueError, match="GEVENT_RESOLVER='ares': expected one of thread, block"):
        _ = Config().resolver


@pytest.mark.parametrize('name,value', [
    ('max_blocking_time', -1), ('max_blocking_time', float('nan')), ('max_blocking_time', True),
    ('threadpool_size', 0), ('threadpool_size', 2.5), ('threadpool_size', 'ten'),
    ('resolver', 'dns'), ('monitor_thread', 'perhaps'), ('max_memory_usage', 'lots'),
])
def test_bad_assignment_is_rejected_with_the_setting_name(env, name, value):
    c = Config()
    before = getattr(c, name)
    with pytest.raises(ValueError, match=r'^config\.%s=' % name):
        setattr(c, name, value)
    assert getattr(c, name) == before


def test_unknown_setting_is_an_attribute_error():
    with pytest.raises(AttributeError, match='no setting'):
        _ = config.no_such_setting
    with pytest.raises(AttributeError, match='no setting'):
        config.no_such_setting = 1


def test_settings_lists_both_environment_spellings():
    table = {name: keys for name, _d, keys, _doc in settings()}
    assert table['max_blocking_time'] == ['GEVENT_LITE_MAX_BLOCKING_TIME', 'GEVENT_MAX_BLOCKING_TIME']
    assert table['monitor_thread'] == ['GEVENT_LITE_MONITOR_THREAD', 'GEVENT_MONITOR_THREAD_ENABLE']
    assert table['threadpool_size'] == ['GEVENT_LITE_THREADPOOL_SIZE']


def test_config_module_imports_nothing_from_gevent_lite():
    # Load config.py on its own (not through the package __init__): it must
    # import no other gevent_lite module, so every floor may read it.
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        'gevent_lite', 'config.py')
    code = ('import sys, importlib.util\n'
            'spec = importlib.util.spec_from_file_location("standalone_config", %r)\n'
            'mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n'
            'print(sorted(m for m in sys.modules if m.startswith("gevent_lite")))\n'
            'print(mod.config.max_blocking_time)' % path)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.splitlines()
    assert out[0] == '[]'
    assert float(out[1]) > 0


def test_threadpool_idle_task_timeout_takes_gevents_minus_one_for_never(env):
    env.setenv('GEVENT_THREADPOOL_IDLE_TASK_TIMEOUT', '-1')
    assert Config().threadpool_idle_task_timeout == -1.0
    env.setenv('GEVENT_THREADPOOL_IDLE_TASK_TIMEOUT', '2.5')
    assert Config().threadpool_idle_task_timeout == 2.5
    env.setenv('GEVENT_THREADPOOL_IDLE_TASK_TIMEOUT', '0')
    with pytest.raises(ValueError, match="GEVENT_THREADPOOL_IDLE_TASK_TIMEOUT='0'"):
        _ = Config().threadpool_idle_task_timeout


def test_the_package_attribute_reads_and_assigns_settings_as_gevents_config_object_does():
    import gevent_lite
    cfg = gevent_lite.config
    try:
        cfg.max_blocking_time = 0.25
        assert config.max_blocking_time == 0.25 and cfg.max_blocking_time == 0.25
        with pytest.raises(AttributeError, match='no setting'):
            cfg.no_such_setting = 1
        with pytest.raises(AttributeError, match='no setting'):
            _ = cfg.no_such_setting
        with pytest.raises(ValueError):
            cfg.max_blocking_time = 'abc'
        assert 'max_blocking_time' in dir(cfg)
    finally:
        config.reset('max_blocking_time')


def test_assigning_monitor_thread_true_starts_the_monitor_of_the_running_hub():
    code = ('import gevent_lite\n'
            'hub = gevent_lite.get_hub()\n'
            'assert hub.periodic_monitoring_thread is None\n'
            'gevent_lite.config.monitor_thread = True\n'
            'print(hub.periodic_monitoring_thread is not None)\n')
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env.pop('GEVENT_LITE_MONITOR_THREAD', None)
    env.pop('GEVENT_MONITOR_THREAD_ENABLE', None)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60, env=env)
    assert out.stdout.strip() == 'True', out.stderr
