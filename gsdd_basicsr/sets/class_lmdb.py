"""A class-labelled BasicSR LMDB from class folders: what ClassImageDataset's ``lmdb`` backend reads.

``make_class_lmdb`` (or ``tools/make_class_lmdb.py``) turns ::

    SOURCE/<class>/**/<name>.<ext>     one folder per class; links to folders and files are followed

into ::

    OUT.lmdb/data.mdb, lock.mdb        basicsr.utils.lmdb_util.make_lmdb_from_imgs: key
                                       ``<class>/<path inside the class folder, without extension>``,
                                       value the image re-encoded as PNG (compression 1, bit depth and
                                       channels kept)
    OUT.lmdb/meta_info.txt             ``<key>.png (h,w,c) 1`` a line: BasicSR's format, which
                                       ClassImageDataset reads for the keys and sizes
    OUT.lmdb/class_lmdb.json           the source, the classes and their image counts, the tile size

so that ``ClassImageDataset`` with ``dataroot_gt: OUT.lmdb``, ``io_backend: {type: lmdb}`` and
``class_mode: folder`` sees the same classes and images as with ``dataroot_gt: SOURCE`` on disk.
BasicSR's ``scripts/data_preparation/create_lmdb.py`` writes flat keys and so loses the classes.

Images are stored whole; with ``tile_size`` each is first cut into the non-overlapping ``tile_size``
px tiles of :func:`gsdd_basicsr.sets.sr_set_writer.train_tiles` (8-bit RGB; an image smaller than a
tile gives none), keyed ``<class>/<path>_r<i>c<j>``.

Bad input (no class folders, images outside them, an empty class folder, an unreadable image or
folder, a dangling link, a key BasicSR cannot hold, an existing ``OUT`` without ``force``) is one
:class:`~gsdd_basicsr.errors.GSDDError` naming the culprit; the LMDB is written into a temporary
sibling and renamed into place at the end, so ``OUT`` is never half-written.
"""
import json
import os
import shutil
import time
from os import path as osp

import cv2

from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.utils.image_io import (IMG_EXTENSIONS, image_size, is_image_file, list_class_folders, list_images,
                                        read_rgb, write_lmdb)
from gsdd_basicsr.sets.sr_set_writer import write_train_tiles
from gsdd_basicsr.utils.atomic import atomic_folder, check_output_dir
from gsdd_basicsr.utils.progress import progress

_log = progress('class lmdb')


def list_class_images(source):
    """The images of a class-folder set as ``(class, path relative to source)``, classes and paths sorted.

    Raises:
        GSDDError: no class folders, images directly in ``source``, an empty class folder, or an
            unreadable folder / dangling link (:func:`gsdd_basicsr.utils.image_io.list_images`).
    """
    if not osp.isdir(source):
        raise MissingInputError(f'source folder {source} does not exist; give a folder of class folders '
                                '(SOURCE/<class>/*.png)')
    classes = list_class_folders(source)
    loose = sorted(n for n in os.listdir(source)
                   if not n.startswith('.') and is_image_file(n) and osp.isfile(osp.join(source, n)))
    if not classes:
        hint = f'; it holds {len(loose)} images directly (for a flat folder use class_mode kmeans)' if loose else ''
        raise GSDDError(f'{source} has no class folders: put each class\'s images in {source}/<class>/{hint}')
    if loose:
        raise GSDDError(f'{source} holds {len(loose)} image(s) outside the class folders (e.g. {loose[0]}); move '
                        'them into a class folder')
    entries = []
    for cls in classes:
        images = list_images(osp.join(source, cls))
        if not images:
            raise GSDDError(f'class folder {osp.join(source, cls)} holds no images ({" ".join(IMG_EXTENSIONS)}); '
                            'add images or remove the folder')
        entries += [(cls, f'{cls}/{rel}') for rel in images]
    return entries


