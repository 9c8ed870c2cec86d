"""ClassImageDataset: the real-data side of GSDD distillation (class-labelled HR crops).

Classes come from one of four sources (``class_mode``):

- ``folder`` (default): one sub-folder per class, OST layout ``dataroot_gt/<class>/**/*.png``;
  class names are the sorted folder names, images are found recursively inside each. On an
  LMDB the class is the first ``/``-separated part of each key.
- ``meta``: ``meta_info_file`` lists ``<relative path or lmdb key> [extra columns ...] <class>``
  per line (a flat folder or an LMDB). Extra columns are ignored, so BasicSR's LMDB line
  ``name (h,w,c) compression`` with the class appended works; an LMDB name may keep its
  extension (``0001.png``), as in BasicSR's own meta files.
- ``kmeans``: ``num_classes`` pseudo-classes ``k00``, ``k01``, ... from seeded k-means over a
  fixed image descriptor (colour + gradient-orientation histograms; see
  :mod:`gsdd_basicsr.data.class_sources`).
- ``instance``: each image is its own class, named by its relative path (or LMDB key).

Images come from every image file under ``dataroot_gt`` (disk; ``meta_info_file``, when
given in ``kmeans`` / ``instance`` mode, restricts them to its first column) or from the LMDB's
own ``meta_info.txt`` (``lmdb``), and are read through BasicSR's ``FileClient``. Sizes come
from file headers (disk) or the LMDB ``meta_info.txt``; nothing is decoded at start-up except
for ``kmeans`` thumbnails. Images smaller than ``gt_size`` are skipped (one warning with the
count per class). No images are kept in memory unless ``cache: true``.

All randomness is keyed (:mod:`gsdd_basicsr.utils.seeding`): :meth:`sample_class` with the
same key returns the same crops whatever was drawn before.

This module checks the options, reads images and draws crops; the index (which images, of which
class) is built by :class:`gsdd_basicsr.data.class_index.ClassIndexMixin`.
"""
import math
from os import path as osp

import numpy as np
import torch
from torch.utils import data as data

from basicsr.utils import FileClient, img2tensor
from basicsr.utils.registry import DATASET_REGISTRY

from gsdd_basicsr.data import class_sources as cs
from gsdd_basicsr.data.class_index import ClassIndexMixin
from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.utils.lmdb_check import check_lmdb
from gsdd_basicsr.utils.seeding import keyed_rng

CLASS_MODES = ('folder', 'meta', 'kmeans', 'instance')
_LMDB_CLIENTS = {}  # realpath of an LMDB -> the FileClient every dataset of this process shares


