"""DistilledImageDataset: train / validate on an exported image set (HR + LR_bicubic/X<s>).

Also home of :class:`SRPairDataset`, the base shared with :class:`GANLatentDataset`: a subclass
only says how to get image ``i`` (``_load(i)`` -> HR and, optionally, stored LR, float32 HWC BGR
in [0, 1], like ``basicsr.utils.imfrombytes``), and ``_make_pair`` does the rest exactly like
BasicSR's ``PairedImageDataset`` (random crop with ``paired_random_crop``, ``augment``,
``color: y``, ``img2tensor``, ``mean/std``).
"""
import os
from os import path as osp

import numpy as np
from basicsr.data.transforms import augment, mod_crop, paired_random_crop
from basicsr.utils import FileClient, bgr2ycbcr, imfrombytes, img2tensor
from basicsr.utils.registry import DATASET_REGISTRY
from torch.utils import data as data
from torchvision.transforms.functional import normalize

from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.sets.image_io import lr_from_hr, to_float_bgr

LR_SOURCES = ('stored', 'on_the_fly')


class SRPairDataset(data.Dataset):
    """Base of the plugin's SR pair datasets (not registered).

    Common options: ``scale`` (added by BasicSR from the top-level option), ``phase``
    (``train`` -> random crop + flips/rotations; anything else -> whole image, GT cropped to
    ``LR * scale``), ``gt_size``, ``use_hflip``, ``use_rot``, ``quantize_lr`` (on-the-fly LR
    rounded to 8 bits, default true), ``color`` (``y``), ``mean``, ``std``.
    """

    def __init__(self, opt, lr_source):
        super().__init__()
        self.opt = opt
        if lr_source not in LR_SOURCES:
            raise GSDDError(f"{type(self).__name__}: lr_source must be one of {LR_SOURCES}, got {lr_source!r}")
        self.lr_source = lr_source
        if 'scale' not in opt:
            raise GSDDError(f'{type(self).__name__}: option scale is missing (set it at the top level)')
        self.scale = int(opt['scale'])
        self.phase = opt.get('phase', 'train')
        self.quantize_lr = bool(opt.get('quantize_lr', True))
        self.mean = opt.get('mean')
        self.std = opt.get('std')
        if self.phase == 'train':
            gt_size = opt.get('gt_size')
            if not isinstance(gt_size, int) or gt_size < self.scale or gt_size % self.scale:
                raise GSDDError(f'{type(self).__name__}: gt_size must be a positive multiple of scale '
                                 f'{self.scale}, got {gt_size!r}')

    # subclasses: number of images, and image ``index`` as (gt, lq_or_None, gt_path, lq_path)
    def __len__(self):
        raise NotImplementedError

    def _load(self, index):
        raise NotImplementedError

    def __getitem__(self, index):
        img_gt, img_lq, gt_path, lq_path = self._load(index)
        return self._make_pair(img_gt, img_lq, gt_path, lq_path)

    def _make_pair(self, img_gt, img_lq=None, gt_path=None, lq_path=None):
        """One training / validation sample.

        Args:
            img_gt (ndarray): HR, HWC BGR, uint8 or float32 in [0, 1].
            img_lq (ndarray | None): stored LR (same convention), or None to compute it on the
                fly as :func:`gsdd_basicsr.sets.image_io.lr_from_hr` of the (cropped, augmented) HR.
            gt_path, lq_path (str): reported back as ``gt_path`` / ``lq_path``.

        Returns:
            dict: ``lq``, ``gt`` (CHW RGB float tensors), ``lq_path``, ``gt_path``.
        """
        scale = self.scale
        img_gt = to_float_bgr(img_gt, gt_path)
        if img_lq is not None:
            img_lq = to_float_bgr(img_lq, lq_path)
            if self.phase == 'train':
                img_gt, img_lq = paired_random_crop(img_gt, img_lq, self.opt['gt_size'], scale, gt_path)
                img_gt, img_lq = augment([img_gt, img_lq], self.opt.get('use_hflip', True),
                                         self.opt.get('use_rot', True))
            else:
                img_gt = img_gt[0:img_lq.shape[0] * scale, 0:img_lq.shape[1] * scale, :]
        else:
            img_gt = mod_crop(img_gt, scale)
            if self.phase == 'train':
                gt_size = self.opt['gt_size']
                if min(img_gt.shape[:2]) < gt_size:
                    raise GSDDError(f'{gt_path}: HR {img_gt.shape[:2]} is smaller than gt_size {gt_size}')
                # crop positions drawn exactly like PairedImageDataset: paired_random_crop on an LR-sized
                # view (discarded) keeps the crop on the LR grid
                img_gt, _ = paired_random_crop(img_gt, img_gt[::scale, ::scale], gt_size, scale, gt_path)
                img_gt = augment(img_gt, self.opt.get('use_hflip', True), self.opt.get('use_rot', True))
                img_gt = np.ascontiguousarray(img_gt)
            img_lq = lr_from_hr(img_gt, scale, self.quantize_lr)

        if self.opt.get('color') == 'y':
            img_gt = bgr2ycbcr(img_gt, y_only=True)[..., None]
            img_lq = bgr2ycbcr(img_lq, y_only=True)[..., None]

        img_gt, img_lq = img2tensor([img_gt, img_lq], bgr2rgb=True, float32=True)
        if self.mean is not None or self.std is not None:
            normalize(img_lq, self.mean, self.std, inplace=True)
            normalize(img_gt, self.mean, self.std, inplace=True)
        return {'lq': img_lq, 'gt': img_gt, 'lq_path': lq_path, 'gt_path': gt_path}


