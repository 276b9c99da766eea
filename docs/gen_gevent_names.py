"""Write docs/gevent_names.rst: gevent's public names, each present, absent or different in gevent_lite.

    python docs/gen_gevent_names.py            # regenerate the page from gevent_lite itself
    python docs/gen_gevent_names.py --check    # exit 1 if the page is out of date
    python docs/gen_gevent_names.py --record   # re-record gevent's names from the installed gevent

gevent's names come from docs/_data/gevent_public_names.txt (recorded from the real
gevent's ``__all__`` lists, leaving out a green module's re-exports of the stdlib's own
objects). Whether gevent_lite has each name is looked up in gevent_lite itself, so the
page cannot drift: tests/test_docs.py regenerates it and compares. :data:`NOTES` says why
a name is absent or behaves differently.
"""

import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, '_data', 'gevent_public_names.txt')
PAGE = os.path.join(HERE, 'gevent_names.rst')

#: gevent's public modules whose names are recorded.
MODULES = [
    'gevent', 'gevent.backdoor', 'gevent.baseserver', 'gevent.event', 'gevent.events', 'gevent.exceptions',
    'gevent.fileobject', 'gevent.greenlet', 'gevent.hub', 'gevent.local', 'gevent.lock', 'gevent.monkey',
    'gevent.os', 'gevent.pool', 'gevent.pywsgi', 'gevent.queue', 'gevent.resolver.thread',
    'gevent.resolver.blocking', 'gevent.select', 'gevent.selectors', 'gevent.server', 'gevent.signal',
    'gevent.socket', 'gevent.ssl', 'gevent.subprocess', 'gevent.thread', 'gevent.threading',
    'gevent.threadpool', 'gevent.time', 'gevent.timeout', 'gevent.util',
]
_STDLIB = {'gevent.socket': 'socket', 'gevent.ssl': 'ssl', 'gevent.select': 'select',
           'gevent.selectors': 'selectors', 'gevent.subprocess': 'subprocess', 'gevent.os': 'os',
           'gevent.signal': 'signal', 'gevent.thread': '_thread', 'gevent.threading': 'threading',
           'gevent.time': 'time'}

_ZOPE = ('a zope.interface interface, implemented by the event class, when zope.interface is '
         'installed (gevent requires it, gevent_lite does not); a plain marker class otherwise')

#: ``'module name'`` (or ``'module *'`` for every name of a module) -> why it is absent
#: or different. A present name with a note is listed as "different".
NOTES = {
    'gevent.events IEventLoopBlocked': _ZOPE,
    'gevent.events IGeventDidPatchAllEvent': _ZOPE,
    'gevent.events IGeventDidPatchBuiltinModulesEvent': _ZOPE,
    'gevent.events IGeventDidPatchEvent': _ZOPE,
    'gevent.events IGeventDidPatchModuleEvent': _ZOPE,
    'gevent.events IGeventPatchEvent': _ZOPE,
    'gevent.events IGeventWillPatchAllEvent': _ZOPE,
    'gevent.events IGeventWillPatchEvent': _ZOPE,
    'gevent.events IGeventWillPatchModuleEvent': _ZOPE,
    'gevent.events IMemoryUsageThresholdExceeded': _ZOPE,
    'gevent.events IMemoryUsageUnderThreshold': _ZOPE,
    'gevent.events IPeriodicMonitorThread': _ZOPE,
    'gevent.events IPeriodicMonitorThreadStartedEvent': _ZOPE,
    'gevent.hub kill': 'at the top level (gevent_lite.kill): the hub module sits below greenlets',
    'gevent.hub signal': 'gevent_lite.signal_handler (gevent.hub.signal is its old name)',
    'gevent.hub spawn_raw': 'at the top level (gevent_lite.spawn_raw): the hub module sits below greenlets',
    'gevent.monkey patch_builtins': 'a Python 2 import-lock workaround; nothing to patch on Python 3',
    'gevent.subprocess _USE_POSIX_SPAWN': "a private name in gevent's __all__",
    'gevent.subprocess _fork_exec': "a private name in gevent's __all__",
    'gevent.subprocess _posixsubprocess': "a private name in gevent's __all__",
    'gevent.subprocess _use_posix_spawn': "a private name in gevent's __all__",
    'gevent.threading LazyOnClass': "an internal helper listed in gevent's __all__",
    'gevent.threading PY313': "an internal flag listed in gevent's __all__",
    'gevent.threading os': "a module listed in gevent's __all__",
    'gevent.threading sys': "a module listed in gevent's __all__",
    'gevent.threading getcurrent': 'greenlet.getcurrent (also gevent_lite.getcurrent)',
    'gevent.threading main_native_thread': 'threading.main_thread() is the native main thread',
    'gevent.threading RLock': 'patch_thread makes threading.RLock green through gevent_lite.thread',
    'gevent.threading Thread': "patch_thread makes threading.Thread green through _thread's functions",
    'gevent.threading Timer': 'threading.Timer is green once threading.Thread is',
    'gevent.threading allocate_lock': 'gevent_lite.thread.allocate_lock',
    'gevent.threading start_new_thread': 'gevent_lite.thread.start_new_thread',
    'gevent.threading start_joinable_thread': 'gevent_lite.thread.start_joinable_thread (3.13)',
    'gevent.config': ('the module gevent_lite.config, which reads and assigns the settings as gevent\'s '
                      'Config object does; gevent\'s setting classes (ImportableSetting ...) are private'),
    'gevent.select select': 'answers what the OS said after one fairness yield, as gevent does',
}


