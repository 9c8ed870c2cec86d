"""Models registered into BasicSR's MODEL_REGISTRY (every ``*_model.py`` here is imported for that).

:mod:`~gsdd_basicsr.models.gsdd_model`: ``GSDDModel``, GSDD distillation as a BasicSR model (construction, the
step, validation, checkpoints), and the plain functions it calls with what they need:
:mod:`~gsdd_basicsr.models.gsdd_latent_init` (the first latents, GAN inversion with its own loss scaler),
:mod:`~gsdd_basicsr.models.gsdd_validation` (held-out crops, the validation's figures, the bank's grid),
:mod:`~gsdd_basicsr.models.gsdd_checkpoint` (the checkpoint format: banks and training state).
"""
import importlib
from os import path as osp

from basicsr.utils import scandir

_folder = osp.dirname(osp.abspath(__file__))
_modules = [
    importlib.import_module(f'gsdd_basicsr.models.{osp.splitext(name)[0]}')
    for name in sorted(scandir(_folder)) if name.endswith('_model.py')
]