@DATASET_REGISTRY.register()
class DistilledImageDataset(SRPairDataset):
    """An exported image set (``tools/export_distilled.py``, ``tools/select_coreset.py``).

    Options (besides those of :class:`SRPairDataset`):
        dataroot (str): the exported folder (holds ``HR/``, ``LR_bicubic/X<s>/``, ``meta_info.txt``).
        io_backend (dict): ``{type: disk}`` or ``{type: lmdb}`` (reads ``HR.lmdb`` and
            ``LR_bicubic/X<s>.lmdb``).
        lr_source (str): ``stored`` (default; read ``LR_bicubic/X<s>``) or ``on_the_fly`` (LR =
            MATLAB bicubic of the HR crop; only ``HR`` is needed).
    """

    def __init__(self, opt):
        super().__init__(opt, opt.get('lr_source', 'stored'))
        root = opt.get('dataroot')
        if not root or not osp.isdir(root):
            raise MissingInputError(f'DistilledImageDataset: dataroot {root!r} is not a folder')
        self.root = root
        self.file_client = None
        self.io_backend_opt = dict(opt.get('io_backend') or {'type': 'disk'})
        backend = self.io_backend_opt.get('type')
        lr_rel = osp.join('LR_bicubic', f'X{self.scale}')
        stored = self.lr_source == 'stored'
        if backend == 'lmdb':
            self.gt_root, self.lq_root = osp.join(root, 'HR.lmdb'), osp.join(root, lr_rel + '.lmdb')
            meta = osp.join(self.gt_root, 'meta_info.txt')
            if not osp.isfile(meta):
                raise MissingInputError(f'DistilledImageDataset: {self.gt_root} is not a BasicSR LMDB (no '
                                        'meta_info.txt); export with --lmdb or use io_backend disk')
            with open(meta) as f:
                keys = [osp.splitext(line.split(' ')[0])[0] for line in f if line.strip()]
            if stored and not osp.isfile(osp.join(self.lq_root, 'meta_info.txt')):
                raise MissingInputError(f'DistilledImageDataset: {self.lq_root} not found (scale {self.scale}?)')
            self.io_backend_opt['db_paths'] = [self.gt_root] + ([self.lq_root] if stored else [])
            self.io_backend_opt['client_keys'] = ['gt'] + (['lq'] if stored else [])
            self.paths = [{'gt_path': k, 'lq_path': k} for k in keys]
        elif backend == 'disk':
            self.gt_root, self.lq_root = osp.join(root, 'HR'), osp.join(root, lr_rel)
            if not osp.isdir(self.gt_root):
                raise MissingInputError(f'DistilledImageDataset: {self.gt_root} not found')
            meta = osp.join(root, 'meta_info.txt')
            if osp.isfile(meta):
                with open(meta) as f:
                    names = [line.strip().split(' ')[0] for line in f if line.strip()]
            else:
                names = sorted(n for n in os.listdir(self.gt_root) if not n.startswith('.'))
            if stored and not osp.isdir(self.lq_root):
                raise MissingInputError(f'DistilledImageDataset: {self.lq_root} not found (scale {self.scale}?); '
                                        'use lr_source: on_the_fly to compute LR from HR')
            self.paths = [{'gt_path': osp.join(self.gt_root, n),
                           'lq_path': osp.join(self.lq_root, n) if stored else osp.join(self.gt_root, n)}
                          for n in names]
        else:
            raise GSDDError(f'DistilledImageDataset: io_backend type must be disk or lmdb, got {backend!r}')
        if not self.paths:
            raise GSDDError(f'DistilledImageDataset: no images in {root}')

    def __len__(self):
        return len(self.paths)

    def _load(self, index):
        if self.file_client is None:
            opt = dict(self.io_backend_opt)
            self.file_client = FileClient(opt.pop('type'), **opt)
        gt_path, lq_path = self.paths[index]['gt_path'], self.paths[index]['lq_path']
        img_gt = imfrombytes(self.file_client.get(gt_path, 'gt'), float32=True)
        img_lq = None
        if self.lr_source == 'stored':
            img_lq = imfrombytes(self.file_client.get(lq_path, 'lq'), float32=True)
        return img_gt, img_lq, gt_path, lq_path
