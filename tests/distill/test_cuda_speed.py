"""The step's speed options on a CUDA GPU (``python -m pytest -m cuda``; skipped without CUDA):
``gsdd.compile`` (inductor), ``gsdd.cuda_graphs``, ``gsdd.channels_last`` take the eager bf16 step within bf16
noise, work under ``deterministic: true``, and the timing tool runs them, on the 7-class shape too, with the
first (compile) step and a projected run time in its rows."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from basicsr.models import build_model

from helpers import ROOT, gsdd_opt as _opt

pytestmark = pytest.mark.cuda
LR = 0.05  # _opt's Adam learning rate: the first step moves every latent pixel by about +-LR


def _step(setup, name, steps=2, **gsdd):
    opt = _opt(setup, name=name, init='real', augment=None, amp='bf16', fuse_classes=True, **gsdd)
    opt['num_gpu'] = 1
    model = build_model(opt)
    for it in range(1, steps + 1):
        model.optimize_parameters(it)
    torch.cuda.synchronize()
    return model


@pytest.mark.parametrize('settings', [dict(channels_last=True), dict(compile=True),
                                      dict(compile='all', channels_last=True),
                                      dict(compile=True, cuda_graphs=True)])
def test_fast_step_matches_the_eager_bf16_step(setup, settings):
    eager = _step(setup, 'eager_bf16')
    fast = _step(setup, 'fast_' + '_'.join(map(str, settings.values())), **settings)
    if settings.get('compile'):
        assert isinstance(fast._render_net, torch._dynamo.eval_frame.OptimizedModule)
    assert torch.isfinite(fast.latents).all()
    a, b = eager.get_current_log()['l_dm'], fast.get_current_log()['l_dm']
    assert np.isfinite(b) and abs(a - b) <= 0.05 * abs(a)
    # bf16 rounding may flip the sign of tiny gradients (a 2 LR move in Adam's first steps), rarely
    flipped = ((fast.latents - eager.latents).abs() > LR).float().mean().item()
    assert flipped <= 0.1, flipped


def test_compiled_step_runs_under_deterministic(tiny, tmp_path):
    """deterministic: true with compile, in a fresh process (the determinism flags are process-wide)."""
    path = tmp_path / 'det.json'
    run = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'time_step_settings.py'), '-opt',
                          str(tiny / 'tiny.yml'), '--weights', str(tiny / 'g.pth'), '--device', 'cuda',
                          '--setting', 'gsdd:amp=bf16 gsdd:compile=true deterministic=true', '--warmup', '1',
                          '--iters', '2', '--json', str(path)], capture_output=True, text=True, timeout=600,
                         cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    assert run.returncode == 0, run.stderr[-3000:]
    (row, ) = json.loads(path.read_text())['rows']
    assert 0 < row['median_s'] < row['first_step_s']


def test_timing_tool_times_the_new_settings_on_the_ost_shape(tiny, tmp_path):
    """7 classes (OST's shape) from a 2-class set, compiled and with CUDA graphs: the first step holds the
    compile time, the projected 20k-step time follows from the median."""
    path = tmp_path / 't.json'
    run = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'time_step_settings.py'), '-opt',
                          str(tiny / 'tiny.yml'), '--weights', str(tiny / 'g.pth'), '--device', 'cuda',
                          '--train-root', str(tiny / 'train'), '--classes', '7', '--warmup', '2', '--iters', '3',
                          '--setting', 'gsdd:amp=bf16 gsdd:fuse_classes=true',
                          '--setting', 'gsdd:amp=bf16 gsdd:fuse_classes=true gsdd:channels_last=true gsdd:compile=true',
                          '--setting', 'gsdd:amp=bf16 gsdd:fuse_classes=true gsdd:compile=true gsdd:cuda_graphs=true',
                          '--json', str(path)], capture_output=True, text=True, timeout=600, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    assert run.returncode == 0, run.stderr[-3000:]
    rows = json.loads(path.read_text())['rows']
    assert [r['num_classes'] for r in rows] == [7, 7, 7] and all(r['peak_cuda_gib'] > 0 for r in rows)
    assert rows[1]['first_step_s'] > rows[1]['median_s']  # the compile
    for r in rows:
        assert r['projected_h'] == pytest.approx((r['median_s'] * 20000 + r['first_step_s']) / 3600)
