"""Settings, read in one place: :data:`config`.

Every tunable of gevent_lite is an attribute of the :data:`config` object:
``config.resolver``, ``config.threadpool_size``, ``config.monitor_thread``,
``config.max_blocking_time`` and so on (:func:`settings` lists them all with their
environment variables and defaults). A value comes from, in order of precedence:

1. assignment in the program: ``config.max_blocking_time = 0.5`` or
   ``config.set(max_blocking_time=0.5, monitor_thread=True)``;
2. the environment variable ``GEVENT_LITE_<NAME>`` (``GEVENT_LITE_MAX_BLOCKING_TIME``);
3. gevent's spelling of the same setting (``GEVENT_MAX_BLOCKING_TIME``,
   ``GEVENT_MONITOR_THREAD_ENABLE``, ``GEVENT_RESOLVER``, ...), so a deployment
   configured for gevent keeps its settings;
4. the default.

The environment is read the first time a setting is used, then cached;
:meth:`Config.reset` forgets assignments and cached values so the environment
is read again. A bad value raises ``ValueError`` naming where it came from, e.g.
``GEVENT_LITE_MAX_BLOCKING_TIME='abc': expected a number of seconds``.

This module imports nothing from gevent_lite: everything may read it, at any floor.
"""

import os
import sys
import types
from typing import Any

__all__ = ['config', 'Config', 'settings']


# --------------------------------------------------------------------------------------
# Parsers: each takes the raw value (a str from the environment, or any object
# assigned in Python) and returns the converted value or raises ValueError with
# a message that completes "NAME=VALUE: ...".

_TRUE = frozenset(('1', 'true', 'yes', 'on', 't', 'y'))
_FALSE = frozenset(('0', 'false', 'no', 'off', 'f', 'n', ''))


