"""Writing a super-resolution data set from photos, in the layout the demo and photo sets share.

Layout under the set's root::

    train/[<class>/]<name>_r<i>c<j>.png    HR tiles (tile x tile, colour PNG); no class folder when flat
    train/meta_info.txt                    one tile path (relative to train/) per line (RealESRGANDataset)
    val|test/HR/<name>.png                 whole photos, cropped from the top-left to a multiple of MOD
    val|test/LR_bicubic/X<s>/<name>.png    ``image_set.lr_from_hr`` (MATLAB bicubic) of the HR, s in SCALES
    [train.lmdb  val|test/HR.lmdb  val|test/LR_bicubic/X<s>.lmdb]   BasicSR LMDBs of the same images

Used by :mod:`gsdd_basicsr.sets.demo_data` (scikit-image photos) and :mod:`gsdd_basicsr.sets.photo_data`
(a folder of photos). Arrays are uint8 ``H x W x 3`` RGB.
"""
import os
import os.path as osp

from gsdd_basicsr.errors import GSDDError
from gsdd_basicsr.sets.image_io import lr_from_hr, write_lmdb, write_rgb
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
