"""Reproducibility: random streams keyed by (seed, iteration, class, purpose), and the top-level
option ``deterministic: true`` (:func:`configure_determinism`).

Every random draw of a distillation step (real crops, augmentation, embedding networks) comes
from its own ``torch.Generator`` whose seed is a hash of the key, not from a global RNG. So a
step's draws do not depend on what ran before it: a resumed run, or a run whose classes are
sharded across processes, draws exactly what an uninterrupted single-process run draws.
"""
import hashlib
import os

import numpy as np
import torch


def key_seed(*key):
    """A 63-bit seed from a key of ints / strings, stable across processes and Python versions.

    Args:
        *key: e.g. ``(manual_seed, iteration, class_index, 'augment')``.

    Returns:
        int: in ``[0, 2**63)``.
    """
    digest = hashlib.blake2b(repr(tuple(key)).encode('utf-8'), digest_size=8).digest()
    return int.from_bytes(digest, 'little') >> 1


def keyed_generator(*key, device='cpu'):
    """A ``torch.Generator`` on ``device`` seeded from ``key_seed(*key)``."""
    gen = torch.Generator(device=device)
    gen.manual_seed(key_seed(*key))
    return gen


def keyed_rng(*key):
    """A ``numpy.random.Generator`` seeded from ``key_seed(*key)`` (for host-side sampling)."""
    return np.random.default_rng(key_seed(*key))


def configure_determinism(enabled):
    """Apply (``enabled=True``) the settings above for this process; ``False`` changes nothing.

    Process-wide: call it before the first CUDA matrix product (the model does so in its
    constructor).
    """
    if not enabled:
        return
    # cuBLAS reads this when it creates a handle; ':4096:8' is the setting PyTorch documents
    os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True)
