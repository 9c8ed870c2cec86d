"""Exported distilled sets: layout, exact LR, storage report, refusal, and BasicSR's own datasets."""
import gc
import json
import os
import subprocess
import sys
from os import path as osp

import cv2
import numpy as np
import pytest
import torch

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.bank.format import load_latent_bank
from gsdd_basicsr.bank.render import build_bank_generator, render_bank
from gsdd_basicsr.sets import export as export_mod
from gsdd_basicsr.sets.export import export_distilled
from helpers import ROOT, make_toy_bank

NAMES = ['sky_0000.png', 'sky_0001.png', 'sky_0002.png', 'water_0000.png', 'water_0001.png', 'water_0002.png']


def make_source(folder, seed=0):
    """A tiny 'real' training set with class folders."""
    rng = np.random.default_rng(seed)
    for cls, n in (('animal', 2), ('sky', 1)):
        os.makedirs(osp.join(folder, cls), exist_ok=True)
        for i in range(n):
            img = cv2.GaussianBlur(rng.integers(0, 256, (48 + 16 * i, 64, 3)).astype(np.uint8), (0, 0), 1.5)
            cv2.imwrite(osp.join(folder, cls, f'{i}.png'), img)
    return folder


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    base = tmp_path_factory.mktemp('export')
    bank_path, weights, _ = make_toy_bank(base / 'bank')
    source = make_source(str(base / 'real'))
    out = str(base / 'out')
    report = export_distilled(bank_path, out, lmdb=True, source=source, device='cpu')
    return {'base': base, 'bank': bank_path, 'weights': weights, 'source': source, 'out': out, 'report': report}


def _read_rgb(path):
    return cv2.imread(path, cv2.IMREAD_UNCHANGED)[..., ::-1]


def test_layout_names_meta_info(exported):
    out = exported['out']
    assert sorted(os.listdir(out)) == ['HR', 'HR.lmdb', 'LR_bicubic', 'meta_info.txt', 'preview_grid.png',
                                       'storage_report.json']
    assert sorted(os.listdir(osp.join(out, 'HR'))) == NAMES
    assert sorted(os.listdir(osp.join(out, 'LR_bicubic', 'X4'))) == NAMES
    assert sorted(os.listdir(osp.join(out, 'LR_bicubic'))) == ['X4', 'X4.lmdb']
    with open(osp.join(out, 'meta_info.txt')) as f:
        assert f.read().splitlines() == NAMES
    assert not [n for n in os.listdir(osp.dirname(out)) if n.startswith('.')]  # no temporary folder left
    grid = cv2.imread(osp.join(out, 'preview_grid.png'))
    assert grid is not None and grid.shape[0] > 2 * 64 and grid.shape[0] < 3 * 64  # two class rows


def test_hr_is_rendered_bank_and_lr_is_exact_imresize(exported):
    from basicsr.utils.matlab_functions import imresize
    bank = load_latent_bank(exported['bank'])
    rendered = render_bank(bank, build_bank_generator(bank, device='cpu'))
    for name, img in zip(NAMES, rendered):
        hr = _read_rgb(osp.join(exported['out'], 'HR', name))
        lr = _read_rgb(osp.join(exported['out'], 'LR_bicubic', 'X4', name))
        assert hr.shape == (64, 64, 3) and lr.shape == (16, 16, 3)
        assert np.array_equal(hr, img)
        expect = np.clip(np.round(imresize(hr.astype(np.float32) / 255., 1 / 4) * 255), 0, 255).astype(np.uint8)
        assert np.array_equal(lr, expect)


