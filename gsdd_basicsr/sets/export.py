"""Write image sets in the exported-set layout, and export latent banks.

Layout of a set folder ``OUT``::

    OUT/HR/<name>.png                 HR images (8-bit RGB PNG)
    OUT/LR_bicubic/X<s>/<name>.png    LR = MATLAB bicubic (basicsr imresize) of the 8-bit HR
    OUT/meta_info.txt                 one HR file name per line
    OUT/HR.lmdb, OUT/LR_bicubic/X<s>.lmdb   with lmdb=True (basicsr.utils.lmdb_util)
    OUT/preview_grid.png              rows = classes, up to 8 images per row
    OUT/storage_report.json           bytes and counts, and ``notes``: what each of its keys means
                                      (:data:`STORAGE_REPORT_NOTES`)

How BasicSR reads it, unmodified:

- ``PairedImageDataset``: ``dataroot_gt: OUT/HR``, ``dataroot_lq: OUT/LR_bicubic/X<s>``
  (disk), or ``OUT/HR.lmdb`` and ``OUT/LR_bicubic/X<s>.lmdb`` with ``io_backend: {type: lmdb}``.
- ``RealESRGANDataset``: ``dataroot_gt: OUT/HR``, ``meta_info: OUT/meta_info.txt`` (it joins
  ``dataroot_gt`` with each line), or ``dataroot_gt: OUT/HR.lmdb`` with the lmdb backend (it
  reads the LMDB's own ``meta_info.txt``).

The folder is written into a temporary sibling and renamed into place at the end, so ``OUT`` is
never half-written; a non-empty ``OUT`` is refused unless ``force``.
"""
import json
import os
from os import path as osp

import cv2
import numpy as np
import torch
from torchvision.utils import make_grid

from gsdd_basicsr.bank.format import load_latent_bank
from gsdd_basicsr.bank.names import bank_image_classes, bank_image_names
from gsdd_basicsr.bank.render import build_bank_generator, render_bank
from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.utils.image_io import folder_bytes, folder_stats, lr_from_hr, write_lmdb, write_rgb
from gsdd_basicsr.utils.atomic import atomic_folder, check_output_dir

PREVIEW_PER_CLASS = 8
PREVIEW_TILE = 128

#: What every key of ``storage_report.json`` means; the report carries the entries of the keys it holds
#: as ``notes`` (ratio keys under ``ratios.``). "The real set" is the ``source`` folder the set is compared with.
STORAGE_REPORT_NOTES = {
    'kind': 'what the set is: gsdd_export (a rendered latent bank), coreset (real crops) or full_real_set',
    'num_images': 'HR images in this set (HR/)',
    'scale': 'SR factor: LR_bicubic/X<scale>/ holds the HR images downscaled by it (MATLAB bicubic)',
    'hr_png_bytes': 'bytes of the PNG files in HR/',
    'lr_png_bytes': 'bytes of the PNG files in LR_bicubic/X<scale>/',
    'hr_pixels': 'pixels of all HR images (height x width, summed)',
    'hr_shapes': 'the distinct HR image sizes, HxW',
    'images_per_class': 'HR images of each class (the top-level folder of the source image, or the bank\'s class)',
    'hr_lmdb_bytes': 'bytes of HR.lmdb (written with lmdb)',
    'lr_lmdb_bytes': 'bytes of LR_bicubic/X<scale>.lmdb (written with lmdb)',
    'source': 'the real set compared with: its folder, bytes, image count and HR pixels (all its image files)',
    'ratios': 'this set over the real set (source), key by key below',
    'ratios.hr_to_real_bytes': 'hr_png_bytes / the real set\'s bytes',
    'ratios.lr_to_real_bytes': 'lr_png_bytes / the real set\'s bytes',
    'ratios.image_count_to_real': 'num_images / the real set\'s number of image files: a count only, a crop and a '
                                  'whole photo weigh the same (hr_pixels_to_real compares sizes)',
    'ratios.hr_pixels_to_real': 'hr_pixels / the real set\'s pixels: the budget as a fraction of the real data',
    'ratios.bank_to_real_bytes': 'latent_bank_bytes / the real set\'s bytes',
    'ratios.bank_plus_generator_float32_to_real_bytes': 'bank + generator weights at 4 bytes a parameter / the real '
                                                        'set\'s bytes',
    'ratios.bank_plus_generator_float16_to_real_bytes': 'bank + generator weights at 2 bytes a parameter / the real '
                                                        'set\'s bytes',
    'latent_bank': 'the latent bank file rendered',
    'latent_bank_bytes': 'bytes of that file: what a distilled set stores',
    'latent_shape': 'shape of the bank\'s latents: images x channels x height x width',
    'iter': 'the distillation iteration the bank was saved at',
    'network_g_type': 'the generator that renders the bank',
    'generator_weights': 'its weights file',
    'class_names': 'the bank\'s classes, in label order',
    'generator_params': 'the generator\'s parameter count',
    'generator_bytes': 'the generator\'s weights at 4 (float32) and 2 (float16) bytes a parameter',
    'bank_plus_generator_bytes': 'latent_bank_bytes + generator_bytes: what rendering the set needs',
    'generator_paid_back_above_real_bytes': 'the real set\'s size (bytes) above which bank + generator is smaller '
                                            'than the real set, at this bank-to-real ratio',
    'method': 'how the coreset was chosen: random, informative or kcenter (gsdd_basicsr.sets.coreset)',
    'seed': 'the seed of random and of the first k-center',
    'budget': 'crops chosen, per class or in all (budget_unit)',
    'per_class': 'true: the budget was chosen within each class',
    'budget_unit': 'crops per class, or crops in all',
    'patch': 'HR crop side in px',
    'num_candidates': 'the non-overlapping patch x patch grid crops of the source images the method chose among',
    'source_images_used': 'source images at least one chosen crop comes from',
    'feature': 'the k-center feature and distance',
}


