"""gsdd-basicsr: GSDD dataset distillation for super-resolution, as a BasicSR plugin.

Importing this package applies the few global fixes basicsr 1.4.2 needs to run at all
(:mod:`gsdd_basicsr.compat`) and registers the plugin's architectures, datasets and models into
BasicSR's registries. Our entry points' other changes to BasicSR apply only to their own runs
(:mod:`gsdd_basicsr.pipeline_fixes`).
"""
from gsdd_basicsr import compat

compat.apply()

from gsdd_basicsr import archs, data, losses, metrics, models  # noqa: E402,F401  (registration side effects)
from gsdd_basicsr.version import __version__  # noqa: E402,F401