def test_storage_report_matches_files(exported):
    out, rep = exported['out'], exported['report']
    with open(osp.join(out, 'storage_report.json')) as f:
        assert json.load(f) == json.loads(json.dumps(rep))

    def size(*parts):
        folder = osp.join(out, *parts)
        return sum(osp.getsize(osp.join(r, n)) for r, _, fs in os.walk(folder) for n in fs)

    assert rep['num_images'] == 6 and rep['scale'] == 4
    assert rep['latent_bank_bytes'] == osp.getsize(exported['bank'])
    assert rep['hr_png_bytes'] == size('HR') and rep['lr_png_bytes'] == size('LR_bicubic', 'X4')
    assert rep['hr_lmdb_bytes'] == size('HR.lmdb') and rep['lr_lmdb_bytes'] == size('LR_bicubic', 'X4.lmdb')
    assert rep['hr_pixels'] == 6 * 64 * 64 and rep['images_per_class'] == {'sky': 3, 'water': 3}
    src = exported['source']
    real_files = [osp.join(r, n) for r, _, fs in os.walk(src) for n in fs]
    real_bytes = sum(osp.getsize(p) for p in real_files)
    assert rep['source']['bytes'] == real_bytes and rep['source']['num_images'] == 3
    assert rep['source']['num_pixels'] == 64 * (48 + 64 + 48)
    assert rep['ratios']['bank_to_real_bytes'] == pytest.approx(rep['latent_bank_bytes'] / real_bytes)
    assert rep['ratios']['hr_to_real_bytes'] == pytest.approx(rep['hr_png_bytes'] / real_bytes)
    assert rep['ratios']['image_count_to_real'] == pytest.approx(2.0)
    # the report explains every key it holds, ratios included (storage_report.json on disk the same)
    assert set(rep['notes']) == {k for k in rep if k != 'notes'} | {f'ratios.{k}' for k in rep['ratios']}
    assert json.load(open(osp.join(out, 'storage_report.json')))['notes'] == rep['notes']
    # the bank is useless without its generator: both counted, at 4 and 2 bytes a parameter
    bank = load_latent_bank(exported['bank'])
    params = sum(p.numel() for p in build_bank_generator(bank, device='cpu').parameters())
    assert rep['generator_params'] == params > 0
    assert rep['generator_bytes'] == {'float32': 4 * params, 'float16': 2 * params}
    assert rep['bank_plus_generator_bytes'] == {k: rep['latent_bank_bytes'] + v for k, v in rep['generator_bytes'].items()}
    assert rep['ratios']['bank_plus_generator_float16_to_real_bytes'] == pytest.approx(
        (rep['latent_bank_bytes'] + 2 * params) / real_bytes)
    r = rep['ratios']['bank_to_real_bytes']
    for k, g in rep['generator_bytes'].items():  # above this real-set size, bank + generator < real set
        real = rep['generator_paid_back_above_real_bytes'][k]
        assert r >= 1 and real is None or real * r + g == pytest.approx(real)


def test_refuses_non_empty_out_without_force(exported, capsys, run_tool):
    out = exported['out']
    before = sorted(os.listdir(out))
    assert run_tool('export_distilled', ['--latents', exported['bank'], '--out', out, '--device', 'cpu']) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'not empty' in err and '--force' in err
    assert sorted(os.listdir(out)) == before
    # the bank must not lie inside the folder it would replace
    with pytest.raises(ValueError, match='overlap'):
        export_distilled(exported['bank'], osp.dirname(exported['bank']), force=True)


def test_cli_script_force_replaces(exported, tmp_path):
    out = tmp_path / 'again'
    out.mkdir()
    (out / 'stale.txt').write_text('old')
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'export_distilled.py'), '--latents', exported['bank'], '--out',
           str(out), '--device', 'cpu', '--force']
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert sorted(os.listdir(out)) == ['HR', 'LR_bicubic', 'meta_info.txt', 'preview_grid.png', 'storage_report.json']
    for name in NAMES:
        assert open(out / 'HR' / name, 'rb').read() == open(osp.join(exported['out'], 'HR', name), 'rb').read()
    assert sorted(os.listdir(tmp_path)) == ['again']


