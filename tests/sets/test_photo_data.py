"""tools/prepare_photo_data.py / gsdd_basicsr.sets.photo_data: a real-photo SR set from a folder of photos."""
import importlib.util
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from basicsr.data import build_dataset
from gsdd_basicsr.errors import GSDDError
from gsdd_basicsr.utils.image_io import lr_from_hr, read_rgb
from gsdd_basicsr.sets.photo_data import check_photos, prepare_photo_data, read_split_file
from gsdd_basicsr.sets.sr_set_writer import SCALES
from gsdd_basicsr.utils.hashing import file_sha256
from helpers import ROOT

TOOL = osp.join(ROOT, 'tools', 'prepare_photo_data.py')
TILE = 96


def _photo(path, h, w, seed):
    """A smooth random colour image with some texture (uint8 RGB), written to ``path``."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(h // 16 + 2, w // 16 + 2, 3)).astype(np.float32)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) + rng.normal(0, 8, size=(h, w, 3))
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), np.clip(img, 0, 255).astype(np.uint8))
    return str(path)


def _split_file(path, photos):
    lines = ['photos:']
    for p in photos:
        lines.append('  - {' + ', '.join(f'{k}: {v!r}' if isinstance(v, str) else f'{k}: {v}'
                                          for k, v in p.items()) + '}')
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


# train: a (two classes, one photo downscaled first), val: v, test: t
PHOTOS = [
    dict(path='a1.png', size=(300, 400), split='train', **{'class': 'water'}),   # 3 x 4 tiles
    dict(path='sub/a2.jpg', size=(500, 800), split='train', **{'class': 'water'}),  # -> 250 x 400: 2 x 4
    dict(path='b1.png', size=(200, 200), split='train', **{'class': 'plant'}),    # 2 x 2
    dict(path='v1.png', size=(100, 130), split='val'),                              # HR 96 x 120
    dict(path='t1.png', size=(250, 200), split='test'),                             # HR 240 x 192
    dict(path='t2.jpg', size=(610, 300), split='test'),                             # -> 400 x 197 -> 396 x 192
]
TILES = {'water': 12 + 8, 'plant': 4}


def _fixture(root, photos=PHOTOS):
    entries = []
    for i, p in enumerate(photos):
        _photo(root / 'photos' / p['path'], *p['size'], seed=i)
        e = {k: v for k, v in p.items() if k != 'size'}
        entries.append(dict(e, source=f'made by the test #{i}', licence='CC0'))
    return _split_file(root / 'split.yml', entries)


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp('photo')
    split = _fixture(root)
    out = root / 'set'
    info = prepare_photo_data(str(out), split_file=split, photos_dir=str(root / 'photos'), tile_size=TILE,
                              max_side=400)
    return root, out, info


def test_layout_and_tile_counts(built):
    root, out, info = built
    assert sorted(os.listdir(out)) == ['README.md', 'sources.json', 'test', 'train', 'val']
    assert sorted(os.listdir(out / 'train')) == ['meta_info.txt', 'plant', 'water']
    for cls, n in TILES.items():
        names = sorted(os.listdir(out / 'train' / cls))
        assert len(names) == n == info['counts']['train'][cls], cls
        for name in names:
            assert read_rgb(str(out / 'train' / cls / name)).shape == (TILE, TILE, 3)
    listed = (out / 'train' / 'meta_info.txt').read_text().split()
    assert sorted(listed) == sorted(f'{c}/{n}' for c in TILES for n in os.listdir(out / 'train' / c))
    # the downscaled photo's tiles are crops of its MATLAB-bicubic 250 x 400 version
    rec = {r['name']: r for r in info['photos']}
    assert rec['a2']['source_size'] == [500, 800] and rec['a2']['size'] == [250, 400]
    assert rec['a1']['size'] == rec['a1']['source_size'] == [300, 400]
    assert {r['name'] for r in info['photos']} == {'a1', 'a2', 'b1', 'v1', 't1', 't2'}
    assert info['counts']['val'] == 1 and info['counts']['test'] == 2 and info['counts']['train_photos'] == 3
    assert sorted(os.listdir(out.parent)) == sorted(['set', 'photos', 'split.yml'])  # no temporary folder left


def test_hr_lr_pairs(built):
    _, out, info = built
    sizes = {'v1': (96, 120), 't1': (240, 192), 't2': (396, 192)}
    for split, names in (('val', ['v1']), ('test', ['t1', 't2'])):
        assert sorted(os.listdir(out / split / 'HR')) == [f'{n}.png' for n in names]
        for n in names:
            hr = read_rgb(str(out / split / 'HR' / f'{n}.png'))
            assert hr.shape[:2] == sizes[n]
            for s in SCALES:
                lr = read_rgb(str(out / split / 'LR_bicubic' / f'X{s}' / f'{n}.png'))
                np.testing.assert_array_equal(lr, lr_from_hr(hr, s))


def test_loads_in_class_image_dataset_and_paired_dataset(built):
    """The training tiles are ClassImageDataset's classes; val/test pair up in PairedImageDataset."""
    _, out, _ = built
    ds = build_dataset(dict(name='photo_train', type='ClassImageDataset', dataroot_gt=str(out / 'train'),
                            gt_size=TILE // 2, class_mode='folder', phase='train'))
    assert ds.class_names == sorted(TILES)
    assert [len(i) for i in ds.class_to_indices] == [TILES[c] for c in sorted(TILES)]
    ds = build_dataset(dict(name='photo_test', type='PairedImageDataset', dataroot_gt=str(out / 'test' / 'HR'),
                            dataroot_lq=str(out / 'test' / 'LR_bicubic' / 'X4'), io_backend=dict(type='disk'),
                            filename_tmpl='{}', scale=4, phase='val'))
    assert len(ds) == 2 and ds[0]['gt'].shape[1] == 4 * ds[0]['lq'].shape[1]


def test_sources_json_and_readme(built):
    root, out, info = built
    data = json.loads((out / 'sources.json').read_text(encoding='utf-8'))
    assert data['counts'] == info['counts'] and data['tile_size'] == TILE and data['max_side'] == 400
    readme = (out / 'README.md').read_text(encoding='utf-8')
    for r in data['photos']:
        assert r['sha256'] == file_sha256(str(root / 'photos' / r['file']))
        assert r['source'].startswith('made by the test') and r['licence'] == 'CC0'
        assert r['name'] in readme and r['file'] in readme
    by_name = {r['name']: r for r in data['photos']}
    assert by_name['a1']['class'] == 'water' and by_name['v1']['class'] is None
    assert by_name['t2']['split'] == 'test' and len(by_name['a1']['images']) == 12


def test_flat_folder_without_split_file(tmp_path):
    """No split file: the folder's train/, val/, test/ are the split; unclassed train tiles are flat."""
    for i, rel in enumerate(['train/x.png', 'train/y.png', 'val/v.png', 'test/t.png']):
        _photo(tmp_path / 'photos' / rel, 200, 300, seed=i)
    info = prepare_photo_data(str(tmp_path / 'out'), photos_dir=str(tmp_path / 'photos'), tile_size=TILE,
                              max_tiles=3, seed=1)
    train = sorted(os.listdir(tmp_path / 'out' / 'train'))
    assert len(train) == 2 * 3 + 1 and 'meta_info.txt' in train  # 2 x 3 tiles per photo, capped at 3
    assert info['counts']['train'] == 6 and info['classes'] == []
    assert all(r['class'] is None and r['licence'] is None for r in info['photos'])
    assert (tmp_path / 'out' / 'test' / 'LR_bicubic' / 'X4' / 't.png').is_file()


def test_absent_splits_and_linked_folders(tmp_path):
    """val/ and a class folder are links to photos elsewhere (followed); test/ is absent: the set is written
    without it and says so; its LMDBs are those of the splits it has."""
    _photo(tmp_path / 'photos' / 'train' / 'water' / 'w.png', 200, 200, seed=0)
    _photo(tmp_path / 'elsewhere' / 'plants' / 'p.png', 200, 300, seed=1)
    _photo(tmp_path / 'elsewhere' / 'val' / 'v.png', 100, 130, seed=2)
    os.symlink(tmp_path / 'elsewhere' / 'plants', tmp_path / 'photos' / 'train' / 'plant')
    os.symlink(tmp_path / 'elsewhere' / 'val', tmp_path / 'photos' / 'val')
    out = tmp_path / 'out'
    info = prepare_photo_data(str(out), photos_dir=str(tmp_path / 'photos'), tile_size=TILE, lmdb=True)
    assert info['absent_splits'] == ['test'] and info['counts']['val'] == 1
    assert info['counts']['train'] == {'plant': 2 * 3, 'water': 2 * 2}
    assert sorted(os.listdir(out)) == ['README.md', 'sources.json', 'train', 'train.lmdb', 'val']
    assert (out / 'val' / 'HR.lmdb').is_dir() and (out / 'val' / 'LR_bicubic' / 'X4' / 'v.png').is_file()
    assert 'test: absent (no photo in that split)' in (out / 'README.md').read_text()
    assert json.loads((out / 'sources.json').read_text())['absent_splits'] == ['test']
    ds = build_dataset(dict(name='linked', type='ClassImageDataset', dataroot_gt=str(out / 'train.lmdb'),
                            io_backend=dict(type='lmdb'), gt_size=TILE, class_mode='folder', phase='train'))
    assert ds.class_counts() == {'plant': 6, 'water': 4}


def _load_tool():
    spec = importlib.util.spec_from_file_location('prepare_photo_data_tool', TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(argv, capsys):
    """The tool in-process: (exit status, stderr)."""
    with pytest.raises(SystemExit) as exc:
        _load_tool().main(argv)
    return exc.value.code, capsys.readouterr().err


@pytest.mark.parametrize('change, expect', [
    (lambda ps: ps.append(dict(ps[0], path='copy_of_a1.png', split='test', **{'class': None})), 'two splits'),
    (lambda ps: ps.append(dict(ps[2], path='copy_of_b1.png')), 'listed twice'),
    (lambda ps: ps[0].update(path='missing.png'), 'missing.png'),
    (lambda ps: ps[0].update(split='training'), "split 'training'"),
    (lambda ps: ps[2].pop('class'), 'some training photos have a class'),
    (lambda ps: ps[3].update(license='CC0'), "unknown key(s) ['license']"),
    (lambda ps: ps.__delitem__(slice(0, 3)), "no photo in split 'train'"),
    (lambda ps: ps[3].update(root='elsewhere'), "root 'elsewhere' is not defined"),
])
def test_bad_split_refused_before_writing(tmp_path, capsys, change, expect):
    split = _fixture(tmp_path)
    shutil.copy(tmp_path / 'photos' / 'a1.png', tmp_path / 'photos' / 'copy_of_a1.png')
    shutil.copy(tmp_path / 'photos' / 'b1.png', tmp_path / 'photos' / 'copy_of_b1.png')
    data = yaml.safe_load(open(split))
    change(data['photos'])
    data['photos'] = [{k: v for k, v in p.items() if v is not None} for p in data['photos']]
    split = _split_file(tmp_path / 'bad.yml', data['photos'])
    code, err = _run(['--split', split, '--photos', str(tmp_path / 'photos'), '--out', str(tmp_path / 'out'),
                      '--tile', str(TILE)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith('prepare_photo_data: error: ') and expect in err, err
    assert not (tmp_path / 'out').exists()
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith('.')) == []


def test_bad_options_and_small_train_photo(tmp_path, capsys):
    split = _fixture(tmp_path)
    common = ['--split', split, '--photos', str(tmp_path / 'photos'), '--out', str(tmp_path / 'out')]
    for extra, expect in ((['--tile', '100'], 'multiple of 12'), (['--tile', '96', '--max-side', '50'], '--max-side'),
                          (['--tile', '240'], 'holds no 240 px tile'), (['--root', 'oops'], 'NAME=DIR')):
        code, err = _run(common + extra, capsys)
        assert code == 2 and expect in err and len(err.strip().splitlines()) == 1, (extra, err)
        assert not (tmp_path / 'out').exists()
    with pytest.raises(GSDDError, match='--photos'):
        prepare_photo_data(str(tmp_path / 'out'))


def test_force_and_cli(tmp_path):
    split = _fixture(tmp_path)
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'keep.txt').write_text('old')
    cmd = [sys.executable, TOOL, '--split', split, '--photos', str(tmp_path / 'photos'), '--out', str(out),
           '--tile', str(TILE)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 2 and '--force' in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert os.listdir(out) == ['keep.txt']
    proc = subprocess.run(cmd + ['--force'], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert not (out / 'keep.txt').exists() and (out / 'sources.json').is_file()
    assert '[photo data] 1/6 train/plant b1' in proc.stdout and 'training tiles from 3 photos' in proc.stdout
    assert sorted(os.listdir(tmp_path)) == ['out', 'photos', 'split.yml']


def test_committed_split_file():
    """options/data/photo_split.yml: the promised sizes, and its photos exist where installed."""
    entries = read_split_file(osp.join(ROOT, 'options', 'data', 'photo_split.yml'))
    train = [e for e in entries if e['split'] == 'train']
    assert len(train) >= 12 and len({e['cls'] for e in train}) >= 4
    assert sum(e['split'] == 'test' for e in entries) >= 6 and any(e['split'] == 'val' for e in entries)
    assert all(e['source'] and e['licence'] for e in entries)
    for e in entries:
        if e['root'] == 'skimage':
            assert osp.isfile(e['file']), e['file']
    if not osp.isdir('/usr/share/wallpapers/Path'):
        pytest.skip('plasma-workspace-wallpapers is not installed')
    check_photos(entries)  # every file exists, no photo twice, every split filled
