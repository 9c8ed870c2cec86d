"""A real-photo super-resolution data set built from a folder of photos (and a split file).

``prepare_photo_data`` (or ``tools/prepare_photo_data.py``) writes, in the demo's layout
(:mod:`gsdd_basicsr.sets.sr_set_writer`)::

    train/<class>/<name>_r<i>c<j>.png     non-overlapping tile x tile HR tiles of the training photos
    train/<name>_r<i>c<j>.png             (the same, flat, when no photo has a class: use
                                          ClassImageDataset's class_mode kmeans on it)
    train/meta_info.txt                   the tiles, relative to train/
    val|test/HR/<name>.png                whole photos cropped (top-left) to a multiple of 12
    val|test/LR_bicubic/X2|X3|X4/<name>.png   MATLAB bicubic of the HR (image_set.lr_from_hr)
    sources.json  README.md               every photo: file, sha256, split, class, source, licence, sizes
    [--lmdb] train.lmdb  val|test/HR.lmdb  val|test/LR_bicubic/X<s>.lmdb

Every photo larger than ``max_side`` px (its longer side) is first downscaled with MATLAB bicubic
(``basicsr.utils.matlab_functions.imresize``, antialiased) so that its longer side is ``max_side``:
wallpapers are huge, and downscaling also hides their JPEG artefacts. No photo (by SHA-256 of its
file) may be in two splits.

Which photo goes where comes from a split file (YAML)::

    roots:                      # optional: where `path` starts, by name; `--root NAME=DIR` overrides
      wallpapers: /usr/share/wallpapers
      skimage: python:skimage.data      # the folder of an installed Python package
    photos:
      - path: Path/contents/images/2560x1600.jpg
        root: wallpapers                # optional; default `photos`, the --photos folder
        name: path_forest               # optional; default: the file name's stem
        split: train                    # train | val | test
        class: plant                    # training photos only; all of them or none
        source: '"Path" by Risto Saukonpaa, KDE Plasma wallpaper'
        licence: LGPL-3.0

A relative root is relative to the split file's folder. Without a split file, the photo folder's
own layout is the split: ``train/<class>/*`` (or ``train/*``, unclassed), ``val/*``, ``test/*``;
source and licence are then unknown (``null``). Links to folders and files are followed (a split or
class folder may be a link to where the photos live).

Only ``train`` needs photos: a split without any (no ``val/`` folder, say) is left out of the set,
named in ``sources.json`` (``absent_splits``), its README and the progress lines.
"""
import importlib.util
import os.path as osp
import re
import time
from functools import partial

import numpy as np

from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.utils.image_io import list_images, read_rgb
from gsdd_basicsr.sets.sr_set_writer import (MOD, SCALES, check_geometry, image_counts, lr_label, tile_total,
                                             write_sr_set)
from gsdd_basicsr.utils.atomic import check_output_dir
from gsdd_basicsr.utils.hashing import file_sha256
from gsdd_basicsr.utils.progress import progress

SPLITS = ('train', 'val', 'test')
TILE_SIZE = 192
MAX_SIDE = 1920
PHOTO_KEYS = ('path', 'root', 'name', 'split', 'class', 'source', 'licence')
_SAFE = re.compile(r'^[A-Za-z0-9_-]+$')  # names become file names and LMDB keys (no dots)


_log = progress('photo data')


# ----------------------------------------------------------------------------------------------
# the list of photos
# ----------------------------------------------------------------------------------------------
def _resolve_root(value, base):
    if value.startswith('python:'):
        spec = importlib.util.find_spec(value[len('python:'):])
        if spec is None or not spec.submodule_search_locations:
            raise MissingInputError(f'root {value!r}: no installed Python package of that name; install it or '
                                    'give the folder with --root NAME=DIR')
        return list(spec.submodule_search_locations)[0]
    return osp.normpath(osp.join(base, osp.expanduser(value)))


