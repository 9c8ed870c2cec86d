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
