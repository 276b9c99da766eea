"""Sphinx configuration for gevent_lite's documentation.

Built offline with warnings as errors and nitpicky cross references:
``sphinx-build -W -n -b html docs docs/_build/html``. Only sphinx built-ins are
used, and nothing is fetched from the network (no intersphinx).
"""

import os
import sys

# autodoc imports the package: document the checkout, not an installed copy.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import gevent_lite  # noqa: E402

project = 'gevent_lite'
author = 'gevent_lite contributors'
copyright = '2026, gevent_lite contributors'
version = release = gevent_lite.__version__

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.viewcode',
]

root_doc = 'index'
exclude_patterns = ['_build']
html_theme = 'alabaster'
templates_path = []
html_static_path = []

autodoc_member_order = 'bysource'
autodoc_default_options = {
    'show-inheritance': True,
}
# Methods that only override a stdlib method without a docstring of their own (the
# green socket's recv, send, ...) behave as the stdlib documents; inheriting the C
# docstrings would only import their pseudo-signatures ("-> nbytes_read").
autodoc_inherit_docstrings = False
# Signatures stay as written; the type hints are shown in the signature only.
autodoc_typehints = 'signature'

# Nitpicky mode (-n) reports every cross reference that does not resolve. Without
# intersphinx, names from the standard library and from the greenlet package have
# no target here; they are listed below. gevent_lite's own names are NOT ignored:
# a broken reference to one of ours must fail the build.
# Names that gevent_lite re-exports at top level (Greenlet, Hub, ...) have two targets,
# the package's and their module's. Sphinx 7 (the newest for Python 3.9) warns that a
# hint such as ``greenlet: Greenlet`` is ambiguous although either target is right;
# Sphinx 8+ resolves it silently. Only that ambiguity warning is silenced.
suppress_warnings = ['ref.python']

nitpick_ignore = [
    # The gevent_lite.lock module docstring names its private helper ``_unclaimed``,
    # which has no documentation entry (reported to the owner of lock.py).
    ('py:meth', '_unclaimed'),
    # gevent_lite.thread's module docstring links RLock (not rendered on that page)
    # and start_joinable_thread (defined on Python 3.13+ only); reported to its owner.
    ('py:class', 'RLock'),
    ('py:func', 'start_joinable_thread'),
    # gevent_lite.ssl.SSLContext inherits wrap_socket from the stdlib's ssl.SSLContext.
    ('py:meth', 'SSLContext.wrap_socket'),
]
nitpick_ignore_regex = [
    # Private names of our own (``_`` prefix: implementation details with no page of
    # their own) that show up in signatures and module docstrings. Public names of
    # gevent_lite are never ignored.
    (r'py:(class|mod|func|meth|data|attr|obj)', r'gevent_lite(\.\w+)*\._\w+'),
    # ... also when a docstring names one without its module (``:func:`_lock_timeout```).
    (r'py:(class|mod|func|meth|data|attr|obj)', r'_\w+'),
    # Python built-in types and exceptions, as they appear in signatures and docstrings.
    (r'py:(class|exc|obj|data|func)', r'(builtins\.)?(None|True|False|int|float|str|bytes|bytearray|'
     r'bool|object|type|tuple|list|dict|set|callable|Callable|Any|Optional|Union|Iterable|Iterator|'
     r'BaseException|Exception|AssertionError|RuntimeError|ValueError|TypeError|OSError|'
     r'BlockingIOError|TimeoutError|KeyError|IndexError|SystemExit|KeyboardInterrupt|'
     r'ConnectionError|BrokenPipeError|ConnectionResetError|NotImplementedError|memoryview)'),
    # Standard library modules, classes and functions.
    (r'py:(class|exc|obj|data|func|meth|mod|attr)',
     r'(typing|collections|collections\.abc|socket|_socket|ssl|select|selectors|threading|_thread|'
     r'queue|os|time|signal|subprocess|socketserver|contextvars|concurrent\.futures|types|'
     r'wsgiref|http|urllib|xmlrpc|io|errno|multiprocessing|asyncio|_asyncio|logging|email)(\..*)?'),
    # The greenlet package (gevent_lite's only dependency).
    (r'py:(class|exc|obj|func|meth|mod)', r'(gunicorn\..*|greenlet|greenlet\.greenlet|greenlet\.GreenletExit|'
     r'greenlet\.getcurrent|_greenlet\..*|GreenletExit)'),
]


def _drop_private_bases(app, name, obj, options, bases):
    """Show only public base classes: a private helper base such as
    ``gevent_lite.greenlet._SpawnedLink`` is an implementation detail with no page."""
    bases[:] = [b for b in bases if not getattr(b, '__name__', '').startswith('_')] or [object]


import queue as _queue  # noqa: E402

# The green stdlib modules (gevent_lite.socket, .os, .select, ...) re-export every
# name of the stdlib module they stand in for, so their ``__all__`` lists hundreds
# of stdlib objects. Their pages document only what gevent_lite defines; the
# stdlib's exception classes below are kept because our docstrings link to them.
from greenlet import getcurrent as _getcurrent  # noqa: E402

# queue.ShutDown exists from Python 3.13; gevent_lite.queue re-exports it there.
_KEEP_FOREIGN = {_queue.Empty, _queue.Full, _getcurrent}
if hasattr(_queue, 'ShutDown'):
    _KEEP_FOREIGN.add(_queue.ShutDown)


def _skip_foreign_members(app, what, name, obj, skip, options):
    if what != 'module' or skip:
        return None
    module = getattr(obj, '__module__', None)
    if not isinstance(module, str):
        return None          # data (ints, sentinels): documented only if they have a #: comment
    if module == 'gevent_lite' or module.startswith('gevent_lite.'):
        return None
    try:
        if obj in _KEEP_FOREIGN:
            return None
    except TypeError:        # unhashable
        pass
    return True


def setup(app):
    app.connect('autodoc-process-bases', _drop_private_bases)
    app.connect('autodoc-skip-member', _skip_foreign_members)
