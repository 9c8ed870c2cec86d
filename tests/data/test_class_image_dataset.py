"""ClassImageDataset: class modes, keyed determinism, skipping/errors, odd inputs, BasicSR build."""
import logging
import os
import pickle
from os import path as osp

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)

import cv2
import numpy as np
import pytest
import torch

from gsdd_basicsr.data.class_image_dataset import ClassImageDataset

GT = 16


def smooth(rng, h, w, base_bgr=None, amp=0.25):
    """A smooth random colour image (uint8 BGR), optionally around a base colour."""
    small = rng.random((max(2, h // 8), max(2, w // 8), 3)).astype(np.float32)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    if base_bgr is not None:
        img = np.asarray(base_bgr, np.float32)[None, None] + amp * (img - 0.5)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def stripes(rng, h, w):
    period = int(rng.integers(3, 6))
    phase = int(rng.integers(0, period))
    yy, xx = np.mgrid[0:h, 0:w]
    coord = xx if rng.random() < 0.5 else yy
    g = (((coord + phase) // max(1, period // 2)) % 2 * 200 + 30).astype(np.uint8)
    return np.repeat(g[:, :, None], 3, axis=2)


def write(path, img):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), img)


def make_folder_set(root, seed=0):
    """a: 3 images, b: 2 images in a sub-folder, c: 2 images (all >= GT)."""
    rng = np.random.default_rng(seed)
    layout = {'a': ['a0.png', 'a1.png', 'a2.png'], 'b': ['sub/b0.png', 'sub/b1.png'], 'c': ['c0.jpg', 'c1.png']}
    for cls, files in layout.items():
        for i, f in enumerate(files):
            write(osp.join(root, cls, f), smooth(rng, 24 + 4 * i, 32 - 2 * i))
    return layout


def opt(root, **kw):
    o = {'dataroot_gt': str(root), 'io_backend': {'type': 'disk'}, 'gt_size': GT}
    o.update(kw)
    return o


@pytest.fixture
def folder_set(tmp_path):
    root = tmp_path / 'ost'
    make_folder_set(str(root))
    return root


def test_folder_mode_index_and_crops(folder_set):
    ds = ClassImageDataset(opt(folder_set))
    assert ds.class_names == ['a', 'b', 'c'] and ds.num_classes == 3
    assert ds.class_counts() == {'a': 3, 'b': 2, 'c': 2} and len(ds) == 7
    assert [len(i) for i in ds.class_to_indices] == [3, 2, 2]
    assert all(ds.labels[i] == c for c, idx in enumerate(ds.class_to_indices) for i in idx)
    x = ds.sample_class(1, 4, (0, 5, 1, 'real'))
    assert x.shape == (4, 3, GT, GT) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1
    # every crop is an RGB window of one of class b's images
    imgs = [cv2.imread(osp.join(str(folder_set), 'b', 'sub', f'b{i}.png'))[:, :, ::-1] / 255. for i in range(2)]
    for crop in x.numpy().transpose(0, 2, 3, 1):
        found = False
        for img in imgs:
            for t in range(img.shape[0] - GT + 1):
                for l in range(img.shape[1] - GT + 1):
                    if np.allclose(img[t:t + GT, l:l + GT], crop, atol=1e-6):
                        found = True
        assert found
    # n > class size: balanced repeats of the two images
    used = [ds.sample_class(1, 5, (1, it, 1, 'real')) for it in range(2)]
    assert used[0].shape[0] == 5


def test_keyed_determinism_and_call_order(folder_set):
    ds = ClassImageDataset(opt(folder_set, seed=3))
    a1 = ds.sample_class(0, 3, (3, 7, 0, 'real'))
    b1 = ds.sample_class(2, 2, (3, 7, 2, 'real'))
    ds2 = ClassImageDataset(opt(folder_set, seed=3))
    b2 = ds2.sample_class(2, 2, (3, 7, 2, 'real'))  # other order, fresh object
    a2 = ds2.sample_class(0, 3, (3, 7, 0, 'real'))
    assert torch.equal(a1, a2) and torch.equal(b1, b2)
    assert not torch.equal(a1, ds.sample_class(0, 3, (3, 8, 0, 'real')))
    # __getitem__ keyed by (seed, i, 'item')
    assert torch.equal(ds[4]['gt'], ds2[4]['gt'])


def test_class_draw_independent_of_other_draws(folder_set):
    """GSDDModel draws each class's batch alone: a class's crops do not depend on other draws before it."""
    ds = ClassImageDataset(opt(folder_set, seed=11))
    alone = ds.sample_class(1, 3, (11, 4, 1, 'real'))
    ds2 = ClassImageDataset(opt(folder_set, seed=11))
    ds2.sample_class(0, 3, (11, 4, 0, 'real'))
    ds2.sample_class(2, 5, (11, 4, 2, 'real'))
    assert torch.equal(ds2.sample_class(1, 3, (11, 4, 1, 'real')), alone)
    assert not torch.equal(ds2.sample_class(0, 3, (11, 4, 0, 'real'))[:1], alone[:1])


def test_classes_restriction_and_order(folder_set):
    ds = ClassImageDataset(opt(folder_set, classes=['c', 'a']))
    assert ds.class_names == ['c', 'a'] and ds.class_counts() == {'c': 2, 'a': 3}
    with pytest.raises(ValueError, match='zzz'):
        ClassImageDataset(opt(folder_set, classes=['a', 'zzz']))


def test_meta_mode_flat_folder(tmp_path):
    rng = np.random.default_rng(1)
    flat = tmp_path / 'flat'
    for i in range(5):
        write(str(flat / f'im{i}.png'), smooth(rng, 20, 20 + i))
    meta = tmp_path / 'meta.txt'
    meta.write_text('# comment\nim0.png sky\nim1.png (20,21,3) 1 grass\nim2.png sky\n\nim4.png grass\n')
    ds = ClassImageDataset(opt(flat, class_mode='meta', meta_info_file=str(meta)))
    assert ds.class_names == ['grass', 'sky'] and ds.class_counts() == {'grass': 2, 'sky': 2}
    assert ds.sample_class(0, 2, (0, 0, 0, 'real')).shape == (2, 3, GT, GT)
    bad = tmp_path / 'bad.txt'
    bad.write_text('im0.png (20,20,3) 1\n')
    with pytest.raises(ValueError, match='no class column'):
        ClassImageDataset(opt(flat, class_mode='meta', meta_info_file=str(bad)))


def test_meta_and_folder_mode_on_lmdb_match_disk(tmp_path):
    from basicsr.utils.lmdb_util import make_lmdb_from_imgs
    rng = np.random.default_rng(2)
    flat = tmp_path / 'flat'
    names = []
    for cls in ('sky', 'water'):
        for i in range(3):
            write(str(flat / cls / f'{cls}{i}.png'), smooth(rng, 20 + i, 24))
            names.append(f'{cls}/{cls}{i}.png')
    lmdb_path = str(tmp_path / 'gt.lmdb')
    make_lmdb_from_imgs(str(flat), lmdb_path, names, [osp.splitext(n)[0] for n in names])
    meta = tmp_path / 'meta.txt'
    meta.write_text(''.join(f'{n} {n.split("/")[0]}\n' for n in names))
    lm = ClassImageDataset(opt(lmdb_path, io_backend={'type': 'lmdb'}, class_mode='meta', meta_info_file=str(meta)))
    disk = ClassImageDataset(opt(flat, class_mode='meta', meta_info_file=str(meta)))
    assert lm.class_names == ['sky', 'water'] and lm.sizes == disk.sizes
    key = (0, 1, 1, 'real')
    assert torch.equal(lm.sample_class(1, 4, key), disk.sample_class(1, 4, key))
    lf = ClassImageDataset(opt(lmdb_path, io_backend={'type': 'lmdb'}))  # folder mode: class = key prefix
    assert lf.class_names == ['sky', 'water'] and torch.equal(lf.sample_class(1, 4, key), disk.sample_class(1, 4, key))
    li = ClassImageDataset(opt(lmdb_path, io_backend={'type': 'lmdb'}, class_mode='instance'))
    assert li.class_names == [osp.splitext(n)[0] for n in names]
    # picklable for DataLoader workers after use (LMDB env reopened lazily)
    clone = pickle.loads(pickle.dumps(lf))
    assert torch.equal(clone[2]['gt'], lf[2]['gt']) and clone[2]['gt_path'] == 'sky/sky2'
    # a forked DataLoader worker reads the LMDB the parent already opened
    loader = torch.utils.data.DataLoader(lf, batch_size=6, num_workers=1)
    assert torch.equal(next(iter(loader))['gt'], torch.stack([lf[i]['gt'] for i in range(6)]))


def test_kmeans_recovers_clusters(tmp_path):
    rng = np.random.default_rng(3)
    root = tmp_path / 'mixed'
    truth = {}
    kinds = ['red', 'blue', 'stripe']
    for i in range(12):
        kind = kinds[i % 3]
        if kind == 'red':
            img = smooth(rng, 40, 48, base_bgr=(0.15, 0.2, 0.8))
        elif kind == 'blue':
            img = smooth(rng, 40, 48, base_bgr=(0.8, 0.3, 0.15))
        else:
            img = stripes(rng, 40, 48)
        name = f'img{i:02d}.png'
        write(str(root / name), img)
        truth[name] = kind
    o = opt(root, class_mode='kmeans', num_classes=3, seed=5)
    ds = ClassImageDataset(o)
    assert ds.class_names == ['k00', 'k01', 'k02'] and ds.num_classes == 3
    groups = {frozenset(truth[ds.names[i]] for i in idx) for idx in ds.class_to_indices}
    assert groups == {frozenset({'red'}), frozenset({'blue'}), frozenset({'stripe'})}
    assert ds.labels[ds.names.index('img00.png')] == 0  # canonical numbering: first image -> k00
    assert ClassImageDataset(o).labels == ds.labels
    with pytest.raises(ValueError, match='num_classes'):
        ClassImageDataset(opt(root, class_mode='kmeans'))


def test_instance_mode(folder_set):
    ds = ClassImageDataset(opt(folder_set, class_mode='instance'))
    assert ds.num_classes == len(ds) == 7
    assert ds.class_names[0] == 'a/a0.png' and all(len(i) == 1 for i in ds.class_to_indices)
    x = ds.sample_class(3, 3, (0, 0, 3, 'real'))
    assert x.shape == (3, 3, GT, GT)
    # meta_info_file as a plain image list (BasicSR format) restricts the images
    lst = folder_set / 'list.txt'
    lst.write_text('b/sub/b1.png (28,30,3) 1\nc/c0.jpg\n')
    ds = ClassImageDataset(opt(folder_set, class_mode='instance', meta_info_file=str(lst)))
    assert ds.class_names == ['b/sub/b1.png', 'c/c0.jpg']


def test_small_images_skipped_with_count(tmp_path):
    root = tmp_path / 'ds'
    make_folder_set(str(root))
    rng = np.random.default_rng(4)
    write(str(root / 'a' / 'tiny.png'), smooth(rng, 10, 40))
    write(str(root / 'c' / 'tiny.png'), smooth(rng, 40, 12))
    write(str(root / 'c' / 'tiny2.png'), smooth(rng, 8, 8))
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger('basicsr')
    logger.addHandler(handler)
    try:
        ds = ClassImageDataset(opt(root))
    finally:
        logger.removeHandler(handler)
    assert ds.skipped == {'a': 1, 'c': 2} and ds.class_counts() == {'a': 3, 'b': 2, 'c': 2}
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and 'skipped 3' in warnings[0] and 'c: 2' in warnings[0]


def test_empty_class_errors(tmp_path):
    root = tmp_path / 'ds'
    rng = np.random.default_rng(5)
    write(str(root / 'big' / 'x.png'), smooth(rng, 30, 30))
    write(str(root / 'small' / 'y.png'), smooth(rng, 12, 20))
    write(str(root / 'small' / 'z.png'), smooth(rng, 14, 9))
    with pytest.raises(ValueError, match=r"'small'.*largest gt_size .* is 12 px"):
        ClassImageDataset(opt(root))
    assert ClassImageDataset(opt(root, gt_size=12)).class_counts() == {'big': 1, 'small': 1}
    with pytest.raises(ValueError, match='min_images_per_class=2'):
        ClassImageDataset(opt(root, gt_size=8, min_images_per_class=2, classes=['big']))
    os.makedirs(root / 'void')
    with pytest.raises(ValueError, match="'void'"):
        ClassImageDataset(opt(root, gt_size=8))


def test_missing_or_empty_dataroot(tmp_path):
    missing = tmp_path / 'nope'
    with pytest.raises(FileNotFoundError, match='nope'):
        ClassImageDataset(opt(missing))
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='empty'):
        ClassImageDataset(opt(empty))
    with pytest.raises(ValueError, match='empty'):
        ClassImageDataset(opt(empty, class_mode='instance'))


def test_corrupt_images_named(folder_set):
    bad = osp.join(str(folder_set), 'a', 'broken.png')
    with open(bad, 'wb') as f:
        f.write(b'definitely not a png')
    with pytest.raises(ValueError, match='broken.png'):
        ClassImageDataset(opt(folder_set))
    os.remove(bad)
    ds = ClassImageDataset(opt(folder_set, classes=['b']))
    target = osp.join(str(folder_set), 'b', 'sub', 'b0.png')
    with open(target, 'rb') as f:
        data = f.read()
    with open(target, 'wb') as f:  # header intact, pixel data truncated
        f.write(data[:len(data) // 2])
    with pytest.raises(ValueError, match='b0.png'):
        ds.sample_class(0, 2, (0, 0, 0, 'real'))


def test_grey_rgba_16bit(tmp_path):
    root = tmp_path / 'odd'
    rng = np.random.default_rng(6)
    grey = (rng.random((20, 20)) * 255).astype(np.uint8)
    rgba = np.dstack([smooth(rng, 20, 20), np.zeros((20, 20), np.uint8)])
    deep = (rng.random((20, 20, 3)) * 65535).astype(np.uint16)
    write(str(root / 'grey' / 'g.png'), grey)
    write(str(root / 'rgba' / 'r.png'), rgba)
    write(str(root / 'deep' / 'd.png'), deep)
    ds = ClassImageDataset(opt(root, gt_size=20, cache=True))
    assert ds.class_names == ['deep', 'grey', 'rgba']
    d = ds.sample_class(0, 1, (0, ))[0]
    assert torch.allclose(d, torch.from_numpy(deep[:, :, ::-1].transpose(2, 0, 1) / 65535.).float(), atol=1e-6)
    g = ds.sample_class(1, 1, (0, ))[0]
    assert torch.equal(g[0], g[1]) and torch.allclose(g[0], torch.from_numpy(grey / 255.).float(), atol=1e-6)
    r = ds.sample_class(2, 1, (0, ))[0]
    assert r.shape == (3, 20, 20) and torch.allclose(r, torch.from_numpy(rgba[:, :, 2::-1].transpose(2, 0, 1) /
                                                                            255.).float(), atol=1e-6)
    assert len(ds._cache) == 3  # cache: true keeps decoded images


def test_build_dataset_and_dataloader(folder_set):
    from basicsr.data import build_dataset
    o = opt(folder_set, type='ClassImageDataset', name='real', phase='train')
    ds = build_dataset(o)
    assert isinstance(ds, ClassImageDataset) and len(ds) == 7
    loader = torch.utils.data.DataLoader(ds, batch_size=3, shuffle=False, num_workers=0)
    batch = next(iter(loader))
    assert batch['gt'].shape == (3, 3, GT, GT) and batch['label'].tolist() == ds.labels[:3]
    assert batch['gt_path'][0].endswith(osp.join('a', 'a0.png').replace(os.sep, '/'))
