"""Where the classes of a real data set come from: meta files, decoding and k-means.

Helpers for :class:`gsdd_basicsr.data.class_image_dataset.ClassImageDataset` (listing folders
and reading sizes from file headers are :mod:`gsdd_basicsr.utils.image_io`'s):

- parsing BasicSR LMDB ``meta_info.txt`` files (``name (h,w,c) compression``) and class meta
  files (``<path or key> [extra columns ...] <class>``);
- decoding image bytes into float32 BGR ``H x W x 3`` arrays in ``[0, 1]`` whatever the file
  holds (grey, RGBA, 8/16-bit, float; :func:`gsdd_basicsr.utils.image_io.to_float_bgr`), with errors
  that name the file;
- the fixed image embedding and seeded k-means used for pseudo-classes (``class_mode: kmeans``).

The k-means embedding (34 numbers per image, see :func:`image_embedding`):

1. decode a reduced-size 8-bit colour version of the image (OpenCV ``IMREAD_REDUCED_COLOR_f``,
   ``f`` in {1, 2, 4, 8}, the largest keeping the short side >= 64 px), take the centred square
   of side ``min(h, w)`` and resize it to 64 x 64 (area interpolation);
2. colour: CIE Lab histograms of that thumbnail, 8 bins each for L in [0, 100] and a, b in
   [-80, 80] (values outside are clipped into the end bins), each normalised to sum 1 (24);
3. texture: 8-bin histogram of unsigned gradient orientation (Sobel on L / 100, angle mod pi)
   weighted by gradient magnitude and normalised to sum 1 (8), plus log(1 + 10 * mean
   gradient magnitude) at 64 x 64 and at 16 x 16 (2).

Every dimension is standardised over the data set (zero mean, unit variance; constant
dimensions become 0), then the colour block is scaled by 1/sqrt(24) and the texture block by
1/sqrt(10) so that both blocks weigh the same. Clustering is ``scipy.cluster.vq.kmeans2``
(k-means++ start) with ``restarts`` seeded runs; the run with the lowest within-cluster sum of
squares and no empty cluster wins, and clusters are numbered by the first image (in listing
order) they contain, so the result depends only on the images, ``K`` and the seed.
"""
import re
from os import path as osp

import cv2
import numpy as np

from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.utils.image_io import to_float_bgr
from gsdd_basicsr.utils.seeding import key_seed

_SHAPE_RE = re.compile(r'^\(\s*\d+\s*,\s*\d+\s*(,\s*\d+\s*)?\)$')


def read_lmdb_meta(lmdb_root):
    """Keys and sizes of a BasicSR LMDB, from its ``meta_info.txt``.

    Lines are ``name (h,w,c) compression`` (:mod:`basicsr.utils.lmdb_util`); the LMDB key is the
    name without its extension.

    Returns:
        dict: ``key -> (h, w)`` in file order.
    """
    meta = osp.join(lmdb_root, 'meta_info.txt')
    if not osp.isfile(meta):
        raise MissingInputError(f'LMDB {lmdb_root!r} has no meta_info.txt (BasicSR format '
                                '"name (h,w,c) compression" per line), needed for image keys and sizes.')
    out = {}
    with open(meta, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            m = re.match(r'^(\S+)\s+\(\s*(\d+)\s*,\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)', line)
            if m is None:
                raise GSDDError(f'{meta}:{lineno}: expected "name (h,w,c) compression", got {line!r}.')
            out[osp.splitext(m.group(1))[0]] = (int(m.group(2)), int(m.group(3)))
    return out


def parse_class_meta(meta_file):
    """Parse a class meta file: ``<relative path or lmdb key> [extra columns ...] <class>`` a line.

    Blank lines and lines starting with ``#`` are ignored. Extra columns are allowed, so BasicSR's
    ``name (h,w,c) compression`` lines with the class appended work; a line with one column, or a
    plain BasicSR line with no class column, is an error.

    Returns:
        list[tuple[str, str]]: ``(name, class_name)`` in file order.
    """
    if not osp.isfile(meta_file):
        raise MissingInputError(f'meta_info_file {meta_file!r} does not exist.')
    out = []
    with open(meta_file, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts or parts[0].startswith('#'):
                continue
            no_class = len(parts) < 2 or (len(parts) == 3 and _SHAPE_RE.match(parts[1]) and parts[2].isdigit())
            if no_class:
                raise GSDDError(f'{meta_file}:{lineno}: no class column in {line.strip()!r}; expected '
                                 '"<path or key> [extra columns ...] <class>".')
            out.append((parts[0], parts[-1]))
    if not out:
        raise GSDDError(f'meta_info_file {meta_file!r} lists no images.')
    return out


def parse_image_list(list_file):
    """First column of every non-blank, non-``#`` line (e.g. a BasicSR ``meta_info.txt``)."""
    if not osp.isfile(list_file):
        raise MissingInputError(f'meta_info_file {list_file!r} does not exist.')
    with open(list_file, encoding='utf-8') as f:
        names = [line.split()[0] for line in f if line.strip() and not line.lstrip().startswith('#')]
    if not names:
        raise GSDDError(f'meta_info_file {list_file!r} lists no images.')
    return names


def decode_image(content, name):
    """Image bytes -> float32 ``H x W x 3`` BGR in ``[0, 1]``; a clear error naming ``name``."""
    from basicsr.utils import imfrombytes
    img = None
    if content is not None and len(content) > 0:
        img = imfrombytes(content, flag='unchanged', float32=False)
    if img is None:
        raise GSDDError(f'Cannot decode image {name!r}: the file is corrupt, truncated or not an image.')
    return to_float_bgr(img, name)


def decode_thumbnail(content, name, hw=None, side=64):
    """Image bytes -> float32 BGR ``side x side`` centred-square thumbnail in ``[0, 1]``.

    Uses OpenCV's reduced decoding (cheap for JPEG) with the largest factor in {8, 4, 2} that
    keeps the short side >= ``side`` (``hw`` is the full size, when known).
    """
    flag = cv2.IMREAD_COLOR
    if hw is not None:
        short = min(hw)
        for factor, f in ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4),
                          (2, cv2.IMREAD_REDUCED_COLOR_2)):
            if short // factor >= side:
                flag = f
                break
    img = None
    if content is not None and len(content) > 0:
        img = cv2.imdecode(np.frombuffer(content, np.uint8), flag)
    if img is None:
        raise GSDDError(f'Cannot decode image {name!r}: the file is corrupt, truncated or not an image.')
    img = to_float_bgr(img, name)
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    img = img[top:top + s, left:left + s]
    return cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)


