"""Makes BasicSR's own entry points (``python -m basicsr.train``, ``python basicsr/train.py``) find the plugin.

``pip install`` (``-e`` or not) puts ``gsdd_basicsr_autoload.pth`` into site-packages; Python runs its one
line, ``import gsdd_basicsr_autoload; gsdd_basicsr_autoload.install()``, at every interpreter start-up. This
module therefore imports only ``os`` and ``sys`` (already loaded by then), and :func:`install` only adds a
finder to ``sys.meta_path``: no torch, no basicsr, no gsdd_basicsr at start-up. Importing the module does
nothing else. The finder acts once, on the first ``import basicsr`` of the process:

1. before basicsr's ``__init__`` runs: ``torchvision.transforms.functional_tensor`` is aliased
   (:func:`alias_functional_tensor`), because basicsr imports it while importing itself;
2. after it: the plugin package (:data:`PLUGIN`) is imported, which registers its models, datasets and
   arches and applies the few global fixes of :mod:`gsdd_basicsr.compat` — unless the plugin is the one
   importing basicsr, in which case the package does this itself.

This module is the layer below the package: it imports nothing of it (the plugin is imported by name, as an
entry point is), and the package takes :func:`alias_functional_tensor` from here.

Processes that never import basicsr pay for this module and one ``os.environ`` look-up (well under a
millisecond; docs/basicsr.md).
``GSDD_BASICSR_AUTOLOAD=0`` (or ``false``, ``no``, ``off``) at start-up turns it off: basicsr then imports as if
the plugin were not installed.
"""
import os
import sys

ENV = 'GSDD_BASICSR_AUTOLOAD'
PLUGIN = 'gsdd_basicsr'
_OFF = ('0', 'false', 'no', 'off')


def enabled():
    """bool: whether ``GSDD_BASICSR_AUTOLOAD`` leaves the autoload on (the default)."""
    return os.environ.get(ENV, '1').strip().lower() not in _OFF


def alias_functional_tensor():
    """Alias ``torchvision.transforms.functional_tensor`` (removed in torchvision 0.17) to ``functional``.

    basicsr's ``data/degradations.py`` imports ``rgb_to_grayscale`` from it; ``functional`` has the same function.
    """
    name = 'torchvision.transforms.functional_tensor'
    if name in sys.modules:
        return
    import importlib
    try:
        importlib.import_module(name)
    except ImportError:
        import torchvision.transforms.functional as functional
        sys.modules[name] = functional


class _PluginLoader:
    """basicsr's own loader, with steps 1 and 2 of the module docstring around its ``exec_module``."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):  # everything else (resources, get_data, ...) is basicsr's loader's
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        alias_functional_tensor()
        self.loader.exec_module(module)
        module.__loader__ = module.__spec__.loader = self.loader  # leave no trace on the module
        if PLUGIN in sys.modules:  # the plugin is importing basicsr and registers itself
            return
        import importlib
        try:
            importlib.import_module(PLUGIN)  # registration + the global fixes
        except Exception as err:
            raise ImportError(f'gsdd-basicsr autoload: "import {PLUGIN}" failed after "import basicsr" '
                              f'({type(err).__name__}: {err}). Repair the gsdd-basicsr install, or set {ENV}=0 '
                              'to use basicsr without the plugin.') from err


class BasicSRImportHook:
    """A ``sys.meta_path`` finder that wraps basicsr's loader on the first ``import basicsr``, then leaves."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != 'basicsr':
            return None
        sys.meta_path.remove(self)  # once: our own imports, and later ones, take the normal path
        import importlib.util
        spec = importlib.util.find_spec(fullname)
        if spec is not None and hasattr(spec.loader, 'exec_module'):
            spec.loader = _PluginLoader(spec.loader)
        return spec


def install():
    """Add the hook to ``sys.meta_path`` unless it is off, already there, or basicsr is already imported."""
    if enabled() and 'basicsr' not in sys.modules and not any(isinstance(f, BasicSRImportHook) for f in sys.meta_path):
        sys.meta_path.insert(0, BasicSRImportHook())
