"""What our entry points change in BasicSR for their own runs, and only while those run.

``gsdd_basicsr/train.py``, ``gsdd_basicsr/test.py`` and the benchmark's runs start BasicSR's pipelines inside
:func:`pipeline_fixes`; nothing here touches a process that does not (a user's Real-ESRGAN or HAT training
in the same environment, BasicSR's own ``basicsr/train.py``). Inside the block:

1. Resume: ``--auto_resume`` takes the newest *complete* state in the run's ``training_states`` (a truncated
   or corrupt one is reported by name and skipped), loads with ``weights_only=True`` onto the current
   device, reports a missing ``path.resume_state`` as one line, and keeps ``pretrain_network_*`` for
   networks that were never saved (a frozen generator has no ``net_g_<iter>.pth``).
2. ``init_dist('pytorch')`` without a GPU uses gloo (basicsr always selects a CUDA device and NCCL), and
   ``BaseModel.model_to_device`` wraps with DDP without device ids on a CPU.
3. ``BaseModel.save_network`` / ``save_training_state`` keep BasicSR's file names, keys and ``@master_only``
   but write through :func:`gsdd_basicsr.utils.atomic.atomic_torch_save` (a crash mid-write leaves the
   previous file complete instead of a truncated ``net_g_<iter>.pth``), and a failed write (e.g. a full
   disk) raises a ``WriteError`` naming the file instead of BasicSR's warning after three tries and training
   on without checkpoints.
4. ``parse_options`` seeds the global RNGs again with the final ``manual_seed``: basicsr seeds before
   applying ``--force_yml``, so ``--force_yml manual_seed=N`` changed the logged option but not the seed.
5. Real-ESRGAN's two models without CUDA: basicsr's ``RealESRNetModel`` and ``RealESRGANModel`` build their JPEG
   simulator and USM sharpener (``__init__``) and their training-pair queue (``_dequeue_and_enqueue``) with a
   hard-coded ``.cuda()``; on a machine without CUDA those two methods run with ``.cuda()`` meaning the model's
   device (the CPU), so both stages run there (slowly: it is for toy-size checks). With CUDA nothing changes.
6. ``--force_yml datasets:<phase>=~`` drops that dataset (e.g. ``datasets:val=~``: no validation), and
   ``--force_yml val:metrics:<metric>=~`` that metric (e.g. ``val:metrics:lpips=~``): basicsr would set the entry
   to None and then fail on it (a ``TypeError`` for a dataset, an ``AttributeError`` at the first validation for a
   metric).
"""
import collections
import contextlib
import functools
import os
import re
import sys
from os import path as osp

import torch
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from gsdd_basicsr.compat import current_device
from gsdd_basicsr.errors import GSDDError
from gsdd_basicsr.utils.atomic import atomic_torch_save


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
    try:
        return torch.load(path, map_location=current_device(), weights_only=True)
    except Exception as err:  # torch raises several types for truncated / foreign pickles
        raise ResumeStateError(f'Training state {path} cannot be loaded safely ({type(err).__name__}: '
                               f'{str(err).splitlines()[0] if str(err) else ""}). Delete it or point '
                               f'path.resume_state at another state.') from err


def load_resume_state(opt):
    """Replacement for ``basicsr.train.load_resume_state`` (see the module docstring, fix 1)."""
    # Not a copy: basicsr's function loads whatever the newest name is, unsafely, onto CUDA and drops
    # pretrain_network_* of networks never saved; it reuses basicsr's scandir and check_resume. No upstream
    # fix: BasicSR master (8d56e3a) keeps 1.4.2's function (see also gsdd_basicsr.compat.load_resume_state).
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
    import torch.distributed as dist
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ['RANK']) % torch.cuda.device_count())
    else:
        backend = 'gloo'
    dist.init_process_group(backend=backend, **kwargs)


def _model_to_device(self, net):
    from torch.nn.parallel import DataParallel, DistributedDataParallel
    net = net.to(self.device)
    if self.opt['dist']:
        find_unused = self.opt.get('find_unused_parameters', False)
        device_ids = [torch.cuda.current_device()] if self.device.type == 'cuda' else None
        net = DistributedDataParallel(net, device_ids=device_ids, find_unused_parameters=find_unused)
    elif self.opt['num_gpu'] > 1:
        net = DataParallel(net)
    return net


# The two savers below copy BaseModel's (file names, keys, the bare model's CPU tensors) and replace
# its write: basicsr's torch.save()s in place, retries three times and on failure logs "Just ignore it"
# and trains on, so no wrapper can make the write atomic or see its error. No upstream fix: BasicSR
# master (8d56e3a) has the same write in both.
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
        state_dict = self.get_bare_model(net_).state_dict()
        consume_prefix_in_state_dict_if_present(state_dict, 'module.')
        save_dict[param_key_] = collections.OrderedDict((key, param.cpu()) for key, param in state_dict.items())
    atomic_torch_save(save_dict, save_path, 'network')


