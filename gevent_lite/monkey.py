"""Make the standard library cooperative: ``from gevent_lite import monkey; monkey.patch_all()``.

Call :func:`patch_all` first thing in a program (or run it with
``python -m gevent_lite.monkey script.py``). Each ``patch_*`` function copies
the names a green module implements (its ``__implements__`` list) into the
stdlib module it targets (its ``__target__``), after saving the originals in
:data:`saved`; :func:`get_original` returns them. Every patcher is idempotent.
A patcher whose green module does not exist raises :class:`MonkeyPatchError`;
:func:`patch_all` patches what exists and lists the rest in :data:`unavailable`.
Patching sends gevent's will/did events to :mod:`gevent_lite.events`
subscribers, who may veto a module or all of it (see :func:`patch_all`).

How it cooperates with the hub: after patching, every blocking stdlib call
(socket I/O, ``time.sleep``, ``select``, lock acquisition, ``Thread.join``,
``queue.get``, ``os.waitpid`` ...) parks only the calling greenlet in the hub.
The thread pool and the resolver keep running on real OS threads: they captured
the C functions when they were imported, and this module imports them before it
patches anything. The current thread's hub is created before ``_thread`` is
patched, so it records the real OS-thread ident.

Patching too late, and what we repair
-------------------------------------
Code that ran before patching may hold on to the originals:

* ``from select import epoll`` / ``from selectors import DefaultSelector`` /
  ``from time import sleep`` / ``from socket import socket`` in a module
  imported earlier, or a class attribute such as
  ``socketserver._ServerSelector = selectors.PollSelector`` (gevent#1577).
  After each patcher we scan ``sys.modules`` for module globals and class
  attributes that are *identical* to an original we just replaced and re-point
  them at the green object. Only identical objects are touched, so nothing
  that merely looks similar changes; functions only under their own name (what
  ``from time import sleep`` leaves), because ``real_sleep = time.sleep`` is a
  deliberate grab of the original; classes under any name.
* Locks created with ``threading.Lock()``/``RLock()`` before patching (module
  globals, ``logging``'s module and handler locks) are native: a greenlet that
  blocks on one while another greenlet holds it blocks the whole OS thread --
  a deadlock (eventlet#969, #546; gevent#1354, #2011). Unlocked ones are
  replaced by green locks; ``logging``'s are re-created.
* What cannot be repaired is reported with a :class:`MonkeyPatchWarning`
  naming it: ``ssl`` imported before patching (``SSLContext`` objects created
  before stay blocking; gevent#1016/#1777), threads started before patching
  (they stay real OS threads), captured ``select.epoll``, locks held while
  patching. Repairs made in third-party modules and ``__main__`` are reported
  too (module and attribute), so the import order can be fixed; repairs of
  stdlib modules are routine and only recorded in :data:`repaired`.
"""

import _thread
import importlib
import os
import sys
import sysconfig
import types
import warnings
from typing import Any

from . import events as _events

__all__ = [
    'MonkeyPatchError',
    'MonkeyPatchWarning',
    'get_original',
    'is_anything_patched',
    'is_module_patched',
    'is_object_patched',
    'main',
    'patch_all',
    'patch_asyncio',
    'patch_dns',
    'patch_item',
    'patch_module',
    'patch_os',
    'patch_queue',
    'patch_select',
    'patch_signal',
    'patch_socket',
    'patch_ssl',
    'patch_subprocess',
    'patch_sys',
    'patch_thread',
    'patch_time',
    'remove_item',
    'repaired',
    'saved',
    'unavailable',
]


class MonkeyPatchWarning(RuntimeWarning):
    """Patching came too late for something that cannot be repaired (named in the message)."""


class MonkeyPatchError(ImportError):
    """A patcher was asked for but its green module does not exist (yet)."""


def _warn(message):
    """Issue a MonkeyPatchWarning pointing at the program's line that asked for patching.

    The patchers nest (patch_all -> patch_thread -> repairs) and the depth differs
    between paths, so instead of a fixed stacklevel the warning goes to the first
    frame outside this module.
    """
    frame = sys._getframe(1)
    level = 2
    while frame is not None and frame.f_globals.get('__name__') == __name__:
        frame = frame.f_back
        level += 1
    warnings.warn(message, MonkeyPatchWarning, stacklevel=level)


#: ``{module_name: {item_name: original}}``; ``_MISSING`` when the item did not exist.
saved: dict[Any, Any] = {}
#: ``[(module_name, attribute, original, green)]`` references re-pointed by the repair scan.
repaired: list[Any] = []
#: Green modules :func:`patch_all` skipped because they do not exist.
unavailable: list[Any] = []

_MISSING = object()
# id(original) -> (original, green, 'module.name'): what the repair scan looks for.
_replacements: dict[Any, Any] = {}

# Native lock types, captured now (before _thread can be patched).
_NativeLock = type(_thread.allocate_lock())
_NativeRLock = _thread.RLock

_DNS_NAMES = ('getaddrinfo', 'gethostbyname', 'gethostbyname_ex', 'gethostbyaddr', 'getnameinfo')

