"""The docs' deterministic figure records still hold: each script's figures, computed now, equal the committed
``docs/records/<name>.json`` (a code change that moves a figure the docs quote fails here, not in a reader's
hands). Records of timings, machines or user data (photo set, LPIPS images) are remade by hand."""
import importlib
import json
import sys
from pathlib import Path

import pytest

from helpers import ROOT

RECORDS = Path(ROOT) / 'docs' / 'records'


@pytest.mark.parametrize('name', ['regulariser', 'realesrgan_flops', 'niqe_sizes'])
def test_a_deterministic_record_matches_its_script(name, monkeypatch):
    monkeypatch.syspath_prepend(str(RECORDS))  # the scripts import their writer as `record`
    module = importlib.import_module(name)
    try:
        stored = json.loads((RECORDS / f'{name}.json').read_text())
        assert stored['command'] == f'python docs/records/{name}.py'
        assert module.result() == stored['result']
    finally:
        for imported in (name, 'record'):
            sys.modules.pop(imported, None)
