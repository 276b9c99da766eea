"""``import gevent`` resolved to gevent_lite: what :func:`gevent_lite.install_as_gevent` does.

Libraries written for gevent (gunicorn's ``-k gevent`` worker, Celery's ``-P gevent``
pool, grequests, gevent-websocket) import ``gevent`` and ``gevent.X`` by name. After
:func:`install` those names are gevent_lite's own module objects -- never second
copies, so a class, a hub, a saved original or a patch registry exists once and
``gevent.queue.Queue is gevent_lite.queue.Queue``.

How: ``sys.modules['gevent']`` is the ``gevent_lite`` package; every ``gevent_lite.X``
already imported is entered as ``gevent.X``; and a finder first on ``sys.meta_path``
answers a later ``import gevent.X`` with the module ``gevent_lite.X`` (imported then),
or with "no such module" when gevent_lite has none. A private name (``gevent._config``)
is not mapped: gevent's private modules are not part of the API we mirror.

This is explicit only: importing gevent_lite never shadows an installed gevent.
It sits on the tools floor and touches no hub state.
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys

#: The gevent release whose public API gevent_lite mirrors (and whose own test
#: suite tests/gevent_suite runs): what ``gevent.__version__`` reports once installed.
GEVENT_API_VERSION = '26.9.0'
GEVENT_API_VERSION_INFO = (26, 9, 0, 'final', 0)

_PREFIX = 'gevent.'
_TARGET = 'gevent_lite.'


class GeventVersionInfo(tuple):
    """``gevent.version_info``: ``(major, minor, micro, releaselevel, serial)`` with named fields."""

    __slots__ = ()
    major = property(lambda self: self[0])
    minor = property(lambda self: self[1])
    micro = property(lambda self: self[2])
    releaselevel = property(lambda self: self[3])
    serial = property(lambda self: self[4])


class _AliasLoader(importlib.abc.Loader):
    """Hands the import system the already-made ``gevent_lite.X`` module for ``gevent.X``."""

    def __init__(self, target):
        self.target = target
        self.original_spec = None

    def create_module(self, spec):
        module = importlib.import_module(self.target)
        self.original_spec = module.__spec__
        return module

    def get_code(self, fullname):
        # ``python -m gevent.X`` (runpy) runs gevent_lite.X's code as __main__.
        spec = importlib.util.find_spec(self.target)
        return spec.loader.get_code(self.target)

    def is_package(self, fullname):
        spec = importlib.util.find_spec(self.target)
        return spec.submodule_search_locations is not None

    def exec_module(self, module):
        # The import system stamped the alias spec on the module between create and
        # exec (it always does); the module keeps its own, so reload() and -m still
        # see gevent_lite's name and file.
        module.__spec__ = self.original_spec
        # Modules the target imported become gevent.X as well. (Not earlier: an
        # entry for this very name made during the search would make the import
        # system load a second copy from the entry's spec.)
        _enter_imported()


class _AliasFinder(importlib.abc.MetaPathFinder):
    """First on ``sys.meta_path``: ``gevent.X`` -> the module ``gevent_lite.X``.

    Without it the path finder would find ``gevent_lite/X.py`` again under the name
    ``gevent.X`` (the alias package's ``__path__`` is gevent_lite's folder) and run it
    a second time: two Queue classes, two hubs' worth of module state.
    """

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(_PREFIX):
            return None
        rest = fullname[len(_PREFIX):]
        if any(part.startswith('_') for part in rest.split('.')):
            return None
        name = _TARGET + rest
        if name in sys.modules:
            spec = sys.modules[name].__spec__
        else:
            try:
                spec = importlib.util.find_spec(name)
            except ImportError:
                spec = None
        if spec is None:
            # Not ours to provide; later finders would look in gevent_lite's folder
            # under the gevent name and find nothing there either.
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(name), is_package=spec.parent == name)


_finder = _AliasFinder()


def _enter_imported():
    # gevent_lite.X imported by gevent_lite itself (gevent.pool imports .event) is
    # entered as gevent.X too, so `'gevent.event' in sys.modules` tells the truth.
    for name, module in list(sys.modules.items()):
        if name.startswith(_TARGET) and module is not None and '._' not in name:
            sys.modules.setdefault(_PREFIX + name[len(_TARGET):], module)


def install():
    """Make ``import gevent`` and ``import gevent.X`` give gevent_lite's modules.

    Idempotent. Raises :class:`RuntimeError` when a real gevent was imported first
    (its modules and hub would then coexist with ours).
    """
    import gevent_lite
    current = sys.modules.get('gevent')
    if current is not None and current is not gevent_lite:
        raise RuntimeError(
            'install_as_gevent(): gevent is already imported (%s); call it before anything '
            'imports gevent' % (getattr(current, '__file__', None) or current,))
    gevent_lite.__version__ = GEVENT_API_VERSION
    gevent_lite.version_info = GeventVersionInfo(GEVENT_API_VERSION_INFO)
    sys.modules['gevent'] = gevent_lite
    _enter_imported()
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def is_installed() -> bool:
    """True when ``import gevent`` gives gevent_lite."""
    import gevent_lite
    return sys.modules.get('gevent') is gevent_lite
