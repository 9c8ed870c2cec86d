"""Losses registered into BasicSR's LOSS_REGISTRY."""
from gsdd_basicsr.losses.offline_perceptual_loss import OfflinePerceptualLoss  # noqa: F401  (registration)
