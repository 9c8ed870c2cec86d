"""DistilledImageDataset on an exported set: backends, LR sources, crops, BasicSR training."""
import gc
import math
import random
from os import path as osp

import numpy as np
import pytest
import torch

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.data.distilled_image_dataset import DistilledImageDataset
from gsdd_basicsr.sets.export import export_distilled
from helpers import make_toy_bank


@pytest.fixture(scope='module')
def export_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp('distilled')
    bank_path, _, _ = make_toy_bank(base / 'bank', per_class=4)
    out = str(base / 'out')
    export_distilled(bank_path, out, lmdb=True, device='cpu')
    return out


def _opt(root, **kw):
    opt = {'name': 'd', 'type': 'DistilledImageDataset', 'dataroot': root, 'io_backend': {'type': 'disk'},
           'scale': 4, 'phase': 'train', 'gt_size': 32, 'use_hflip': True, 'use_rot': True}
    opt.update(kw)
    return opt


def _samples(ds, n, seed=0):
    random.seed(seed)
    return [ds[i % len(ds)] for i in range(n)]


def test_registered_and_built_by_basicsr(export_dir):
    from basicsr.data import build_dataset
    from basicsr.utils.registry import DATASET_REGISTRY
    assert 'DistilledImageDataset' in DATASET_REGISTRY
    ds = build_dataset(_opt(export_dir))
    assert isinstance(ds, DistilledImageDataset) and len(ds) == 8
    item = ds[0]
    assert set(item) == {'lq', 'gt', 'lq_path', 'gt_path'}
    assert item['gt'].shape == (3, 32, 32) and item['lq'].shape == (3, 8, 8)
    assert item['gt_path'] == osp.join(export_dir, 'HR', 'sky_0000.png')
    assert item['lq_path'] == osp.join(export_dir, 'LR_bicubic', 'X4', 'sky_0000.png')


def test_disk_and_lmdb_give_identical_samples(export_dir):
    disk = _samples(DistilledImageDataset(_opt(export_dir)), 8)
    lmdb_ds = DistilledImageDataset(_opt(export_dir, io_backend={'type': 'lmdb'}))
    lm = _samples(lmdb_ds, 8)
    for a, b in zip(disk, lm):
        assert torch.equal(a['gt'], b['gt']) and torch.equal(a['lq'], b['lq'])
        assert osp.basename(a['gt_path'])[:-4] == b['gt_path']
    del lmdb_ds
    gc.collect()


def test_val_phase_whole_image_and_on_the_fly_equals_stored(export_dir):
    stored = DistilledImageDataset(_opt(export_dir, phase='val'))
    fly = DistilledImageDataset(_opt(export_dir, phase='val', lr_source='on_the_fly'))
    for i in range(len(stored)):
        a, b = stored[i], fly[i]
        assert a['gt'].shape == (3, 64, 64) and a['lq'].shape == (3, 16, 16)
        assert torch.equal(a['gt'], b['gt'])
        assert torch.equal(a['lq'], b['lq'])  # 8-bit on-the-fly LR == exported LR
    unrounded = DistilledImageDataset(_opt(export_dir, phase='val', lr_source='on_the_fly', quantize_lr=False))
    diff = (unrounded[0]['lq'] - stored[0]['lq']).abs().max().item()
    assert 0 < diff <= 0.5 / 255 + 1e-6


def _find(big, small):
    """(y, x) positions where ``small`` (C x h x w) occurs in ``big`` (C x H x W)."""
    _, h, w = small.shape
    return [(y, x) for y in range(big.shape[1] - h + 1) for x in range(big.shape[2] - w + 1)
            if torch.equal(big[:, y:y + h, x:x + w], small)]


