"""Shared fixtures. Tests run on the CPU and build their data at run time."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import gsdd_basicsr  # noqa: E402,F401  (compat fixes before anything imports basicsr)


@pytest.fixture(scope='session')
def repo_root():
    return ROOT


def pytest_configure(config):
    config.addinivalue_line('markers', 'cuda: needs a CUDA GPU (run them with `python -m pytest -m cuda`; '
                            'skipped without one)')


def pytest_collection_modifyitems(config, items):
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='needs a CUDA GPU')
    for item in items:
        if 'cuda' in item.keywords:
            item.add_marker(skip)