def read_split_file(split_file, photos_dir=None, roots=None):
    """The photos a split file names, each with its absolute ``file``.

    Args:
        split_file (str): the YAML file (format in the module docstring).
        photos_dir (str | None): the root named ``photos`` (the default root).
        roots (dict[str, str] | None): root folders overriding the file's ``roots``.

    Returns:
        list[dict]: ``name, file, path, root, split, class, source, licence`` per photo.

    Raises:
        GSDDError: an unreadable file, unknown keys or values, an undefined root.
    """
    import yaml
    if not osp.isfile(split_file):
        raise MissingInputError(f'split file {split_file} does not exist; give an existing --split file')
    try:
        with open(split_file, encoding='utf-8') as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as err:  # yaml's errors span several lines
        raise GSDDError(f'split file {split_file} is not valid YAML ({" ".join(str(err).split())})') from err
    if not isinstance(data, dict) or not isinstance(data.get('photos'), list):
        raise GSDDError(f'split file {split_file} needs a top-level list `photos:` (one entry per photo)')
    base = osp.dirname(osp.abspath(split_file))
    folders = {name: _resolve_root(str(v), base) for name, v in (data.get('roots') or {}).items()}
    folders.update(roots or {})
    if photos_dir is not None:
        folders['photos'] = osp.abspath(photos_dir)
    entries = []
    for i, p in enumerate(data['photos']):
        where = f'split file {split_file}, photo #{i + 1}'
        if not isinstance(p, dict) or 'path' not in p or 'split' not in p:
            raise GSDDError(f'{where}: each photo needs at least `path:` and `split:`')
        unknown = sorted(set(p) - set(PHOTO_KEYS))
        if unknown:
            raise GSDDError(f'{where} ({p["path"]}): unknown key(s) {unknown}; allowed: {", ".join(PHOTO_KEYS)}')
        root = p.get('root', 'photos')
        if root not in folders:
            fix = 'pass --photos DIR' if root == 'photos' else f'define it under `roots:` or pass --root {root}=DIR'
            raise GSDDError(f'{where} ({p["path"]}): root {root!r} is not defined; {fix}')
        entries.append(dict(name=p.get('name') or _stem(p['path']), file=osp.join(folders[root], p['path']),
                            path=p['path'], root=root, split=p['split'], cls=p.get('class'),
                            source=p.get('source'), licence=p.get('licence'), where=where))
    return entries


def scan_photo_folder(photos_dir):
    """The photos of a folder laid out as ``train/[<class>/]*``, ``val/*``, ``test/*`` (no split file)."""
    entries = []
    for rel in list_images(photos_dir):
        parts = rel.split('/')
        split = parts[0]
        if split not in SPLITS or len(parts) > (3 if split == 'train' else 2):
            raise GSDDError(f'photo {osp.join(photos_dir, rel)} is not in train/[<class>/], val/ or test/; move it '
                            'there or give a --split file')
        entries.append(dict(name=_stem(rel), file=osp.join(photos_dir, rel), path=rel, root='photos', split=split,
                            cls=parts[1] if len(parts) == 3 else None, source=None, licence=None,
                            where=f'photo {rel}'))
    return entries


def _stem(path):
    return re.sub(r'[^A-Za-z0-9_-]', '_', osp.splitext(osp.basename(path))[0])


def check_photos(entries):
    """Check the photo list before anything is written; adds each photo's ``sha256``.

    Raises:
        GSDDError: a bad split, class or name, a missing file, a class on some training photos
            only, no training photo, or the same photo (by SHA-256) listed twice or in two splits.
    """
    by_name, by_hash = {}, {}
    for e in entries:
        if e['split'] not in SPLITS:
            raise GSDDError(f'{e["where"]} ({e["path"]}): split {e["split"]!r} must be one of {", ".join(SPLITS)}')
        if e['cls'] is not None and (e['split'] != 'train' or not _SAFE.match(str(e['cls']))):
            raise GSDDError(f'{e["where"]} ({e["path"]}): class {e["cls"]!r} is only for training photos and must '
                            'be letters, digits, _ or -')
        if not _SAFE.match(e['name']):
            raise GSDDError(f'{e["where"]} ({e["path"]}): name {e["name"]!r} must be letters, digits, _ or -')
        if e['name'] in by_name:
            raise GSDDError(f'{e["where"]} ({e["path"]}): name {e["name"]!r} is also used by '
                            f'{by_name[e["name"]]["path"]}; give one of them another `name:`')
        by_name[e['name']] = e
        if not osp.isfile(e['file']):
            raise MissingInputError(f'{e["where"]}: photo {e["file"]} does not exist; fix its path or root (for the '
                                    'wallpapers: apt-get install plasma-workspace-wallpapers)')
        e['sha256'] = file_sha256(e['file'])
        other = by_hash.setdefault(e['sha256'], e)
        if other is not e:
            how = 'listed twice' if other['split'] == e['split'] else f'in two splits ({other["split"]}, {e["split"]})'
            raise GSDDError(f'the same photo is {how}: {other["file"]} and {e["file"]} (sha256 '
                            f'{e["sha256"][:12]}); keep it in one split only')
    train = [e for e in entries if e['split'] == 'train']
    if len({e['cls'] is None for e in train}) > 1:
        raise GSDDError('some training photos have a class and some do not; give every training photo a `class:` '
                        'or none (then use class_mode kmeans)')
    if not train:
        raise GSDDError("no photo in split 'train', the one split a set needs (val and test may be absent); put "
                        'training photos in <photos>/train/[<class>/] or give them `split: train` in the split file')


