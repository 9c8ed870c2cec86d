"""gsdd_basicsr.utils.image_io and utils.atomic.atomic_folder: the helpers every image-set writer and reader shares."""
import os
from os import path as osp
from pathlib import Path

import cv2
import numpy as np
import pytest

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.errors import GSDDError, MissingInputError, OutputExistsError, WriteError
from gsdd_basicsr.utils import image_io as image_set
from gsdd_basicsr.utils.atomic import atomic_folder


def _rgb(rng, h, w):
    return rng.integers(0, 256, (h, w, 3)).astype(np.uint8)


def test_listing_classes_and_sizes(tmp_path):
    rng = np.random.default_rng(0)
    for rel in ('b/x.png', 'a/sub/y.JPG', 'top.pbm', '.hidden/z.png', 'a/.w.png', 'a/notes.txt'):
        os.makedirs(osp.dirname(tmp_path / rel), exist_ok=True)
        if rel.endswith('.txt'):
            (tmp_path / rel).write_text('x')
        elif rel.endswith('.pbm'):
            cv2.imwrite(str(tmp_path / rel), (rng.random((5, 7)) > 0.5).astype(np.uint8) * 255)
        else:
            image_set.write_rgb(str(tmp_path / rel), _rgb(rng, 6, 10))
    assert image_set.list_images(str(tmp_path)) == ['a/sub/y.JPG', 'b/x.png', 'top.pbm']
    assert image_set.list_class_folders(str(tmp_path)) == ['a', 'b']
    assert [image_set.class_of(p) for p in image_set.list_images(str(tmp_path))] == ['a', 'b', 'all']
    assert image_set.class_of('key_without_folder', None) is None
    assert image_set.image_size(str(tmp_path / 'b' / 'x.png')) == (6, 10)
    assert image_set.image_size(str(tmp_path / 'top.pbm')) == (5, 7)
    assert image_set.folder_stats(str(tmp_path))['num_pixels'] == 2 * 60 + 35
    with pytest.raises(MissingInputError, match='does not exist'):
        image_set.list_images(str(tmp_path / 'nope'))
    (tmp_path / 'bad.png').write_bytes(b'not an image')
    with pytest.raises(GSDDError, match='bad.png'):
        image_set.image_size(str(tmp_path / 'bad.png'))


def test_listing_follows_links_and_names_broken_ones(tmp_path):
    """A class folder or an image may be a link; a dangling link or a loop is named, never skipped silently."""
    rng = np.random.default_rng(0)
    image_set.write_rgb(str(tmp_path / 'store' / 'cats' / 'c.png'), _rgb(rng, 4, 4))
    image_set.write_rgb(str(tmp_path / 'root' / 'dogs' / 'd.png'), _rgb(rng, 4, 4))
    os.symlink(tmp_path / 'store' / 'cats', tmp_path / 'root' / 'cats')
    os.symlink(tmp_path / 'store' / 'cats' / 'c.png', tmp_path / 'root' / 'dogs' / 'also.png')
    root = str(tmp_path / 'root')
    assert image_set.list_class_folders(root) == ['cats', 'dogs']
    assert image_set.list_images(root) == ['cats/c.png', 'dogs/also.png', 'dogs/d.png']
    os.symlink(tmp_path / 'root', tmp_path / 'store' / 'cats' / 'up')  # cats/up -> root: a loop
    with pytest.raises(GSDDError, match='loop'):
        image_set.list_images(root)
    os.remove(tmp_path / 'store' / 'cats' / 'up')
    os.symlink(tmp_path / 'nowhere', tmp_path / 'root' / 'birds')
    for listing in (image_set.list_images, image_set.list_class_folders):
        with pytest.raises(MissingInputError, match='birds.*does not exist'):
            listing(root)


def test_lr_from_hr_uint8_and_float_agree():
    from basicsr.utils.matlab_functions import imresize
    hr = _rgb(np.random.default_rng(1), 24, 32)
    lr = image_set.lr_from_hr(hr, 4)
    expect = np.clip(np.round(imresize(hr.astype(np.float32) / 255., 1 / 4) * 255), 0, 255).astype(np.uint8)
    assert lr.dtype == np.uint8 and lr.shape == (6, 8, 3) and np.array_equal(lr, expect)
    as_float = image_set.lr_from_hr(hr.astype(np.float32) / 255., 4)
    assert as_float.dtype == np.float32 and np.array_equal(as_float, lr.astype(np.float32) / 255.)
    raw = image_set.lr_from_hr(hr.astype(np.float32) / 255., 4, quantize=False)
    assert not np.array_equal(raw, as_float) and np.abs(np.clip(raw, 0, 1) - as_float).max() <= 0.5 / 255 + 1e-6


