"""A small, real super-resolution data set built from the photos scikit-image ships.

Nothing is downloaded: every source is a file under ``skimage/data`` that is part of the
installed wheel (``skimage.data.<loader>()`` reads it without ``pooch``). Origins and
licences are those stated in the loaders' docstrings (``skimage/data/_fetchers.py``; the
``skimage/data/README.txt`` on disk only says how to download the optional extra files).

Layout written under ``out`` (``prepare_demo_data(out)`` or ``tools/prepare_demo_data.py``)::

    train/<class>/<source>_r<i>c<j>.png    HR tiles (tile_size x tile_size, colour PNG)
    train/meta_info.txt                    '<class>/<name>.png' per line (RealESRGANDataset)
    val/HR/<source>.png                    whole photos, cropped (top-left) to a multiple of 12
    val/LR_bicubic/X2|X3|X4/<source>.png   MATLAB bicubic (basicsr imresize, antialiasing)
    test/HR/...  test/LR_bicubic/X2|X3|X4/...
    sources.json  README.md                every image with its source, crop and licence
    [--lmdb] train.lmdb  val/HR.lmdb  val/LR_bicubic/X<s>.lmdb  test/...  (basicsr lmdb_util)

Semantic classes (OST-style stand-ins; only the training split is labelled):

- ``texture``: brick, grass, gravel (CC0 texture photos; grey in scikit-image)
- ``space``: hubble_deep_field, rocket (NASA / SpaceX, public domain)
- ``medical``: immunohistochemistry, retina (microscopy slide, fundus photograph)

Grey-level sources are converted to 3 identical channels (``brick``, ``grass``, ``gravel``,
``coins``, ``camera``); every written PNG is 3-channel. No source photo appears in more
than one split, and :func:`prepare_demo_data` asserts it.
"""
import os.path as osp
import time
from functools import partial

import numpy as np

from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.sets.sr_set_writer import (MOD, SCALES, check_geometry, image_counts, lr_label, tile_total,
                                             write_sr_set)
from gsdd_basicsr.utils.progress import progress

TILE_SIZE = 192
MAX_TILES = 12  # per training source; which tiles is drawn with ``seed``
CLASSES = ('texture', 'space', 'medical')

_CC0_TEXTURE = 'Creative Commons CC0 License'

# One entry per source photo. ``file``: name under skimage/data; ``loader``: skimage.data
# function; ``grey``: scikit-image ships it grey-level (converted to 3 channels here);
# ``max_dark``: skip training tiles whose fraction of near-black pixels exceeds this.
SOURCES = [
    # ---------------------------------------------------------------- train: texture
    dict(name='brick', loader='brick', file='brick.png', cls='texture', split='train', grey=True,
         origin='Bricks25 from CC0Textures (https://cc0textures.com/view.php?tex=Bricks25); '
         'perspective-corrected, rotated by 90 degrees, cropped, scaled and converted to grey '
         'by scikit-image',
         licence=_CC0_TEXTURE),
    dict(name='grass', loader='grass', file='grass.png', cls='texture', split='train', grey=True,
         origin='Grass-01 by linolafett on DeviantArt '
         '(https://www.deviantart.com/linolafett/art/Grass-01-434853879); 512x512 crop, '
         'converted to grey by scikit-image',
         licence=_CC0_TEXTURE),
    dict(name='gravel', loader='gravel', file='gravel.png', cls='texture', split='train', grey=True,
         origin='Gravel04 from CC0Textures (https://cc0textures.com/view.php?tex=Gravel04); '
         'rescaled to 1024x1024, 512x512 crop, converted to grey by scikit-image',
         licence=_CC0_TEXTURE),
    # ---------------------------------------------------------------- train: space
    dict(name='hubble_deep_field', loader='hubble_deep_field', file='hubble_deep_field.jpg',
         cls='space', split='train', grey=False,
         origin='Hubble eXtreme Deep Field, NASA, from HubbleSite '
         '(http://hubblesite.org/newscenter/archive/releases/2012/37/image/a/)',
         licence='Public domain (captured by NASA; "may be freely used in the public domain")'),
    dict(name='rocket', loader='rocket', file='rocket.jpg', cls='space', split='train', grey=False,
         origin='Launch of DSCOVR on Falcon 9, SpaceX Photos on Flickr '
         '(https://www.flickr.com/photos/spacexphotos/16511594820/)',
         licence='Public domain (released into the public domain by SpaceX)'),
    # ---------------------------------------------------------------- train: medical
    dict(name='immunohistochemistry', loader='immunohistochemistry', file='ihc.png', cls='medical',
         split='train', grey=False,
         origin='IHC staining (FHL2/DAB) with hematoxylin counterstain of colonic glands, Center '
         'for Microscopy And Molecular Imaging (CMMI)',
         licence='No known copyright restrictions'),
    dict(name='retina', loader='retina', file='retina.jpg', cls='medical', split='train', grey=False,
         max_dark=0.25,
         origin='Fundus photograph of normal left eye, Mikael Häggström, Wikimedia Commons '
         '(https://commons.wikimedia.org/wiki/File:Fundus_photograph_of_normal_left_eye.jpg)',
         licence='CC0 1.0 Universal Public Domain Dedication'),
    # ---------------------------------------------------------------- val
    dict(name='chelsea', loader='chelsea', file='chelsea.png', cls=None, split='val', grey=False,
         origin='Chelsea the cat, photograph by Stefan van der Walt',
         licence='No copyright restrictions; CC0 by the photographer (Stefan van der Walt)'),
    dict(name='coins', loader='coins', file='coins.png', cls=None, split='val', grey=True,
         origin='Greek coins from Pompeii, Brooklyn Museum Collection '
         '(https://www.brooklynmuseum.org/opencollection/archives/image/51611)',
         licence='No known copyright restrictions'),
    # ---------------------------------------------------------------- test
    dict(name='astronaut', loader='astronaut', file='astronaut.png', cls=None, split='test', grey=False,
         origin='Astronaut Eileen Collins, NASA Great Images database (https://flic.kr/p/r9qvLn)',
         licence='No known copyright restrictions; released into the public domain'),
    dict(name='coffee', loader='coffee', file='coffee.png', cls=None, split='test', grey=False,
         origin='Coffee cup, courtesy of Pikolo Espresso Bar, photograph by Rachel Michetti',
         licence='No copyright restrictions; CC0 by the photographer (Rachel Michetti)'),
    dict(name='camera', loader='camera', file='camera.png', cls=None, split='test', grey=True,
         origin='Gray-level "camera" image (a photographer with a camera on a tripod), photograph '
        'by Lav Varshney; replaced the classic "cameraman" in scikit-image 0.18',
         licence='No copyright restrictions; CC0 by the photographer (Lav Varshney)'),
]

