"""LPIPS (Zhang et al., CVPR 2018), offline, as a BasicSR metric.

The network is LPIPS v0.1: torchvision's AlexNet or VGG16 feature stack, five taps after ReLUs, each
tap unit-normalised over channels, the squared difference weighted by a 1x1 head, averaged over space
and summed over taps. The weights come from :mod:`gsdd_basicsr.weights.lpips` (no download).

In an options file, beside PSNR / SSIM::

    val:
      metrics:
        lpips: {type: calculate_lpips, crop_border: 4, net: alex, better: lower}
"""
import threading

import numpy as np
import torch
import torchvision
from basicsr.utils.registry import METRIC_REGISTRY
from torch import nn

from gsdd_basicsr.errors import GSDDError
from gsdd_basicsr.weights.lpips import NETS, load_state_dict

# torchvision feature index after which each LPIPS tap is taken (the ReLU after the tap's convolution)
_TAPS = {'alex': [1, 4, 7, 9, 11], 'vgg': [3, 8, 15, 22, 29]}
# LPIPS's input scaling: (x - shift) / scale for images in [-1, 1]
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
# the smallest side each backbone's pooling chain accepts
_MIN_SIDE = {'alex': 32, 'vgg': 16}


class LPIPS(nn.Module):
    """LPIPS v0.1 distance.

    Args:
        net (str): ``alex`` | ``vgg``.
        weights (str | None): a file of ``tools/convert_lpips_weights.py`` (default
            ``experiments/pretrained_models/lpips_<net>.pth``).

    ``forward(x, y)``: ``x``, ``y`` are N x 3 x H x W RGB tensors in [0, 1]; returns N distances
    (0 = identical; about 0.1-0.7 for visibly different images).
    """

    def __init__(self, net='alex', weights=None):
        super().__init__()
        sd = load_state_dict(net, weights)
        build = torchvision.models.alexnet if net == 'alex' else torchvision.models.vgg16
        self.features = build(weights=None).features[:_TAPS[net][-1] + 1]
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in NETS[net][3])
        self.load_state_dict(sd)
        self.taps = set(_TAPS[net])
        self.register_buffer('shift', torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer('scale', torch.tensor(_SCALE).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    def _taps(self, x):
        x = ((2 * x - 1) - self.shift) / self.scale
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                out.append(x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10))
        return out

    def forward(self, x, y):
        return sum(lin((a - b).pow(2)).mean((2, 3)) for lin, a, b in zip(self.lins, self._taps(x), self._taps(y)))[:, 0]


_CACHE, _LOCK = {}, threading.Lock()


def lpips_network(net='alex', weights=None, device=None):
    """One :class:`LPIPS` per (net, weights, device) per process (validation calls it once per image)."""
    device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    key = (net, weights, str(device))
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = LPIPS(net, weights).to(device)
        return _CACHE[key]


def _to_tensor(img, crop_border, input_order):
    """An HWC / CHW BGR image (uint8 0-255 or float 0-1, as basicsr's ``tensor2img`` gives) ->
    1 x 3 x H x W RGB in [0, 1]."""
    img = np.asarray(img)
    if input_order == 'CHW':
        img = img.transpose(1, 2, 0)
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
    scale = 255.0 if img.dtype == np.uint8 or img.max() > 1.5 else 1.0
    if img.ndim == 2 or img.shape[2] == 1:
        img = np.repeat(img.reshape(img.shape[0], img.shape[1], 1), 3, axis=2)
    rgb = np.ascontiguousarray(img[..., ::-1], dtype=np.float32) / scale
    return torch.from_numpy(rgb).permute(2, 0, 1)[None]


@METRIC_REGISTRY.register()
def calculate_lpips(img, img2, crop_border=0, net='alex', weights=None, input_order='HWC', **kwargs):
    """LPIPS distance between two images (lower is closer), as BasicSR's validation calls metrics.

    Args:
        img, img2 (ndarray): BGR images, H x W x 3, uint8 [0, 255] (or float [0, 1]), as
            ``basicsr.utils.tensor2img`` returns them; grey images count as 3 equal channels.
        crop_border (int): pixels cut from each edge first (as for PSNR).
        net (str): ``alex`` (the LPIPS default) | ``vgg``.
        weights (str | None): converted weights (default ``experiments/pretrained_models/lpips_<net>.pth``).

    Returns:
        float: the distance, 0 for identical images.
    """
    assert img.shape == img2.shape, f'image shapes differ: {img.shape}, {img2.shape}'
    model = lpips_network(net, weights)
    dev = model.shift.device
    side = min(img.shape[:2] if input_order == 'HWC' else img.shape[1:]) - 2 * crop_border
    if side < _MIN_SIDE[net]:
        raise GSDDError(f'LPIPS ({net}) needs images of at least {_MIN_SIDE[net]} px after crop_border, got {side} px; '
                        'use larger validation images or a smaller crop_border')
    with torch.no_grad():
        d = model(_to_tensor(img, crop_border, input_order).to(dev), _to_tensor(img2, crop_border, input_order).to(dev))
    return float(d.item())
