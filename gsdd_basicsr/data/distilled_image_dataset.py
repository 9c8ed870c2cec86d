"""DistilledImageDataset: train / validate on an exported image set (HR + LR_bicubic/X<s>).

Built on :class:`gsdd_basicsr.data.sr_pair.SRPairDataset` (cropping, augmentation, tensors).
"""
import os
from os import path as osp

from basicsr.utils import FileClient, imfrombytes
from basicsr.utils.registry import DATASET_REGISTRY

from gsdd_basicsr.data.sr_pair import SRPairDataset
from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.utils.lmdb_check import check_lmdb


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
            for db in [self.gt_root] + ([self.lq_root] if stored else []):
                check_lmdb(db, 'dataroot')  # a copy cut short would kill the process (SIGBUS) on reading
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
