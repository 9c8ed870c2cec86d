"""The few fixes basicsr 1.4.2 needs to run with current torch / torchvision, on CPU and GPU.

`apply()` is idempotent and is called by ``gsdd_basicsr/__init__.py`` before anything imports
basicsr. Each fix is the smallest change that keeps basicsr's own behaviour:

1. ``torchvision.transforms.functional_tensor`` was removed from torchvision (0.17); basicsr's
   ``data/degradations.py`` still imports ``rgb_to_grayscale`` from it. We alias the module to
   ``torchvision.transforms.functional``, which has the same function.
2. ``basicsr.train.load_resume_state`` maps every storage to CUDA (fails on a CPU) and relies on
   ``torch.load``'s old pickle default. Ours maps to the current device, loads with
   ``weights_only=True``, takes the newest *complete* state (a truncated or corrupt file is
   reported by name and skipped), and keeps ``pretrain_network_*`` for networks that were never
   saved (a frozen generator has no ``net_g_<iter>.pth``).
3. ``init_dist('pytorch')`` always selects a CUDA device and NCCL; without a GPU we use gloo.
4. ``BaseModel.model_to_device`` wraps with DDP on ``torch.cuda.current_device()``; on a CPU we
   wrap without device ids.
5. ``BaseModel.save_network`` / ``save_training_state`` write with a plain ``torch.save`` (a crash
   mid-write leaves a truncated ``net_g_<iter>.pth`` / ``<iter>.state``) and, after three failed
   tries, log a warning and go on without the checkpoint. Ours keep BasicSR's file names, keys and
   ``@master_only``, but write through :func:`gsdd_basicsr.utils.atomic.atomic_torch_save` (the
   previous file stays complete until the new one is) and raise a ``GSDDError`` naming the file
   when the write fails (e.g. a full disk), so ``train.py`` stops with one line and exit 2 instead
   of training on without checkpoints.
6. ``basicsr.utils.img_process_util.filter2D`` calls ``.view`` on its input; in Real-ESRNet /
   Real-ESRGAN's second degradation that input comes from DiffJPEG + resize and is not contiguous
   with current torch ("view size is not compatible"). Ours makes it contiguous first; the two
   models imported the function by name, so their module globals are patched too.
7. ``parse_options`` seeds the global RNGs with ``manual_seed`` *before* applying ``--force_yml``,
   so ``--force_yml manual_seed=N`` changed the logged option but not the seed. Ours seeds again
   with the final ``manual_seed`` (the same seed gives the same state, so nothing else changes);
   ``basicsr.train`` and ``basicsr.test`` bound the function by name and are patched too.
"""
import collections
import functools
import os
import sys

from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from gsdd_basicsr.errors import GSDDError
from gsdd_basicsr_autoload import alias_functional_tensor  # shared with the import hook
from gsdd_basicsr.utils.atomic import atomic_torch_save

_APPLIED = False


class ResumeStateError(GSDDError, RuntimeError):
    """No usable training state where one was asked for (a ``GSDDError``: one line, exit 2)."""


def load_state_file(path):
    """Load a BasicSR training state (``*.state``) safely onto this process's device.

    Args:
        path (str): the ``.state`` file.

    Returns:
        dict: the state; tensors on ``cuda:<current>`` when CUDA is available, else on CPU.

    Raises:
        ResumeStateError: the file is truncated, corrupt or needs arbitrary unpickling.
    """
    import torch
    map_location = f'cuda:{torch.cuda.current_device()}' if torch.cuda.is_available() else 'cpu'
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for truncated / foreign pickles
        raise ResumeStateError(f'Training state {path} cannot be loaded safely ({type(err).__name__}: '
                               f'{str(err).splitlines()[0] if str(err) else ""}). Delete it or point '
                               f'path.resume_state at another state.') from err


def load_resume_state(opt):
    """Replacement for ``basicsr.train.load_resume_state`` (see the module docstring, fix 2)."""
    from os import path as osp

    from basicsr.utils import scandir
    from basicsr.utils.misc import check_resume

    candidates = []
    if opt['auto_resume']:
        state_dir = opt['path']['training_states']
        if osp.isdir(state_dir):
            names = [v for v in scandir(state_dir, suffix='.state', recursive=False) if v[:-6].isdigit()]
            candidates = [osp.join(state_dir, v) for v in sorted(names, key=lambda v: int(v[:-6]), reverse=True)]
    elif opt['path'].get('resume_state'):
        candidates = [opt['path']['resume_state']]
        if not osp.isfile(candidates[0]):
            raise ResumeStateError(f"path.resume_state {candidates[0]} does not exist; fix the path or remove "
                                   'the key to start from scratch.')

    resume_state = None
    for path in candidates:
        try:
            resume_state = load_state_file(path)
        except ResumeStateError as err:
            if not opt['auto_resume']:
                raise
            # printed, not logged: basicsr's root logger must not be created before train_pipeline
            # gives it its log file
            print(f'WARNING: {err} Trying an older state.', file=sys.stderr, flush=True)
            continue
        opt['path']['resume_state'] = path
        break
    if resume_state is None:
        if candidates:
            print('WARNING: no complete training state found; starting from scratch.', file=sys.stderr, flush=True)
        return None

    pretrain_before = {k: v for k, v in opt['path'].items() if k.startswith('pretrain_network_')}
    check_resume(opt, resume_state['iter'])
    for key, old in pretrain_before.items():
        # keep the configured weights for networks the run never saved (frozen generators)
        if not osp.isfile(opt['path'][key]):
            opt['path'][key] = old
    print(f"Resuming from {opt['path']['resume_state']}", flush=True)
    return resume_state


