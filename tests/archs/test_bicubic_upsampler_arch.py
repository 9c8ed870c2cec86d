import torch
import torch.nn.functional as F

import gsdd_basicsr  # noqa: F401
from basicsr.utils.registry import ARCH_REGISTRY
from gsdd_basicsr.archs.bicubic_upsampler_arch import BicubicUpsampler, write_state_dict
from gsdd_basicsr.weights.generator import load_frozen_generator


def test_registered_and_bicubic():
    net = ARCH_REGISTRY.get('BicubicUpsampler')(scale=4)
    x = torch.rand(2, 3, 8, 8)
    y = net(x)
    assert y.shape == (2, 3, 32, 32)
    assert torch.equal(y, F.interpolate(x, scale_factor=4, mode='bicubic', align_corners=False))
    assert not list(net.parameters())


def test_loads_as_frozen_generator_and_passes_gradients(tmp_path):
    path = write_state_dict(str(tmp_path / 'bicubic_x4.pth'), scale=4)
    net = load_frozen_generator({'type': 'BicubicUpsampler', 'scale': 4}, path, scale=4)
    z = torch.rand(1, 3, 8, 8, requires_grad=True)
    net(z).sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()
