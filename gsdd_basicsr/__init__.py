"""gsdd-basicsr: GSDD dataset distillation for super-resolution, as a BasicSR plugin.

Importing this package applies the compatibility fixes in :mod:`gsdd_basicsr.compat` and
registers the plugin's architectures, datasets and models into BasicSR's registries.
"""
from gsdd_basicsr import compat

compat.apply()

from gsdd_basicsr import archs, data, losses, metrics, models  # noqa: E402,F401  (registration side effects)
from gsdd_basicsr.version import __version__  # noqa: E402,F401