def _init_dist_pytorch(backend, **kwargs):
    import torch
    import torch.distributed as dist
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ['RANK']) % torch.cuda.device_count())
    else:
        backend = 'gloo'
    dist.init_process_group(backend=backend, **kwargs)


def _model_to_device(self, net):
    import torch
    from torch.nn.parallel import DataParallel, DistributedDataParallel
    net = net.to(self.device)
    if self.opt['dist']:
        find_unused = self.opt.get('find_unused_parameters', False)
        device_ids = [torch.cuda.current_device()] if self.device.type == 'cuda' else None
        net = DistributedDataParallel(net, device_ids=device_ids, find_unused_parameters=find_unused)
    elif self.opt['num_gpu'] > 1:
        net = DataParallel(net)
    return net


def _save_network(self, net, net_label, current_iter, param_key='params'):
    """``BaseModel.save_network`` (same file name ``<net_label>_<iter|latest>.pth`` and keys), atomic."""
    if current_iter == -1:
        current_iter = 'latest'
    save_path = os.path.join(self.opt['path']['models'], f'{net_label}_{current_iter}.pth')
    nets = net if isinstance(net, list) else [net]
    param_keys = param_key if isinstance(param_key, list) else [param_key]
    assert len(nets) == len(param_keys), 'The lengths of net and param_key should be the same.'
    save_dict = {}
    for net_, param_key_ in zip(nets, param_keys):
        state_dict = collections.OrderedDict(
            (key, param.cpu()) for key, param in self.get_bare_model(net_).state_dict().items())
        consume_prefix_in_state_dict_if_present(state_dict, 'module.')
        save_dict[param_key_] = state_dict
    atomic_torch_save(save_dict, save_path, 'network')


def _save_training_state(self, epoch, current_iter):
    """``BaseModel.save_training_state`` (same ``<iter>.state`` file and keys), atomic."""
    if current_iter == -1:
        return
    state = {'epoch': epoch, 'iter': current_iter, 'optimizers': [], 'schedulers': []}
    for o in self.optimizers:
        state['optimizers'].append(o.state_dict())
    for s in self.schedulers:
        state['schedulers'].append(s.state_dict())
    save_path = os.path.join(self.opt['path']['training_states'], f'{current_iter}.state')
    atomic_torch_save(state, save_path, 'training state')


def _contiguous_filter2d(filter2d):
    def filter2D(img, kernel):  # noqa: N802  (basicsr's name)
        return filter2d(img.contiguous(), kernel)

    filter2D.__wrapped__ = filter2d
    return filter2D


def _seeding_after_overrides(parse_options):
    @functools.wraps(parse_options)
    def parse(*args, **kwargs):
        from basicsr.utils import set_random_seed
        opt, parsed = parse_options(*args, **kwargs)
        set_random_seed(opt['manual_seed'] + opt['rank'])
        return opt, parsed

    parse.seeds_after_overrides = True
    return parse


def apply():
    """Apply every fix once. Safe to call many times."""
    global _APPLIED
    if _APPLIED:
        return
    alias_functional_tensor()
    import torch
    # MultiStepLR keeps its milestones in a Counter; allow it in weights_only loads of states
    torch.serialization.add_safe_globals([collections.Counter])

    import basicsr.train
    import basicsr.utils.dist_util
    from basicsr.models.base_model import BaseModel
    from basicsr.utils.dist_util import master_only
    basicsr.train.load_resume_state = load_resume_state
    import basicsr.test
    import basicsr.utils.options
    for module in (basicsr.utils.options, basicsr.train, basicsr.test):
        if not getattr(module.parse_options, 'seeds_after_overrides', False):
            module.parse_options = _seeding_after_overrides(module.parse_options)
    basicsr.utils.dist_util._init_dist_pytorch = _init_dist_pytorch
    BaseModel.model_to_device = _model_to_device
    BaseModel.save_network = master_only(_save_network)
    BaseModel.save_training_state = master_only(_save_training_state)
    import basicsr.models.realesrgan_model
    import basicsr.models.realesrnet_model
    import basicsr.utils.img_process_util as img_process_util
    img_process_util.filter2D = _contiguous_filter2d(img_process_util.filter2D)
    for module in (basicsr.models.realesrnet_model, basicsr.models.realesrgan_model):
        module.filter2D = img_process_util.filter2D
    _APPLIED = True
