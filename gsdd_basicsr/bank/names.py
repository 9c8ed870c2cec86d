"""File names of a bank's images: ``<class>_<k:04d>.png``, ``k`` counting the images of that class in bank order.

Every exported folder, coreset and :class:`GANLatentDataset` path uses these names, so an image keeps
its name whichever way it is produced.
"""
import re

from gsdd_basicsr.errors import GSDDError


def safe_class_name(name):
    """A class name usable in file names and LMDB keys: ``[A-Za-z0-9_-]`` only (no dots)."""
    return re.sub(r'[^A-Za-z0-9_-]+', '_', name).strip('_') or 'class'


def image_names(groups):
    """``<group>_<k:04d>.png`` for a sequence of group (class) names, ``k`` counting per group.

    Raises:
        GSDDError: two different groups map to the same file-name prefix.
    """
    seen, counts, names = {}, {}, []
    for g in groups:
        safe = safe_class_name(g)
        if seen.setdefault(safe, g) != g:
            raise GSDDError(f'class names {seen[safe]!r} and {g!r} both map to file prefix {safe!r}')
        k = counts.get(safe, 0)
        counts[safe] = k + 1
        names.append(f'{safe}_{k:04d}.png')
    return names


def bank_image_names(bank):
    """File name of every image of a bank, in bank order (see the module docstring)."""
    return image_names([bank['class_names'][int(i)] for i in bank['labels']])


def bank_image_classes(bank):
    """Class name of every image of a bank, in bank order."""
    return [bank['class_names'][int(i)] for i in bank['labels']]
