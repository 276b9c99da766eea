"""What gevent's own test helpers need to import, in a child run on gevent_lite.

``install(real_gevent_dir)`` (called first thing in the child, see run_gevent_suite.py):

* ``gevent_lite.install_as_gevent()``: ``import gevent`` / ``gevent.X`` are gevent_lite's;
* ``gevent.testing*`` and ``gevent.tests*`` load from the installed gevent's own files
  (a finder ahead of the alias finder);
* gevent's *private* modules that ``gevent.testing`` imports get a stand-in here,
  not in the library: ``gevent._compat`` and ``gevent._util`` are gevent's own
  pure-Python files (stdlib only), the rest (``_hub_local``, ``_config``, ``core``)
  are the few names the helpers call, mapped onto gevent_lite's hub.

Nothing here changes what a test checks: the helpers get hold of the hub, the
clock and a few constants; the assertions are gevent's.
"""

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types

#: gevent's pure-Python private files the helpers import; loaded from gevent's folder.
OWN_FILES = ('_compat', '_util')


class _RealGeventFiles(importlib.abc.MetaPathFinder):
    """gevent.testing*, gevent.tests* and OWN_FILES from the installed gevent's folder."""

    def __init__(self, root):
        self.root = root

    def find_spec(self, fullname, path=None, target=None):
        parts = fullname.split('.')
        # (``from gevent import _compat`` asks for ``gevent_lite._compat``: the
        # package's __name__ is gevent_lite's.)
        if parts[0] not in ('gevent', 'gevent_lite') or len(parts) < 2:
            return None
        if parts[1] not in ('testing', 'tests') and not (len(parts) == 2 and parts[1] in OWN_FILES):
            return None
        base = os.path.join(self.root, *parts[1:])
        if os.path.isdir(base):
            return importlib.util.spec_from_file_location(
                fullname, os.path.join(base, '__init__.py'), submodule_search_locations=[base])
        if os.path.exists(base + '.py'):
            return importlib.util.spec_from_file_location(fullname, base + '.py')
        return None


def _module(name, **attrs):
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    sys.modules[name] = sys.modules['gevent_lite' + name[len('gevent'):]] = mod
    parent, _, child = name.rpartition('.')
    if not hasattr(sys.modules[parent], child):   # (gevent_lite has a global _config)
        setattr(sys.modules[parent], child, mod)
    return mod


def _validate_bool(value):
    # gevent.testing.util reads GEVENTTEST_* switches through this.
    if isinstance(value, str):
        value = value.lower().strip()
        if value in ('1', 'true', 'on', 'yes'):
            return True
        if value in ('0', 'false', 'off', 'no', ''):
            return False
        raise ValueError('Invalid boolean string: %r' % (value,))
    return bool(value)


def install(real_gevent_dir):
    import gevent_lite
    gevent_lite.install_as_gevent()
    sys.meta_path.insert(0, _RealGeventFiles(real_gevent_dir))
    import gevent.hub as hub

    get_hub_if_exists = hub.get_hub_if_exists

    def get_hub_class():
        return hub.Hub

    if not hasattr(hub, '_get_hub'):
        hub._get_hub = get_hub_if_exists
    _module('gevent._hub_local', get_hub_if_exists=get_hub_if_exists, get_hub_class=get_hub_class,
            get_hub=hub.get_hub, get_hub_noargs=hub.get_hub, set_default_hub_class=hub.set_default_hub_class)
    _module('gevent._config', validate_bool=_validate_bool)
    # test__all__ looks up each module's stdlib counterpart here (gevent's table).
    _module('gevent._patcher', MAPPING={
        'gevent.local': '_threading_local', 'gevent.socket': 'socket', 'gevent.select': 'select',
        'gevent.selectors': 'selectors', 'gevent.ssl': 'ssl', 'gevent.thread': '_thread',
        'gevent.subprocess': 'subprocess', 'gevent.os': 'os', 'gevent.threading': 'threading',
        'gevent.builtins': 'builtins', 'gevent.signal': 'signal', 'gevent.time': 'time',
        'gevent.queue': 'queue', 'gevent.contextvars': 'contextvars'})

    class _PrivateClass:
        """A class of gevent's private file machinery; the tests that use it fail (listed)."""

        def __init__(self, *args, **kwargs):
            raise NotImplementedError("gevent's private %s has no counterpart in gevent_lite" % type(self).__name__)

    # test__fileobject imports these at the top; only TestOpenDescriptor and one
    # isinstance check use them.
    _module('gevent._fileobjectcommon', OpenDescriptor=type('OpenDescriptor', (_PrivateClass,), {}),
            WriteallMixin=type('WriteallMixin', (_PrivateClass,), {}))

    def _normalize_exception(self, t, v, tb):
        # gevent.testing's QuietHub calls this private Hub helper.
        if (t, v, tb) == (None, None, None):
            t, v, tb = sys.exc_info()
        if isinstance(v, str):
            v = t(v)
        return t, v, tb

    if not hasattr(hub.Hub, '_normalize_exception'):
        hub.Hub._normalize_exception = _normalize_exception

    class callback:
        """What gevent.testing.leakcheck counts as a loop callback; ours are plain lists."""

    # gevent.testing.sysinfo tells libuv from libev by this class's module: neither.
    loop_type = getattr(hub, 'Loop', None) or type('loop', (), {'__module__': 'gevent_lite.hub'})
    _module('gevent.core', loop=loop_type, callback=callback)
