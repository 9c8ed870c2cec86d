"""The first latents of a distillation (``gsdd.init``): noise, downscaled real crops, or their GAN inversion.

Plain functions of what they use (the generator, the real set, the options): :class:`GSDDModel` calls
:func:`initial_class_latents` once per class it owns when a run does not resume.
"""
import contextlib

import torch
import torch.nn.functional as F

from gsdd_basicsr.utils.seeding import keyed_generator


@torch.no_grad()
def initial_class_latents(gsdd, real, class_index, key, net_g, device, amp_dtype=None, logger=None):
    """The ``ipc`` first latents of one class: ``ipc x 3 x p x p`` float32 on ``device``, nominally in [0, 1].

    Args:
        gsdd (dict): the parsed ``gsdd:`` block (``init``, ``ipc``, ``latent_size``, ``inversion_iters``,
            ``inversion_lr``).
        real (ClassImageDataset): the real set (``sample_class``), HR crops of ``scale * p`` pixels.
        class_index (int): the class.
        key (tuple): the class's random stream, e.g. ``(manual_seed, 'init', c)``.
        net_g (torch.nn.Module): the frozen generator (inversion only).
        device (torch.device): where the latents and the generator live.
        amp_dtype (torch.dtype | None): the run's autocast dtype (inversion only; None: float32).
        logger (logging.Logger | None): gets the inversion's first and last L1.

    ``noise``: uniform in [0, 1] drawn from ``key``; ``real``: ``ipc`` real crops drawn from ``key``,
    downscaled to ``p`` (bicubic, antialiased, clamped to [0, 1]); ``inversion``: ``real``, then
    :func:`invert_latents`.
    """
    ipc, p = gsdd['ipc'], gsdd['latent_size']
    if gsdd['init'] == 'noise':
        return torch.rand(ipc, 3, p, p, generator=keyed_generator(*key, device=device), device=device)
    crops = real.sample_class(class_index, ipc, key).to(device)
    z = F.interpolate(crops, size=(p, p), mode='bicubic', antialias=True, align_corners=False).clamp_(0, 1)
    if gsdd['init'] != 'inversion' or gsdd['inversion_iters'] <= 0:
        return z
    z, first, last = invert_latents(net_g, z, crops, gsdd['inversion_iters'], gsdd['inversion_lr'], amp_dtype)
    if logger is not None:
        logger.info(f'Inversion of class {real.class_names[class_index]}: L1 {first:.4f} -> {last:.4f} '
                    f'after {gsdd["inversion_iters"]} steps.')
    return z


@torch.enable_grad()
def invert_latents(net_g, z, target, iters, lr, amp_dtype=None):
    """GAN inversion: ``iters`` Adam steps on ``z`` of mean |clamp(G(z), 0, 1) - target|_1.

    Args:
        net_g (torch.nn.Module): the frozen generator, N x 3 x p x p -> N x 3 x sp x sp.
        z (torch.Tensor): N x 3 x p x p start latents (not changed).
        target (torch.Tensor): N x 3 x sp x sp real crops in [0, 1].
        iters (int): Adam steps (>= 1).
        lr (float): Adam's learning rate.
        amp_dtype (torch.dtype | None): autocast dtype of the generator pass; fp16 scales the loss
            with a GradScaler of the inversion's own, so the distillation's loss scale starts untouched.

    Returns:
        tuple: (inverted N x 3 x p x p latents, detached; first L1; last L1), the L1s as floats.
    """
    z = z.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    scaler = torch.amp.GradScaler(z.device.type, enabled=amp_dtype == torch.float16)
    for step in range(iters):
        optimizer.zero_grad(set_to_none=True)
        with contextlib.nullcontext() if amp_dtype is None else torch.autocast(z.device.type, dtype=amp_dtype):
            out = net_g(z)
        loss = (out.float().clamp(0, 1) - target).abs().mean()
        if step == 0:
            first = loss.detach()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    return z.detach(), first.item(), loss.item()