def test_to_float_bgr_conversions():
    grey16 = np.full((2, 3), 65535, np.uint16)
    bgra = np.zeros((2, 3, 4), np.uint8)
    bgra[..., 2], bgra[..., 3] = 255, 7
    assert image_set.to_float_bgr(grey16).shape == (2, 3, 3) and image_set.to_float_bgr(grey16).max() == 1.0
    assert np.array_equal(image_set.to_float_bgr(bgra)[0, 0], [0., 0., 1.])
    assert image_set.to_float_bgr(np.full((1, 1, 3), 2.0)).max() == 1.0
    with pytest.raises(GSDDError, match="'x.png'"):
        image_set.to_float_bgr(np.zeros((1, 1, 3), bool), 'x.png')


def test_write_lmdb_refuses_dotted_keys(tmp_path):
    image_set.write_rgb(str(tmp_path / 'a.b.png'), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(GSDDError, match='without dots'):
        image_set.write_lmdb(str(tmp_path), ['a.b.png'], str(tmp_path / 'x.lmdb'))
    assert not (tmp_path / 'x.lmdb').exists()


def test_atomic_folder_keeps_the_old_folder_on_failure(tmp_path):
    out = tmp_path / 'out'
    with atomic_folder(str(out)) as tmp:
        Path(tmp, 'a.txt').write_text('new')
    assert os.listdir(out) == ['a.txt'] and oct(os.stat(out).st_mode & 0o777) != oct(0o700)
    with pytest.raises(OutputExistsError, match='--force'):
        with atomic_folder(str(out)):
            pass
    with pytest.raises(WriteError, match=r'cannot write .*out \(OSError: disk full\)'):
        with atomic_folder(str(out), force=True) as tmp:
            Path(tmp, 'b.txt').write_text('partial')
            raise OSError('disk full')
    assert os.listdir(out) == ['a.txt'] and sorted(os.listdir(tmp_path)) == ['out']
    with pytest.raises(GSDDError, match='overlap'):
        with atomic_folder(str(tmp_path), force=True, keep=[str(out / 'a.txt')]):
            pass
    with atomic_folder(str(out), force=True) as tmp:
        Path(tmp, 'c.txt').write_text('replaced')
    assert os.listdir(out) == ['c.txt'] and sorted(os.listdir(tmp_path)) == ['out']


def _class_folders(root, rng):
    for cls in ('ant', 'bee'):
        os.makedirs(root / cls)
        image_set.write_rgb(str(root / cls / '0.png'), _rgb(rng, 6, 6))


def test_a_symlinked_class_folder_counts_and_a_dangling_one_is_named(tmp_path):
    """A class folder that is a link to a folder is a class; a link to nothing is one error naming it, not a
    class that silently vanishes from the distilled set."""
    from gsdd_basicsr.data.class_image_dataset import ClassImageDataset
    rng = np.random.default_rng(3)
    data, elsewhere = tmp_path / 'data', tmp_path / 'elsewhere'
    _class_folders(data, rng)
    _class_folders(elsewhere, rng)
    os.symlink(elsewhere / 'bee', data / 'cow')
    assert image_set.list_class_folders(str(data)) == ['ant', 'bee', 'cow']
    assert ClassImageDataset(dict(dataroot_gt=str(data), gt_size=4)).class_names == ['ant', 'bee', 'cow']

    os.symlink(tmp_path / 'moved_away', data / 'dog')
    with pytest.raises(GSDDError, match=f'{data / "dog"} is a symbolic link to {tmp_path / "moved_away"}, '
                                        'which does not exist; fix the link or remove it'):
        image_set.list_class_folders(str(data))
    with pytest.raises(GSDDError, match='is a symbolic link to .*moved_away'):  # also when listing images recursively
        image_set.list_images(str(data))


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads a folder without read permission (chmod 000 does '
                    'not stop it), so the unreadable case cannot be made here')
def test_an_unreadable_class_folder_is_named(tmp_path):
    _class_folders(tmp_path, np.random.default_rng(4))
    os.chmod(tmp_path / 'bee', 0)
    try:
        with pytest.raises(GSDDError, match=f'cannot read folder {tmp_path / "bee"}'):
            image_set.list_class_folders(str(tmp_path))
        with pytest.raises(GSDDError, match=f'cannot read folder {tmp_path / "bee"}'):
            image_set.list_images(str(tmp_path))
    finally:
        os.chmod(tmp_path / 'bee', 0o755)
