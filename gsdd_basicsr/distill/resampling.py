"""Resampling kernels of the distillation step with deterministic CUDA backward passes.

Two differentiable resampling ops written as products and gathers: :func:`bilinear_sample` (the
augmentation's warps) and :func:`resize_matrices` (antialiased bicubic resizing;
:func:`gsdd_basicsr.distill.matching.hf_residual` uses it in every mode). Why they exist: under the
top-level option ``deterministic: true``,
:func:`gsdd_basicsr.utils.seeding.configure_determinism` turns off cuDNN's benchmark mode (BasicSR's train
pipeline turns it on), asks cuDNN for deterministic convolution algorithms, sets cuBLAS's
workspace so matrix products are deterministic, and calls
``torch.use_deterministic_algorithms(True)``, which makes any op without a deterministic CUDA
kernel raise instead of silently varying. The ops of a distillation step that have no such
kernel in PyTorch are replaced, while the flag is on, by formulations of ours that do
(:func:`bilinear_sample` for the augmentation's ``grid_sample``, :func:`resize_matrices` for the
teacher space's antialiased bicubic downsampling); both compute the same function as the PyTorch
op up to float rounding.

What that buys: two CUDA runs with the same seed, options, GPU model and software versions give
bit-identical latent banks, and so does a killed-and-resumed run. Without the option a CUDA run
is not reproducible (atomic-add kernels and cuDNN's timing-based algorithm choice). On a CPU the
step is deterministic either way for a fixed number of threads.
"""
import functools

import torch
import torch.nn.functional as F


def bilinear_sample(x, grid):
    """``F.grid_sample(x, grid, 'bilinear', padding_mode='zeros', align_corners=True)`` for a grid
    shared by the whole batch, with a backward pass that is deterministic on CUDA.

    The four neighbours are read with ``index_select`` on the flattened image, whose backward
    (``index_add``) PyTorch runs deterministically under ``use_deterministic_algorithms``;
    ``grid_sample``'s own backward accumulates with atomics and has no deterministic kernel.

    Args:
        x (Tensor): B x C x H x W.
        grid (Tensor): 1 x Ho x Wo x 2, normalised coordinates in ``[-1, 1]`` (x, y order).

    Returns:
        Tensor: B x C x Ho x Wo.
    """
    b, c, h, w = x.shape
    ho, wo = grid.shape[1:3]
    gx = (grid[0, ..., 0].reshape(-1).to(torch.float64) + 1) * (w - 1) / 2
    gy = (grid[0, ..., 1].reshape(-1).to(torch.float64) + 1) * (h - 1) / 2
    x0, y0 = gx.floor(), gy.floor()
    flat = x.reshape(b, c, h * w)
    out = 0
    for yy, wy in ((y0, 1 - (gy - y0)), (y0 + 1, gy - y0)):
        for xx, wx in ((x0, 1 - (gx - x0)), (x0 + 1, gx - x0)):
            inside = (xx >= 0) & (xx <= w - 1) & (yy >= 0) & (yy <= h - 1)
            index = (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).long()
            weight = (wy * wx * inside).to(x.dtype)
            out = out + flat.index_select(2, index) * weight
    return out.reshape(b, c, ho, wo)


@functools.lru_cache(maxsize=32)
def _resize_matrix(size_in, size_out, device, dtype):
    # the 1-D operator, read off by resizing the identity along one axis only (the other axis
    # keeps its size, where bicubic resampling is the identity)
    eye = torch.eye(size_in, dtype=torch.float64).view(1, 1, size_in, size_in)
    m = F.interpolate(eye, size=(size_out, size_in), mode='bicubic', antialias=True, align_corners=False)
    return m[0, 0].to(device=device, dtype=dtype)


def resize_matrices(hr, size):
    """``F.interpolate(hr, size, mode='bicubic', antialias=True, align_corners=False)`` as two
    matrix products ``R_h @ hr @ R_w^T`` (deterministic backward on CUDA; the antialiased bicubic
    backward of PyTorch has no deterministic kernel).

    Args:
        hr (Tensor): B x C x H x W.
        size (tuple[int, int]): output (h, w).

    Returns:
        Tensor: B x C x h x w.
    """
    h, w = hr.shape[-2:]
    rh = _resize_matrix(h, size[0], hr.device, hr.dtype)
    rw = _resize_matrix(w, size[1], hr.device, hr.dtype)
    return rh @ hr @ rw.t()