# ----------------------------------------------------------------------------------------------
# building the set
# ----------------------------------------------------------------------------------------------
def fit_max_side(img, max_side):
    """Downscale a uint8 ``H x W x 3`` image with MATLAB bicubic so that its longer side is at most
    ``max_side`` (about: ``imresize`` rounds the size up); unchanged if already small enough or ``max_side`` is 0."""
    from basicsr.utils.matlab_functions import imresize
    longer = max(img.shape[:2])
    if not max_side or longer <= max_side:
        return img
    out = imresize(img.astype(np.float32) / 255., max_side / longer)
    return np.clip(np.round(out * 255.), 0, 255).astype(np.uint8)


def prepare_photo_data(out, split_file=None, photos_dir=None, roots=None, tile_size=TILE_SIZE, max_tiles=None,
                       max_side=MAX_SIDE, eval_max_side=None, scales=SCALES, seed=0, lmdb=False, force=False):
    """Build the photo set under ``out``; return the dict also written to ``sources.json``.

    Args:
        out (str): output folder; a non-empty one is replaced only with ``force``.
        split_file (str | None): YAML split file; without it, ``photos_dir``'s layout is the split.
        photos_dir (str | None): the folder of photos (root ``photos``).
        roots (dict[str, str] | None): root folders overriding the split file's.
        tile_size (int): training tile side in px, a multiple of 12.
        max_tiles (int | None): at most this many tiles per training photo (drawn with ``seed``).
        max_side (int): downscale training photos to this longer side first (0: never).
        eval_max_side (int | None): the same for val / test photos (None: ``max_side``).
        scales (tuple[int]): LR scales.
        seed (int): seed for choosing the tiles when ``max_tiles`` caps them.
        lmdb (bool): also write BasicSR LMDBs.
        force (bool): replace a non-empty ``out``.

    Raises:
        GSDDError: bad input (one message naming the culprit); nothing is written then.
    """
    check_geometry(tile_size, scales)
    eval_max_side = max_side if eval_max_side is None else eval_max_side
    for flag, v in (('--max-side', max_side), ('--eval-max-side', eval_max_side)):
        if v and v < tile_size:
            raise GSDDError(f'{flag} {v} is smaller than the tile size {tile_size}; raise it (or 0: keep full size)')
    if max_tiles is not None and max_tiles < 1:
        raise GSDDError(f'--max-tiles must be at least 1, got {max_tiles}')
    if split_file is None and photos_dir is None:
        raise GSDDError('give a folder of photos (--photos) and/or a split file (--split)')
    if split_file is not None:
        entries = read_split_file(split_file, photos_dir, roots)
    else:
        if not osp.isdir(photos_dir):
            raise MissingInputError(f'photo folder {photos_dir} does not exist; give an existing --photos folder')
        entries = scan_photo_folder(photos_dir)
    out = osp.abspath(out)
    inputs = sorted({osp.dirname(e['file']) for e in entries} | ({photos_dir} if photos_dir else set()))
    check_output_dir(out, force, keep=inputs)
    check_photos(entries)

    ordered = sorted(entries, key=lambda e: (SPLITS.index(e['split']), e['cls'] or '', e['name']))
    absent = [s for s in SPLITS if not any(e['split'] == s for e in entries)]
    if absent:
        _log(f'no photo in split(s) {", ".join(absent)}: the set is written without them')

    def describe(records, train_rels):
        classes = sorted({r['class'] for r in records if r['class']})
        return dict(
            generator='gsdd_basicsr.sets.photo_data.prepare_photo_data',
            split_file=osp.abspath(split_file) if split_file else None,
            tile_size=tile_size, max_tiles=max_tiles, max_side=max_side, eval_max_side=eval_max_side,
            scales=list(scales), mod=MOD, seed=seed, lmdb=bool(lmdb), classes=classes, absent_splits=absent,
            counts=dict(image_counts(records), train_photos=sum(r['split'] == 'train' for r in records)),
            photos=records)

    def after_source(records):
        rec, e = records[-1], ordered[len(records) - 1]
        (h0, w0), (h, w) = rec['source_size'], rec['size']
        if e['split'] == 'train' and not rec['images']:
            raise GSDDError(f'{e["where"]}: training photo {e["file"]} ({w}x{h} px) holds no {tile_size} px tile; '
                            'move it to val/test or lower --tile')
        what = f'{len(rec["images"])} tiles' if e['split'] == 'train' else f'HR + {lr_label(scales)}'
        _log(f'{len(records)}/{len(ordered)} {e["split"]}{"/" + e["cls"] if e["cls"] else ""} {e["name"]}: '
             f'{w0}x{h0} -> {w}x{h}, {what}')

    sources = [dict(record=_record(e), load=partial(_load, e, max_side if e['split'] == 'train' else eval_max_side))
               for e in ordered]
    t0 = time.time()
    info = write_sr_set(out, sources, describe, _readme, after_source, _log, tile_size, scales, max_tiles=max_tiles,
                        seed=seed, lmdb=lmdb, force=force, keep=inputs)
    c = info['counts']
    _log(f'wrote {out}: {tile_total(c)} training tiles from {c["train_photos"]} photos, {c["val"]} val, '
         f'{c["test"]} test photos, {info["total_bytes"] / 1e6:.1f} MB, {time.time() - t0:.0f} s')
    return info


