"""The package's own imports: no cycle, low floors that import nothing above them, a benchmark folder that holds
only the benchmark, and an import hook that imports nothing of the package.

A static check: every ``import`` / ``from ... import`` statement (at module level or inside a function) in
``gsdd_basicsr/**.py`` and ``gsdd_basicsr_autoload.py`` that names one of these modules is an edge.
"""
import ast
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The floors under BasicSR's datasets: what each of these sub-packages may import of the package besides itself.
#: ``errors`` (the package's exceptions; it imports nothing of the package) is the ground floor under all of them.
#: As BasicSR's ``data`` package stands on ``basicsr.utils``, ``data/`` stands on ``utils/`` (image files included),
#: ``weights/`` and ``bank/`` only, and they on nothing above them.
LOW_FLOORS = {
    'errors': set(),
    'utils': {'errors'},
    'weights': {'errors', 'utils'},
    'bank': {'errors', 'utils', 'weights'},
    'data': {'errors', 'utils', 'weights', 'bank'},
}


def _modules():
    """{module name: file} of the package and the hook."""
    found = {'gsdd_basicsr_autoload': os.path.join(ROOT, 'gsdd_basicsr_autoload.py')}
    for folder, _, files in os.walk(os.path.join(ROOT, 'gsdd_basicsr')):
        for name in files:
            if name.endswith('.py'):
                parts = os.path.relpath(os.path.join(folder, name), ROOT)[:-3].split(os.sep)
                if parts[-1] == '__init__':
                    parts.pop()
                found['.'.join(parts)] = os.path.join(folder, name)
    return found


def _imports(name, path, modules):
    """The modules of ``modules`` that ``name`` (at ``path``) imports."""
    package = name if path.endswith('__init__.py') else name.rpartition('.')[0]
    targets = set()
    for node in ast.walk(ast.parse(open(path, encoding='utf-8').read(), path)):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                base = '.'.join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            # ``from pkg import sub`` imports the module pkg.sub when there is one, else a name of pkg
            targets.update(f'{base}.{alias.name}' if f'{base}.{alias.name}' in modules else base
                           for alias in node.names)
    return {t for t in targets if t in modules and t != name}


def _graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _part(module):
    """The sub-package or top-level module of ``gsdd_basicsr`` that ``module`` belongs to (``data`` for
    ``gsdd_basicsr.data.sr_pair``, ``errors`` for ``gsdd_basicsr.errors``); other names as they are."""
    parts = module.split('.')
    return parts[1] if parts[0] == 'gsdd_basicsr' and len(parts) > 1 else module


def _upward(graph, floors):
    """``{module: parts it imports that its part may not}`` for the modules of the parts ``floors`` names."""
    found = {}
    for name, targets in graph.items():
        part = _part(name)
        if part in floors and name != 'gsdd_basicsr':
            above = {_part(t) for t in targets} - floors[part] - {part}
            if above:
                found[name] = sorted(above)
    return found


def _reach(graph, start, within):
    """The modules of ``within`` that ``start`` imports, directly or through other modules of ``within``."""
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()] & within:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _strays(graph, package, core):
    """Modules of ``package`` with no import path to or from its ``core`` module inside it: they share the
    folder without being part of what it does."""
    within = {n for n in graph if n.startswith(package + '.')}
    uses_core = {n for n in within if core in _reach(graph, n, within)}
    return sorted(within - {core} - _reach(graph, core, within) - uses_core)


def _cycle(graph):
    """One import cycle of ``graph`` as a list of module names, or None."""
    state = {}

    def visit(node, stack):
        state[node] = 'open'
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 'open':
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, stack)
                if found:
                    return found
        stack.pop()
        state[node] = 'done'
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def test_the_package_has_no_import_cycle():
    graph = _graph()
    assert 'gsdd_basicsr.compat' in graph['gsdd_basicsr'] and graph['gsdd_basicsr.compat']  # the check sees edges
    assert _cycle(graph) is None, ' -> '.join(_cycle(graph))


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': set()}) == ['a', 'b', 'c', 'a']


def test_data_and_its_floors_import_nothing_above_them():
    graph = _graph()
    assert any(_part(t) == 'utils' for n in graph if _part(n) == 'data' for t in graph[n])  # the check sees edges
    assert _upward(graph, LOW_FLOORS) == {}


def test_the_floor_check_finds_an_upward_import():
    graph = {'gsdd_basicsr.data.a': {'gsdd_basicsr.sets.b', 'gsdd_basicsr.utils.c'},
             'gsdd_basicsr.utils.c': {'gsdd_basicsr.errors'}, 'gsdd_basicsr.sets.b': {'gsdd_basicsr.data.a'}}
    assert _upward(graph, LOW_FLOORS) == {'gsdd_basicsr.data.a': ['sets']}


def test_the_benchmark_folder_holds_only_the_benchmark():
    """Every module of benchmark/ is the runner, part of what it runs, or runs it (its command line, the demo)."""
    graph = _graph()
    assert _reach(graph, 'gsdd_basicsr.benchmark.runner', set(graph))  # the check sees edges
    assert _strays(graph, 'gsdd_basicsr.benchmark', 'gsdd_basicsr.benchmark.runner') == []


def test_the_benchmark_check_finds_a_stray():
    graph = {'p.runner': {'p.report'}, 'p.report': set(), 'p.cli': {'p.runner'}, 'p.profiler': {'p.report'},
             'p.table': {'p.profiler'}}
    assert _strays(graph, 'p', 'p.runner') == ['p.profiler', 'p.table']


def test_the_import_hook_imports_only_the_standard_library():
    path = os.path.join(ROOT, 'gsdd_basicsr_autoload.py')
    names = set()
    for node in ast.walk(ast.parse(open(path, encoding='utf-8').read())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module.split('.')[0])
    names.discard('torchvision')  # the alias itself, imported when basicsr is
    assert names and names <= set(sys.stdlib_module_names), names