# Modules whose own references to originals are deliberate or handled elsewhere.
_SKIP_PREFIXES = ('gevent_lite', 'greenlet', 'gevent', 'eventlet', 'importlib', '_frozen_importlib',
                  'pytest', '_pytest', 'pluggy')
_SKIP_EXACT = {
    'socket', '_socket', 'ssl', '_ssl', 'select', 'selectors', 'time', 'os', 'posix', 'subprocess',
    'signal', '_signal', 'queue', '_queue', 'threading', '_thread', '_threading_local', 'sys',
    'builtins', '__mp_main__', 'faulthandler', 'tracemalloc',
}


# ------------------------------------------------------------------------------------------
# Originals

def get_original(module_name, item_name_or_names):
    """The unpatched ``module_name.item`` (or a list of them, given a list of names)."""
    if isinstance(item_name_or_names, str):
        return _get_original(module_name, item_name_or_names)
    return [_get_original(module_name, name) for name in item_name_or_names]


def _get_original(module_name, name):
    mod_saved = saved.get(module_name)
    if mod_saved is not None and name in mod_saved:
        value = mod_saved[name]
        if value is _MISSING:
            raise AttributeError('%s had no attribute %r before patching' % (module_name, name))
        return value
    return getattr(importlib.import_module(module_name), name)


def is_module_patched(name: str) -> bool:
    """True if any attribute of stdlib module ``name`` was replaced."""
    return name in saved


def is_object_patched(module_name: str, item_name: str) -> bool:
    """True if ``module_name.item_name`` was replaced (or removed)."""
    return item_name in saved.get(module_name, ())


def is_anything_patched() -> bool:
    """True once any patcher replaced anything."""
    return bool(saved)


def patch_item(module: Any, attr: str, newitem: Any) -> None:
    """Replace ``module.attr`` with ``newitem``, keeping the original for :func:`get_original`."""
    _patch_item(module, attr, newitem)


def remove_item(module: Any, attr: str) -> None:
    """Delete ``module.attr``, keeping the original for :func:`get_original` (no error if absent)."""
    _remove_item(module, attr)


# ------------------------------------------------------------------------------------------
# The mechanism

def _import_green(name):
    full = 'gevent_lite.' + name
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name == full:
            raise MonkeyPatchError('cannot patch: the green module %s does not exist yet' % full) from None
        raise


def _patch_item(module, name, value):
    modname = module.__name__
    current = module.__dict__.get(name, _MISSING)
    if current is value:
        return False                      # idempotent: already ours
    mod_saved = saved.setdefault(modname, {})
    if name not in mod_saved:
        mod_saved[name] = current
        if current is not _MISSING:
            _replacements[id(current)] = (current, value, '%s.%s' % (modname, name))
    setattr(module, name, value)
    return True


def _remove_item(module, name, instead=None):
    modname = module.__name__
    current = module.__dict__.get(name, _MISSING)
    if current is _MISSING:
        return
    mod_saved = saved.setdefault(modname, {})
    if name not in mod_saved:
        mod_saved[name] = current
        # instead=None: the repair scan reports captured copies as unrepairable.
        _replacements[id(current)] = (current, instead, '%s.%s' % (modname, name))
    delattr(module, name)


def _implemented(source, target):
    names = getattr(source, '__implements__', None)
    if names is None:
        names = getattr(source, '_implements', None)
    if names is None:
        # No list: the names the green module defines itself that the target also has.
        names = [n for n, v in vars(source).items()
                 if not n.startswith('__') and hasattr(target, n)
                 and getattr(v, '__module__', None) == source.__name__]
    return list(names)


def patch_module(target_module, source_module, items=None):
    """Replace ``items`` of ``target_module`` by ``source_module``'s same-named objects.

    Both may be modules or module names. ``items`` defaults to the source's
    ``__implements__`` (or the names it defines itself); then the source's
    ``__drop__`` names are removed from the target. Returns the names replaced.

    Sends :class:`~gevent_lite.events.GeventWillPatchModuleEvent` before (a
    subscriber may edit its ``target_item_names`` list, or raise
    :class:`~gevent_lite.events.DoNotPatch` to skip the module: then nothing
    changes and ``[]`` is returned) and
    :class:`~gevent_lite.events.GeventDidPatchModuleEvent` after, as gevent's
    ``patch_module`` does; a plugin patching a third-party library can use it.
    """
    try:
        return _patch_module(target_module, source_module, items)
    except _events.DoNotPatch:
        return []


def _notify(event):
    _events.notify_and_call_entry_points(event)


