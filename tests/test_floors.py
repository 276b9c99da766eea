"""The floors hold: every import inside gevent_lite points down a floor (or stays on
its floor), the core's leaves import nothing of ours, and no two modules import each
other at import time.

``FLOORS`` below is the one place the floors are written down; docs/internals.rst
shows this very block. A new module must be added to it, on the floor its imports
allow (the test says so when it is missing).
"""

import ast
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'gevent_lite')

# floors-start
FLOORS = {
    # 1 core: the loop, timers, fd waits, the parking primitive and the linkable
    #   base (hub), gevent's loop face on it (_loop), its errors; and leaves that
    #   import nothing of ours: settings, event definitions, stdlib re-export help.
    1: ('hub', '_loop', 'exceptions', 'config', 'events', '_stdlib'),
    # 2 primitives
    2: ('greenlet', 'timeout', 'scopes', 'taskgroup', 'event', 'lock', 'queue', 'pool', 'local'),
    # 3 the green standard library (asyncio's event loop on the hub included)
    3: ('socket', 'ssl', 'select', 'selectors', 'time', 'os', 'signal', 'subprocess', 'fileobject',
        'thread', 'threading', '_threading_compat', 'preempt', 'queue_stdlib', 'contextvars', 'threadpool',
        'resolver', '_asyncio_loop'),
    # 4 monkey-patching
    4: ('monkey',),
    # 5 servers
    5: ('server', 'baseserver', 'pywsgi'),
    # 6 tools: they plug into the core through hooks (new_hub_hooks, ...), never the reverse
    6: ('monitor', 'backdoor', 'worker', 'testing', 'asyncio_bridge', 'util', '_alias'),
    # 7 the package itself (it imports what it re-exports) and a program using it
    7: ('__init__', 'demo'),
}
# floors-end
LEAVES = ('config', 'events', '_stdlib')

FLOOR_OF = {name: floor for floor, names in FLOORS.items() for name in names}


def _modules():
    # Modules, and packages (a folder with __init__.py: gevent_lite.resolver), by name.
    return sorted([f[:-3] for f in os.listdir(PACKAGE) if f.endswith('.py')]
                  + [f for f in os.listdir(PACKAGE) if os.path.exists(os.path.join(PACKAGE, f, '__init__.py'))])


def _source_files(module):
    """The files of one module of ours: ``X.py``, or every file of the package ``X``."""
    folder = os.path.join(PACKAGE, module)
    if os.path.isdir(folder):
        return [(os.path.join(folder, f), True) for f in sorted(os.listdir(folder)) if f.endswith('.py')]
    return [(os.path.join(PACKAGE, module + '.py'), False)]


def _imports(module):
    """``[(imported module, at import time?, line)]`` of one module of ours."""
    found = []
    for path, in_package in _source_files(module):
        with open(path, encoding='utf-8') as f:
            _visit_imports(ast.parse(f.read()), in_package, module, found)
    return found


def _visit_imports(tree, in_package, module, found):
    known = set(_modules())
    # Inside a package, ``from .. import x`` is what ``from . import x`` is at the
    # top, and ``from . import y`` (or ``from .y``) stays inside the package.
    up = 2 if in_package else 1

    def visit(node, top):
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            names = []
            if isinstance(child, ast.ImportFrom):
                if in_package and child.level == 1:
                    names = []          # within the package itself
                elif child.level == up and child.module:
                    names = [child.module.split('.')[0]]
                elif child.level == up:
                    names = [a.name for a in child.names if a.name in known]
                elif child.level == 0 and child.module and child.module.split('.')[0] == 'gevent_lite':
                    parts = child.module.split('.')
                    names = [parts[1]] if len(parts) > 1 else (
                        [a.name for a in child.names if a.name in known] or ['__init__'])
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    parts = alias.name.split('.')
                    if parts[0] == 'gevent_lite':
                        names.append(parts[1] if len(parts) > 1 else '__init__')
            for name in names:
                found.append((name, top, child.lineno))
            visit(child, inner)

    visit(tree, True)


def test_every_module_is_on_exactly_one_floor():
    listed = [name for names in FLOORS.values() for name in names]
    assert len(listed) == len(set(listed)), 'a module is listed on two floors'
    missing = [m for m in _modules() if m not in FLOOR_OF]
    assert not missing, ('put %s on a floor in tests/test_floors.py FLOORS (the floor of the '
                         'highest module it imports, or higher)' % missing)
    gone = [m for m in listed if m not in _modules()]
    assert not gone, 'FLOORS lists modules that do not exist: %s' % gone


@pytest.mark.parametrize('module', _modules())
def test_imports_point_down_the_floors(module):
    if module not in FLOOR_OF:
        pytest.skip('not on a floor yet (see test_every_module_is_on_exactly_one_floor)')
    floor = FLOOR_OF[module]
    wrong = []
    for name, at_import, line in _imports(module):
        if name == '__init__' and floor < 7:
            # The package is the roof: it imports every floor. A function may use
            # it (the package is fully imported before any function runs), a
            # module body may not (that would be an import cycle).
            if at_import:
                wrong.append('line %d imports the gevent_lite package at import time' % line)
            continue
        target = FLOOR_OF.get(name)
        if target is None:
            continue        # not on a floor: reported by the test above
        if target > floor:
            wrong.append('line %d imports %s (floor %d) from floor %d' % (line, name, target, floor))
        if module in LEAVES and name != module:
            wrong.append('line %d: %s is a leaf of the core and must import nothing of ours'
                         % (line, module))
    assert not wrong, '%s.py: %s' % (module, '; '.join(wrong))


def test_no_two_modules_import_each_other_at_import_time():
    graph = {m: {name for name, at_import, _ in _imports(m) if at_import and name != m}
             for m in _modules()}
    state = {}

    def visit(m, path):
        if state.get(m) == 'done':
            return
        if state.get(m) == 'active':
            cycle = path[path.index(m):] + [m]
            pytest.fail('import cycle: %s' % ' -> '.join(cycle))
        state[m] = 'active'
        for dep in sorted(graph.get(m, ())):
            visit(dep, path + [m])
        state[m] = 'done'

    for m in sorted(graph):
        visit(m, [])


def test_the_checker_sees_imports_inside_functions_and_from_the_package():
    # hub.loop imports _loop lazily; monkey's command line imports the package in a function.
    assert ('_loop', False) in {(n, t) for n, t, _ in _imports('hub')}
    assert ('__init__', False) in {(n, t) for n, t, _ in _imports('monkey')}
    assert ('hub', True) in {(n, t) for n, t, _ in _imports('greenlet')}
