"""The package's own imports form no cycle, and the import hook imports nothing of the package.

A static check: every ``import`` / ``from ... import`` statement (at module level or inside a function) in
``gsdd_basicsr/**.py`` and ``gsdd_basicsr_autoload.py`` that names one of these modules is an edge.
"""
import ast
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert 'gsdd_basicsr.compat' in graph['gsdd_basicsr'] and graph['gsdd_basicsr.compat']  # the check sees edges
    assert _cycle(graph) is None, ' -> '.join(_cycle(graph))


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': set()}) == ['a', 'b', 'c', 'a']


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
