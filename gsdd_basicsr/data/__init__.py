"""Datasets registered into BasicSR's DATASET_REGISTRY (every ``*_dataset.py`` here is imported for that).

- :mod:`~gsdd_basicsr.data.class_image_dataset`: ``ClassImageDataset``, the real data distillation matches,
  by class; :mod:`~gsdd_basicsr.data.class_index` finds its images and classes, :mod:`~gsdd_basicsr.data.class_sources`
  reads meta files, decodes images and clusters by k-means;
- :mod:`~gsdd_basicsr.data.distillation_step_dataset`: ``DistillationStepDataset``, the step tokens BasicSR's train
  loader counts during a distillation;
- :mod:`~gsdd_basicsr.data.distilled_image_dataset`: ``DistilledImageDataset``, an exported set;
- :mod:`~gsdd_basicsr.data.gan_latent_dataset`: ``GANLatentDataset``, HR images rendered from a latent bank;
- :mod:`~gsdd_basicsr.data.sr_pair`: ``SRPairDataset``, the base of those two (crops, augmentation, tensors, like
  BasicSR's ``PairedImageDataset``).
"""
import importlib
from os import path as osp

from basicsr.utils import scandir

_folder = osp.dirname(osp.abspath(__file__))
_modules = [
    importlib.import_module(f'gsdd_basicsr.data.{osp.splitext(name)[0]}')
    for name in sorted(scandir(_folder)) if name.endswith('_dataset.py')
]
