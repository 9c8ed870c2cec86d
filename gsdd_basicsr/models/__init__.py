"""Imports every `*_model.py` module in this folder so its classes register into BasicSR."""
import importlib
from os import path as osp

from basicsr.utils import scandir

_folder = osp.dirname(osp.abspath(__file__))
_modules = [
    importlib.import_module(f'gsdd_basicsr.models.{osp.splitext(name)[0]}')
    for name in sorted(scandir(_folder)) if name.endswith('_model.py')
]
