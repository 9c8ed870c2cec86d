"""Writing a super-resolution data set from photos, in the layout the demo and photo sets share.

Layout under the set's root::

    train/[<class>/]<name>_r<i>c<j>.png    HR tiles (tile x tile, colour PNG); no class folder when flat
    train/meta_info.txt                    one tile path (relative to train/) per line (RealESRGANDataset)
    val|test/HR/<name>.png                 whole photos, cropped from the top-left to a multiple of MOD
    val|test/LR_bicubic/X<s>/<name>.png    ``image_set.lr_from_hr`` (MATLAB bicubic) of the HR, s in SCALES
    [train.lmdb  val|test/HR.lmdb  val|test/LR_bicubic/X<s>.lmdb]   BasicSR LMDBs of the same images

    sources.json  README.md                the set's own description (every source with its ``images``)

:func:`write_sr_set` is the whole prepare sequence (atomic folder, tiles and HR / LR pairs, meta_info,
disjointness check, LMDBs, sources.json, README.md, size); :mod:`gsdd_basicsr.sets.demo_data`
(scikit-image photos) and :mod:`gsdd_basicsr.sets.photo_data` (a folder of photos) give it their sources
and descriptions. Arrays are uint8 ``H x W x 3`` RGB.
"""
import json
import os
import os.path as osp

import numpy as np

from gsdd_basicsr.errors import GSDDError
from gsdd_basicsr.utils.image_io import folder_bytes, lr_from_hr, write_lmdb, write_rgb
from gsdd_basicsr.utils.atomic import atomic_folder
from gsdd_basicsr.utils.hashing import file_sha256

SCALES = (2, 3, 4)
MOD = 12  # HR sizes are multiples of lcm(2, 3, 4) so every LR size is exactly HR / s


def check_geometry(tile_size, scales):
    """Raise a ``GSDDError`` unless ``tile_size`` is a positive multiple of :data:`MOD` and every scale divides it."""
    if tile_size <= 0 or tile_size % MOD:
        raise GSDDError(f'tile size must be a positive multiple of {MOD}, got {tile_size}; use e.g. 192')
    for s in scales:
        if s <= 0 or MOD % s:
            raise GSDDError(f'scale {s} does not divide {MOD}; use scales among 2, 3, 4')


