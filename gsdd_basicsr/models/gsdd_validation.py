"""The validation of a distillation: its held-out crops, its three figures and the bank's grid image.

Plain functions of what they use; :class:`GSDDModel`'s ``validation`` renders the bank and calls them.
"""
import math

import torch
from torchvision.utils import make_grid

from gsdd_basicsr.distill.matching import distribution_matching_loss, latent_homogeneity
from gsdd_basicsr.errors import GSDDError


def val_crops(dataset, n, seed):
    """About ``n`` held-out HR crops spread evenly over the classes of ``dataset`` (the same at every validation).

    Args:
        dataset (ClassImageDataset): ``datasets.val``.
        n (int): ``gsdd.val_crops``; ``ceil(n / classes)`` per class.
        seed (int): ``manual_seed``; class ``c``'s draw is keyed ``(seed, 'val', c)``.

    Returns:
        torch.Tensor: M x 3 x H x W RGB in [0, 1], class-major.
    """
    if not hasattr(dataset, 'sample_class'):
        raise GSDDError('the val dataset must be a ClassImageDataset (class_mode: instance for a flat folder).')
    per_class = max(1, math.ceil(n / dataset.num_classes))
    return torch.cat([dataset.sample_class(c, per_class, (seed, 'val', c)) for c in range(dataset.num_classes)])


def val_metrics(images, latents, ipc, real, embed_draws, redraw, embed):
    """The three figures of a validation.

    Args:
        images (torch.Tensor): the decoded bank, N x 3 x sp x sp in [0, 1], class-major (``ipc`` rows per class).
        latents (torch.Tensor): its N x 3 x p x p latents.
        ipc (int): images per class.
        real (torch.Tensor): held-out crops (:func:`val_crops`), M x 3 x sp x sp.
        embed_draws (int): ``gsdd.val_embed_draws``.
        redraw (callable): ``redraw(k)`` sets the k-th fixed draw of the embedding network(s).
        embed (callable): ``embed(x)``: features of a batch (B x 3 x sp x sp) under the current draw, list of B x D.

    Returns:
        dict: ``val_dm`` (distribution-matching loss between ``real`` and the bank, averaged over the draws;
        lower = the bank looks more like unseen real data), ``diversity`` (mean pairwise RMS pixel distance
        between images of one class, [0, 1] units, averaged over classes; 0 = collapsed), ``homogeneity``
        (R of each class's latents, averaged over classes).
    """
    if real.shape[-2:] != images.shape[-2:]:
        raise GSDDError(f'validation crops are {tuple(real.shape[-2:])} but the bank renders '
                        f'{tuple(images.shape[-2:])}; set gt_size: {images.shape[-1]} in the val dataset.')
    val_dm = []
    for k in range(embed_draws):
        redraw(k)
        val_dm.append(distribution_matching_loss(embed(real), embed(images)))
    diversity, homogeneity = [], []
    for start in range(0, len(images), ipc):
        flat = images[start:start + ipc].flatten(1)
        if len(flat) > 1:
            dists = torch.cdist(flat, flat) / math.sqrt(flat.shape[1])
            diversity.append(dists.sum() / (len(flat) * (len(flat) - 1)))
        homogeneity.append(latent_homogeneity(latents[start:start + ipc]))
    return {
        'val_dm': torch.stack(val_dm).mean().item(),
        'diversity': torch.stack(diversity).mean().item() if diversity else 0.0,
        'homogeneity': torch.stack(homogeneity).mean().item(),
    }


def bank_grid(images, ipc, per_class):
    """One row per class, its first ``min(per_class, ipc)`` images: 3 x H x W in [0, 1] (white padding)."""
    cols = min(per_class, ipc)
    picked = torch.cat([images[start:start + cols] for start in range(0, len(images), ipc)])
    return make_grid(picked, nrow=cols, padding=2, pad_value=1.0)
