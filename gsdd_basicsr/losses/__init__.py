"""Losses registered into BasicSR's LOSS_REGISTRY.

:mod:`~gsdd_basicsr.losses.offline_perceptual_loss`: ``OfflinePerceptualLoss``, basicsr's perceptual loss on
locally converted ImageNet VGG16 weights (no download).
"""
from gsdd_basicsr.losses.offline_perceptual_loss import OfflinePerceptualLoss  # noqa: F401  (registration)