# Offline files deliberately left out, with the reason (recorded in sources.json / README.md).
SKIPPED = {
    'motorcycle_left.png / motorcycle_right.png': 'Middlebury 2014 stereo pair; scikit-image states '
    'no licence for it',
    'moon.png, page.png': 'no origin or licence stated by scikit-image',
    'clock_motion.png': 'deliberately motion-blurred (a bad HR target)',
    'cell.png, microaneurysms.png, lfw_subset.npy': 'quantitative phase image / 102 px crop / 25 px faces',
    'text.png, horse.png, chessboard_*.png, color.png, logo.png, phantom.png': 'graphics or synthetic',
    'eagle, skin, kidney, lily, ...': 'not shipped in the wheel (need a download)',
}


_log = progress('demo data')


def _skimage_data_dir():
    import skimage.data
    return osp.dirname(osp.abspath(skimage.data.__file__))


def load_source(src):
    """Return the source photo as an RGB uint8 H x W x 3 array (grey -> 3 equal channels)."""
    import skimage.data
    path = osp.join(_skimage_data_dir(), src['file'])
    if not osp.isfile(path):  # never let skimage fall back to a download
        raise MissingInputError(f'scikit-image data file {path} is missing (source {src["name"]!r}); reinstall '
                                'scikit-image')
    img = np.asarray(getattr(skimage.data, src['loader'])())
    if img.dtype != np.uint8:
        raise GSDDError(f'source {src["name"]!r}: expected uint8, got {img.dtype}')
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.shape[2] == 4:
        img = img[:, :, :3]
    assert img.ndim == 3 and img.shape[2] == 3, (src['name'], img.shape)
    assert bool(src['grey']) == bool((img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()), \
        f'source {src["name"]!r}: grey flag in SOURCES is wrong'
    return np.ascontiguousarray(img)


def check_disjoint(sources):
    """Assert that no source photo (by name or by file) is used by more than one split."""
    by_key = {}
    for s in sources:
        for key in (s['name'], s['file']):
            by_key.setdefault(key, set()).add(s['split'])
    shared = {k: sorted(v) for k, v in by_key.items() if len(v) > 1}
    assert not shared, f'source photos used in more than one split: {shared}'
    names = [s['name'] for s in sources]
    assert len(names) == len(set(names)), 'duplicate source names'
    for cls in CLASSES:
        n = sum(1 for s in sources if s['split'] == 'train' and s['cls'] == cls)
        assert n >= 2, f'class {cls!r} has {n} training sources (need >= 2)'


def _readme(info):
    lines = [
        '# gsdd-basicsr demo data',
        '',
        'Built by `tools/prepare_demo_data.py` (gsdd_basicsr/sets/demo_data.py) from the photos '
        f'that scikit-image {info["skimage_version"]} ships under `skimage/data` (no download). '
        'Origins and licences are those stated in the scikit-image loaders\' docstrings '
        '(`skimage/data/_fetchers.py`).',
        '',
        f'- seed {info["seed"]}, training tiles {info["tile_size"]} px (at most {info["max_tiles"]} '
        'non-overlapping tiles per source), val/test photos cropped from the top-left to a '
        f'multiple of {MOD}',
        '- LR: `basicsr.utils.matlab_functions.imresize(hr / 255, 1 / s)` (MATLAB bicubic with '
        'antialiasing), rounded to uint8, for s in ' + ', '.join(str(s) for s in info['scales']),
        '- grey-level sources are stored as 3 identical channels',
        '- no source photo is used in more than one of train / val / test',
        '',
        '| source | file | class | split | images | licence | origin |',
        '|---|---|---|---|---|---|---|',
    ]
    for s in info['sources']:
        lines.append(f'| {s["name"]}{" (grey)" if s["grey"] else ""} | `skimage/data/{s["file"]}` | '
                     f'{s["class"] or "-"} | {s["split"]} | {len(s["images"])} | {s["licence"]} | '
                     f'{s["origin"]} |')
    lines += ['', 'Left out:', '']
    lines += [f'- {k}: {v}' for k, v in info['skipped'].items()]
    lines.append('')
    return '\n'.join(lines)


def prepare_demo_data(out, lmdb=False, force=False, seed=0, tile_size=TILE_SIZE, max_tiles=MAX_TILES,
                      scales=SCALES):
    """Build the demo data set under ``out``; return the dict also written to sources.json.

    Refuses a non-empty ``out`` unless ``force`` (:class:`~gsdd_basicsr.errors.OutputExistsError`).
    Builds in a temporary sibling folder and renames it into place at the end
    (:func:`gsdd_basicsr.sets.sr_set_writer.write_sr_set`), so ``out`` is either absent/old or complete.
    """
    import skimage

    check_geometry(tile_size, scales)
    check_disjoint(SOURCES)
    ordered = ([s for cls in CLASSES for s in SOURCES if s['split'] == 'train' and s['cls'] == cls]
               + [s for split in ('val', 'test') for s in SOURCES if s['split'] == split])

    def describe(records, train_rels):
        return dict(
            generator='gsdd_basicsr.sets.demo_data.prepare_demo_data',
            skimage_version=skimage.__version__,
            seed=seed, tile_size=tile_size, max_tiles=max_tiles, scales=list(scales), mod=MOD,
            classes=list(CLASSES), lmdb=bool(lmdb), counts=image_counts(records), sources=records, skipped=SKIPPED)

    sources = [dict(record=_record(src), load=partial(_load, src), max_dark=src.get('max_dark')) for src in ordered]
    t0 = time.time()
    info = write_sr_set(out, sources, describe, _readme, _group_progress(ordered, tile_size, scales), _log,
                        tile_size, scales, max_tiles=max_tiles, seed=seed, lmdb=lmdb, force=force)
    _log(f'wrote {osp.abspath(out)}: {tile_total(info["counts"])} train, '
         f'{info["counts"]["val"]} val, {info["counts"]["test"]} test images, '
         f'{info["total_bytes"] / 1e6:.1f} MB, {time.time() - t0:.1f} s')
    return info


def _record(src):
    return dict(name=src['name'], file=src['file'], loader=f'skimage.data.{src["loader"]}', grey=bool(src['grey']),
                split=src['split'], **{'class': src['cls']}, origin=src['origin'], licence=src['licence'])


def _load(src):
    img = load_source(src)
    return img, dict(source_shape=list(img.shape))


def _group_progress(ordered, tile_size, scales):
    """The demo's progress: one line per training class and per val / test split, after its last source."""
    last = {(s['split'], s['cls']): s['name'] for s in ordered}

    def after_source(records):
        split, cls = records[-1]['split'], records[-1]['class']
        if last[split, cls] != records[-1]['name']:
            return
        group = [r for r in records if (r['split'], r['class']) == (split, cls)]
        if split == 'train':
            tiles = sum(len(r['images']) for r in group)
            if not tiles:  # every source of the class is smaller than a tile: the class would be empty
                raise GSDDError(f'--tile-size {tile_size}: no tile of that size fits the photos of class {cls!r}; '
                                f'use a smaller tile size (the default is {TILE_SIZE}).')
            _log(f'train/{cls}: {tiles} tiles of {tile_size}x{tile_size}')
        else:
            _log(f'{split}: {len(group)} HR images + {lr_label(scales)}')
    return after_source
