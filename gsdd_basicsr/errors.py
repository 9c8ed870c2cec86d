"""The errors users see for bad input: one message naming the culprit and the fix.

The command-line entry points (``gsdd_basicsr/train.py``, ``tools/*.py``) print a
``GSDDError`` as one line on stderr and exit with status 2, without a traceback.
``GSDDError`` is a ``ValueError``; ``MissingInputError`` is also a ``FileNotFoundError``,
``OutputExistsError`` a ``FileExistsError``.
"""
from contextlib import contextmanager

import torch

# torch >= 2.5 names it torch.OutOfMemoryError; torch.cuda.OutOfMemoryError is the same class
_OOM = getattr(torch, 'OutOfMemoryError', torch.cuda.OutOfMemoryError)


class GSDDError(ValueError):
    """Bad input or configuration that the user can fix; the message says how."""


class MissingInputError(GSDDError, FileNotFoundError):
    """A file or folder the options or arguments name does not exist (or is empty)."""


class OutputExistsError(GSDDError, FileExistsError):
    """An output folder exists and is not empty (or is a file); ``--force`` replaces it."""


class WriteError(GSDDError, OSError):
    """An output file could not be written (full disk, permissions); the previous file is intact."""


class OutOfMemory(GSDDError, MemoryError):
    """The accelerator ran out of memory; the message names the setting to lower."""


@contextmanager
def out_of_memory_hint(what, fix):
    """Turn an accelerator out-of-memory error inside the block into one :class:`OutOfMemory`.

    Args:
        what (str): the work that ran out, e.g. ``'the distillation step'``.
        fix (str): what to lower, e.g. ``'lower gsdd.batch_real or gsdd.batch_syn'``.
    """
    try:
        yield
    except _OOM as err:
        raise OutOfMemory(f'out of GPU memory in {what}; {fix}.') from err