def _bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return bool(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
    raise ValueError('expected a boolean (1/0, true/false, yes/no, on/off)')


def _seconds(value):
    if isinstance(value, bool):
        raise ValueError('expected a number of seconds')
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError('expected a number of seconds') from None
    if v != v or v <= 0 or v == float('inf'):
        raise ValueError('expected a positive, finite number of seconds')
    return v


def _seconds_or_never(value):
    """Positive seconds, or a negative number (gevent's -1) for "never": returned as -1.0."""
    if isinstance(value, bool):
        raise ValueError('expected a number of seconds (or -1 for never)')
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError('expected a number of seconds (or -1 for never)') from None
    if v != v or v == 0 or v == float('inf'):
        raise ValueError('expected a positive, finite number of seconds (or -1 for never)')
    return -1.0 if v < 0 else v


def _positive_int(value):
    if isinstance(value, bool):
        raise ValueError('expected a positive integer')
    try:
        v = int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ValueError('expected a positive integer') from None
    if isinstance(value, float) and value != v:
        raise ValueError('expected a positive integer')
    if v < 1:
        raise ValueError('expected a positive integer')
    return v


_BYTE_SUFFIXES = (('kb', 1024), ('mb', 1024 ** 2), ('gb', 1024 ** 3), ('b', 1))


def _bytes_or_none(value):
    """A byte count: an int, or a string like '512MB', '2gb', '1048576'; None disables."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError('expected a number of bytes (e.g. 536870912 or 512MB)')
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ('', 'none', 'off', '0'):
            return None
        mult = 1
        for suffix, m in _BYTE_SUFFIXES:
            if v.endswith(suffix):
                v, mult = v[:-len(suffix)].strip(), m
                break
        try:
            n = int(float(v) * mult)
        except ValueError:
            raise ValueError('expected a number of bytes (e.g. 536870912 or 512MB)') from None
    else:
        try:
            n = int(value)
        except (TypeError, ValueError):
            raise ValueError('expected a number of bytes (e.g. 536870912 or 512MB)') from None
    if n <= 0:
        raise ValueError('expected a positive number of bytes')
    return n


def _choice(*allowed, foreign=(), aliases=None):
    """One of ``allowed``. gevent's comma-separated preference lists are accepted:
    the first entry we know wins; names only gevent has (``foreign``) are skipped.
    ``aliases`` maps other spellings (gevent's dotted class paths) to a name."""
    aliases = aliases or {}

    def parse(value):
        if not isinstance(value, str):
            raise ValueError('expected one of %s' % ', '.join(allowed))
        for item in value.split(','):
            item = item.strip().lower()
            item = aliases.get(item, item)
            if item in allowed:
                return item
            if item not in foreign:
                break
        raise ValueError('expected one of %s' % ', '.join(allowed))
    parse.allowed = allowed
    return parse


# gevent also takes the dotted path of a class for these two settings; the paths
# of its classes (lower-cased, as parse() compares) name our kinds.
_RESOLVER_PATHS = {
    'gevent.resolver.thread.resolver': 'thread', 'gevent.resolver_thread.resolver': 'thread',
    'gevent.resolver.blocking.resolver': 'block',
    'gevent.resolver.ares.resolver': 'ares', 'gevent.resolver_ares.resolver': 'ares',
    'gevent.resolver.dnspython.resolver': 'dnspython',
    'gevent_lite.resolver.resolver': 'thread', 'gevent_lite.resolver.threadresolver': 'thread',
    'gevent_lite.resolver.blockingresolver': 'block',
}
_FILEOBJECT_PATHS = {
    '%s.fileobject.fileobject%s' % (pkg, kind): kind
    for pkg in ('gevent', 'gevent_lite') for kind in ('posix', 'thread', 'block')
}

# --------------------------------------------------------------------------------------
# The table of settings: name -> (parser, default, gevent's environment variable, doc)

_SETTINGS = {
    'resolver': (
        _choice('thread', 'block', foreign=('ares', 'dnspython'), aliases=_RESOLVER_PATHS),
        'thread', 'GEVENT_RESOLVER',
        "DNS resolver: 'thread' (the hub's thread pool) or 'block' (in the calling "
        "greenlet). gevent's preference lists such as 'ares,thread' pick the first "
        "one gevent_lite has; gevent's class paths (gevent.resolver.thread.Resolver) "
        "name the same kinds."),
    'threadpool_size': (
        _positive_int, 10, None,
        'Maximum number of worker threads of each hub thread pool.'),
    'threadpool_idle_task_timeout': (
        _seconds_or_never, 5.0, 'GEVENT_THREADPOOL_IDLE_TASK_TIMEOUT',
        "Seconds an idle worker of a hub's thread pool waits for work before it exits; "
        "-1: never."),
    'fileobject': (
        _choice('posix', 'thread', 'block', aliases=_FILEOBJECT_PATHS), 'posix', 'GEVENT_FILE',
        "Which class gevent_lite.fileobject.FileObject is: 'posix', 'thread' or 'block'."),
    'monitor_thread': (
        _bool, False, 'GEVENT_MONITOR_THREAD_ENABLE',
        'Start the blocking detector (gevent_lite.monitor) with each hub.'),
    'max_blocking_time': (
        _seconds, 0.1, 'GEVENT_MAX_BLOCKING_TIME',
        'Seconds a greenlet may run without switching before the monitor reports it.'),
    'print_blocking_reports': (
        _bool, True, 'GEVENT_MONITOR_PRINT_BLOCKING_REPORTS',
        'Whether the monitor prints its blocking reports (events are sent anyway).'),
    'memory_monitor_period': (
        _seconds, 5.0, 'GEVENT_MONITOR_MEMORY_PERIOD',
        'Seconds between two memory-usage checks of the monitor thread.'),
    'max_memory_usage': (
        _bytes_or_none, None, 'GEVENT_MONITOR_MEMORY_MAX',
        'Resident memory (bytes, or e.g. 512MB) above which the monitor sends '
        'MemoryUsageThresholdExceeded; None disables the check.'),
    'track_greenlet_tree': (
        _bool, True, 'GEVENT_TRACK_GREENLET_TREE',
        'Record which greenlet spawned which (for gevent_lite.util run info).'),
    'preempt_time_slice': (
        _seconds_or_never, 0.01, None,
        'Seconds a green thread (started through the patched threading/_thread, or the '
        'main thread once patch_thread ran) may run without yielding before it is switched '
        'out at its next loop back-edge (gevent_lite.preempt; CPython 3.12+, before 3.12 in '
        'the main thread only); -1: never.'),
    'preempt_greenlets': (
        _bool, False, None,
        'Preempt plain spawned greenlets too, after preempt_time_slice (default: only code '
        'written for threads; a greenlet switches only where it blocks, as in gevent).'),
    'disable_watch_children': (
        _bool, False, 'GEVENT_NOWAITPID',
        'Do not install a SIGCHLD handler for cooperative waitpid.'),
}


def _env_key(name):
    return 'GEVENT_LITE_' + name.upper()


def settings():
    """``[(name, default, [environment variables], doc), ...]`` for every setting."""
    out = []
    for name, (_parse, default, gevent_key, doc) in _SETTINGS.items():
        keys = [_env_key(name)] + ([gevent_key] if gevent_key else [])
        out.append((name, default, keys, doc))
    return out


class Config:
    """The settings object; use the module-level instance :data:`config`.

    Read a setting as an attribute; assign one (or call :meth:`set`) to override
    the environment. Unknown names raise ``AttributeError``.
    """

    def __init__(self, **kwargs):
        object.__setattr__(self, '_values', {})
        if kwargs:
            self.set(**kwargs)

    def __getattr__(self, name):
        # Only called for names not found normally: the settings.
        try:
            spec = _SETTINGS[name]
        except KeyError:
            raise AttributeError('gevent_lite.config has no setting %r (known: %s)'
                                 % (name, ', '.join(sorted(_SETTINGS)))) from None
        values = self._values
        if name in values:
            return values[name]
        value = self._from_environment(name, spec)
        values[name] = value
        return value

    def __setattr__(self, name, value):
        if name not in _SETTINGS:
            raise AttributeError('gevent_lite.config has no setting %r (known: %s)'
                                 % (name, ', '.join(sorted(_SETTINGS))))
        parse = _SETTINGS[name][0]
        if value is None and _SETTINGS[name][1] is None:
            self._values[name] = None
            for hook in on_change:
                hook(name, None)
            return
        try:
            self._values[name] = parse(value)
        except ValueError as ex:
            raise ValueError('config.%s=%r: %s' % (name, value, ex)) from None
        for hook in on_change:
            hook(name, self._values[name])

    def __delattr__(self, name):
        self.reset(name)

    def set(self, **kwargs):
        """Assign several settings at once: ``config.set(monitor_thread=True)``."""
        for name, value in kwargs.items():
            setattr(self, name, value)

    def get(self, name):
        return getattr(self, name)

    def reset(self, name=None):
        """Forget assigned and cached values (of ``name``, or all): re-read the environment."""
        if name is None:
            self._values.clear()
        elif name in _SETTINGS:
            self._values.pop(name, None)
        else:
            raise AttributeError('gevent_lite.config has no setting %r' % (name,))

    def __dir__(self):
        return sorted(set(object.__dir__(self)) | set(_SETTINGS))

    def __repr__(self):
        return '<Config %s>' % ' '.join('%s=%r' % (n, getattr(self, n)) for n in _SETTINGS)

    @staticmethod
    def _from_environment(name, spec):
        parse, default, gevent_key, _doc = spec
        for key in (_env_key(name), gevent_key):
            if key is None:
                continue
            raw = os.environ.get(key)
            if raw is None:
                continue
            if not raw.strip():
                continue     # VAR= (empty) counts as unset, as in a shell
            try:
                return parse(raw)
            except ValueError as ex:
                raise ValueError('%s=%r: %s' % (key, raw, ex)) from None
        return default


#: The one settings object of the process.
config = Config()

#: ``hook(name, value)`` callables run after each assignment to a setting; upper
#: floors act on a change here (gevent_lite starts the monitor when
#: ``monitor_thread`` becomes true) instead of this module importing them.
on_change: list[Any] = []


class _ConfigModule(types.ModuleType):
    """This module, read and assigned as the settings object.

    In gevent, ``gevent.config`` *is* the settings object. Here the package's
    ``config`` attribute is this module (Python binds a submodule to it), so the
    module forwards: ``gevent_lite.config.max_blocking_time = 0.5`` assigns the
    setting, reading a setting reads it, an unknown name raises AttributeError.
    """

    def __getattr__(self, name):
        # Only for names the module itself lacks: the settings (and Config's API).
        if name.startswith('__'):
            raise AttributeError(name)
        return getattr(config, name)

    def __setattr__(self, name, value):
        if name in _SETTINGS:
            setattr(config, name, value)
        elif name.startswith('_') or name in self.__dict__:
            types.ModuleType.__setattr__(self, name, value)
        else:
            # A typo must not be silently ignored: gevent raises here too.
            setattr(config, name, value)

    def __delattr__(self, name):
        if name in _SETTINGS:
            config.reset(name)
        else:
            types.ModuleType.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(types.ModuleType.__dir__(self)) | set(_SETTINGS))


if sys.modules.get(__name__) is not None:     # (not when loaded on its own, by file)
    sys.modules[__name__].__class__ = _ConfigModule