def record():
    """``['module name', ...]`` from the installed (real) gevent."""
    lines = []
    for m in MODULES:
        mod = importlib.import_module(m)
        if getattr(mod, '__file__', '') and 'gevent_lite' in mod.__file__:
            raise SystemExit('record from the real gevent, not with install_as_gevent() active')
        names = getattr(mod, '__all__', None) or [n for n in dir(mod) if not n.startswith('_')]
        std = importlib.import_module(_STDLIB[m]) if m in _STDLIB else None
        for n in sorted(set(names)):
            if std is not None and hasattr(std, n) and getattr(std, n) is getattr(mod, n, None):
                continue     # the stdlib's own object, re-exported
            lines.append('%s %s' % (m, n))
    return lines


def recorded():
    with open(DATA) as f:
        head = [ln for ln in f if ln.startswith('#')]
    with open(DATA) as f:
        names = [ln.split() for ln in f if ln.strip() and not ln.startswith('#')]
    version = head[0].split()[2].rstrip(':') if head else '?'
    return version, names


def status(module, name):
    """('present' | 'absent' | 'different', note) of gevent's ``module.name`` in gevent_lite."""
    note = NOTES.get('%s %s' % (module, name)) or NOTES.get('%s *' % module) or NOTES.get(
        '%s.%s' % (module, name)) or ''
    try:
        mod = importlib.import_module('gevent_lite' + module[len('gevent'):])
    except ImportError:
        return 'absent', note or 'no module %s' % ('gevent_lite' + module[len('gevent'):])
    if not hasattr(mod, name):
        return 'absent', note
    return ('different' if note else 'present'), note


def render():
    version, names = recorded()
    rows = [(m, n) + status(m, n) for m, n in names]
    totals = {k: sum(1 for r in rows if r[2] == k) for k in ('present', 'absent', 'different')}
    out = ['.. This page is generated by docs/gen_gevent_names.py from gevent_lite itself;',
           '   tests/test_docs.py fails when it is out of date. Do not edit by hand.',
           '',
           "gevent's public names in gevent_lite",
           '====================================',
           '',
           "Every public name of gevent %s's modules (their ``__all__``, without a green module's "
           "re-exports of the stdlib's own objects), looked up in the gevent_lite module of the "
           'same name: **%d present, %d different, %d absent** of %d.' % (
               version, totals['present'], totals['different'], totals['absent'], len(rows)),
           '',
           '.. list-table::',
           '   :header-rows: 1',
           '   :widths: 25 25 12 38',
           '',
           '   * - module',
           '     - name',
           '     - gevent_lite',
           '     - why']
    for m, n, st, note in rows:
        out += ['   * - ``%s``' % m, '     - ``%s``' % n, '     - %s' % st, '     - %s' % (note or '')]
    return '\n'.join(out) + '\n'


def main(argv):
    if '--record' in argv:
        import gevent
        lines = record()
        with open(DATA, 'w') as f:
            f.write("# gevent %s: its public modules and the names in their __all__ that are gevent's own\n"
                    "# (a green module's re-exports of the stdlib's objects are left out). Recorded from the\n"
                    '# real gevent by docs/gen_gevent_names.py --record; docs/gevent_names.rst is generated.\n'
                    % gevent.__version__)
            f.write('\n'.join(lines) + '\n')
        return 0
    sys.path.insert(0, os.path.dirname(HERE))
    text = render()
    if '--check' in argv:
        with open(PAGE) as f:
            if f.read() != text:
                print('docs/gevent_names.rst is out of date: run python docs/gen_gevent_names.py')
                return 1
        return 0
    with open(PAGE, 'w') as f:
        f.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
