"""Models registered into BasicSR's MODEL_REGISTRY (every ``*_model.py`` here is imported for that).

:mod:`~gsdd_basicsr.models.gsdd_model`: ``GSDDModel``, GSDD distillation as a BasicSR model (construction and
the step), with its parts as mixins: :mod:`~gsdd_basicsr.models.gsdd_latent_init` (how latents start),
:mod:`~gsdd_basicsr.models.gsdd_validation` (validation and rendering),
:mod:`~gsdd_basicsr.models.gsdd_checkpoint` (the bank it writes, the state it resumes from).
"""
import importlib
from os import path as osp

from basicsr.utils import scandir

_folder = osp.dirname(osp.abspath(__file__))
_modules = [
    importlib.import_module(f'gsdd_basicsr.models.{osp.splitext(name)[0]}')
    for name in sorted(scandir(_folder)) if name.endswith('_model.py')
]