def _patch_module(target_module, source_module, items=None, notify_did=True):
    # patch_module's body; a veto (DoNotPatch from a will-event subscriber) propagates,
    # so a patcher made of several steps can stop. notify_did=False: the caller sends
    # the did-event itself once its extra work (repairs) is done.
    if isinstance(target_module, str):
        target_module = importlib.import_module(target_module)
    if isinstance(source_module, str):
        source_module = importlib.import_module(source_module)
    default = items is None
    if default:
        items = _implemented(source_module, target_module)
    items = list(items)
    _notify(_events.GeventWillPatchModuleEvent(target_module.__name__, source_module, target_module,
                                               items))
    changed = []
    as_members = getattr(source_module, '__as_target_members__', ())
    for name in items:
        try:
            value = getattr(source_module, name)
        except AttributeError:
            raise AttributeError('%s has no %r to patch into %s' % (
                source_module.__name__, name, target_module.__name__)) from None
        if name in as_members:
            value = _as_member_of(value, target_module.__name__)
        if _patch_item(target_module, name, value):
            changed.append(name)
        _fresh_import_items.setdefault(target_module.__name__, {})[name] = value
    if default:
        instead = getattr(source_module, 'DefaultSelector', None)
        for name in getattr(source_module, '__drop__', ()):
            # A captured EpollSelector can become our selector; a captured epoll cannot.
            _remove_item(target_module, name, instead if name.endswith('Selector') else None)
            _fresh_import_items.setdefault(target_module.__name__, {})[name] = _MISSING
    if notify_did:
        _did_patch(target_module, source_module)
    return changed


#: ``{(id(function), module name): (function, copy)}``: see _as_member_of.
_member_copies: dict[Any, Any] = {}


def _as_member_of(func, module_name):
    # A green module lists in ``__as_target_members__`` the functions whose
    # ``__module__`` CPython checks (pydoc lists a module's functions by it;
    # test_signal's test_functions_module_attr): what goes into the stdlib module
    # is a copy sharing code, globals, defaults and closure -- so it behaves the
    # same -- that reports the stdlib module, while the green module's own
    # function keeps reporting where it is defined (and documented). One copy per
    # function and module, so patching again is idempotent.
    key = (id(func), module_name)
    known = _member_copies.get(key)
    if known is not None and known[0] is func:
        return known[1]
    copy = types.FunctionType(func.__code__, func.__globals__, func.__name__,
                              func.__defaults__, func.__closure__)
    copy.__kwdefaults__ = func.__kwdefaults__
    copy.__qualname__ = func.__qualname__
    copy.__doc__ = func.__doc__
    copy.__annotations__ = func.__annotations__
    copy.__dict__.update(func.__dict__)
    copy.__module__ = module_name
    _member_copies[key] = (func, copy)
    return copy


# ------------------------------------------------------------------------------------------
# Patches that survive a fresh import

#: ``{module_name: {item: green value, or _MISSING for a removed item}}``: what
#: ``_patch_module`` put into each module, re-applied when that module is imported
#: afresh (the private ``threading`` names are not here: they are made per module).
_fresh_import_items: dict[Any, Any] = {}


class _RepatchingFinder:
    """A ``sys.meta_path`` finder that patches a patched module again when it is re-imported.

    ``test.support.import_helper.import_fresh_module('queue', fresh=['_queue'])``,
    ``importlib.reload(time)`` and the like execute the module's code again and so
    bring the originals back -- a C ``_queue.SimpleQueue`` that blocks the hub
    (CPython's ``CSimpleQueueTest``). For the modules we patched, this finder lets
    the normal finders locate the module, wraps the loader, and after the module's
    code ran puts the green items back. Any other import costs one dict lookup.
    """

    def find_spec(self, name, path=None, target=None):
        if name not in _fresh_import_items:
            return None
        for finder in sys.meta_path:
            if finder is self or isinstance(finder, _RepatchingFinder):
                continue
            find = getattr(finder, 'find_spec', None)
            if find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and not isinstance(spec.loader, _RepatchingLoader):
            spec.loader = _RepatchingLoader(spec.loader)
        return spec


