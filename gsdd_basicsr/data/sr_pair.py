"""SRPairDataset: the base of the plugin's SR pair datasets (not registered).

A subclass only says how to get image ``i`` (``_load(i)`` -> HR and, optionally, stored LR, float32 HWC BGR
in [0, 1], like ``basicsr.utils.imfrombytes``), and ``_make_pair`` does the rest exactly like
BasicSR's ``PairedImageDataset`` (random crop with ``paired_random_crop``, ``augment``,
``color: y``, ``img2tensor``, ``mean/std``). Subclasses: ``DistilledImageDataset`` (an exported set) and
``GANLatentDataset`` (a latent bank).
"""
import numpy as np
from basicsr.data.transforms import augment, mod_crop, paired_random_crop
from basicsr.utils import bgr2ycbcr, img2tensor
from torch.utils import data as data
from torchvision.transforms.functional import normalize

from gsdd_basicsr.errors import GSDDError
from gsdd_basicsr.utils.image_io import lr_from_hr, to_float_bgr

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
                fly as :func:`gsdd_basicsr.utils.image_io.lr_from_hr` of the (cropped, augmented) HR.
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
