"""Helpers for the green stdlib modules (socket, select, selectors, time, ssl, os, ...).

A green module replaces a few names of a stdlib module and must expose every
other name unchanged, so that after ``monkey`` copies the replaced names into the
stdlib module, ``module.anything`` still works. :func:`reexport` does the copying
once, at import time -- that is, before any patching -- so the values copied are
the originals. :func:`original` gives the services that must stay real (the
monitor's and the preemption watcher's threads) the stdlib's own functions.
"""

import importlib
import sys

__all__ = ['reexport', 'original']


def original(module_name, name):
    """The stdlib's own ``module_name.name``, even when monkey-patching replaced it.

    Reads :func:`gevent_lite.monkey.get_original` only if ``monkey`` was imported
    (this module is a leaf: it imports nothing of ours); before any patching the
    module's attribute is the original.
    """
    monkey = sys.modules.get('gevent_lite.monkey')
    if monkey is not None:
        try:
            return monkey.get_original(module_name, name)
        except Exception:
            pass
    return getattr(importlib.import_module(module_name), name)


def reexport(module, namespace, implements, drop=()):
    """Copy ``module``'s public names into ``namespace`` except those it replaces.

    ``module`` is the stdlib module; ``namespace`` the green module's
    ``globals()``; ``implements`` the names the green module defines itself (each
    must already be defined in ``namespace``: a typo fails loudly here instead of
    silently re-exporting the blocking original); ``drop`` names that must NOT be
    re-exported (``select.epoll``: libraries must fall back to what we provide).

    Public names are the module's ``__all__`` plus every attribute not starting
    with ``_``. Returns the green module's ``__all__``: the stdlib ``__all__``
    (minus ``drop``) plus the public names of ``implements``.
    """
    missing = [name for name in implements if name not in namespace]
    if missing:
        raise AssertionError('%s does not define %s' % (namespace.get('__name__'), ', '.join(missing)))
    skip = set(implements) | set(drop)
    names = list(getattr(module, '__all__', ()))
    names.extend(name for name in dir(module) if not name.startswith('_'))
    for name in dict.fromkeys(names):
        if name in skip:
            continue
        try:
            namespace[name] = getattr(module, name)
        except AttributeError:   # listed in __all__ but absent on this platform
            continue
    exported = [n for n in getattr(module, '__all__', ()) if n not in drop and hasattr(module, n)]
    exported.extend(n for n in implements if not n.startswith('_') and n not in exported)
    return exported
