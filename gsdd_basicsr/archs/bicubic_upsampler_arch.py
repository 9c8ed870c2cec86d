"""A parameter-free "generator": bicubic upsampling by ``scale``.

GSDD with this generator is pixel-space distillation of LR images: the latent ``z`` *is* an LR
image and ``G(z) = bicubic(z, x scale)``, so there is no GAN prior. The benchmark
(:mod:`gsdd_basicsr.benchmark`) uses it as an ablation.

It has no parameters. ``load_frozen_generator`` refuses an empty state dict (it cannot tell it
from a file holding no weights at all), so the module keeps one persistent buffer, ``scale_buf``
(the factor as a float tensor): its state dict is ``{'scale_buf': tensor(4.)}``, which
:func:`write_state_dict` writes as ``{'params_ema': ...}`` for ``path.pretrain_network_g``.
"""
import torch
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn
from torch.nn import functional as F


@ARCH_REGISTRY.register()
class BicubicUpsampler(nn.Module):
    """``F.interpolate(x, scale_factor=scale, mode='bicubic', align_corners=False)``.

    Args:
        scale (int): upscaling factor. Default 4.
        num_in_ch, num_out_ch: accepted (and must be 3) so BasicSR-style ``network_g`` blocks fit.
    """

    def __init__(self, scale=4, num_in_ch=3, num_out_ch=3):
        super().__init__()
        if int(scale) != scale or scale < 1:
            raise ValueError(f'BicubicUpsampler: scale must be a positive int, got {scale!r}')
        if num_in_ch != num_out_ch:
            raise ValueError('BicubicUpsampler: num_in_ch and num_out_ch must be equal')
        self.scale = int(scale)
        self.register_buffer('scale_buf', torch.tensor(float(self.scale)))

    def forward(self, x):
        return F.interpolate(x, scale_factor=self.scale, mode='bicubic', align_corners=False)


def write_state_dict(path, scale=4):
    """Write the (buffer-only) weights file that ``load_frozen_generator`` loads strictly."""
    from gsdd_basicsr.utils.atomic import atomic_torch_save
    return atomic_torch_save({'params_ema': BicubicUpsampler(scale).state_dict()}, path)
