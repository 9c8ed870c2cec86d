"""Losses registered into BasicSR's LOSS_REGISTRY.

:mod:`~gsdd_basicsr.losses.offline_perceptual_loss`: ``OfflinePerceptualLoss``, basicsr's perceptual loss on
local ImageNet VGG16 or VGG19 weights (no download), and
``StateDictVGGFeatureExtractor``, basicsr's VGG feature extractor built from a state dict.
"""
from gsdd_basicsr.losses.offline_perceptual_loss import OfflinePerceptualLoss  # noqa: F401  (registration)