@pytest.mark.parametrize('lr_source', ['stored', 'on_the_fly'])
def test_train_crops_are_aligned_pairs(export_dir, lr_source):
    from basicsr.utils.matlab_functions import imresize
    ds = DistilledImageDataset(_opt(export_dir, lr_source=lr_source, use_hflip=False, use_rot=False))
    full = DistilledImageDataset(_opt(export_dir, phase='val'))
    random.seed(3)
    for i in range(3):
        item, whole = ds[i], full[i]
        pos = _find(whole['gt'], item['gt'])
        assert pos and all(y % 4 == 0 and x % 4 == 0 for y, x in pos)
        if lr_source == 'stored':
            y, x = pos[0]
            assert torch.equal(item['lq'], whole['lq'][:, y // 4:y // 4 + 8, x // 4:x // 4 + 8])
        else:
            expect = imresize(item['gt'], 1 / 4)
            assert torch.allclose(item['lq'], (expect * 255).round().clamp(0, 255) / 255, atol=1e-6)


def test_mean_std_and_y_channel(export_dir):
    plain = _samples(DistilledImageDataset(_opt(export_dir, phase='val')), 1)[0]
    norm = _samples(DistilledImageDataset(_opt(export_dir, phase='val', mean=[0.5, 0.5, 0.5], std=[0.25] * 3)), 1)[0]
    assert torch.allclose(norm['gt'], (plain['gt'] - 0.5) / 0.25, atol=1e-6)
    assert torch.allclose(norm['lq'], (plain['lq'] - 0.5) / 0.25, atol=1e-6)
    y = DistilledImageDataset(_opt(export_dir, phase='val', color='y'))[0]
    assert y['gt'].shape == (1, 64, 64) and y['lq'].shape == (1, 16, 16)


def test_option_errors(export_dir, tmp_path):
    with pytest.raises(ValueError, match='gt_size'):
        DistilledImageDataset(_opt(export_dir, gt_size=30))
    with pytest.raises(ValueError, match='lr_source'):
        DistilledImageDataset(_opt(export_dir, lr_source='bicubic'))
    with pytest.raises(FileNotFoundError, match='X3'):
        DistilledImageDataset(_opt(export_dir, scale=3, gt_size=30))
    DistilledImageDataset(_opt(export_dir, scale=2, gt_size=32, lr_source='on_the_fly'))  # HR alone suffices
    with pytest.raises(FileNotFoundError, match='dataroot'):
        DistilledImageDataset(_opt(str(tmp_path / 'nothing')))


def test_dataset_enlarge_ratio_with_basicsr_loader(export_dir):
    from basicsr.data import build_dataloader
    from basicsr.data.data_sampler import EnlargedSampler
    opt = _opt(export_dir, num_worker_per_gpu=0, batch_size_per_gpu=4, dataset_enlarge_ratio=5)
    ds = DistilledImageDataset(opt)
    sampler = EnlargedSampler(ds, 1, 0, opt['dataset_enlarge_ratio'])
    loader = build_dataloader(ds, opt, num_gpu=0, dist=False, sampler=sampler, seed=0)
    assert len(sampler) == 40 and len(loader) == 10
    batch = next(iter(loader))
    assert batch['gt'].shape == (4, 3, 32, 32) and batch['lq'].shape == (4, 3, 8, 8)


def _train(export_dir, network_g, iters, lr, seed=0, lr_source='stored'):
    """Train through BasicSR's unmodified SRModel; return the per-iteration L1 losses."""
    from basicsr.data import build_dataloader, build_dataset
    from basicsr.data.data_sampler import EnlargedSampler
    from basicsr.models import build_model
    from basicsr.utils import set_random_seed
    set_random_seed(seed)
    dopt = _opt(export_dir, lr_source=lr_source, num_worker_per_gpu=0, batch_size_per_gpu=4,
                dataset_enlarge_ratio=10, use_rot=False)
    ds = build_dataset(dopt)
    loader = build_dataloader(ds, dopt, num_gpu=0, dist=False, sampler=EnlargedSampler(ds, 1, 0, 10), seed=seed)
    opt = {
        'name': 'test_sr', 'model_type': 'SRModel', 'scale': 4, 'num_gpu': 0, 'is_train': True, 'dist': False,
        'rank': 0, 'world_size': 1, 'network_g': network_g,
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'resume_state': None},
        'train': {
            'ema_decay': 0, 'optim_g': {'type': 'Adam', 'lr': lr, 'betas': [0.9, 0.99]},
            'scheduler': {'type': 'MultiStepLR', 'milestones': [10000], 'gamma': 0.5},
            'total_iter': iters, 'warmup_iter': -1,
            'pixel_opt': {'type': 'L1Loss', 'loss_weight': 1.0, 'reduction': 'mean'},
        },
    }
    model = build_model(opt)
    losses, it = [], 0
    while it < iters:
        for batch in loader:
            it += 1
            model.update_learning_rate(it, warmup_iter=-1)
            model.feed_data(batch)
            model.optimize_parameters(it)
            losses.append(float(model.get_current_log()['l_pix']))
            if it >= iters:
                break
    return losses


def test_edsr_trains_on_export_through_srmodel(export_dir):
    edsr = {'type': 'EDSR', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 16, 'num_block': 2, 'upscale': 4,
            'res_scale': 1, 'img_range': 255., 'rgb_mean': [0.4488, 0.4371, 0.4040]}
    losses = _train(export_dir, edsr, 30, 1e-3)
    assert len(losses) == 30 and all(math.isfinite(v) for v in losses)
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    assert last < 0.8 * first, (first, last, losses)


def test_rrdbnet_trains_through_srmodel(export_dir):
    rrdb = {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 1, 'num_grow_ch': 8,
            'scale': 4}
    losses = _train(export_dir, rrdb, 3, 1e-4, lr_source='on_the_fly')
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
