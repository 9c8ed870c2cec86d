"""Every options/*.yml: loadable, registered types, buildable networks, consistent variants, data
layouts that BasicSR resolves; plus a real CPU train + test run of the demo EDSR options."""
import copy
import glob
import os
import subprocess
import sys
from os import path as osp

import cv2
import numpy as np
import pytest
import torch
import yaml

import gsdd_basicsr  # noqa: F401  (compat fixes + registration before basicsr's registries are read)
from basicsr.utils.options import ordered_yaml
from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
OPTIONS = sorted(glob.glob(osp.join(ROOT, 'options', '*.yml')))
NAMES = [osp.basename(p) for p in OPTIONS]
TRIPLES = ['gsdd_train_EDSR_Mx4', 'gsdd_train_RRDBNet_PSNR_x4']
VARIANTS = ('distilled', 'coreset', 'full')
EXPECTED = [f'{stem}_{v}.yml' for stem in TRIPLES for v in VARIANTS] + [
    'gsdd_train_RealESRNet_x4plus.yml', 'gsdd_train_RealESRGAN_x4plus.yml', 'gsdd_train_RealESRGAN_x4plus_finetune.yml',
    'gsdd_test_realworld_niqe_x4.yml', 'gsdd_train_EDSR_demo_x4.yml', 'gsdd_test_demo_x4.yml',
    'gsdd_test_benchmarks_x4.yml', 'gsdd_test_paired_x4.yml'
]
# what basicsr 1.4.2's BaseModel supports (get_optimizer / setup_schedulers)
SR_OPTIMIZERS = {'Adam'}
SCHEDULERS = {'MultiStepLR', 'MultiStepRestartLR', 'CosineAnnealingRestartLR'}
PATH_KEYS = ('dataroot', 'meta_info', 'pretrain_network', 'resume_state', 'latents')


def load(path):
    with open(path) as f:
        return yaml.load(f, Loader=ordered_yaml()[0])


def dump(opt, path):
    with open(path, 'w') as f:
        yaml.dump(opt, f, Dumper=ordered_yaml()[1])


def registered(registry, name):
    # basicsr's Registry.get falls back to '<name>_basicsr' (e.g. RealESRNetModel, RealESRGANDataset)
    return name in registry or f'{name}_basicsr' in registry