def _record(e):
    return dict(name=e['name'], file=e['path'], root=e['root'], sha256=e['sha256'], split=e['split'],
                **{'class': e['cls']}, source=e['source'], licence=e['licence'])


def _load(e, max_side):
    img = read_rgb(e['file'])
    small = fit_max_side(img, max_side)
    return small, dict(source_size=list(img.shape[:2]), size=list(small.shape[:2]))


def _readme(info):
    c = info['counts']
    lines = [
        '# gsdd-basicsr photo data',
        '',
        'Built by `tools/prepare_photo_data.py` (gsdd_basicsr/sets/photo_data.py)'
        + (f' from the split file `{info["split_file"]}`.' if info['split_file'] else ' from a folder of photos.'),
        '',
        f'- training: {tile_total(c)} non-overlapping tiles of {info["tile_size"]} px from {c["train_photos"]} photos'
        + (f' (at most {info["max_tiles"]} per photo, seed {info["seed"]})' if info['max_tiles'] else '')
        + ('; classes: ' + ', '.join(f'{k} ({n})' for k, n in c['train'].items()) if info['classes']
           else '; no classes (use class_mode kmeans)'),
        '- ' + ', '.join(f'{s}: ' + ('absent (no photo in that split)' if s in info['absent_splits']
                                     else f'{c[s]} photos') for s in ('val', 'test'))
        + f'; whole photos, cropped from the top-left to a multiple of {info["mod"]}',
        f'- photos longer than {info["max_side"] or "-"} px (val/test: {info["eval_max_side"] or "-"} px) were first '
        'downscaled to that longer side with MATLAB bicubic (`basicsr.utils.matlab_functions.imresize`)',
        '- LR: MATLAB bicubic with antialiasing of the HR, rounded to uint8, for scales '
        + ', '.join(str(s) for s in info['scales']),
        '- no photo (by SHA-256 of its file) is in more than one split',
        '',
        '| photo | file | split | class | size used | images | source | licence |',
        '|---|---|---|---|---|---|---|---|',
    ]
    for r in info['photos']:
        lines.append(f'| {r["name"]} | `{r["root"]}/{r["file"]}` | {r["split"]} | {r["class"] or "-"} | '
                     f'{r["size"][1]}x{r["size"][0]} | {len(r["images"])} | {r["source"] or "?"} | '
                     f'{r["licence"] or "?"} |')
    lines.append('')
    return '\n'.join(lines)


def parse_roots(pairs):
    """``['NAME=DIR', ...]`` (the tools' ``--root``) -> ``{NAME: DIR}``; a malformed pair is a :class:`GSDDError`."""
    roots = {}
    for pair in pairs or ():
        name, sep, folder = pair.partition('=')
        if not sep or not name or not folder:
            raise GSDDError(f'--root {pair!r} must be NAME=DIR, e.g. --root wallpapers=/usr/share/wallpapers')
        roots[name] = folder
    return roots
