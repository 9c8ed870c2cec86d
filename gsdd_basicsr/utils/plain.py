"""Plain Python data from parsed options: one converter for YAML options and bank metadata."""
import numpy as np


def to_plain(obj):
    """``obj`` with every mapping a ``dict`` with ``str`` keys, every sequence a ``list`` and numpy
    scalars as ``int`` / ``float``, recursively (BasicSR's YAML loader returns OrderedDicts)."""
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    return obj
