"""The package's folders, README's layout section and each sub-package's docstring draw the same picture.

- every sub-package of ``gsdd_basicsr`` has a docstring naming each of its modules;
- README's "Layout" section names exactly the sub-packages there are, and ``docs/layout.md`` every module;
- ``tests/`` mirrors the sub-packages (a test folder for each one that has tests of its own);
- no module is over 400 lines.
"""
import ast
import os
import re

from helpers import ROOT

PACKAGE = os.path.join(ROOT, 'gsdd_basicsr')
MAX_LINES = 400


def _subpackages():
    return sorted(name for name in os.listdir(PACKAGE)
                  if os.path.isfile(os.path.join(PACKAGE, name, '__init__.py')))


def _modules(folder):
    return sorted(name[:-3] for name in os.listdir(folder) if name.endswith('.py') and not name.startswith('__'))


def _docstring(path):
    return ast.get_docstring(ast.parse(open(path, encoding='utf-8').read(), path)) or ''


def _readme_section(title):
    text = open(os.path.join(ROOT, 'README.md'), encoding='utf-8').read()
    match = re.search(rf'^## {title}\n(.*?)(?=^## |\Z)', text, re.M | re.S)
    assert match, f'README.md has no "## {title}" section'
    return match.group(1)


def test_every_subpackage_docstring_names_its_modules():
    missing = {}
    for sub in _subpackages():
        doc = _docstring(os.path.join(PACKAGE, sub, '__init__.py'))
        assert doc, f'gsdd_basicsr/{sub}/__init__.py has no docstring'
        lost = [m for m in _modules(os.path.join(PACKAGE, sub)) if not re.search(rf'\b{m}\b', doc)]
        if lost:
            missing[sub] = lost
    assert not missing, f'modules missing from their sub-package docstring: {missing}'


def test_readme_layout_names_exactly_the_subpackages():
    section = _readme_section('Layout')
    named = set(re.findall(r'^\s*`?(\w+)/`?', section, re.M)) - {'gsdd_basicsr', 'options', 'tools', 'tests', 'docs'}
    assert named == set(_subpackages()), (named, _subpackages())


def test_docs_layout_names_every_module():
    text = open(os.path.join(ROOT, 'docs', 'layout.md'), encoding='utf-8').read()
    lost = [f'{sub}/{m}' for sub in [''] + _subpackages() for m in _modules(os.path.join(PACKAGE, sub))
            if not re.search(rf'\b{m}\.py\b', text)]
    assert not lost, f'docs/layout.md does not name {lost}'


def test_tests_mirror_the_subpackages():
    tests = os.path.join(ROOT, 'tests')
    folders = {name for name in os.listdir(tests) if os.path.isdir(os.path.join(tests, name)) and name != '__pycache__'}
    assert folders <= set(_subpackages()), f'test folders with no sub-package: {folders - set(_subpackages())}'
    strays = []
    for sub in folders:  # each test file of a folder names its sub-package or one of its modules
        names = [f'gsdd_basicsr.{sub}', f'gsdd_basicsr/{sub}'] + _modules(os.path.join(PACKAGE, sub))
        for name in os.listdir(os.path.join(tests, sub)):
            if name.startswith('test_') and name.endswith('.py'):
                text = open(os.path.join(tests, sub, name), encoding='utf-8').read()
                if not any(re.search(rf'\b{re.escape(n)}\b', text) for n in names):
                    strays.append(f'tests/{sub}/{name}')
    assert not strays, f'test files that name nothing of their folder\'s sub-package: {strays}'


def test_no_module_is_over_400_lines():
    long = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                n = sum(1 for _ in open(path, encoding='utf-8'))
                if n > MAX_LINES:
                    long[os.path.relpath(path, ROOT)] = n
    assert not long, long
