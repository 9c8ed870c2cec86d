"""tools/make_class_lmdb.py / gsdd_basicsr.sets.class_lmdb: class folders -> an LMDB ClassImageDataset reads."""
import json
import os
from os import path as osp

import cv2
import numpy as np
import pytest

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from basicsr.data import build_dataset
from gsdd_basicsr.sets.class_lmdb import make_class_lmdb
from helpers import write_rgb

SIZES = {'plant/p0.png': (40, 56), 'plant/sub/p1.jpg': (64, 48), 'water/w0.png': (50, 50), 'water/w1.png': (36, 80),
         'sky/s0.png': (48, 48)}


@pytest.fixture
def source(tmp_path):
    """Three classes; ``water`` is a link to a folder elsewhere, ``sky/s1.png`` a link to a file."""
    rng = np.random.default_rng(0)
    for rel, (h, w) in SIZES.items():
        folder = 'elsewhere/water_photos' if rel.startswith('water/') else 'src/' + osp.dirname(rel)
        write_rgb(str(tmp_path / folder / osp.basename(rel)), rng.integers(0, 256, (h, w, 3)).astype(np.uint8))
    os.symlink(tmp_path / 'elsewhere' / 'water_photos', tmp_path / 'src' / 'water')
    os.symlink(tmp_path / 'src' / 'plant' / 'p0.png', tmp_path / 'src' / 'sky' / 's1.png')
    return tmp_path / 'src'


def _dataset(root, gt_size=32):
    return build_dataset(dict(name='lmdb', type='ClassImageDataset', dataroot_gt=str(root), gt_size=gt_size,
                              io_backend=dict(type='lmdb'), class_mode='folder', phase='train'))


def test_round_trip_through_class_image_dataset(source, tmp_path, run_tool):
    out = tmp_path / 'set.lmdb'
    assert run_tool('make_class_lmdb', ['--source', str(source), '--out', str(out)]) == 0
    assert sorted(os.listdir(out)) == ['class_lmdb.json', 'data.mdb', 'lock.mdb', 'meta_info.txt']
    assert sorted(os.listdir(tmp_path)) == ['elsewhere', 'set.lmdb', 'src']  # no temporary folder left
    keys = [line.split()[0] for line in (out / 'meta_info.txt').read_text().splitlines()]
    assert keys == ['plant/p0.png', 'plant/sub/p1.png', 'sky/s0.png', 'sky/s1.png', 'water/w0.png', 'water/w1.png']
    ds = _dataset(out)
    assert ds.class_names == ['plant', 'sky', 'water']
    assert ds.class_counts() == {'plant': 2, 'sky': 2, 'water': 2}
    disk = build_dataset(dict(name='disk', type='ClassImageDataset', dataroot_gt=str(source), gt_size=32,
                              class_mode='folder', phase='train'))
    assert disk.class_counts() == ds.class_counts() and disk.sizes == ds.sizes
    for i, key in enumerate(ds.paths):  # every image decodes to the source's pixels (the JPEG as OpenCV decodes it)
        src = next(osp.join(source, key + ext) for ext in ('.png', '.jpg') if osp.exists(osp.join(source, key + ext)))
        np.testing.assert_array_equal(ds.read_image(i), cv2.imread(src).astype(np.float32) / 255.)
    assert ds[0]['gt'].shape == (3, 32, 32)
    info = json.loads((out / 'class_lmdb.json').read_text())
    assert info['classes'] == {'plant': 2, 'sky': 2, 'water': 2} and info['tile_size'] is None


def test_tiles_when_asked(source, tmp_path):
    out = tmp_path / 'tiles.lmdb'
    info = make_class_lmdb(str(source), str(out), tile_size=24)
    # tiles per image: (h // 24) x (w // 24)
    expect = {'plant': 1 * 2 + 2 * 2, 'sky': 2 * 2 + 1 * 2, 'water': 2 * 2 + 1 * 3}
    assert info['classes'] == expect
    ds = _dataset(out, gt_size=24)
    assert ds.class_counts() == expect and set(ds.sizes) == {(24, 24)}
    assert 'plant/sub/p1_r0c0' in ds.paths and not (out / 'tiles').exists()


def test_bad_input_is_one_line_exit_2_and_nothing_written(source, tmp_path, run_tool, capsys):
    def fails(src, out, *extra, match):
        code = run_tool('make_class_lmdb', ['--source', str(src), '--out', str(out), *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and match in err[0], err
        assert not osp.exists(out) or out == tmp_path / 'set.lmdb'

    flat = tmp_path / 'flat'
    write_rgb(str(flat / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    fails(flat, tmp_path / 'f.lmdb', match='no class folders')
    fails(source, tmp_path / 'x', match='must end with .lmdb')
    assert run_tool('make_class_lmdb', ['--source', str(source), '--out', str(tmp_path / 'set.lmdb')]) == 0
    capsys.readouterr()  # its progress
    before = (tmp_path / 'set.lmdb' / 'meta_info.txt').read_text()
    fails(source, tmp_path / 'set.lmdb', match='pass --force')
    assert (tmp_path / 'set.lmdb' / 'meta_info.txt').read_text() == before
    (source / 'plant' / 'broken.png').write_bytes(b'not an image')
    fails(source, tmp_path / 'b.lmdb', match='broken.png')
    fails(source, tmp_path / 'set.lmdb', '--force', match='broken.png')
    assert (tmp_path / 'set.lmdb' / 'meta_info.txt').read_text() == before  # the old LMDB is kept
    os.remove(source / 'plant' / 'broken.png')
    os.symlink(tmp_path / 'gone', source / 'ghost')
    fails(source, tmp_path / 'g.lmdb', match='ghost')
    assert [n for n in os.listdir(tmp_path) if n.startswith('.')] == []
