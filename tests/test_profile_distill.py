"""Smoke test of tools/profile_distill.py (a benchmark): tiny generator, tiny images, 2 iterations."""
import json
import math
import os
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml
from basicsr.archs.srvgg_arch import SRVGGNetCompact

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tools'))
import profile_distill  # noqa: E402

SCALE, LATENT = 2, 8
ORIG_BACKWARD = torch.Tensor.backward


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('profile')
    rng = np.random.default_rng(0)
    for name in ('ant', 'bee'):
        os.makedirs(root / 'train' / name)
        for i in range(3):
            cv2.imwrite(str(root / 'train' / name / f'{i}.png'), (rng.random((20, 20, 3)) * 255).astype(np.uint8))
    torch.manual_seed(0)
    net = SRVGGNetCompact(num_in_ch=3, num_out_ch=3, num_feat=4, num_conv=1, upscale=SCALE, act_type='prelu')
    torch.save({'params_ema': net.state_dict()}, root / 'g.pth')
    opt = dict(
        name='tiny_profile', model_type='GSDDModel', scale=SCALE, num_gpu='auto', manual_seed=0,
        datasets=dict(train=dict(name='t', type='ClassImageDataset', dataroot_gt=str(root / 'train'),
                                 io_backend=dict(type='disk'), gt_size=SCALE * LATENT, cache=True)),
        network_g=dict(type='SRVGGNetCompact', num_in_ch=3, num_out_ch=3, num_feat=4, num_conv=1, upscale=SCALE,
                       act_type='prelu'),
        path=dict(pretrain_network_g='unused.pth', param_key_g='params_ema', strict_load_g=True, resume_state=None),
        gsdd=dict(ipc=2, latent_size=LATENT, init='inversion', inversion_iters=1, batch_real=3,
                  embed=dict(num_feat=4, depth=2)),
        train=dict(optim_z=dict(type='Adam', lr=0.01), scheduler=dict(type='MultiStepLR', milestones=[10], gamma=0.5),
                   total_iter=10, warmup_iter=-1))
    with open(root / 'tiny.yml', 'w') as f:
        yaml.safe_dump(opt, f)
    return root


def _positive(x):
    return isinstance(x, float) and math.isfinite(x) and x > 0


def test_report_keys_times_and_json(tiny, capsys):
    out = tiny / 'report.json'
    report = profile_distill.main(['-opt', str(tiny / 'tiny.yml'), '--weights', str(tiny / 'g.pth'), '--iters', '2',
                                   '--warmup', '1', '--device', 'cpu', '--json', str(out)])
    assert 'ratio step / bare' in capsys.readouterr().out
    with open(out) as f:
        saved = json.load(f)
    assert set(saved) == set(report)
    for key in ('device', 'config', 'step_s', 'bare_s', 'bare_parts_s', 'ratio', 'probed_step_s', 'breakdown_s',
                'memory', 'loadavg_start', 'loadavg_end'):
        assert key in report
    assert report['device'] == 'cpu' and report['config']['ipc'] == 2 and report['config']['images'] == 6
    for stats in (report['step_s'], report['bare_s'], report['probed_step_s']):
        assert len(stats['all']) == 2 and all(_positive(v) for v in stats['all'])
    for key in ('ratio', 'ratio_paired_median', 'ratio_from_breakdown', 'overhead_s'):
        assert _positive(report[key]), key
    breakdown = report['breakdown_s']
    assert {key for key, _, _ in profile_distill.BREAKDOWN} <= set(breakdown)
    for key in ('data_wait', 'data_draw', 'augment_fwd', 'embed_fwd_real', 'embed_fwd_syn', 'embed_bwd', 'gen_fwd',
                'gen_bwd', 'backward', 'optim_step'):
        assert _positive(breakdown[key]), key
    assert all(math.isfinite(v) for v in breakdown.values())
    assert all(_positive(report['bare_parts_s'][k]) for k in profile_distill.BARE_PARTS)
    assert _positive(report['memory']['peak_rss_mib'])
    assert torch.Tensor.backward is ORIG_BACKWARD  # the probe's wrapper is gone


def test_scaled_copy_multiplies_the_images_and_turns_cache_off(tiny, tmp_path):
    train = {'dataroot_gt': str(tiny / 'train'), 'io_backend': {'type': 'disk'}, 'cache': True}
    assert profile_distill.make_scaled_copy(train, 3, str(tmp_path / 'x3')) == 18
    assert train['cache'] is False and train['dataroot_gt'] == str(tmp_path / 'x3')
    assert sorted(os.listdir(tmp_path / 'x3')) == ['ant', 'bee']
    assert len(os.listdir(tmp_path / 'x3' / 'bee')) == 9
