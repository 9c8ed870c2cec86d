"""DistillationStepDataset: what BasicSR's train loader iterates during a GSDD distillation.

BasicSR's train pipeline needs a ``datasets.train`` loader to count iterations. A distillation
step draws its own class-balanced real crops, keyed by ``(seed, iteration, class)`` so that
resumed and sharded runs draw the same ones, so the loader must not read images: this dataset's
items are step tokens, and the real images are declared once, under ``datasets.train.real``
(a ``ClassImageDataset``), and built once, by ``GSDDModel``::

    datasets:
      train:
        name: demo_steps
        type: DistillationStepDataset
        batch_size_per_gpu: 1     # BasicSR's loader keys: one token per step ...
        num_worker_per_gpu: 0     # ... read in the main process
        real:                     # the real HR images to distil
          name: demo_train
          type: ClassImageDataset
          dataroot_gt: datasets/demo/train
          ...
"""
from torch.utils import data

from basicsr.utils.registry import DATASET_REGISTRY

from gsdd_basicsr.errors import GSDDError

STEPS_PER_EPOCH = 1000  # what BasicSR's log calls an epoch; any length works
_KEYS = {'name', 'type', 'phase', 'scale', 'batch_size_per_gpu', 'num_worker_per_gpu', 'real'}  # scale: set by BasicSR


@DATASET_REGISTRY.register()
class DistillationStepDataset(data.Dataset):
    """``STEPS_PER_EPOCH`` step tokens (``{'step': index}``); checks the ``datasets.train`` block.

    Raises:
        GSDDError: a key other than BasicSR's loader keys and ``real``, no ``real`` block, or a
            loader setting that would only add work (``batch_size_per_gpu`` other than 1,
            ``num_worker_per_gpu`` other than 0).
    """

    def __init__(self, opt):
        super().__init__()
        unknown = sorted(set(opt) - _KEYS)
        if unknown:
            raise GSDDError(f'datasets.train has key(s) {", ".join(unknown)} that DistillationStepDataset does not '
                            'read; the real images and their settings go under datasets.train.real.')
        if not isinstance(opt.get('real'), dict) or 'type' not in opt['real']:
            raise GSDDError('datasets.train.real is missing: it holds the real images to distil (a block with '
                            'type: ClassImageDataset, dataroot_gt, gt_size, ...).')
        if opt.get('batch_size_per_gpu') != 1 or opt.get('num_worker_per_gpu') != 0:
            raise GSDDError('datasets.train: set batch_size_per_gpu: 1 and num_worker_per_gpu: 0 (BasicSR\'s loader '
                            'only counts steps; GSDDModel draws the real crops itself).')

    def __len__(self):
        return STEPS_PER_EPOCH

    def __getitem__(self, index):
        return {'step': index}
