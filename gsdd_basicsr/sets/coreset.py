"""Real-image coresets: the baseline a distilled set must beat at the same budget.

``select_coreset`` picks ``budget`` real HR crops of ``patch x patch`` from a source folder and
writes them with the exported-set writer (:func:`gsdd_basicsr.sets.export.write_image_set`), so a
coreset and a distilled export have the same layout, LR and storage report.

Candidates: every source image (recursive search; class sub-folders allowed, the top-level folder
name is the class, ``all`` for images directly in the source) is tiled by a deterministic grid of
non-overlapping crops, stride ``patch``, from the top-left corner; a remainder narrower than a
crop is not used. Candidate order: images in sorted relative-path order, crops row-major.

Classes: with ``per_class`` (the default when every source image lies in a class folder) the budget
is per class: each class's ``budget`` crops are chosen among that class's candidates only, by the
same method, and the set holds ``budget x classes`` crops, class by class (sorted names); this is
what "IPC" (images per class) means for a distilled set of the same size. Without it (a flat
source, or ``per_class=False``) the method chooses ``budget`` crops among all candidates, whatever
their classes.

Methods (over the candidates of a class, or over all of them):

- ``random``: ``numpy.random.default_rng(seed).choice`` of ``budget`` candidates, no repeats; per
  class the generator is ``gsdd_basicsr.utils.seeding.keyed_rng(seed, 'coreset', <class>)``.
- ``informative``: the ``budget`` candidates with the lowest PSNR between the crop ``x`` and
  ``up(down(x))``, where ``down`` / ``up`` are basicsr's MATLAB bicubic ``imresize`` by
  ``1/scale`` / ``scale`` (no rounding or clipping in between; PSNR over all pixels and channels,
  peak 1): the crops that lose most detail under the SR degradation. Ties keep candidate order.
  (Computed with the exact linear maps of ``imresize`` for a ``patch``-sized input, in float64.)
- ``kcenter``: greedy k-center (farthest-point) selection. Feature of a crop: the crop
  area-averaged to 8 x 8 (``cv2.INTER_AREA``), converted to CIE Lab (OpenCV float convention:
  L in [0, 100], a/b about [-127, 127]), flattened to 192 values; distance: Euclidean. The first
  centre is ``default_rng(seed).integers(num_candidates)``; each next centre is the candidate
  farthest from the chosen ones (ties: lowest candidate index).

``full_set`` writes the other end of the comparison in the same layout: every source image, whole (cropped
at the bottom and right to a multiple of ``scale``), so the full set trains with the same options as a coreset.
"""
from os import path as osp

import cv2
import numpy as np

from gsdd_basicsr.bank.names import image_names
from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.sets.export import write_image_set
from gsdd_basicsr.utils.image_io import class_of, folder_classes, image_size, list_images, read_rgb
from gsdd_basicsr.utils.atomic import check_output_dir
from gsdd_basicsr.utils.seeding import keyed_rng

METHODS = ('random', 'informative', 'kcenter')
FEATURE_SIZE = 8


def grid_positions(height, width, patch):
    """Top-left corners of the non-overlapping ``patch`` grid (stride ``patch``), row-major."""
    return [(y, x) for y in range(0, height - patch + 1, patch) for x in range(0, width - patch + 1, patch)]


def _crops(img, positions, patch):
    return np.stack([img[y:y + patch, x:x + patch] for y, x in positions]) if positions else np.zeros(
        (0, patch, patch, 3), np.uint8)


# ------------------------------------------------------------------------------------------------
# informative: PSNR of crop vs bicubic down-then-up
# ------------------------------------------------------------------------------------------------
def imresize_matrix(n_in, factor, chunk=64):
    """The matrix ``M`` (``n_out x n_in``) with ``imresize(img, factor) = M @ img @ M.T`` (per
    channel) for an ``n_in x n_in`` image, extracted from basicsr's ``imresize`` itself: it is
    separable and linear, and its weights along the other axis sum to one."""
    from basicsr.utils.matlab_functions import imresize
    cols = []
    for c0 in range(0, n_in, chunk):
        c = min(chunk, n_in - c0)
        basis = np.zeros((n_in, n_in, c), np.float32)
        basis[np.arange(c0, c0 + c), :, np.arange(c)] = 1  # channel k: indicator of row c0 + k
        out = imresize(basis, factor)
        cols.append(np.asarray(out, np.float64)[:, 0, :])
    return np.concatenate(cols, 1)