class _RepatchingLoader:
    """Wraps a module's own loader; re-applies our patches after it executed the module."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        for name, value in _fresh_import_items.get(module.__name__, {}).items():
            if value is _MISSING:
                module.__dict__.pop(name, None)
            else:
                setattr(module, name, value)


def _install_repatching_finder():
    if not any(isinstance(f, _RepatchingFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _RepatchingFinder())


def _did_patch(target_module, source_module):
    if isinstance(target_module, str):
        target_module = sys.modules[target_module]
    _notify(_events.GeventDidPatchModuleEvent(target_module.__name__, source_module, target_module))


def _patch_green(name, items=None, target=None):
    green = _import_green(name)
    target = target or getattr(green, '__target__', name)
    changed = _patch_module(target, green, items, notify_did=False)
    _repair_references()
    _did_patch(target, green)
    return changed


def _vetoable(patcher):
    """A patcher that a will-patch subscriber can veto (DoNotPatch): it then returns None."""
    import functools

    @functools.wraps(patcher)
    def patch(*args, **kwargs):
        try:
            return patcher(*args, **kwargs)
        except _events.DoNotPatch:
            return None
    return patch


# ------------------------------------------------------------------------------------------
# Repairing what was captured before patching

_stdlib_dirs = None


def _is_stdlib(modname, mod):
    global _stdlib_dirs
    if modname == '__main__':
        return False
    f = getattr(mod, '__file__', None)
    if not f:
        return True                        # builtin / frozen
    if _stdlib_dirs is None:
        paths = sysconfig.get_paths()
        _stdlib_dirs = tuple({os.path.realpath(paths[k]) + os.sep for k in ('stdlib', 'platstdlib')})
    f = os.path.realpath(f)
    return f.startswith(_stdlib_dirs) and 'site-packages' not in f and 'dist-packages' not in f


def _skip_module(modname, mod=None):
    if modname in _SKIP_EXACT or modname.startswith(_SKIP_PREFIXES):
        return True
    # ``python -m gevent_lite.monkey`` (or ``gevent.monkey`` after install_as_gevent)
    # runs this file a second time as __main__; that copy's own globals (the native
    # lock types) are ours, not a late capture. Any other ``-m`` module is the
    # program's, whatever its package.
    spec = getattr(mod, '__spec__', None)
    name = getattr(spec, 'name', None) or ''
    return name.startswith('gevent_lite') or name == 'gevent.monkey'


def _same_role(attr, value, entry):
    # Classes are re-pointed under any name (``_ServerSelector = selectors.PollSelector``
    # is captured to be instantiated). A function only under its own name, i.e. what
    # ``from time import sleep`` leaves behind: ``real_sleep = time.sleep`` is a
    # deliberate grab of the original and is left alone.
    return isinstance(value, type) or attr == entry[2].rpartition('.')[2]


def _repair_references(reported=None):
    """Re-point module globals and class attributes identical to a replaced original.

    The re-pointed references of non-stdlib modules are warned about, or appended
    to ``reported`` when the caller words the warning itself.
    """
    if not _replacements:
        return
    unrepairable = []
    collect = reported is not None
    if reported is None:
        reported = []
    for modname, mod in list(sys.modules.items()):
        if mod is None or _skip_module(modname, mod):
            continue
        d = getattr(mod, '__dict__', None)
        if not isinstance(d, dict):
            continue
        for attr, value in list(d.items()):
            if attr.startswith('__') and attr.endswith('__'):
                continue
            try:
                entry = _replacements.get(id(value))
            except Exception:  # pragma: no cover
                continue
            if entry is not None and entry[0] is value and _same_role(attr, value, entry):
                if entry[1] is None:
                    unrepairable.append((modname, attr, entry[2]))
                    continue
                setattr(mod, attr, entry[1])
                repaired.append((modname, attr, value, entry[1]))
                if not _is_stdlib(modname, mod):
                    reported.append('%s.%s (was %s)' % (modname, attr, entry[2]))
            elif isinstance(value, type) and getattr(value, '__module__', None) == modname:
                _repair_class(modname, mod, attr, value, reported, unrepairable)
    if reported and not collect:
        _warn('these references were captured before monkey-patching and now point at the '
                      'green objects: %s. Patch earlier to avoid this.' % ', '.join(reported))
    if unrepairable:
        _warn_unrepairable(unrepairable)


_warned_unrepairable: set[Any] = set()


def _warn_unrepairable(items):
    new = [i for i in items if i not in _warned_unrepairable]
    _warned_unrepairable.update(new)
    if new:
        _warn('these references to blocking originals were captured before monkey-patching '
                      'and cannot be replaced; they will block the hub: %s' % ', '.join(
                          '%s.%s (%s)' % item for item in new))


def _repair_class(modname, mod, clsname, cls, reported, unrepairable):
    for attr, value in list(vars(cls).items()):
        if attr.startswith('__'):
            continue
        try:
            entry = _replacements.get(id(value))
        except Exception:  # pragma: no cover
            continue
        if entry is None or entry[0] is not value or not _same_role(attr, value, entry):
            continue
        new = entry[1]
        if new is None:
            unrepairable.append((modname, '%s.%s' % (clsname, attr), entry[2]))
            continue
        if type(value).__name__ == 'builtin_function_or_method' and callable(new) \
                and not isinstance(new, type):
            # A C function in a class body does not bind; a Python one would.
            new = staticmethod(new)
        try:
            setattr(cls, attr, new)
        except (TypeError, AttributeError):  # pragma: no cover - immutable type
            unrepairable.append((modname, '%s.%s' % (clsname, attr), entry[2]))
            continue
        repaired.append((modname, '%s.%s' % (clsname, attr), value, new))
        if not _is_stdlib(modname, mod):
            reported.append('%s.%s.%s (was %s)' % (modname, clsname, attr, entry[2]))


def _lock_is_free(lock):
    try:
        if isinstance(lock, _NativeRLock) and lock._is_owned():
            return False
        if lock.acquire(False):
            lock.release()
            return True
    except Exception:  # pragma: no cover
        pass
    return False


def _repair_native_locks():
    """Replace unlocked native locks held in module globals by green ones (see module doc)."""
    from .lock import Lock, RLock
    reported = []
    held = []
    for modname, mod in list(sys.modules.items()):
        if mod is None or _skip_module(modname) or modname == 'logging':
            continue
        d = getattr(mod, '__dict__', None)
        if not isinstance(d, dict):
            continue
        for attr, value in list(d.items()):
            kind = type(value)
            if kind is not _NativeLock and kind is not _NativeRLock:
                continue
            if not _lock_is_free(value):
                held.append('%s.%s' % (modname, attr))
                continue
            new = Lock() if kind is _NativeLock else RLock()
            setattr(mod, attr, new)
            repaired.append((modname, attr, value, new))
            if not _is_stdlib(modname, mod):
                reported.append('%s.%s' % (modname, attr))
    if reported:
        _warn('these locks were created before monkey-patching and were replaced by green '
                      'locks: %s. Patch earlier to avoid this.' % ', '.join(reported))
    if held:
        _warn('these native locks were held while monkey-patching and stay native '
                      '(a greenlet waiting on them blocks every greenlet): %s' % ', '.join(held))


def _native_logging_lock_at_exit():
    # At interpreter exit, after greenlet has finalized this thread's greenlets,
    # the collection of logging handlers runs logging's weakref callback, which takes
    # logging's module lock; a green lock can no longer ask greenlet who is current
    # ("RuntimeError: greenlet is being finalized", printed as an ignored exception
    # by every patched program that made a handler -- any Flask app). atexit
    # callbacks run before that, with one thread left: put back a native lock.
    logging = sys.modules.get('logging')
    if logging is not None and not isinstance(logging.__dict__.get('_lock'), _NativeRLock):
        logging._lock = _NativeRLock()


def _repair_logging():
    logging = sys.modules.get('logging')
    if logging is None:
        return
    from .lock import RLock
    lock = logging.__dict__.get('_lock')
    if isinstance(lock, _NativeRLock) and _lock_is_free(lock):
        logging._lock = RLock()
        repaired.append(('logging', '_lock', lock, logging._lock))
    for ref in list(getattr(logging, '_handlerList', ())):
        handler = ref()
        if handler is not None and isinstance(getattr(handler, 'lock', None), _NativeRLock) \
                and _lock_is_free(handler.lock):
            old = handler.lock
            handler.createLock()
            repaired.append(('logging', repr(handler) + '.lock', old, handler.lock))


# ------------------------------------------------------------------------------------------
# The patchers

def _prepare():
    """Import what must keep real threads/sockets before patching.

    The hub is not made here (gevent's rule): it is made on first use, so a
    program that patches, then forks or starts threads, has made no hub yet.
    """
    from . import (  # noqa: F401  (threadpool captures the C thread functions)
        hub,
        resolver,
        threadpool,
    )
    _install_repatching_finder()


@_vetoable
def patch_socket(dns=True, aggressive=True):
    """Green ``socket``: blocking calls park the greenlet; ``dns=False`` keeps stdlib lookups."""
    _prepare()
    green = _import_green('socket')
    items = [n for n in green.__implements__ if dns or n not in _DNS_NAMES]
    _patch_module('socket', green, items, notify_did=False)
    _repair_references()
    _did_patch('socket', green)


@_vetoable
def patch_dns():
    """Host-name lookups (``socket.getaddrinfo`` & co.) through the resolver's thread pool."""
    _prepare()
    green = _import_green('socket')
    _patch_module('socket', green, [n for n in _DNS_NAMES if hasattr(green, n)], notify_did=False)
    _repair_references()
    _did_patch('socket', green)


@_vetoable
def patch_ssl(_ssl_was_imported=None):
    """Green ``ssl``. Warns if ``ssl`` had been imported before (contexts made then stay blocking)."""
    if _ssl_was_imported is None:
        _ssl_was_imported = 'ssl' in sys.modules
    _prepare()
    green = _import_green('ssl')
    already = is_module_patched('ssl')
    _patch_module('ssl', green, notify_did=False)
    repaired_refs: list[str] = []
    _repair_references(repaired_refs)
    _pin_ssl_context_globals()
    _did_patch('ssl', green)
    if _ssl_was_imported and not already:
        # One warning, worded as gevent's: what was re-pointed, and what cannot be.
        message = ('ssl was imported before patching; SSLContext objects created before this '
                   'point stay blocking.')
        if repaired_refs:
            message += (' Modules that had direct imports (now re-pointed to the green '
                        'objects): %s.' % ', '.join(repaired_refs))
        subclasses = _ssl_subclasses_left_blocking(green)
        if subclasses:
            message += (' Subclasses (NOT patched): %s (they keep the blocking SSLContext as '
                        'their base).' % ', '.join(subclasses))
        _warn(message + ' Patch earlier to avoid this.')
    elif repaired_refs:
        _warn('these references were captured before monkey-patching and now point at the '
              'green objects: %s. Patch earlier to avoid this.' % ', '.join(repaired_refs))
    return green


def _ssl_subclasses_left_blocking(green):
    """Names of the program's subclasses of the original ``ssl.SSLContext`` (ours excluded)."""
    original = saved.get('ssl', {}).get('SSLContext')
    if original is None:
        return []
    found, todo = [], list(original.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        module = getattr(cls, '__module__', '') or ''
        if cls is green.SSLContext or module.split('.')[0] in ('gevent_lite', 'ssl'):
            continue
        found.append('%s.%s' % (module, cls.__qualname__))
    return sorted(set(found))


def _pin_ssl_context_globals():
    """Stop ``SSLContext`` property setters from recursing after ``ssl.SSLContext`` is replaced.

    The stdlib's setters (``options``, ``verify_mode``, ``minimum_version``...)
    call ``super(SSLContext, SSLContext).<name>.__set__`` with ``SSLContext``
    looked up in the ``ssl`` module's globals at call time. Once that name is
    the green subclass, ``super()`` finds the same Python property again and it
    recurses until ``RecursionError`` -- for every context, including ones made
    before patching (gevent#1016, #1777). We give each such function of the
    original class a copy of its globals in which ``SSLContext`` is the
    original class, so ``super()`` reaches the C descriptors as intended.
    """
    import types
    original = saved.get('ssl', {}).get('SSLContext', _MISSING)
    if original is _MISSING or not isinstance(original, type):
        return

    def pin(func):
        if not isinstance(func, types.FunctionType) or 'SSLContext' not in func.__code__.co_names \
                or func.__globals__.get('SSLContext') is original:
            return func
        g = dict(func.__globals__)
        g['SSLContext'] = original
        new = types.FunctionType(func.__code__, g, func.__name__, func.__defaults__, func.__closure__)
        new.__kwdefaults__ = func.__kwdefaults__
        new.__qualname__ = func.__qualname__
        new.__doc__ = func.__doc__
        return new

    for attr, value in list(vars(original).items()):
        if isinstance(value, property):
            fget, fset, fdel = pin(value.fget), pin(value.fset), pin(value.fdel)
            if (fget, fset, fdel) != (value.fget, value.fset, value.fdel):
                setattr(original, attr, property(fget, fset, fdel, value.__doc__))
        elif isinstance(value, types.FunctionType):
            new = pin(value)
            if new is not value:
                setattr(original, attr, new)


@_vetoable
def patch_select(aggressive=True):
    """Green ``select.select``/``poll`` and ``selectors``; epoll/kqueue/devpoll are removed.

    Two modules, two pairs of events: a veto of one leaves the other patched.
    """
    _prepare()
    try:
        _patch_green('select')
    except _events.DoNotPatch:
        pass
    try:
        _patch_green('selectors')
    except MonkeyPatchError:
        pass


@_vetoable
def patch_time():
    """``time.sleep`` parks the greenlet."""
    _prepare()
    _patch_green('time')


@_vetoable
def patch_os():
    """Green ``os.fork`` (fresh hub in the child) and ``os.waitpid``."""
    _prepare()
    _patch_green('os')


@_vetoable
def patch_subprocess():
    """Green ``subprocess`` (``Popen.wait``/``communicate`` park the greenlet)."""
    _prepare()
    _patch_green('subprocess')


@_vetoable
def patch_signal():
    """Green ``signal`` (handlers run in the hub)."""
    _prepare()
    _patch_green('signal')


@_vetoable
def patch_queue():
    """Replace the C ``queue.SimpleQueue`` and ``_queue.SimpleQueue`` (whose ``get`` would
    block the hub) by a green one; a fresh import of ``_queue`` or ``queue`` keeps it.

    ``queue.Queue`` and friends are built on ``threading`` and cooperate once
    :func:`patch_thread` ran.
    """
    _prepare()
    green = _import_green('queue_stdlib')
    # ``queue.SimpleQueue`` is ``_queue.SimpleQueue``, and code may import ``_queue``
    # directly: both names become the green class. ``Empty`` is recorded too, so a
    # fresh ``_queue`` (a new module with a new ``Empty``) keeps the exception the
    # green class raises.
    try:
        import _queue
    except ImportError:  # pragma: no cover - an interpreter built without it
        _queue = None
    if _queue is not None:
        _patch_module(_queue, green, ['SimpleQueue', 'Empty'], notify_did=False)
    _patch_module('queue', green, notify_did=False)
    _repair_references()
    if _queue is not None:
        _did_patch(_queue, green)
    _did_patch('queue', green)


@_vetoable
def patch_thread(threading=True, _threading_local=True, Event=True, logging=True,
                 existing_locks=True, _warnings=None):
    """Green ``_thread`` and ``threading``: threads are greenlets, locks park greenlets.

    ``threading.Thread``/``Condition``/``Event``/``Semaphore``/``Barrier``/
    ``Timer`` stay the stdlib's classes; they cooperate because the ``_thread``
    functions under them are green (see :mod:`gevent_lite.threading`).
    ``Event`` is accepted for gevent's signature and ignored: gevent's
    ``Event=True`` (its default) replaces ``threading.Event`` by
    ``gevent.event.Event`` so that waiting on it parks the greenlet; here
    ``threading.Event`` already does, being built on the green ``Condition``
    and ``Lock``, and keeping the stdlib class keeps what a replacement would
    break: subclasses and ``isinstance`` checks against the class captured
    before patching, the private ``_cond``/``_flag`` some code touches, and
    ``wait()``'s exact stdlib behaviour. ``logging=True`` re-creates logging's locks;
    ``existing_locks=True`` replaces unlocked native locks held in module globals.
    Threads already running stay OS threads: a :class:`MonkeyPatchWarning` names them.
    The green threads and this thread's main greenlet are then preempted
    (CPython 3.12+; before 3.12 only in the main thread) when they run longer
    than ``config.preempt_time_slice`` without yielding (:mod:`gevent_lite.preempt`).
    """
    _prepare()
    import threading as threading_mod

    from . import _threading_compat as compat
    from . import thread as green_thread
    from . import threading as green_threading

    if threading and not is_object_patched('threading', 'get_ident'):
        running = compat.existing_threads(threading_mod)
        if running:
            _warn('threads were started before patching and stay real OS threads: %s'
                          % ', '.join(repr(t.name) for t in running))

    # A veto of '_thread' skips the whole patcher (green threading needs it); a veto
    # of 'threading' skips only that module.
    _patch_module('_thread', green_thread, notify_did=False)
    if threading:
        try:
            _patch_module('threading', green_threading, notify_did=False)
        except _events.DoNotPatch:
            threading = False
        else:
            for name, value in compat.private_items(threading_mod).items():
                _patch_item(threading_mod, name, value)
            compat.rekey_main_thread(threading_mod)
    if _threading_local:
        import _threading_local as tl
        _patch_item(tl, 'local', green_threading.local)
    if logging:
        _repair_logging()
        import atexit
        atexit.register(_native_logging_lock_at_exit)
    if existing_locks:
        _repair_native_locks()
    _repair_references()
    # Code written for threads may spin waiting for another thread: from now on the
    # green threads and this thread's main greenlet are preempted when they run too
    # long without yielding (3.12+; before, in the main thread; see gevent_lite.preempt).
    from . import preempt
    preempt.enable(threads=True)
    _did_patch('_thread', green_thread)
    if threading:
        _did_patch('threading', green_threading)


class _GreenReader:
    """A text/binary stream whose reads run in the hub's thread pool (for ``patch_sys``)."""

    def __init__(self, stream):
        self._stream = stream

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def _apply(self, func, *args):
        from .hub import get_hub
        return get_hub().threadpool.apply(func, args)

    def read(self, *args):
        return self._apply(self._stream.read, *args)

    def readline(self, *args):
        return self._apply(self._stream.readline, *args)

    def readlines(self, *args):
        return self._apply(self._stream.readlines, *args)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


@_vetoable
def patch_sys(stdin=True, stdout=True, stderr=True):
    """Reads from ``sys.stdin`` run in the hub's thread pool; stdout and stderr stay as they are.

    ``sys.stdin`` becomes a proxy whose ``read``/``readline``/``readlines``
    (and iteration) run in a worker thread while the calling greenlet parks,
    so a program waiting for a line of input keeps serving its other
    greenlets. Everything else is the original stream's.

    ``stdout`` and ``stderr`` are accepted for gevent's signature and change
    nothing, as in gevent, whose ``patch_sys`` does nothing at all on Python 3
    since it found that the interpreter's final flush of thread-pool-backed
    std streams at exit hangs. There is nothing to read from them, and a proxy
    in their place would only hand libraries that inspect or replace
    ``sys.stdout`` something other than the real stream. Writes to a terminal
    or to a pipe with a live reader do not block for long; a program that
    writes much to a slow pipe should wrap that pipe in
    :data:`gevent_lite.fileobject.FileObject` instead.
    """
    _prepare()
    import types
    fake = types.ModuleType('gevent_lite._sys_streams')
    names = []
    if stdin and getattr(sys, 'stdin', None) is not None and not isinstance(sys.stdin, _GreenReader):
        fake.stdin = _GreenReader(sys.stdin)
        names.append('stdin')
    _patch_module(sys, fake, names)


_ALL_ORDER = ('os', 'time', 'thread', 'sys', 'socket', 'select', 'ssl', 'subprocess', 'signal', 'queue',
              'asyncio')


def patch_asyncio() -> None:
    """Make asyncio's default loop :class:`~gevent_lite.asyncio_bridge.HubEventLoop`.

    ``asyncio.run()``, ``asyncio.Runner`` and ``asyncio.new_event_loop()`` then
    make loops that wait through the hub: coroutines and greenlets interleave,
    ``asyncio.run()`` works in several green "threads" at once, and executor jobs
    run by green threads (``asyncio.to_thread``, ``loop.run_in_executor``) deliver
    their results (gevent#2213). A policy the program installed itself (uvloop's,
    say) is left alone. Imports asyncio.
    """
    import asyncio
    from . import _asyncio_loop
    policy = asyncio.get_event_loop_policy()
    if type(policy) is asyncio.DefaultEventLoopPolicy:
        _asyncio_loop.install()


def patch_all(socket=True, dns=True, time=True, select=True, thread=True, os=True, ssl=True,
              subprocess=True, sys=False, queue=True, signal=True, asyncio=True, **kwargs):
    """Patch every module asked for whose green module exists; returns True.

    Green modules that do not exist are skipped and listed in :data:`unavailable`.
    Extra keyword arguments go to the individual patchers (``threading=``,
    ``logging=``, ``existing_locks=``, ``Event=``...) and to the events.

    Events, as gevent sends them (:mod:`gevent_lite.events`):
    :class:`~gevent_lite.events.GeventWillPatchAllEvent` first (a subscriber
    raising :class:`~gevent_lite.events.DoNotPatch` cancels everything:
    ``patch_all`` returns False), then a will/did pair of module events per
    stdlib module patched (a veto skips that module),
    :class:`~gevent_lite.events.GeventDidPatchBuiltinModulesEvent` (the time
    for a plugin to patch a third-party library) and
    :class:`~gevent_lite.events.GeventDidPatchAllEvent`.

    Calling it again patches only what the earlier calls did not (the union of
    all the calls' true arguments, as in gevent); a call that adds nothing does
    nothing and sends no events.
    """
    import sys as _sys
    args = dict(socket=socket, dns=dns, time=time, select=select, thread=thread, os=os, ssl=ssl,
                subprocess=subprocess, sys=sys, queue=queue, signal=signal, asyncio=asyncio)
    new = {name for name, value in args.items() if value and not _patch_all_done.get(name)}
    if not new:
        return True
    ssl_was_imported = 'ssl' in _sys.modules and not is_module_patched('ssl')
    arguments = {name: name in new for name in args}
    try:
        _notify(_events.GeventWillPatchAllEvent(dict(arguments), dict(kwargs)))
    except _events.DoNotPatch:
        return False
    _prepare()
    thread_kw = {k: kwargs[k] for k in ('threading', '_threading_local', 'Event', 'logging',
                                        'existing_locks') if k in kwargs}
    calls = {
        'os': lambda: patch_os(),
        'time': lambda: patch_time(),
        'thread': lambda: patch_thread(**thread_kw),
        'sys': lambda: patch_sys(),
        'socket': lambda: patch_socket(dns=dns),
        'select': lambda: patch_select(),
        'ssl': lambda: patch_ssl(ssl_was_imported),
        'subprocess': lambda: patch_subprocess(),
        'signal': lambda: patch_signal(),
        'queue': lambda: patch_queue(),
        'asyncio': lambda: patch_asyncio(),
    }
    if 'dns' in new and 'socket' not in new and socket:
        calls['socket'] = lambda: patch_dns()      # socket was patched earlier with dns=False
        new.add('socket')
    for name in _ALL_ORDER:
        if name not in new:
            continue
        try:
            calls[name]()
        except MonkeyPatchError:
            if name not in unavailable:
                unavailable.append(name)
    for name in new:
        _patch_all_done[name] = True
    _notify(_events.GeventDidPatchBuiltinModulesEvent(dict(arguments), dict(kwargs)))
    _notify(_events.GeventDidPatchAllEvent(dict(arguments), dict(kwargs)))
    return True


#: patch_all argument name -> True once a patch_all call patched it.
_patch_all_done: dict[Any, Any] = {}


# ------------------------------------------------------------------------------------------
# python -m gevent_lite.monkey [--no-socket ...] (script.py | -m module) args...

_USAGE = """usage: python -m gevent_lite.monkey [--as-gevent] [--no-MODULE ...] [--sys] [--verbose]
                                   (script.py | -m module | --module module) [args...]

Patch the standard library with patch_all(), then run the script (or module) as __main__.
MODULE is one of: socket dns time select thread os ssl subprocess queue signal asyncio
--as-gevent  first make `import gevent` give gevent_lite (install_as_gevent()), for programs
             written for gevent that others start: -m gunicorn -k gevent, -m celery ... -P gevent
--verbose    print what was patched before running the program
"""


def main(argv=None):
    """Entry point of ``python -m gevent_lite.monkey``; returns the exit status."""
    import runpy
    import sys as _sys
    argv = list(_sys.argv[1:] if argv is None else argv)
    options = {}
    flags = ('socket', 'dns', 'time', 'select', 'thread', 'os', 'ssl', 'subprocess', 'queue', 'signal', 'sys',
             'asyncio')
    module = None
    as_gevent = verbose = False
    if not argv:
        # No program: the help, as gevent's command prints it, and success.
        _sys.stdout.write(_USAGE)
        return 0
    while argv and argv[0].startswith('-'):
        arg = argv.pop(0)
        if arg in ('-h', '--help'):
            _sys.stdout.write(_USAGE)
            return 0
        if arg in ('-m', '--module'):
            if not argv:
                _sys.stderr.write('%s needs a module name\n%s' % (arg, _USAGE))
                return 2
            module = argv.pop(0)
            break
        if arg.startswith('--module='):
            module = arg[len('--module='):]
            break
        if arg == '--':
            break
        if arg == '--as-gevent':
            as_gevent = True
            continue
        if arg == '--verbose':
            verbose = True
            continue
        name = arg[5:] if arg.startswith('--no-') else arg[2:]
        if name not in flags:
            _sys.stderr.write('unknown option %s\n%s' % (arg, _USAGE))
            return 2
        options[name] = not arg.startswith('--no-')
    if module is None and not argv:
        _sys.stderr.write('no script or module to run\n' + _USAGE)
        return 2
    if as_gevent:
        import gevent_lite
        gevent_lite.install_as_gevent()
    # Always the importable module, never this file run as __main__: one set of originals.
    mod = importlib.import_module('gevent_lite.monkey')
    mod.patch_all(**options)
    if verbose:
        _sys.stderr.write('gevent_lite.monkey: patched %s\n' % ', '.join(sorted(mod.saved)))
        if mod.unavailable:
            _sys.stderr.write('gevent_lite.monkey: not available: %s\n' % ', '.join(mod.unavailable))
    if module is not None:
        _sys.argv[:] = [module] + argv
        runpy.run_module(module, run_name='__main__', alter_sys=True)
    else:
        script = argv[0]
        _sys.argv[:] = argv
        _sys.path[0] = os.path.dirname(os.path.abspath(script))
        runpy.run_path(script, run_name='__main__')
    return 0


if __name__ == '__main__':
    sys.exit(main())