@DATASET_REGISTRY.register()
class ClassImageDataset(ClassIndexMixin, data.Dataset):
    """Class-labelled real HR images with keyed random crops.

    Args:
        opt (dict): Config. Keys:
            dataroot_gt (str): Image folder, or an LMDB folder (``*.lmdb``) for ``io_backend: lmdb``.
            io_backend (dict): ``{type: disk}`` (default) or ``{type: lmdb}``; other keys go to
                ``FileClient``.
            gt_size (int): HR crop size in pixels (= scale * latent size).
            class_mode (str): ``folder`` (default) | ``meta`` | ``kmeans`` | ``instance``.
            meta_info_file (str): Class list for ``meta``; optional image list otherwise.
            num_classes (int): Number of k-means pseudo-classes (``kmeans``).
            kmeans_restarts (int): Seeded k-means runs, best kept. Default 8.
            kmeans_iters (int): Iterations per k-means run. Default 50.
            classes (list[str]): Keep only these classes, in this order. Default all, sorted.
            min_images_per_class (int): Fewer usable images in a class is an error. Default 1.
            seed (int): Seed of every keyed draw (and of k-means). Default ``manual_seed`` or 0.
            cache (bool): Keep decoded images in memory (each DataLoader worker its own copy);
                for small sets only. Default False.

    Attributes:
        class_names (list[str]), num_classes (int), labels (list[int], one per image),
        class_to_indices (list[list[int]]), paths (list[str]: file path or LMDB key),
        sizes (list[tuple[int, int]]: (h, w)), skipped (dict: class -> images smaller than gt_size).
    """

    def __init__(self, opt):
        super().__init__()
        self.opt = opt
        if opt.get('gt_size') is None:
            raise GSDDError('ClassImageDataset needs gt_size (HR crop size in pixels).')
        self.gt_size = int(opt['gt_size'])
        if self.gt_size < 1:
            raise GSDDError(f'gt_size must be positive, got {self.gt_size}.')
        self.io_backend_opt = dict(opt.get('io_backend') or {'type': 'disk'})
        self.backend = self.io_backend_opt.get('type', 'disk')
        if self.backend not in ('disk', 'lmdb'):
            raise GSDDError(f"ClassImageDataset io_backend type must be 'disk' or 'lmdb', got {self.backend!r}.")
        self.class_mode = opt.get('class_mode', 'folder')
        if self.class_mode not in CLASS_MODES:
            raise GSDDError(f'class_mode must be one of {CLASS_MODES}, got {self.class_mode!r}.')
        seed = opt.get('seed')
        if seed is None:
            seed = opt.get('manual_seed')
        self.seed = int(seed) if seed is not None else 0
        self.cache_enabled = bool(opt.get('cache', False))
        self.min_images_per_class = max(1, int(opt.get('min_images_per_class', 1)))

        root = opt.get('dataroot_gt')
        if not root:
            raise GSDDError('ClassImageDataset needs dataroot_gt.')
        self.root = str(root)
        if not osp.isdir(self.root):
            kind = 'LMDB folder' if self.backend == 'lmdb' else 'folder'
            raise MissingInputError(f'dataroot_gt {self.root!r} does not exist or is not a {kind}.')
        if self.backend == 'lmdb':
            check_lmdb(self.root, 'dataroot_gt')  # a copy cut short would kill the process (SIGBUS) on reading

        self._file_client = None
        self._cache = {}
        self._empty_folders = []

        names, paths, sizes, classes = self._discover()
        self._build(names, paths, sizes, classes)

    # ------------------------------------------------------------------ reading
    def _client(self):
        if self._file_client is None:
            if self.backend == 'lmdb':
                # py-lmdb refuses to open one environment twice in a process (and a forked
                # DataLoader worker inherits that state), so every dataset on an LMDB shares one
                # read-only FileClient per process; a pickled copy (spawned worker) opens its own.
                key = osp.realpath(self.root)
                client = _LMDB_CLIENTS.get(key)
                if client is None:
                    kwargs = {k: v for k, v in self.io_backend_opt.items() if k != 'type'}
                    try:
                        client = FileClient('lmdb', db_paths=[self.root], client_keys=['gt'], **kwargs)
                    except Exception as err:
                        raise OSError(f'Cannot open LMDB {self.root!r}: {err}') from err
                    _LMDB_CLIENTS[key] = client
                self._file_client = client
            else:
                self._file_client = FileClient('disk')
        return self._file_client

    def _display(self, path):
        return path if self.backend == 'disk' else f'{self.root}:{path}'

    def _get_bytes(self, path):
        try:
            content = self._client().get(path, 'gt')
        except Exception as err:
            raise OSError(f'Cannot read image {self._display(path)!r}: {err}') from err
        if content is None:  # listed in the LMDB's meta_info.txt (that is how it was indexed) but not stored
            raise GSDDError(f'Image key {path!r} is listed in {osp.join(self.root, "meta_info.txt")!r} but missing '
                            f'from LMDB {self.root!r}; rebuild the LMDB or remove the line.')
        return content

    def read_image(self, index):
        """Image ``index`` as float32 ``H x W x 3`` BGR in ``[0, 1]`` (from the cache if enabled)."""
        img = self._cache.get(index)
        if img is not None:
            return img
        path = self.paths[index]
        img = cs.decode_image(self._get_bytes(path), self._display(path))
        if img.shape[:2] != self.sizes[index]:
            raise GSDDError(f'Image {self._display(path)!r} decodes to {img.shape[:2]} but was indexed as '
                             f'{self.sizes[index]} (changed on disk, or a wrong LMDB meta_info.txt).')
        if self.cache_enabled:
            self._cache[index] = img
        return img

    def _crop_positions(self, rng, indices):
        gt = self.gt_size
        out = []
        for i in indices:
            h, w = self.sizes[i]
            top = int(rng.integers(0, h - gt + 1))
            left = int(rng.integers(0, w - gt + 1))
            out.append((top, left))
        return out

    def _crops(self, indices, positions):
        gt = self.gt_size
        crops, loaded = [], {}
        for i, (top, left) in zip(indices, positions):
            if i not in loaded:
                loaded[i] = self.read_image(i)
            crops.append(loaded[i][top:top + gt, left:left + gt])
        return img2tensor(crops, bgr2rgb=True, float32=True)

    # ------------------------------------------------------------------ sampling
    def sample_class(self, class_index, n, generator_key):
        """``n`` random ``gt_size`` crops of class ``class_index``: float32 ``n x 3 x H x W`` RGB in [0, 1].

        Draws come only from ``keyed_rng(*generator_key)`` (e.g. ``(seed, iteration, class, 'real')``):
        ``n`` distinct images when the class has at least ``n`` (``rng.choice`` without replacement),
        else whole random permutations of the class repeated and cut to ``n`` (every image used
        ``floor(n/m)`` or ``ceil(n/m)`` times); then, per drawn image in order, the crop's top and
        left (``rng.integers``). No augmentation.
        """
        if not 0 <= int(class_index) < self.num_classes:
            raise IndexError(f'class_index {class_index} out of range [0, {self.num_classes}).')
        n = int(n)
        if n < 1:
            raise GSDDError(f'n must be >= 1, got {n}.')
        key = tuple(generator_key) if isinstance(generator_key, (tuple, list)) else (generator_key, )
        rng = keyed_rng(*key)
        members = self.class_to_indices[int(class_index)]
        m = len(members)
        if n <= m:
            picks = rng.choice(m, size=n, replace=False)
        else:
            picks = np.concatenate([rng.permutation(m) for _ in range(math.ceil(n / m))])[:n]
        indices = [members[int(j)] for j in picks]
        return torch.stack(self._crops(indices, self._crop_positions(rng, indices)), 0)

    # ------------------------------------------------------------------ map-style protocol
    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        """``{'gt': 3 x gt_size x gt_size crop (keyed by (seed, index, 'item')), 'label': int, 'gt_path': str}``."""
        index = int(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f'index {index} out of range for {len(self)} images.')
        rng = keyed_rng(self.seed, index, 'item')
        crop = self._crops([index], self._crop_positions(rng, [index]))[0]
        return {'gt': crop, 'label': self.labels[index], 'gt_path': self.paths[index]}

    def __getstate__(self):
        state = self.__dict__.copy()
        state['_file_client'] = None  # LMDB environments cannot be pickled; reopened lazily
        return state

    def class_counts(self):
        """``{class name: number of usable images}``."""
        return {c: len(i) for c, i in zip(self.class_names, self.class_to_indices)}

    def __repr__(self):
        return (f'{self.__class__.__name__}(root={self.root!r}, backend={self.backend}, mode={self.class_mode}, '
                f'images={len(self)}, classes={self.num_classes}, gt_size={self.gt_size})')