def make_class_lmdb(source, out, tile_size=None, force=False):
    """Write the class-labelled LMDB of ``source``'s class folders to ``out`` (layout in the module docstring).

    Args:
        source (str): folder of class folders.
        out (str): the LMDB folder to write, ending in ``.lmdb`` (BasicSR's convention).
        tile_size (int | None): cut every image into non-overlapping tiles of this side (px) first.
        force (bool): replace an existing ``out``.

    Returns:
        dict: what ``class_lmdb.json`` holds: ``source``, ``tile_size``, ``classes`` (class -> images
        stored), ``num_images``, ``seconds``.

    Raises:
        GSDDError: bad input (module docstring); nothing is written then.
    """
    t0 = time.time()
    source, out = osp.abspath(source), osp.abspath(out)
    if not out.endswith('.lmdb'):
        raise GSDDError(f'--out {out} must end with .lmdb (BasicSR\'s LMDB folders do), e.g. {out}.lmdb')
    if tile_size is not None and (not isinstance(tile_size, int) or tile_size < 1):
        raise GSDDError(f'--tile-size must be a positive number of pixels, got {tile_size!r}')
    check_output_dir(out, force, keep=[source])
    entries = list_class_images(source)
    keys = [osp.splitext(rel)[0] for _, rel in entries]
    clash = _first_duplicate(keys)
    if clash:
        raise GSDDError(f'{clash[0]} and {clash[1]} would both be LMDB key {osp.splitext(clash[0])[0]!r}; rename '
                        'one of them')
    counts = {}
    for cls, _ in entries:
        counts[cls] = counts.get(cls, 0) + 1
    _log(f'{source}: {len(counts)} classes, {len(entries)} images (' + ', '.join(f'{c} {n}' for c, n in counts.items())
         + ')')
    pixels = 0
    for k, (_, rel) in enumerate(entries, 1):  # headers only: an unreadable file is named before anything is written
        h, w = image_size(osp.join(source, rel))
        pixels += h * w
        if k % 1000 == 0:
            _log(f'checked {k}/{len(entries)} image headers')
    with atomic_folder(out, force, keep=[source]) as tmp:
        if tile_size:
            data_root, rels, counts = _write_tiles(source, entries, tile_size, osp.join(tmp, 'tiles'))
            keys = [osp.splitext(rel)[0] for rel in rels]
        else:
            data_root, rels = source, [rel for _, rel in entries]
        _log(f'writing {len(rels)} images to {out} (basicsr.utils.lmdb_util.make_lmdb_from_imgs)')
        db = osp.join(tmp, 'db.lmdb')  # make_lmdb_from_imgs creates its folder itself
        try:
            # 8 bytes a pixel covers PNG level 1 of 16-bit RGBA; only address space is reserved
            write_lmdb(data_root, rels, db, keys=keys, map_size=(64 << 20) + 8 * pixels, progress_bar=True)
        except GSDDError:
            raise
        except Exception as err:  # basicsr fails on an image OpenCV cannot decode without naming it
            for rel in rels:
                if cv2.imread(osp.join(data_root, rel), cv2.IMREAD_UNCHANGED) is None:
                    raise GSDDError(f'cannot read image {osp.join(data_root, rel)} (corrupt or not an image); fix or '
                                    'remove it') from err
            raise
        for name in os.listdir(db):
            os.rename(osp.join(db, name), osp.join(tmp, name))
        os.rmdir(db)
        shutil.rmtree(osp.join(tmp, 'tiles'), ignore_errors=True)
        info = dict(generator='gsdd_basicsr.sets.class_lmdb.make_class_lmdb', source=source, tile_size=tile_size,
                    classes=counts, num_images=len(rels), seconds=round(time.time() - t0, 1))
        with open(osp.join(tmp, 'class_lmdb.json'), 'w', encoding='utf-8') as f:
            json.dump(info, f, indent=2)
    _log(f'wrote {out}: {len(rels)} images in {len(counts)} classes, {time.time() - t0:.0f} s')
    return info


def _first_duplicate(keys):
    seen = {}
    for i, key in enumerate(keys):
        if key in seen:
            return seen[key], i
        seen[key] = i
    return None


def _write_tiles(source, entries, tile_size, tiles_root):
    """Cut every image into tiles under ``tiles_root/train/<class>/`` -> (folder, tile paths, class -> tiles)."""
    rels, counts, small = [], {}, []
    for k, (cls, rel) in enumerate(entries, 1):
        img = read_rgb(osp.join(source, rel))
        name = osp.splitext(rel)[0].split('/', 1)[1]
        tiles = write_train_tiles(tiles_root, img, name, tile_size, cls=cls)
        if not tiles:
            small.append(rel)
        rels += [t['path'][len('train/'):] for t in tiles]
        counts[cls] = counts.get(cls, 0) + len(tiles)
        if k % 100 == 0 or k == len(entries):
            _log(f'tiled {k}/{len(entries)} images: {len(rels)} tiles of {tile_size} px')
    if small:
        _log(f'{len(small)} image(s) smaller than {tile_size} px give no tile (e.g. {small[0]})')
    empty = [c for c, n in counts.items() if not n]
    if empty:
        raise GSDDError(f'class {empty[0]} has no image of at least {tile_size} px, so no tile; lower --tile-size or '
                        'leave it out (whole images)')
    return osp.join(tiles_root, 'train'), rels, counts