def tile_grid(length, tile):
    """Offsets of ``length // tile`` non-overlapping tiles spread evenly over ``length`` px
    (one tile: centred)."""
    n = length // tile
    if n <= 0:
        return []
    if n == 1:
        return [(length - tile) // 2]
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def train_tiles(img, tile_size, max_tiles=None, max_dark=None, rng=None):
    """Non-overlapping tiles of ``img`` as ``(row, col, y, x)``.

    Args:
        img (ndarray): uint8 ``H x W x 3``.
        tile_size (int): tile side in px.
        max_tiles (int | None): keep at most this many, drawn with ``rng`` (a numpy ``Generator``).
        max_dark (float | None): skip tiles whose fraction of near-black pixels (max channel < 16)
            exceeds this.
    """
    h, w = img.shape[:2]
    tiles = []
    for i, y in enumerate(tile_grid(h, tile_size)):
        for j, x in enumerate(tile_grid(w, tile_size)):
            if max_dark is not None:
                dark = (img[y:y + tile_size, x:x + tile_size].max(axis=2) < 16).mean()
                if dark > max_dark:
                    continue
            tiles.append((i, j, y, x))
    if max_tiles is not None and len(tiles) > max_tiles:
        keep = sorted(rng.choice(len(tiles), size=max_tiles, replace=False).tolist())
        tiles = [tiles[k] for k in keep]
    return tiles


def write_train_tiles(root, img, name, tile_size, cls=None, max_tiles=None, max_dark=None, rng=None):
    """Write the tiles of ``img`` under ``root/train/[<cls>/]``.

    Returns:
        list[dict]: per tile ``path`` (relative to ``root``) and ``crop`` ``[y, x, h, w]`` in ``img``.
    """
    out = []
    for (i, j, y, x) in train_tiles(img, tile_size, max_tiles, max_dark, rng):
        rel = f'{cls}/{name}_r{i}c{j}.png' if cls else f'{name}_r{i}c{j}.png'
        write_rgb(osp.join(root, 'train', rel), img[y:y + tile_size, x:x + tile_size])
        out.append(dict(path=f'train/{rel}', crop=[y, x, tile_size, tile_size]))
    return out


def write_meta_info(root, tile_paths):
    """``root/train/meta_info.txt``: the tiles' paths relative to ``train/``, one per line.

    Returns:
        list[str]: those relative paths.
    """
    rels = [osp.relpath(p, 'train').replace(os.sep, '/') for p in tile_paths]
    with open(osp.join(root, 'train', 'meta_info.txt'), 'w') as f:
        f.writelines(p + '\n' for p in rels)
    return rels


def write_pair(root, split, name, img, scales=SCALES):
    """Write ``img`` cropped (top-left) to a multiple of :data:`MOD` as ``root/<split>/HR/<name>.png``
    and its MATLAB-bicubic LRs as ``root/<split>/LR_bicubic/X<s>/<name>.png``.

    Returns:
        dict: ``path`` (relative to ``root``), ``crop`` ``[0, 0, h, w]`` and ``lr`` (paths).
    """
    h, w = (img.shape[0] // MOD) * MOD, (img.shape[1] // MOD) * MOD
    if not h or not w:
        raise GSDDError(f'image {name!r} ({img.shape[1]}x{img.shape[0]}) is smaller than {MOD} px')
    hr = img[:h, :w]
    fname = f'{name}.png'
    write_rgb(osp.join(root, split, 'HR', fname), hr)
    lrs = []
    for s in scales:
        lr = lr_from_hr(hr, s)
        assert lr.shape == (h // s, w // s, 3), (lr.shape, h, w, s)
        rel = f'{split}/LR_bicubic/X{s}/{fname}'
        write_rgb(osp.join(root, rel), lr)
        lrs.append(rel)
    return dict(path=f'{split}/HR/{fname}', crop=[0, 0, h, w], lr=lrs)


def write_lmdbs(root, train_rels, scales, log):
    """BasicSR LMDBs next to every image folder of the set (``train_rels``: paths relative to ``train/``)."""
    write_lmdb(osp.join(root, 'train'), train_rels, osp.join(root, 'train.lmdb'))
    log(f'lmdb: train.lmdb ({len(train_rels)} images)')
    for split in ('val', 'test'):
        if not osp.isdir(osp.join(root, split, 'HR')):  # a split without photos (photo_data allows val / test so)
            continue
        names = sorted(os.listdir(osp.join(root, split, 'HR')))
        write_lmdb(osp.join(root, split, 'HR'), names, osp.join(root, split, 'HR.lmdb'))
        for s in scales:
            folder = osp.join(root, split, 'LR_bicubic', f'X{s}')
            write_lmdb(folder, names, folder + '.lmdb')
        log(f'lmdb: {split}/HR.lmdb, {split}/LR_bicubic/X<s>.lmdb ({len(names)} images)')


def check_outputs_disjoint(root, records):
    """Assert that no written image file (by content) appears in two splits.

    Args:
        records (list[dict]): per source ``split`` and ``images`` (dicts with ``path`` relative to ``root``).
    """
    splits = {}
    for r in records:
        for im in r['images']:
            splits.setdefault(file_sha256(osp.join(root, im['path'])), set()).add(r['split'])
    assert all(len(v) == 1 for v in splits.values()), 'identical image files in two splits'


def lr_label(scales):
    """``'LR_bicubic X2/X3/X4'`` for ``scales`` (2, 3, 4): what a val / test photo is written with."""
    return 'LR_bicubic X' + '/X'.join(str(s) for s in scales)


def image_counts(records):
    """Images per split: ``train`` (tiles; per class when the training sources have classes), ``val``, ``test``.

    Args:
        records (list[dict]): per source ``split``, ``class`` and ``images``.
    """
    classes = sorted({r['class'] for r in records if r['split'] == 'train' and r['class']})
    train = [r for r in records if r['split'] == 'train']
    return dict(train={c: sum(len(r['images']) for r in train if r['class'] == c) for c in classes}
                if classes else sum(len(r['images']) for r in train),
                val=sum(len(r['images']) for r in records if r['split'] == 'val'),
                test=sum(len(r['images']) for r in records if r['split'] == 'test'))


def tile_total(counts):
    """All training tiles of :func:`image_counts`' ``counts``."""
    return sum(counts['train'].values()) if isinstance(counts['train'], dict) else counts['train']


def write_sr_set(out, sources, describe, readme, after_source, log, tile_size, scales=SCALES, max_tiles=None,
                 seed=0, lmdb=False, force=False, keep=()):
    """Write the SR set of ``sources`` under ``out`` (layout in the module docstring), all or nothing.

    In a temporary sibling of ``out`` (:func:`gsdd_basicsr.utils.atomic.atomic_folder`, renamed into place at
    the end): per source, in the given order, its training tiles (:func:`write_train_tiles`, the tiles drawn
    with ``seed``) or its val / test HR + LR pair (:func:`write_pair`); then ``train/meta_info.txt``, the check
    that no image file is in two splits, the LMDBs (with ``lmdb``), ``sources.json`` and ``README.md``. The
    caller checks its input first (:func:`check_geometry`, its own sources); an exception anywhere leaves
    ``out`` as it was.

    Args:
        out (str): output folder; a non-empty one is replaced only with ``force``.
        sources (list[dict]): per source photo ``record`` (its entry in sources.json, with at least ``name``,
            ``split`` (train | val | test) and ``class`` (train only; None: no class folder); it gets
            ``images``, the written files as :func:`write_train_tiles` / :func:`write_pair` return them),
            ``load`` (``() -> (img, fields)``: the uint8 ``H x W x 3`` RGB photo, and fields about it added
            to ``record``) and optionally ``max_dark`` (see :func:`train_tiles`).
        describe (callable): ``describe(records, train_rels) -> dict``, the set's sources.json (the records
            and ``train/meta_info.txt``'s paths given).
        readme (callable): ``readme(info) -> str``, README.md from that dict.
        after_source (callable): ``after_source(records)`` after each source is written (the records so
            far, the last one new): the caller's progress line; it may raise a ``GSDDError``.
        log (callable): progress lines of the LMDBs (:func:`gsdd_basicsr.utils.progress.progress`).
        tile_size (int): training tile side in px.
        scales (sequence[int]): LR scales of val / test.
        max_tiles (int | None): at most this many tiles per training source.
        seed (int): seed of the tiles ``max_tiles`` keeps.
        lmdb (bool): also write BasicSR LMDBs.
        force (bool): replace a non-empty ``out``.
        keep (sequence[str]): inputs that must not overlap ``out``.

    Returns:
        dict: ``describe``'s dict, plus ``total_bytes`` (of everything written).
    """
    out = osp.abspath(out)
    rng = np.random.default_rng(seed)
    with atomic_folder(out, force, keep=keep) as tmp:
        records = []
        for src in sources:
            img, fields = src['load']()
            rec = dict(src['record'], **fields)
            if rec['split'] == 'train':
                rec['images'] = write_train_tiles(tmp, img, rec['name'], tile_size, cls=rec['class'],
                                                  max_tiles=max_tiles, max_dark=src.get('max_dark'), rng=rng)
            else:
                rec['images'] = [write_pair(tmp, rec['split'], rec['name'], img, scales)]
            records.append(rec)
            after_source(records)
        train_rels = write_meta_info(tmp, [im['path'] for r in records if r['split'] == 'train'
                                           for im in r['images']])
        check_outputs_disjoint(tmp, records)
        if lmdb:
            write_lmdbs(tmp, train_rels, scales, log)
        info = describe(records, train_rels)
        with open(osp.join(tmp, 'sources.json'), 'w', encoding='utf-8') as f:
            json.dump(info, f, indent=2, ensure_ascii=False)
        with open(osp.join(tmp, 'README.md'), 'w', encoding='utf-8') as f:
            f.write(readme(info))
    info['total_bytes'] = folder_bytes(out)
    return info
