"""Networks registered into BasicSR's ARCH_REGISTRY (every ``*_arch.py`` here is imported for that).

- :mod:`~gsdd_basicsr.archs.dmconvnet_arch`: ``DMConvNet``, the randomly initialised embedding network of
  distribution matching;
- :mod:`~gsdd_basicsr.archs.bicubic_upsampler_arch`: ``BicubicUpsampler``, bicubic interpolation as a network
  (the benchmark's ``bicubic`` row and the pixel-space ablation's "generator").
"""
import importlib
from os import path as osp

from basicsr.utils import scandir

_folder = osp.dirname(osp.abspath(__file__))
_modules = [
    importlib.import_module(f'gsdd_basicsr.archs.{osp.splitext(name)[0]}')
    for name in sorted(scandir(_folder)) if name.endswith('_arch.py')
]
