"""The global fixes: what basicsr 1.4.2 needs to run at all with current torch / torchvision.

These are the only changes the plugin makes to BasicSR in every process that imports it (the import
hook imports this package on the first ``import basicsr``). Each replaces code that fails outright, so
a run that works without the plugin runs the same with it (``tests/test_compat.py`` shows each failure
without its fix, and that a plain ``SRModel`` run is otherwise unchanged). What our own entry points
change for their own runs is in :mod:`gsdd_basicsr.pipeline_fixes`.

1. ``torchvision.transforms.functional_tensor`` was removed from torchvision (0.17); basicsr's
   ``data/degradations.py`` imports ``rgb_to_grayscale`` from it, so ``import basicsr`` fails. It is aliased
   to ``torchvision.transforms.functional`` (:func:`gsdd_basicsr_autoload.alias_functional_tensor`, which
   the import hook runs before basicsr imports).
2. Resuming without CUDA: ``basicsr.train.load_resume_state`` calls ``torch.cuda.current_device()`` and maps
   every storage to CUDA, so ``--auto_resume`` / ``path.resume_state`` fail on a CPU-only machine ("Found no
   NVIDIA driver"). :func:`load_resume_state` is basicsr's function with storages on the current CUDA device
   (what basicsr does), or the CPU without one. basicsr's ``train.py`` run as ``__main__``
   defines its own copy after the hook ran: it gets this one when it parses its options
   (:func:`_for_basicsr_main`), which also warns when that script would write into site-packages.
3. ``basicsr.utils.img_process_util.filter2D`` calls ``.view`` on its input; in Real-ESRNet / Real-ESRGAN's
   second degradation that input comes from DiffJPEG + resize and is not contiguous with current torch
   ("view size is not compatible"). Ours makes it contiguous first (a no-op on a contiguous input); the two
   models imported the function by name, so their module globals are patched too.
"""
import functools
import os
import sys
from os import path as osp

import torch

from gsdd_basicsr_autoload import alias_functional_tensor

_APPLIED = False


def load_resume_state(opt):
    """``basicsr.train.load_resume_state`` with storages on this process's device (fix 2); otherwise basicsr's."""
    # A copy of basicsr 1.4.2's function with one change, ``map_location``: basicsr's picks the device inside
    # the function (torch.cuda.current_device() then storage.cuda(...)), so no wrapper can change it. No
    # upstream fix: BasicSR master (8d56e3a, the commit after #650) still maps every storage to CUDA.
    from basicsr.utils import check_resume, scandir
    resume_state_path = None
    if opt['auto_resume']:
        state_path = osp.join('experiments', opt['name'], 'training_states')
        if osp.isdir(state_path):
            states = list(scandir(state_path, suffix='state', recursive=False, full_path=False))
            if len(states) != 0:
                states = [float(v.split('.state')[0]) for v in states]
                resume_state_path = osp.join(state_path, f'{max(states):.0f}.state')
                opt['path']['resume_state'] = resume_state_path
    elif opt['path'].get('resume_state'):
        resume_state_path = opt['path']['resume_state']
    if resume_state_path is None:
        return None
    resume_state = torch.load(resume_state_path, map_location=current_device())
    check_resume(opt, resume_state['iter'])
    return resume_state


def current_device():
    """str: ``cuda:<current>`` when CUDA is available, else ``cpu``."""
    return f'cuda:{torch.cuda.current_device()}' if torch.cuda.is_available() else 'cpu'


def _site_dirs():
    """The normalised site-packages folders of this interpreter (where ``pip install basicsr`` puts basicsr)."""
    import site
    import sysconfig
    paths = sysconfig.get_paths()
    dirs = [paths['purelib'], paths['platlib'], *site.getsitepackages(), site.getusersitepackages()]
    return {os.path.normcase(os.path.abspath(d)) for d in dirs}


def _for_basicsr_main(parse_options):
    """``parse_options`` that, called by basicsr's ``train.py`` / ``test.py`` run as ``__main__`` (which bind it
    by name after the hook ran and call it first), gives that script fix 2 and warns when its outputs would go
    into site-packages. Elsewhere it is ``parse_options`` itself."""

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

    return parse_options_for_basicsr_main


def _contiguous_filter2d(filter2d):
    def filter2D(img, kernel):  # noqa: N802  (basicsr's name)
        return filter2d(img.contiguous(), kernel)

    filter2D.__wrapped__ = filter2d
    return filter2D


def apply():
    """Apply the three fixes once. Safe to call many times."""
    global _APPLIED
    if _APPLIED:
        return
    alias_functional_tensor()
    import basicsr.train
    import basicsr.utils.options as options
    basicsr.train.load_resume_state = load_resume_state
    options.parse_options = _for_basicsr_main(options.parse_options)

    import basicsr.models.realesrgan_model
    import basicsr.models.realesrnet_model
    import basicsr.utils.img_process_util as img_process_util
    img_process_util.filter2D = _contiguous_filter2d(img_process_util.filter2D)
    for module in (basicsr.models.realesrnet_model, basicsr.models.realesrgan_model):
        module.filter2D = img_process_util.filter2D
    _APPLIED = True