def degradation_psnr(crops_uint8, scale, matrices=None):
    """PSNR (dB, peak 1) between each crop and bicubic ``up(down(crop))``; ``inf`` when equal.

    Args:
        crops_uint8 (ndarray): n x P x P x C uint8.
        scale (int): SR factor.
        matrices (tuple | None): ``(down, up)`` from :func:`imresize_matrix`, to reuse.
    """
    n, p = crops_uint8.shape[0], crops_uint8.shape[1]
    if matrices is None:
        matrices = (imresize_matrix(p, 1 / scale), imresize_matrix(p // scale, scale))
    down, up = matrices
    x = crops_uint8.astype(np.float64) / 255.
    a = up @ down  # P x P: one axis of down-then-up
    y = np.einsum('ih,nhwc,jw->nijc', a, x, a, optimize=True)
    mse = ((y - x)**2).reshape(n, -1).mean(1)
    with np.errstate(divide='ignore'):
        return 10 * np.log10(1.0 / mse)


# ------------------------------------------------------------------------------------------------
# kcenter
# ------------------------------------------------------------------------------------------------
def crop_features(crops_uint8):
    """n x 192 features: each crop area-averaged to 8 x 8, in CIE Lab, flattened (see module doc)."""
    feats = []
    for crop in crops_uint8:
        small = cv2.resize(crop.astype(np.float32) / 255., (FEATURE_SIZE, FEATURE_SIZE), interpolation=cv2.INTER_AREA)
        feats.append(cv2.cvtColor(small, cv2.COLOR_RGB2Lab).reshape(-1))
    return np.stack(feats).astype(np.float64) if feats else np.zeros((0, FEATURE_SIZE * FEATURE_SIZE * 3))


def kcenter_greedy(features, budget, seed=0):
    """Greedy k-center: seeded random first centre, then repeatedly the farthest candidate."""
    m = features.shape[0]
    rng = np.random.default_rng(seed)
    first = int(rng.integers(m))
    chosen = [first]
    min_d = np.linalg.norm(features - features[first], axis=1)
    min_d[first] = -1
    for _ in range(budget - 1):
        nxt = int(np.argmax(min_d))
        chosen.append(nxt)
        min_d = np.minimum(min_d, np.linalg.norm(features - features[nxt], axis=1))
        min_d[chosen] = -1
    return chosen


# ------------------------------------------------------------------------------------------------
def list_candidates(source, patch):
    """(files, candidates) with candidates a list of ``(file index, y, x)`` in candidate order."""
    files = list_images(source)
    if not files:
        raise GSDDError(f'no images found under {source}')
    cands = []
    for i, rel in enumerate(files):
        h, w = image_size(osp.join(source, rel))
        cands.extend((i, y, x) for y, x in grid_positions(h, w, patch))
    return files, cands


def _per_image(source, files, cands, patch, fn):
    """Apply ``fn`` to the crops of each image (one read per image); concatenate in candidate order."""
    out = []
    by_image = {}
    for i, y, x in cands:
        by_image.setdefault(i, []).append((y, x))
    for i in sorted(by_image):
        img = read_rgb(osp.join(source, files[i]))
        out.append(fn(_crops(img, by_image[i], patch)))
    return np.concatenate(out, 0)


def select_coreset(source, out, method, budget, patch, seed=0, scale=4, force=False, lmdb=False, per_class=None):
    """Pick real ``patch x patch`` crops from ``source`` and write them as an image set.

    Args:
        source (str): real HR images (class folders allowed).
        out (str): output folder.
        method (str): one of :data:`METHODS`.
        budget (int): crops per class with ``per_class``, else crops in all.
        patch (int): HR crop side (px), a multiple of ``scale``.
        seed (int): seed of ``random`` and of the first k-center.
        scale (int): SR factor of the written LR images.
        force (bool): replace a non-empty ``out``.
        lmdb (bool): also write BasicSR LMDBs.
        per_class (bool | None): choose ``budget`` crops within each class (module docstring); None:
            when every image of ``source`` lies in a class folder.

    Returns:
        dict: the storage report (also ``out/storage_report.json``); ``out/coreset.json`` lists
        every chosen crop (source file, y, x, class, score) in selection order.

    Raises:
        GSDDError: unknown method, patch not a multiple of scale, budget < 1 or larger than the
            number of candidates (of a class, per class), no images.
    """
    if method not in METHODS:
        raise GSDDError(f'method must be one of {METHODS}, got {method!r}')
    if not isinstance(scale, int) or scale < 1:
        raise GSDDError(f'scale must be a positive int, got {scale!r}')
    if not isinstance(patch, int) or patch < scale or patch % scale:
        raise GSDDError(f'patch must be a positive multiple of scale {scale}, got {patch!r}')
    if method == 'informative' and patch // scale < 2:
        raise GSDDError(f'informative needs patch >= 2 * scale, got patch {patch}')
    if not isinstance(budget, int) or budget < 1:
        raise GSDDError(f'budget must be a positive int, got {budget!r}')
    if not osp.isdir(source):
        raise MissingInputError(f'source folder {source} does not exist')
    check_output_dir(osp.abspath(out), force, [source])

    files, cands = list_candidates(source, patch)
    if per_class is None:
        per_class = folder_classes(files) is not None
    pools = {}  # class (or 'all') -> its candidates' indices, in candidate order
    for c, (i, _, _) in enumerate(cands):
        pools.setdefault(class_of(files[i]) if per_class else 'all', []).append(c)
    for cls, pool in sorted(pools.items()):
        if budget > len(pool):
            where = f'class {cls!r} ({source}/{cls})' if per_class else source
            fix = '; lower --budget (crops per class) or pass --no-per-class' if per_class else ''
            raise GSDDError(f'budget {budget} is larger than the {len(pool)} candidate crops ({patch}x{patch}, '
                            f'stride {patch}) of the images of {where}{fix}')

    scores = feats = None
    if method == 'informative':
        mats = (imresize_matrix(patch, 1 / scale), imresize_matrix(patch // scale, scale))
        scores = _per_image(source, files, cands, patch, lambda c: degradation_psnr(c, scale, mats))
    elif method == 'kcenter':
        feats = _per_image(source, files, cands, patch, crop_features)
    sel = []
    for cls, pool in sorted(pools.items()):
        if method == 'random':
            rng = keyed_rng(seed, 'coreset', cls) if per_class else np.random.default_rng(seed)
            picks = rng.choice(len(pool), size=budget, replace=False)
        elif method == 'informative':
            picks = np.argsort(scores[pool], kind='stable')[:budget]
        else:
            picks = kcenter_greedy(feats[pool], budget, seed)
        sel += [pool[int(k)] for k in picks]

    # read the chosen crops (each image once), keep selection order
    wanted = {}
    for k, c in enumerate(sel):
        wanted.setdefault(cands[c][0], []).append(k)
    crops = [None] * len(sel)
    for i, ks in wanted.items():
        img = read_rgb(osp.join(source, files[i]))
        for k in ks:
            _, y, x = cands[sel[k]]
            crops[k] = np.ascontiguousarray(img[y:y + patch, x:x + patch])
    groups = [class_of(files[cands[c][0]]) for c in sel]
    names = image_names(groups)
    record = [{
        'name': n, 'source': files[cands[c][0]], 'y': cands[c][1], 'x': cands[c][2], 'class': g,
        **({'psnr_bicubic': float(scores[c])} if scores is not None else {})
    } for n, c, g in zip(names, sel, groups)]
    report = {
        'kind': 'coreset', 'method': method, 'seed': seed, 'budget': budget, 'per_class': bool(per_class),
        'budget_unit': 'crops per class' if per_class else 'crops in all', 'patch': patch,
        'num_candidates': len(cands), 'source_images_used': len(wanted),
    }
    if method == 'kcenter':
        report['feature'] = f'{FEATURE_SIZE}x{FEATURE_SIZE} INTER_AREA, CIE Lab (OpenCV float), Euclidean'
    return write_image_set(out, crops, names, scale, groups=groups, lmdb=lmdb, source=source, force=force,
                           report=report, extra_files={'coreset.json': record})


def full_set(source, out, scale=4, force=False, lmdb=False):
    """Write every real HR image of ``source`` (class folders allowed) as an image set: the full set.

    Each image is cropped at the bottom and right to a multiple of ``scale``; names are
    ``<index>_<relative path, non-alphanumerics as _>.png``; the class is the top-level folder (``all`` for
    images directly in ``source``).

    Returns:
        dict: the storage report (also ``out/storage_report.json``, ``kind: full_real_set``).

    Raises:
        MissingInputError: ``source`` is not a folder.
        GSDDError: ``scale`` is not a positive int, ``source`` holds no images, or an image is smaller than
            ``scale`` on a side.
    """
    if not isinstance(scale, int) or scale < 1:
        raise GSDDError(f'scale must be a positive int, got {scale!r}')
    if not osp.isdir(source):
        raise MissingInputError(f'source folder {source} does not exist')
    check_output_dir(osp.abspath(out), force, [source])
    images, names, groups = [], [], []
    for i, rel in enumerate(list_images(source)):
        img = read_rgb(osp.join(source, rel))
        h, w = img.shape[0] - img.shape[0] % scale, img.shape[1] - img.shape[1] % scale
        if not h or not w:
            raise GSDDError(f'{osp.join(source, rel)} is {img.shape[1]}x{img.shape[0]} px, smaller than scale '
                            f'{scale}; remove it from {source}')
        rel = rel.replace('\\', '/')
        stem = ''.join(ch if ch.isalnum() or ch in '-_' else '_' for ch in osp.splitext(rel)[0])
        images.append(np.ascontiguousarray(img[:h, :w]))
        names.append(f'{i:05d}_{stem}.png')
        groups.append(class_of(rel))
    if not images:
        raise GSDDError(f'no images under {source}')
    return write_image_set(out, images, names, scale, groups=groups, lmdb=lmdb, source=source, force=force,
                           report={'kind': 'full_real_set'})


__all__ = ['select_coreset', 'full_set', 'list_candidates', 'degradation_psnr', 'crop_features', 'kcenter_greedy',
           'imresize_matrix', 'grid_positions', 'METHODS']