def walk_types(node, where=()):
    """(path of keys, value) of every ``type`` key."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'type':
                yield where, value
            else:
                yield from walk_types(value, where + (key, ))


def walk_strings(node, where=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk_strings(value, where + (key, ))
    elif isinstance(node, str):
        yield where, node


def test_all_expected_option_files_exist():
    missing = sorted(set(EXPECTED) - set(NAMES))
    assert not missing, missing


@pytest.mark.parametrize('path', OPTIONS, ids=NAMES)
def test_model_and_every_type_registered(path):
    from basicsr.utils.file_client import FileClient
    opt = load(path)
    assert opt['name'] and isinstance(opt['scale'], int)
    assert registered(MODEL_REGISTRY, opt['model_type']), opt['model_type']
    found = list(walk_types(opt))
    assert found
    for where, name in found:
        label = f"{'.'.join(where)}.type = {name}"
        if len(where) == 1 and where[0].startswith('network_'):
            assert registered(ARCH_REGISTRY, name), label
        elif len(where) == 2 and where[0] == 'datasets' or where[:1] + where[2:] == ('datasets', 'real'):
            assert registered(DATASET_REGISTRY, name), label
        elif where[0] == 'datasets' and where[-1] == 'io_backend':
            assert name in FileClient._backends, label
        elif len(where) == 2 and where[0] == 'train' and where[1].startswith('optim_'):
            assert hasattr(torch.optim, name), label
            if opt['model_type'] != 'GSDDModel':  # GSDDModel takes any torch.optim class
                assert name in SR_OPTIMIZERS, label
        elif where == ('train', 'scheduler'):
            assert name in SCHEDULERS, label
        elif len(where) == 2 and where[0] == 'train' and where[1].endswith('_opt'):
            assert registered(LOSS_REGISTRY, name), label
        elif len(where) == 3 and where[:2] == ('val', 'metrics'):
            assert registered(METRIC_REGISTRY, name), label
        else:
            pytest.fail(f'{label}: unclassified type key (extend this test)')


@pytest.mark.parametrize('path', OPTIONS, ids=NAMES)
def test_paths_are_relative_to_the_repo_root(path):
    for where, value in walk_strings(load(path)):
        if any(k in where[-1] for k in PATH_KEYS):
            assert value.startswith(('datasets/', 'experiments/')), f"{'.'.join(where)}: {value}"
            assert '..' not in value.split('/'), value


@pytest.mark.parametrize('path', OPTIONS, ids=NAMES)
def test_network_g_builds(path):
    from basicsr.archs import build_network
    opt = load(path)
    if opt['network_g']['type'] == 'RRDBNet':  # 23 blocks: building (without allocating) is enough
        with torch.device('meta'):
            net = build_network(copy.deepcopy(opt['network_g']))
        assert sum(p.numel() for p in net.parameters()) > 16e6
        return
    net = build_network(copy.deepcopy(opt['network_g']))
    with torch.no_grad():
        out = net(torch.rand(1, 3, 8, 8))
    assert out.shape == (1, 3, 8 * opt['scale'], 8 * opt['scale'])


@pytest.mark.parametrize('stem', TRIPLES)
def test_variants_differ_only_in_name_and_train_set(stem):
    opts = {v: load(osp.join(ROOT, 'options', f'{stem}_{v}.yml')) for v in VARIANTS}
    assert len({o['name'] for o in opts.values()}) == 3
    assert len({repr(o['datasets']['train']) for o in opts.values()}) == 3
    stripped = []
    for v, o in opts.items():
        assert o['name'] == f'{stem}_{v}'
        o = copy.deepcopy(o)
        del o['name'], o['datasets']['train']
        stripped.append(o)
    assert stripped[0] == stripped[1] == stripped[2]
    # and the same patch size and batch for a fair comparison
    trains = [o['datasets']['train'] for o in opts.values()]
    assert len({(t['gt_size'], t['batch_size_per_gpu']) for t in trains}) == 1


def test_distillation_options_consistent():
    from gsdd_basicsr.distill.options import parse_gsdd_options
    paths = [p for p in OPTIONS if load(p)['model_type'] == 'GSDDModel']
    assert len(paths) >= 3
    for path in paths:
        opt = load(path)
        gsdd = parse_gsdd_options(opt.get('gsdd'))
        assert opt['datasets']['train']['type'] == 'DistillationStepDataset', path
        sets = [opt['datasets']['train']['real']] + [ds for phase, ds in opt['datasets'].items() if phase != 'train']
        for ds in sets:
            assert ds['gt_size'] == opt['scale'] * gsdd['latent_size'], (path, ds['name'])


# ------------------------------------------------------------------------------------------------
# data layouts: the option files' relative paths, resolved under a tmp "repository root"
# ------------------------------------------------------------------------------------------------
def _texture(h, w, seed):
    rng = np.random.default_rng(seed)
    small = rng.random((max(2, h // 16), max(2, w // 16), 3)).astype(np.float32)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def _export(root, n=4, size=128, scale=4):
    from gsdd_basicsr.sets.export import write_image_set
    imgs = [_texture(size, size, i) for i in range(n)]
    write_image_set(str(root), imgs, [f'img_{i:04d}.png' for i in range(n)], scale)


def _pair_folder(root, size, n=1, scale=4):
    """HR/ + LR_bicubic/X<s>/ with the same names (the demo val/test layout)."""
    from gsdd_basicsr.utils.image_io import lr_from_hr
    os.makedirs(root / 'HR', exist_ok=True)
    os.makedirs(root / 'LR_bicubic' / f'X{scale}', exist_ok=True)
    for i in range(n):
        hr = _texture(size, size, 100 + i)
        cv2.imwrite(str(root / 'HR' / f'p{i}.png'), hr)
        cv2.imwrite(str(root / 'LR_bicubic' / f'X{scale}' / f'p{i}.png'), lr_from_hr(hr, scale))


def _under(tmp_path, ds_opt, scale, phase):
    ds = copy.deepcopy(dict(ds_opt))
    for key in list(ds):
        if any(k in key for k in PATH_KEYS) and isinstance(ds[key], str):
            ds[key] = str(tmp_path / ds[key])
    ds.update(phase=phase, scale=scale)
    return ds


@pytest.mark.parametrize('name', ['gsdd_train_EDSR_Mx4_distilled.yml', 'gsdd_train_RRDBNet_PSNR_x4_coreset.yml',
                                  'gsdd_train_EDSR_demo_x4.yml'])
def test_exported_layout_read_by_train_sets(tmp_path, name):
    from basicsr.data import build_dataset
    opt = load(osp.join(ROOT, 'options', name))
    train = opt['datasets']['train']
    assert train['type'] == 'DistilledImageDataset'
    _export(tmp_path / train['dataroot'], size=128)
    item = build_dataset(_under(tmp_path, train, opt['scale'], 'train'))[0]
    gt = train['gt_size']
    assert item['gt'].shape == (3, gt, gt) and item['lq'].shape == (3, gt // 4, gt // 4)


def test_realesrnet_reads_exported_hr_and_meta_info(tmp_path):
    from basicsr.data import build_dataset
    opt = load(osp.join(ROOT, 'options', 'gsdd_train_RealESRNet_x4plus.yml'))
    train = opt['datasets']['train']
    assert train['type'] == 'RealESRGANDataset'
    export = tmp_path / 'datasets' / 'gsdd_OST_x4_IPC100'
    _export(export, n=2)
    assert osp.normpath(tmp_path / train['dataroot_gt']) == osp.normpath(export / 'HR')
    assert osp.normpath(tmp_path / train['meta_info']) == osp.normpath(export / 'meta_info.txt')
    ds = build_dataset(_under(tmp_path, train, opt['scale'], 'train'))
    assert len(ds) == 2 and ds.paths[0] == str(export / 'HR' / 'img_0000.png')
    item = ds[0]  # RealESRGANDataset pads to 400 px (hard-coded) and draws the blur kernels
    assert item['gt'].shape == (3, 400, 400) and item['kernel1'].shape == (21, 21)
    assert opt['queue_size'] % train['batch_size_per_gpu'] == 0


def test_realsr_pairs_by_meta_info_and_filename_tmpl(tmp_path):
    from basicsr.data import build_dataset
    opt = load(osp.join(ROOT, 'options', 'gsdd_test_benchmarks_x4.yml'))
    sets = {ds['name']: ds for ds in opt['datasets'].values()}
    assert {'Set5', 'Set14', 'BSD100', 'Urban100', 'RealSR_Canon_x4', 'RealSR_Nikon_x4'} <= set(sets)
    for cam in ('Canon', 'Nikon'):
        ds_opt = sets[f'RealSR_{cam}_x4']
        folder = tmp_path / 'datasets' / 'RealSR' / cam / 'Test' / '4'
        os.makedirs(folder)
        for i in (1, 2, 10):  # RealSR V3 names: <camera>_<3 digits>_HR.png / _LR4.png
            hr = _texture(32, 48, i)
            cv2.imwrite(str(folder / f'{cam}_{i:03d}_HR.png'), hr)
            cv2.imwrite(str(folder / f'{cam}_{i:03d}_LR4.png'), hr[::4, ::4])
        # the header's one-time step: list the HR files
        names = sorted(n for n in os.listdir(folder) if n.endswith('_HR.png'))
        (tmp_path / ds_opt['meta_info_file']).write_text(''.join(f'{n}\n' for n in names))
        ds = build_dataset(_under(tmp_path, ds_opt, opt['scale'], 'test'))
        assert len(ds) == 3
        for i, p in zip((1, 2, 10), ds.paths):
            assert p['gt_path'] == str(folder / f'{cam}_{i:03d}_HR.png')
            assert p['lq_path'] == str(folder / f'{cam}_{i:03d}_LR4.png')
        item = ds[2]
        assert item['gt'].shape == (3, 32, 48) and item['lq'].shape == (3, 8, 12)


def test_paired_test_of_your_photos_is_the_benchmarks_edsr_m_with_lpips_and_niqe():
    """gsdd_test_paired_x4.yml: one PairedImageDataset where tools/prepare_photo_data.py writes the test split, the
    benchmark file's EDSR-M and weights keys, its PSNR / SSIM, plus LPIPS (AlexNet) and the demo test's NIQE."""
    opt = load(osp.join(ROOT, 'options', 'gsdd_test_paired_x4.yml'))
    bench = load(osp.join(ROOT, 'options', 'gsdd_test_benchmarks_x4.yml'))
    demo = load(osp.join(ROOT, 'options', 'gsdd_test_demo_x4.yml'))
    assert list(opt['datasets']) == ['test_1']
    ds = opt['datasets']['test_1']
    assert (ds['type'], ds['dataroot_gt'], ds['dataroot_lq']) == (
        'PairedImageDataset', 'datasets/mine/test/HR', 'datasets/mine/test/LR_bicubic/X4')
    assert opt['network_g'] == bench['network_g'] and opt['path'] == bench['path'] and opt['scale'] == 4
    metrics = opt['val']['metrics']
    assert list(metrics) == ['psnr', 'ssim', 'lpips', 'niqe']
    assert {k: metrics[k] for k in ('psnr', 'ssim')} == dict(bench['val']['metrics'])
    assert dict(metrics['lpips']) == dict(type='calculate_lpips', crop_border=4, net='alex', better='lower')
    assert metrics['niqe'] == demo['val']['metrics']['niqe']


# ------------------------------------------------------------------------------------------------
# a real CPU run of the demo's train and test options
# ------------------------------------------------------------------------------------------------
def _run(script, opt_path, cwd):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get('PYTHONPATH')])),
               CUDA_VISIBLE_DEVICES='')
    return subprocess.run([sys.executable, osp.join(ROOT, 'gsdd_basicsr', script), '-opt', str(opt_path)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_demo_train_then_test_on_cpu(tmp_path):
    train_opt = load(osp.join(ROOT, 'options', 'gsdd_train_EDSR_demo_x4.yml'))
    test_opt = load(osp.join(ROOT, 'options', 'gsdd_test_demo_x4.yml'))
    # the file's own relative paths, built under tmp_path (the run's cwd)
    _export(tmp_path / train_opt['datasets']['train']['dataroot'], n=3, size=128)
    _pair_folder(tmp_path / osp.dirname(train_opt['datasets']['val']['dataroot_gt']), size=48)
    test_ds = test_opt['datasets']['test_1']
    _pair_folder(tmp_path / osp.dirname(test_ds['dataroot_gt']), size=216)  # NIQE: > 96 + 2 * 4 px
    assert test_ds['dataroot_lq'] == osp.join(osp.dirname(test_ds['dataroot_gt']), 'LR_bicubic', 'X4')

    # the test options must describe the trained network and read its latest weights
    assert test_opt['network_g'] == train_opt['network_g']
    assert test_opt['path']['pretrain_network_g'] == f"experiments/{train_opt['name']}/models/net_g_latest.pth"

    train_opt['train']['total_iter'] = 4
    train_opt['logger'].update(print_freq=2, use_tb_logger=False)
    dump(train_opt, tmp_path / 'train.yml')
    res = _run('train.py', tmp_path / 'train.yml', tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    exp = tmp_path / 'experiments' / train_opt['name']
    assert (exp / 'models' / 'net_g_latest.pth').is_file()
    log = open(sorted(glob.glob(str(exp / 'train_*.log')))[-1]).read()
    assert 'iter:       4' in log and '# psnr:' in log  # validation after the last iteration

    dump(test_opt, tmp_path / 'test.yml')
    res = _run('test.py', tmp_path / 'test.yml', tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    log = open(sorted(glob.glob(str(tmp_path / 'results' / test_opt['name'] / 'test_*.log')))[-1]).read()
    for metric in ('psnr', 'ssim', 'niqe'):
        line = next(v for v in log.splitlines() if f'# {metric}:' in v)
        assert np.isfinite(float(line.split(f'# {metric}:')[1].split()[0])), line
    assert glob.glob(str(tmp_path / 'results' / test_opt['name'] / 'visualization' / test_ds['name'] / '*.png'))