COLOUR_DIMS = 24
TEXTURE_DIMS = 10


def image_embedding(thumb):
    """The fixed 34-number descriptor of a float32 BGR thumbnail (see the module docstring)."""
    lab = cv2.cvtColor(np.clip(thumb, 0, 1).astype(np.float32), cv2.COLOR_BGR2Lab)
    feats = []
    for ch, (lo, hi) in zip(range(3), ((0., 100.), (-80., 80.), (-80., 80.))):
        v = np.clip(lab[:, :, ch].ravel(), lo, hi)
        hist, _ = np.histogram(v, bins=8, range=(lo, hi))
        feats.append(hist / max(hist.sum(), 1))
    grey = lab[:, :, 0] / 100.

    def grad(g):
        gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
        return np.sqrt(gx * gx + gy * gy), np.mod(np.arctan2(gy, gx), np.pi)

    mag, ang = grad(grey)
    hist, _ = np.histogram(ang.ravel(), bins=8, range=(0., np.pi), weights=mag.ravel())
    total = hist.sum()
    feats.append(hist / total if total > 1e-8 else np.full(8, 1. / 8))
    mag16, _ = grad(cv2.resize(grey, (16, 16), interpolation=cv2.INTER_AREA))
    feats.append(np.array([np.log1p(10. * mag.mean()), np.log1p(10. * mag16.mean())]))
    return np.concatenate(feats).astype(np.float64)


def standardise_embeddings(feats):
    """Z-score every dimension over the data set, then weigh the colour and texture blocks equally."""
    feats = np.asarray(feats, dtype=np.float64)
    mean = feats.mean(axis=0)
    std = feats.std(axis=0)
    z = np.where(std > 1e-8, (feats - mean) / np.where(std > 1e-8, std, 1.), 0.)
    z[:, :COLOUR_DIMS] /= np.sqrt(COLOUR_DIMS)
    z[:, COLOUR_DIMS:] /= np.sqrt(TEXTURE_DIMS)
    return z


def kmeans_labels(data, k, seed, restarts=8, iters=50):
    """Seeded, canonically numbered k-means labels of the rows of ``data``.

    Returns:
        np.ndarray: int labels in ``[0, k)``; cluster 0 holds row 0, cluster 1 the first row not
        in cluster 0, and so on.
    """
    from scipy.cluster.vq import ClusterError, kmeans2

    data = np.asarray(data, dtype=np.float64)
    n = data.shape[0]
    if k < 1:
        raise GSDDError(f'num_classes must be >= 1 for class_mode kmeans, got {k}.')
    if n < k:
        raise GSDDError(f'class_mode kmeans: {n} usable images cannot form num_classes={k} classes.')
    best, best_cost = None, np.inf
    for r in range(max(1, int(restarts))):
        rng = np.random.default_rng(key_seed(seed, 'kmeans', r))
        try:
            centroids, labels = kmeans2(data, k, iter=int(iters), minit='++', missing='raise', seed=rng)
        except ClusterError:
            continue
        if len(np.unique(labels)) < k:
            continue
        cost = float(((data - centroids[labels])**2).sum())
        if cost < best_cost - 1e-12:
            best, best_cost = labels, cost
    if best is None:
        raise GSDDError(f'class_mode kmeans: could not form {k} non-empty clusters from {n} images '
                         '(too many near-identical images?); lower num_classes.')
    order = {}
    for lab in best:
        order.setdefault(int(lab), len(order))
    return np.array([order[int(lab)] for lab in best], dtype=np.int64)