def _save_training_state(self, epoch, current_iter):
    """``BaseModel.save_training_state`` (same ``<iter>.state`` file and keys), atomic."""
    if current_iter == -1:
        return
    state = {'epoch': epoch, 'iter': current_iter, 'optimizers': [o.state_dict() for o in self.optimizers],
             'schedulers': [s.state_dict() for s in self.schedulers]}
    save_path = os.path.join(self.opt['path']['training_states'], f'{current_iter}.state')
    atomic_torch_save(state, save_path, 'training state')


def _seeding_after_overrides(parse_options):
    @functools.wraps(parse_options)
    def parse(*args, **kwargs):
        from basicsr.utils import set_random_seed
        opt, parsed = parse_options(*args, **kwargs)
        set_random_seed(opt['manual_seed'] + opt['rank'])
        return opt, parsed

    return parse


# a --force_yml entry setting a whole dataset or metric to None (basicsr's _postprocess_yml_value reads ~ and none
# as None)
_NULL_ENTRY = re.compile(r'^(datasets|val:metrics):([^:=\s]+)\s*=\s*(~|[Nn][Oo][Nn][Ee])\s*$')


def _dropping_null_entries(parse_options):
    @functools.wraps(parse_options)
    def parse(*args, **kwargs):
        argv = sys.argv
        dropped = [m.group(1, 2) for m in map(_NULL_ENTRY.match, argv) if m]
        if not dropped:
            return parse_options(*args, **kwargs)
        kept = [a for a in argv if not _NULL_ENTRY.match(a)]
        # a --force_yml whose entries were all dropped would be an argparse error
        sys.argv = [a for i, a in enumerate(kept)
                    if a != '--force_yml' or (i + 1 < len(kept) and not kept[i + 1].startswith('-'))]
        try:
            opt, parsed = parse_options(*args, **kwargs)
        finally:
            sys.argv = argv
        for where, name in dropped:
            entries = opt['datasets'] if where == 'datasets' else (opt.get('val') or {}).get('metrics') or {}
            if name not in entries:
                dotted = where.replace(':', '.')
                raise GSDDError(f"--force_yml {where}:{name}=~: the options have no {dotted}.{name} (they have "
                                f"{', '.join(entries) or 'none'}); name one of those.")
            del entries[name]
        return opt, parsed

    return parse


@contextlib.contextmanager
def _replaced(owner, name, value):
    """``owner.name = value`` inside the block; after it the previous attribute (a class's own one), or none of
    its own when it was inherited (``torch.Tensor.cuda`` is ``TensorBase``'s)."""
    own = name in owner.__dict__ if isinstance(owner, type) else True
    if own:
        before = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        if own:
            setattr(owner, name, before)
        else:
            delattr(owner, name)


def _cuda_means_model_device(method):
    """``method(self, ...)`` of a basicsr model with ``Tensor.cuda`` / ``Module.cuda`` moving to ``self.device``
    while it runs, when CUDA is unavailable (fix 5); the method itself when CUDA is there."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        if torch.cuda.is_available():
            return method(self, *args, **kwargs)

        def to_model_device(obj, *_, **__):
            return obj.to(self.device)

        with _replaced(torch.Tensor, 'cuda', to_model_device), _replaced(torch.nn.Module, 'cuda', to_model_device):
            return method(self, *args, **kwargs)

    return run


@contextlib.contextmanager
def pipeline_fixes():
    """BasicSR with the fixes of the module docstring inside the block, as it was after it."""
    import basicsr.test
    import basicsr.train
    import basicsr.utils.dist_util as dist_util
    import basicsr.utils.options as options
    from basicsr.models.base_model import BaseModel
    from basicsr.models.realesrgan_model import RealESRGANModel
    from basicsr.models.realesrnet_model import RealESRNetModel
    from basicsr.utils.dist_util import master_only
    with contextlib.ExitStack() as stack:
        stack.enter_context(_replaced(basicsr.train, 'load_resume_state', load_resume_state))
        for module in (options, basicsr.train, basicsr.test):
            parse = _seeding_after_overrides(_dropping_null_entries(module.parse_options))
            stack.enter_context(_replaced(module, 'parse_options', parse))
        stack.enter_context(_replaced(dist_util, '_init_dist_pytorch', _init_dist_pytorch))
        stack.enter_context(_replaced(BaseModel, 'model_to_device', _model_to_device))
        stack.enter_context(_replaced(BaseModel, 'save_network', master_only(_save_network)))
        stack.enter_context(_replaced(BaseModel, 'save_training_state', master_only(_save_training_state)))
        for model in (RealESRNetModel, RealESRGANModel):
            for name in ('__init__', '_dequeue_and_enqueue'):
                stack.enter_context(_replaced(model, name, _cuda_means_model_device(model.__dict__[name])))
        yield