def test_failure_leaves_nothing_half_written(exported, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError('disk full')

    monkeypatch.setattr(export_mod, 'preview_grid', boom)
    with pytest.raises(RuntimeError):
        export_distilled(exported['bank'], str(tmp_path / 'new'), device='cpu')
    assert os.listdir(tmp_path) == []
    keep = tmp_path / 'keep'
    keep.mkdir()
    (keep / 'x.txt').write_text('x')
    with pytest.raises(RuntimeError):
        export_distilled(exported['bank'], str(keep), device='cpu', force=True)
    assert os.listdir(tmp_path) == ['keep'] and os.listdir(keep) == ['x.txt']


@pytest.mark.parametrize('backend', ['disk', 'lmdb'])
def test_basicsr_paired_image_dataset_reads_export(exported, backend):
    from basicsr.data.paired_image_dataset import PairedImageDataset
    out = exported['out']
    suffix = '.lmdb' if backend == 'lmdb' else ''
    opt = {'name': 'x', 'type': 'PairedImageDataset', 'dataroot_gt': osp.join(out, 'HR' + suffix),
           'dataroot_lq': osp.join(out, 'LR_bicubic', 'X4' + suffix), 'io_backend': {'type': backend},
           'scale': 4, 'phase': 'val'}
    ds = PairedImageDataset(opt)
    assert len(ds) == 6
    seen = set()
    for i in range(len(ds)):
        item = ds[i]
        name = osp.basename(item['gt_path']).split('.')[0] + '.png'  # disk: file path, lmdb: key
        assert osp.basename(item['lq_path']).split('.')[0] + '.png' == name
        seen.add(name)
        gt = _read_rgb(osp.join(out, 'HR', name)).astype(np.float32) / 255.
        lq = _read_rgb(osp.join(out, 'LR_bicubic', 'X4', name)).astype(np.float32) / 255.
        assert torch.equal(item['gt'], torch.from_numpy(gt.transpose(2, 0, 1).copy()))
        assert torch.equal(item['lq'], torch.from_numpy(lq.transpose(2, 0, 1).copy()))
    assert sorted(seen) == NAMES
    del ds, item  # py-lmdb opens an environment once per process
    gc.collect()
    train = PairedImageDataset(dict(opt, phase='train', gt_size=32, use_hflip=True, use_rot=True,
                                    io_backend={'type': backend}))
    item = train[3]
    assert item['gt'].shape == (3, 32, 32) and item['lq'].shape == (3, 8, 8)


REALESRGAN_OPT = {  # basicsr options/train/RealESRGAN/train_realesrgan_x4plus.yml, datasets.train
    'blur_kernel_size': 21,
    'kernel_list': ['iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso'],
    'kernel_prob': [0.45, 0.25, 0.12, 0.03, 0.12, 0.03],
    'sinc_prob': 0.1,
    'blur_sigma': [0.2, 3],
    'betag_range': [0.5, 4],
    'betap_range': [1, 2],
    'blur_kernel_size2': 21,
    'kernel_list2': ['iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso'],
    'kernel_prob2': [0.45, 0.25, 0.12, 0.03, 0.12, 0.03],
    'sinc_prob2': 0.1,
    'blur_sigma2': [0.2, 1.5],
    'betag_range2': [0.5, 4],
    'betap_range2': [1, 2],
    'final_sinc_prob': 0.8,
    'gt_size': 256,
    'use_hflip': True,
    'use_rot': False,
}


@pytest.mark.parametrize('backend', ['disk', 'lmdb'])
def test_basicsr_realesrgan_dataset_reads_hr_and_meta_info(exported, backend):
    from basicsr.data import build_dataset
    out = exported['out']
    opt = dict(REALESRGAN_OPT, name='gsdd', type='RealESRGANDataset', phase='train', scale=4,
               io_backend={'type': backend})
    if backend == 'disk':
        opt.update(dataroot_gt=osp.join(out, 'HR'), meta_info=osp.join(out, 'meta_info.txt'))
    else:
        opt.update(dataroot_gt=osp.join(out, 'HR.lmdb'))
    ds = build_dataset(opt)
    assert len(ds) == 6
    item = ds[1]
    assert {'gt', 'kernel1', 'kernel2', 'sinc_kernel', 'gt_path'} <= set(item)
    assert item['gt'].shape == (3, 400, 400)  # RealESRGANDataset pads small images to 400 (hard-coded)
    assert item['kernel1'].shape == (21, 21) and item['kernel2'].shape == (21, 21)
    assert item['sinc_kernel'].shape == (21, 21)
    hr = _read_rgb(osp.join(out, 'HR', NAMES[1])).astype(np.float32) / 255.
    if backend == 'disk':
        assert item['gt_path'] == osp.join(out, 'HR', NAMES[1])
    # the top-left 64x64 is the image itself, up to a horizontal flip
    top = item['gt'][:, :64, :64].numpy().transpose(1, 2, 0)
    assert np.array_equal(top, hr) or np.array_equal(top, hr[:, ::-1])
