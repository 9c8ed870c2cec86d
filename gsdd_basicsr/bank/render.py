"""Turning a latent bank back into HR images: ``HR_i = clamp(G(latents[i]), 0, 1)``.

:func:`build_bank_generator` loads the bank's frozen generator ``G``, :func:`render_latents` /
:func:`render_bank` run it in batches without autograd, and :func:`compact_bank` re-stores a bank's
latents at a lower precision and measures the PSNR that costs.
"""
from os import path as osp

import numpy as np
import torch

from gsdd_basicsr.bank.format import load_latent_bank, save_latent_bank
from gsdd_basicsr.errors import GSDDError, out_of_memory_hint
from gsdd_basicsr.weights.generator import load_frozen_generator, resolve_device


def build_bank_generator(bank, weights=None, device='cpu', param_key=None):
    """The frozen generator ``G`` of a bank, ready to render.

    Args:
        bank (dict): a validated bank (:func:`load_latent_bank`).
        weights (str | None): generator weights; default ``bank['pretrain_network_g']``.
        device (str | torch.device): ``'cpu'``, ``'cuda'``, ``'cuda:1'`` or ``'auto'``.
        param_key (str | None): state-dict key; default ``bank['param_key_g']``, else
            ``params_ema``, falling back to ``params`` (BasicSR's convention).

    Returns:
        torch.nn.Module: in eval mode, no parameter requires grad, on ``device``.

    Raises:
        GSDDError: no weights, unreadable weights, keys that do not match the architecture
            (strict loading), or a generator whose scale differs from ``bank['scale']``.
    """
    return load_frozen_generator(bank['network_g'], weights or bank.get('pretrain_network_g'),
                                 param_key=param_key or bank.get('param_key_g') or 'params_ema', strict=True,
                                 scale=bank['scale'], device=device)


def render_latents(latents, generator, batch_size=16):
    """``clamp(G(z), 0, 1)`` for N latents, in batches, without autograd.

    Args:
        latents (Tensor): N x 3 x p x p, on any device.
        generator (torch.nn.Module): the frozen generator; rendering runs on its device.
        batch_size (int): latents per forward pass.

    Returns:
        Tensor: N x 3 x sp x sp float in [0, 1], on the generator's device.
    """
    if batch_size < 1:
        raise GSDDError(f'batch_size must be >= 1, got {batch_size}')
    params = list(generator.parameters())
    device = params[0].device if params else torch.device('cpu')
    outs = []
    with out_of_memory_hint('rendering latents', f'lower the render batch size (now {batch_size}: '
                            'render_batch_size of GANLatentDataset, --batch-size of tools/export_distilled.py)'):
        with torch.inference_mode():
            for z in latents.split(batch_size):
                outs.append(generator(z.to(device=device, dtype=torch.float32)).clamp_(0, 1))
    return torch.cat(outs)


def render_bank(bank, generator, batch_size=16, device=None, as_uint8=True, indices=None):
    """Render ``HR = clamp(G(z), 0, 1)`` for the bank's latents (:func:`render_latents`).

    Args:
        bank (dict): a validated bank.
        generator (torch.nn.Module): from :func:`build_bank_generator`.
        batch_size (int): latents per forward pass.
        device: where to run; default the generator's device.
        as_uint8 (bool): True -> list of ``uint8`` HWC RGB numpy arrays (rounded to the nearest
            8-bit level, what PNG export stores); False -> float tensor N x 3 x sH x sW in [0, 1]
            on the CPU.
        indices (sequence[int] | None): render only these latents (default all).
    """
    if device is not None:
        generator = generator.to(resolve_device(device))
    latents = bank['latents'] if indices is None else bank['latents'][torch.as_tensor(list(indices)).long()]
    hr = render_latents(latents, generator, batch_size)
    if not as_uint8:
        return hr.float().cpu()
    hr = (hr * 255.0).round_().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return [np.ascontiguousarray(img) for img in hr]


def compact_bank(src, out, latent_dtype, weights=None, device='auto', batch_size=16):
    """Re-save the bank ``src`` with ``latent_dtype`` latents and measure what that costs.

    Returns:
        dict: ``bytes_in``, ``bytes_out``, ``latent_dtype`` and ``render_psnr_db``, the PSNR (dB,
        images in [0, 1], over the whole bank) of the images rendered from the compact latents
        against those rendered from ``src``'s (``inf`` when identical).
    """
    bank = load_latent_bank(src)
    save_latent_bank(bank, out, latent_dtype=latent_dtype)
    compact = load_latent_bank(out)
    generator = build_bank_generator(bank, weights=weights, device=device)
    ref = render_latents(bank['latents'], generator, batch_size).double()
    mse = (render_latents(compact['latents'], generator, batch_size).double() - ref).pow(2).mean().item()
    return {'bytes_in': osp.getsize(src), 'bytes_out': osp.getsize(out), 'latent_dtype': latent_dtype,
            'render_psnr_db': float('inf') if mse == 0 else 10 * np.log10(1 / mse)}
