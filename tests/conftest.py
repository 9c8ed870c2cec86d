"""Shared fixtures. Tests run on the CPU and build their data at run time.

Test modules share helpers through ``helpers.py`` (``from helpers import make_toy_bank``), never by
importing each other: this folder is put on ``sys.path`` here, once, for all of them. The package
itself is imported as installed (``pip install -e .``).
"""
import importlib.util
import os
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

import gsdd_basicsr  # noqa: E402,F401  (compat fixes before anything imports basicsr)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """A folder with GSDDModel's tiny inputs: ``train/{ant,bee}/``, ``val/held/`` and a random generator ``g.pth``."""
    import torch
    from basicsr.archs.srvgg_arch import SRVGGNetCompact

    from helpers import SCALE, write_classes
    root = tmp_path_factory.mktemp('gsdd')
    write_classes(root / 'train')
    write_classes(root / 'val', classes=('held',), per_class=2)
    torch.manual_seed(0)
    net = SRVGGNetCompact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=SCALE, act_type='prelu')
    torch.save({'params_ema': net.state_dict()}, root / 'g.pth')
    return root


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


@pytest.fixture(scope='session')
def run_tool():
    """``run_tool(name, argv)``: ``tools/<name>.py``'s ``main(argv)`` in this process; returns its exit
    status (0 when ``main`` returns, the ``SystemExit`` code otherwise, e.g. 2 for bad input)."""

    def run(name, argv):
        spec = importlib.util.spec_from_file_location(f'_tool_{name}', os.path.join(ROOT, 'tools', f'{name}.py'))
        tool = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tool)
        try:
            tool.main(argv)
        except SystemExit as exit_:
            return exit_.code
        return 0

    return run
