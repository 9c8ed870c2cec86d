"""Metrics registered into BasicSR's METRIC_REGISTRY (used from ``val.metrics`` like PSNR / SSIM).

:mod:`~gsdd_basicsr.metrics.lpips_metric`: ``calculate_lpips``, LPIPS (AlexNet / VGG16) on local weights.
"""
from gsdd_basicsr.metrics.lpips_metric import LPIPS, calculate_lpips  # noqa: F401  (registration)
