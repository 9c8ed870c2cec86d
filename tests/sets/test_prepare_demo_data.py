"""tools/prepare_demo_data.py / gsdd_basicsr.sets.demo_data: the real demo data set."""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from basicsr.data import build_dataset
from basicsr.utils.matlab_functions import imresize
from gsdd_basicsr.sets import demo_data
from gsdd_basicsr.sets import sr_set_writer
from gsdd_basicsr.sets.demo_data import CLASSES, SCALES, prepare_demo_data
from helpers import ROOT


def _read(path):
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert img is not None, path
    return img


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp('demo_parent')
    out = root / 'demo'
    info = prepare_demo_data(str(out), lmdb=True, seed=0)
    return out, info


def test_layout_and_shapes(demo):
    out, info = demo
    assert sorted(os.listdir(out / 'train')) == sorted(list(CLASSES) + ['meta_info.txt'])
    listed = (out / 'train' / 'meta_info.txt').read_text().split()
    on_disk = sorted(f'{c}/{n}' for c in CLASSES for n in os.listdir(out / 'train' / c))
    assert sorted(listed) == on_disk
    for cls in CLASSES:
        names = os.listdir(out / 'train' / cls)
        assert len(names) >= 8, (cls, len(names))
        assert len(names) == info['counts']['train'][cls]
        for n in names:
            assert n.endswith('.png') and '.' not in n[:-4]
            img = _read(str(out / 'train' / cls / n))
            assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
            assert img.shape[0] % 12 == 0 and img.shape[1] % 12 == 0
    for split in ('val', 'test'):
        hr_names = sorted(os.listdir(out / split / 'HR'))
        assert len(hr_names) == info['counts'][split] >= 2
        for s in SCALES:
            assert sorted(os.listdir(out / split / 'LR_bicubic' / f'X{s}')) == hr_names
        for n in hr_names:
            hr = _read(str(out / split / 'HR' / n))
            assert hr.ndim == 3 and hr.shape[2] == 3
            assert hr.shape[0] % 12 == 0 and hr.shape[1] % 12 == 0
            for s in SCALES:
                lr = _read(str(out / split / 'LR_bicubic' / f'X{s}' / n))
                assert lr.shape == (hr.shape[0] // s, hr.shape[1] // s, 3)
    for f in ('README.md', 'sources.json'):
        assert (out / f).is_file()


def test_lr_is_basicsr_bicubic_of_hr(demo):
    out, _ = demo
    for split in ('val', 'test'):
        for n in sorted(os.listdir(out / split / 'HR')):
            hr = _read(str(out / split / 'HR' / n)).astype(np.float32) / 255.
            for s in SCALES:
                lr = _read(str(out / split / 'LR_bicubic' / f'X{s}' / n)).astype(np.int16)
                ref = np.clip(np.round(np.asarray(imresize(hr, 1. / s)) * 255.), 0, 255).astype(np.int16)
                assert ref.shape == lr.shape
                assert np.abs(ref - lr).max() <= 1, (split, n, s)


def test_sources_disjoint_and_documented(demo):
    out, info = demo
    data = json.loads((out / 'sources.json').read_text(encoding='utf-8'))
    split_of = {}
    files = set()
    for src in data['sources']:
        assert src['licence'] and src['origin'] and src['file']
        assert src['name'] not in split_of, f'{src["name"]} listed twice'
        split_of[src['name']] = src['split']
        assert src['file'] not in files
        files.add(src['file'])
        for im in src['images']:
            assert (out / im['path']).is_file()
            assert im['path'].startswith(src['split'] + '/')
            if src['split'] == 'train':
                assert im['path'].startswith(f'train/{src["class"]}/')
    # every written image is attributed to exactly one source
    attributed = {im['path'] for src in data['sources'] for im in src['images']}
    written = {p.relative_to(out).as_posix() for p in out.rglob('*.png') if 'LR_bicubic' not in p.parts}
    assert written == attributed
    for cls in CLASSES:
        assert sum(1 for s in data['sources'] if s['split'] == 'train' and s['class'] == cls) >= 2
    for split in ('train', 'val', 'test'):
        assert split in split_of.values()
    readme = (out / 'README.md').read_text(encoding='utf-8')
    for src in data['sources']:
        assert src['name'] in readme and src['licence'] in readme
    # the code's own check rejects a source shared by two splits
    bad = [dict(s) for s in demo_data.SOURCES]
    bad.append(dict(bad[0], split='test'))
    with pytest.raises(AssertionError):
        demo_data.check_disjoint(bad)


def test_no_temp_left_behind(demo):
    out, _ = demo
    assert os.listdir(out.parent) == ['demo']
    assert oct(os.stat(out).st_mode & 0o777) != oct(0o700)


def test_a_tile_larger_than_every_photo_of_a_class_is_refused(tmp_path):
    """A class whose photos all fall below --tile-size would be empty: refused, naming the option, nothing written."""
    out = tmp_path / 'demo'
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'prepare_demo_data.py'), '--out', str(out),
                           '--tile-size', '1200'], capture_output=True, text=True, cwd=str(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and '--tile-size 1200' in proc.stderr
    assert os.listdir(tmp_path) == []


def test_refuses_without_force_then_force_replaces(tmp_path):
    out = tmp_path / 'demo'
    out.mkdir()
    (out / 'keep.txt').write_text('old')
    with pytest.raises(FileExistsError, match='--force'):
        prepare_demo_data(str(out))
    assert (out / 'keep.txt').read_text() == 'old'
    # the CLI: one line on stderr, exit status 2
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'prepare_demo_data.py'), '--out', str(out)],
                          capture_output=True, text=True, cwd=str(tmp_path))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and '--force' in proc.stderr
    assert str(out) in proc.stderr

    # a failure part-way leaves the old folder untouched and no temporary folder
    def boom(*a, **k):
        raise OSError('simulated failure')

    real = sr_set_writer.lr_from_hr
    sr_set_writer.lr_from_hr = boom
    try:
        with pytest.raises(OSError, match='simulated'):
            prepare_demo_data(str(out), force=True)
    finally:
        sr_set_writer.lr_from_hr = real
    assert sorted(os.listdir(tmp_path)) == ['demo'] and os.listdir(out) == ['keep.txt']

    info = prepare_demo_data(str(out), force=True, seed=1)
    assert not (out / 'keep.txt').exists()
    assert (out / 'train' / 'meta_info.txt').is_file() and info['seed'] == 1
    assert sorted(os.listdir(tmp_path)) == ['demo']
    # an empty existing folder needs no --force
    empty = tmp_path / 'empty'
    empty.mkdir()
    prepare_demo_data(str(empty), max_tiles=1)
    assert (empty / 'sources.json').is_file()


