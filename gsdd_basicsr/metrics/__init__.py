"""Metrics registered into BasicSR's METRIC_REGISTRY (used from ``val.metrics`` like PSNR / SSIM)."""
from gsdd_basicsr.metrics.lpips_metric import LPIPS, calculate_lpips  # noqa: F401  (registration)
