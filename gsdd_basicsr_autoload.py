"""Makes BasicSR's own entry points (``python -m basicsr.train``, ``python basicsr/train.py``) run the plugin.

``pip install`` (``-e`` or not) puts ``gsdd_basicsr_autoload.pth`` into site-packages; Python runs its one
line, ``import gsdd_basicsr_autoload; gsdd_basicsr_autoload.install()``, at every interpreter start-up. This
module therefore imports only ``os`` and ``sys`` (already loaded by then), and :func:`install` only adds a
finder to ``sys.meta_path``: no torch, no basicsr, no gsdd_basicsr at start-up. Importing the module does
nothing else. The finder acts once, on the first ``import basicsr`` of the process:

1. before basicsr's ``__init__`` runs: ``torchvision.transforms.functional_tensor`` is aliased (compat fix 1),
   because basicsr imports it while importing itself;
2. after it: ``import gsdd_basicsr``, i.e. the other fixes of :mod:`gsdd_basicsr.compat` and the plugin's
   registrations (``GSDDModel``, its datasets and arches) — unless gsdd_basicsr is the one importing basicsr,
   in which case the package does this itself;
3. basicsr's ``train.py`` run as ``__main__`` is a second copy of ``basicsr.train`` whose
   ``load_resume_state`` is defined after step 2: it gets compat's too (fix 2; :func:`_fix_basicsr_main`);
4. basicsr's ``train.py`` / ``test.py`` write ``experiments/``, ``results/`` and ``tb_logger/`` next to the
   ``basicsr`` package: when that is site-packages (``python -m basicsr.train`` with a pip-installed basicsr)
   a warning says so and what to run instead. The paths themselves are basicsr's; they are not changed.

Processes that never import basicsr pay for this module and one ``os.environ`` look-up (about 0.4 ms).
``GSDD_BASICSR_AUTOLOAD=0`` (or ``false``, ``no``, ``off``) at start-up turns it off: basicsr then imports as if
the plugin were not installed.
"""
import os
import sys

ENV = 'GSDD_BASICSR_AUTOLOAD'
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


def _site_dirs():
    """The normalised site-packages folders of this interpreter (where ``pip install basicsr`` puts basicsr)."""
    import site
    import sysconfig
    paths = sysconfig.get_paths()
    dirs = [paths['purelib'], paths['platlib'], *site.getsitepackages(), site.getusersitepackages()]
    return {os.path.normcase(os.path.abspath(d)) for d in dirs}


def _fix_basicsr_main():
    """Steps 3 and 4 of the module docstring, for basicsr's ``train.py`` / ``test.py`` run as ``__main__``.

    ``__main__`` binds ``parse_options`` by name after this hook ran and calls it first in its pipeline, before
    ``load_resume_state``: a transparent wrapper of ``parse_options`` acts then. basicsr's own
    ``load_resume_state`` maps states to CUDA (fails on a CPU) and looks for ``--auto_resume`` states under
    ``./experiments`` instead of the run's ``experiments_root``; compat's replaces it.
    """
    import functools

    import basicsr.utils.options as options

    from gsdd_basicsr.compat import load_resume_state
    parse_options = options.parse_options

    @functools.wraps(parse_options)
    def parse_options_for_basicsr_main(*args, **kwargs):
        root_path = args[0] if args else kwargs.get('root_path', '')
        main = sys.modules.get('__main__')
        main_file = os.path.normcase(os.path.abspath(getattr(main, '__file__', None) or ''))
        script = os.path.basename(main_file)
        if main_file.endswith(os.path.join(os.sep, 'basicsr', script)) and script in ('train.py', 'test.py'):
            if hasattr(main, 'load_resume_state'):
                main.load_resume_state = load_resume_state
            if os.path.normcase(os.path.abspath(root_path)) in _site_dirs():
                print(f'WARNING: basicsr/{script} writes experiments/, results/ and tb_logger/ into {root_path} '
                      '(basicsr is pip-installed there). Run python -m gsdd_basicsr.'
                      f'{script[:-3]} instead (they go to the current folder), or a BasicSR checkout\'s '
                      f'basicsr/{script}.', file=sys.stderr, flush=True)
        return parse_options(*args, **kwargs)

    options.parse_options = parse_options_for_basicsr_main


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
        if 'gsdd_basicsr' in sys.modules:  # gsdd_basicsr is importing basicsr and registers itself
            return
        try:
            import gsdd_basicsr  # noqa: F401  (compat fixes + registration)
        except Exception as err:
            raise ImportError(f'gsdd-basicsr autoload: "import gsdd_basicsr" failed after "import basicsr" '
                              f'({type(err).__name__}: {err}). Repair the gsdd-basicsr install, or set {ENV}=0 '
                              'to use basicsr without the plugin.') from err
        _fix_basicsr_main()


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