@pytest.mark.parametrize('split,scale', [('test', 4), ('val', 2)])
def test_lmdb_readable_by_paired_image_dataset(demo, split, scale):
    out, _ = demo
    lq = out / split / 'LR_bicubic' / f'X{scale}.lmdb'
    gt = out / split / 'HR.lmdb'
    for db in (lq, gt):
        meta = (db / 'meta_info.txt').read_text().splitlines()
        assert all(line.endswith(') 1') and '.png (' in line for line in meta)
    opt = dict(name=f'demo_{split}', type='PairedImageDataset', phase='val', scale=scale,
               dataroot_gt=str(gt), dataroot_lq=str(lq), io_backend=dict(type='lmdb'))
    ds = build_dataset(opt)
    assert len(ds) == len(os.listdir(out / split / 'HR'))
    item = ds[0]
    key = item['gt_path']
    assert item['lq_path'] == key
    hr = _read(str(out / split / 'HR' / f'{key}.png'))
    assert tuple(item['gt'].shape) == (3, hr.shape[0], hr.shape[1])
    assert tuple(item['lq'].shape) == (3, hr.shape[0] // scale, hr.shape[1] // scale)
    # same pixels as the PNG folder version (BGR->RGB tensor in [0, 1])
    ref = hr[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) / 255.
    assert np.abs(item['gt'].numpy() - ref).max() < 1e-6

    # and the PNG folders pair up with filename_tmpl '{}'
    opt_disk = dict(opt, dataroot_gt=str(out / split / 'HR'), dataroot_lq=str(out / split / 'LR_bicubic' / f'X{scale}'),
                    io_backend=dict(type='disk'), filename_tmpl='{}')
    assert len(build_dataset(opt_disk)) == len(ds)


def test_train_lmdb_keys(demo):
    out, _ = demo
    import lmdb
    meta = (out / 'train.lmdb' / 'meta_info.txt').read_text().splitlines()
    listed = (out / 'train' / 'meta_info.txt').read_text().split()
    assert [line.split(' ')[0] for line in meta] == listed
    env = lmdb.open(str(out / 'train.lmdb'), readonly=True, lock=False)
    with env.begin() as txn:
        key = listed[0][:-len('.png')]
        buf = txn.get(key.encode('ascii'))
    env.close()
    img = cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(img, _read(str(out / 'train' / listed[0])))
