"""The deterministic resampling ops equal PyTorch's, values and gradients, to float64 rounding."""
import torch
import torch.nn.functional as F

from gsdd_basicsr.distill.resampling import bilinear_sample, resize_matrices


def _g():
    return torch.Generator().manual_seed(0)


def _value_and_grad(fn, x, g):
    out = fn(x)
    weight = torch.rand(out.shape, generator=g, dtype=torch.float64)  # a loss that weighs every output
    grad, = torch.autograd.grad((out * weight).sum(), x)
    return out, grad


def test_bilinear_sample_is_grid_sample():
    g = _g()
    x = torch.rand(2, 3, 20, 24, generator=g, dtype=torch.float64, requires_grad=True)
    theta = torch.tensor([[[0.9, 0.2, 0.1], [-0.15, 1.1, -0.05]]], dtype=torch.float64)  # reaches past the edge
    grid = F.affine_grid(theta, (1, 3, 18, 22), align_corners=True)
    ours, ours_grad = _value_and_grad(lambda t: bilinear_sample(t, grid), x, _g())
    ref, ref_grad = _value_and_grad(lambda t: F.grid_sample(t, grid.expand(2, -1, -1, -1), mode='bilinear',
                                                            padding_mode='zeros', align_corners=True), x, _g())
    assert ours.shape == (2, 3, 18, 22)
    assert (ours - ref).abs().max() < 1e-15 and (ours_grad - ref_grad).abs().max() < 1e-15


def test_resize_matrices_is_antialiased_bicubic():
    x = torch.rand(2, 3, 64, 48, generator=_g(), dtype=torch.float64, requires_grad=True)
    ours, ours_grad = _value_and_grad(lambda t: resize_matrices(t, (16, 12)), x, _g())
    ref, ref_grad = _value_and_grad(lambda t: F.interpolate(t, size=(16, 12), mode='bicubic', antialias=True,
                                                            align_corners=False), x, _g())
    assert ours.shape == (2, 3, 16, 12)
    assert (ours - ref).abs().max() < 1e-15 and (ours_grad - ref_grad).abs().max() < 1e-15