def _fit_tile(img, t):
    """``img`` (uint8 HWC RGB) scaled to fit a ``t`` square (aspect kept), centred on grey."""
    h, w = img.shape[:2]
    f = t / max(h, w)
    th, tw = max(1, round(h * f)), max(1, round(w * f))
    small = cv2.resize(img, (tw, th), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_NEAREST)
    tile = np.full((t, t, 3), 128, np.uint8)
    oy, ox = (t - th) // 2, (t - tw) // 2
    tile[oy:oy + th, ox:ox + tw] = small
    return tile


def preview_grid(images, groups, per_class=PREVIEW_PER_CLASS, tile=PREVIEW_TILE, pad=2, label_width=96):
    """An RGB uint8 grid (``torchvision.utils.make_grid``, white padding): one row per group (order
    of first appearance), up to ``per_class`` images per row, each fitted into a ``tile`` square
    (at most the largest image side), the group name in a ``label_width`` column on the left."""
    order, rows = [], {}
    for img, g in zip(images, groups):
        if g not in rows:
            order.append(g)
            rows[g] = []
        if len(rows[g]) < per_class:
            rows[g].append(img)
    t = min(tile, max(max(im.shape[:2]) for im in images))
    ncol = max(len(v) for v in rows.values())
    blank = np.full((t, t, 3), 255, np.uint8)  # short rows are padded with white, like the borders
    tiles = [_fit_tile(rows[g][c], t) if c < len(rows[g]) else blank for g in order for c in range(ncol)]
    batch = torch.from_numpy(np.stack(tiles)).permute(0, 3, 1, 2)
    grid = make_grid(batch, nrow=ncol, padding=pad, pad_value=255).permute(1, 2, 0).numpy()
    labels = np.full((grid.shape[0], label_width, 3), 255, np.uint8)
    for r, g in enumerate(order):
        y0 = pad + r * (t + pad)
        cv2.putText(labels, str(g)[:12], (4, y0 + t // 2 + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return np.ascontiguousarray(np.concatenate([labels, grid], 1))


# ----------------------------------------------------------------------------------------------
# the writer
# ----------------------------------------------------------------------------------------------
def write_image_set(out, images, names, scale, groups=None, lmdb=False, source=None, force=False, report=None,
                    extra_files=None, keep=()):
    """Write an image set in the exported layout (module docstring). One writer for distilled
    exports and real coresets.

    Args:
        out (str): output folder.
        images (sequence[ndarray]): HR images, uint8 HWC RGB, height and width multiples of ``scale``.
        names (sequence[str]): file names (``*.png``, no other dot, unique), one per image.
        scale (int): LR factor; LR images go to ``LR_bicubic/X<scale>``.
        groups (sequence[str] | None): class of each image (preview rows, per-class counts).
        lmdb (bool): also write ``HR.lmdb`` and ``LR_bicubic/X<s>.lmdb``.
        source (str | None): real training set to compare storage with.
        force (bool): replace a non-empty ``out``.
        report (dict | None): extra entries for ``storage_report.json`` (e.g. ``latent_bank_bytes``).
        extra_files (dict | None): ``{file name: JSON-able object}`` written next to the report.
        keep (sequence[str]): inputs that must not lie inside ``out``.

    Returns:
        dict: the storage report. Its byte counts are the sizes of the files written:
        ``hr_png_bytes`` / ``lr_png_bytes`` (sums over ``HR/`` and ``LR_bicubic/X<s>/``),
        ``hr_lmdb_bytes`` / ``lr_lmdb_bytes`` (all files of each LMDB folder), ``num_images``,
        ``hr_pixels``; with ``source``: ``source`` (bytes, num_images, num_pixels) and ``ratios``
        (``bank_to_real_bytes`` when the report has ``latent_bank_bytes``, ``hr_to_real_bytes``,
        ``lr_to_real_bytes``, ``image_count_to_real``, ``hr_pixels_to_real``); ``notes``: the entries of
        :data:`STORAGE_REPORT_NOTES` for the keys it holds.
    """
    images, names = list(images), list(names)
    groups = list(groups) if groups is not None else ['all'] * len(images)
    if not images:
        raise GSDDError('no images to write')
    if not (len(images) == len(names) == len(groups)):
        raise GSDDError(f'{len(images)} images, {len(names)} names and {len(groups)} groups')
    if len(set(names)) != len(names):
        raise GSDDError('image names are not unique')
    if not isinstance(scale, (int, np.integer)) or scale < 1:
        raise GSDDError(f'scale must be a positive int, got {scale!r}')
    for name, img in zip(names, images):
        stem, ext = osp.splitext(name)
        if ext != '.png' or '.' in stem or not stem or '/' in name or os.sep in name or ' ' in name:
            raise GSDDError(f'bad image name {name!r}: use <stem>.png, stem without dots, slashes or spaces')
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise GSDDError(f'{name}: expected a uint8 H x W x 3 image, got {img.dtype} {img.shape}')
        if img.shape[0] % scale or img.shape[1] % scale:
            raise GSDDError(f'{name}: HR size {img.shape[:2]} is not a multiple of scale {scale}')

    keep = [p for p in keep if p] + ([source] if source else [])
    stats = folder_stats(source) if source else None
    with atomic_folder(out, force, keep) as tmp:
        hr_dir, lr_rel = osp.join(tmp, 'HR'), osp.join('LR_bicubic', f'X{scale}')
        lr_dir = osp.join(tmp, lr_rel)
        hr_bytes = lr_bytes = hr_pixels = 0
        for name, img in zip(names, images):
            write_rgb(osp.join(hr_dir, name), img)
            write_rgb(osp.join(lr_dir, name), lr_from_hr(img, scale))
            hr_bytes += osp.getsize(osp.join(hr_dir, name))
            lr_bytes += osp.getsize(osp.join(lr_dir, name))
            hr_pixels += img.shape[0] * img.shape[1]
        with open(osp.join(tmp, 'meta_info.txt'), 'w') as f:
            f.write(''.join(f'{n}\n' for n in names))

        rep = {'num_images': len(images), 'scale': int(scale)}
        rep.update(report or {})
        rep.update({'hr_png_bytes': hr_bytes, 'lr_png_bytes': lr_bytes, 'hr_pixels': hr_pixels,
                    'hr_shapes': sorted({f'{im.shape[0]}x{im.shape[1]}' for im in images})})
        counts = {}
        for g in groups:
            counts[g] = counts.get(g, 0) + 1
        rep['images_per_class'] = counts
        if lmdb:
            write_lmdb(hr_dir, names, osp.join(tmp, 'HR.lmdb'))
            write_lmdb(lr_dir, names, osp.join(tmp, lr_rel + '.lmdb'))
            rep['hr_lmdb_bytes'] = folder_bytes(osp.join(tmp, 'HR.lmdb'))
            rep['lr_lmdb_bytes'] = folder_bytes(osp.join(tmp, lr_rel + '.lmdb'))
        if stats:
            rep['source'] = stats
            ratios = {
                'hr_to_real_bytes': hr_bytes / stats['bytes'],
                'lr_to_real_bytes': lr_bytes / stats['bytes'],
                'image_count_to_real': len(images) / stats['num_images'],
                'hr_pixels_to_real': hr_pixels / stats['num_pixels'],
            }
            if rep.get('latent_bank_bytes') is not None:
                ratios['bank_to_real_bytes'] = rep['latent_bank_bytes'] / stats['bytes']
            for dtype, total in (rep.get('bank_plus_generator_bytes') or {}).items():
                ratios[f'bank_plus_generator_{dtype}_to_real_bytes'] = total / stats['bytes']
            rep['ratios'] = ratios
            if rep.get('generator_bytes') and 'bank_to_real_bytes' in ratios:
                rep['generator_paid_back_above_real_bytes'] = {
                    k: generator_paid_back_bytes(v, ratios['bank_to_real_bytes'])
                    for k, v in rep['generator_bytes'].items()}
        rep['notes'] = {k: note for k, note in STORAGE_REPORT_NOTES.items()
                        if k in rep or k.partition('.')[2] in rep.get('ratios', {})}
        write_rgb(osp.join(tmp, 'preview_grid.png'), preview_grid(images, groups))
        for fname, obj in (extra_files or {}).items():
            with open(osp.join(tmp, fname), 'w') as f:
                json.dump(obj, f, indent=2)
        with open(osp.join(tmp, 'storage_report.json'), 'w') as f:
            json.dump(rep, f, indent=2)
    return rep


def generator_storage(bank_bytes, generator_params):
    """What a latent bank costs with the generator it needs to become images (the honest storage count).

    Args:
        bank_bytes (int): the bank file's bytes.
        generator_params (int): the generator's parameter count.

    Returns:
        dict: ``generator_params``; ``generator_bytes`` and ``bank_plus_generator_bytes`` as
        ``{'float32': B, 'float16': B}`` (weights at 4 / 2 bytes a parameter, no container overhead).
    """
    gen = {'float32': 4 * generator_params, 'float16': 2 * generator_params}
    return {'generator_params': int(generator_params), 'generator_bytes': gen,
            'bank_plus_generator_bytes': {k: bank_bytes + v for k, v in gen.items()}}


def generator_paid_back_bytes(generator_bytes, bank_to_real):
    """The real set's size (bytes) above which bank + generator is smaller than the real set.

    At a bank-to-real byte ratio ``r`` (the bank grows with the set at a fixed fraction), bank +
    generator < real set exactly when real > ``generator_bytes / (1 - r)``; None for ``r >= 1``.
    """
    return None if bank_to_real >= 1 else generator_bytes / (1.0 - bank_to_real)


# ----------------------------------------------------------------------------------------------
# latent bank export
# ----------------------------------------------------------------------------------------------
def export_distilled(latents, out, weights=None, lmdb=False, source=None, force=False, device='auto',
                     batch_size=16, param_key=None):
    """Render a latent bank and write it as an image set (module docstring).

    Args:
        latents (str): latent bank file (``latents_<iter>.pth``).
        out (str): output folder.
        weights (str | None): generator weights; default the bank's ``pretrain_network_g``.
        lmdb (bool): also write LMDBs.
        source (str | None): the real training set, for the storage comparison.
        force (bool): replace a non-empty ``out``.
        device (str): ``auto`` | ``cpu`` | ``cuda``.
        batch_size (int): latents per generator forward pass.
        param_key (str | None): key of the weights' state dict (default ``param_key_g`` of the
            bank, else ``params_ema`` then ``params``).

    Returns:
        dict: the storage report (also written to ``out/storage_report.json``).
    """
    bank = load_latent_bank(latents)
    check_output_dir(osp.abspath(out), force, [latents, weights, source])
    if source and not osp.isdir(source):
        raise MissingInputError(f'--source folder {source} does not exist')
    generator = build_bank_generator(bank, weights=weights, device=device, param_key=param_key)
    images = render_bank(bank, generator, batch_size=batch_size)
    gen_params = sum(p.numel() for p in generator.parameters())
    del generator
    report = {
        'kind': 'gsdd_export',
        'latent_bank': osp.abspath(latents),
        'latent_bank_bytes': osp.getsize(latents),
        'latent_shape': list(bank['latents'].shape),
        'iter': bank['iter'],
        'network_g_type': bank['network_g']['type'],
        'generator_weights': osp.abspath(weights or bank['pretrain_network_g']),
        'class_names': bank['class_names'],
        **generator_storage(osp.getsize(latents), gen_params),
    }
    return write_image_set(out, images, bank_image_names(bank), bank['scale'], groups=bank_image_classes(bank),
                           lmdb=lmdb, source=source, force=force, report=report, keep=[latents, weights])
