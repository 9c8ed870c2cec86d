"""The errors users see: one line naming the culprit and the fix; the exit status says which kind.

The command-line entry points (``gsdd_basicsr/train.py``, ``gsdd_basicsr/test.py``, ``tools/*.py``, the
benchmark) print both kinds as one line ``<prog>: error: <message>`` on stderr, without a traceback
(:func:`gsdd_basicsr.cli.user_errors`):

- **Bad input**, :class:`GSDDError` (a ``ValueError``), exit status 2: options, arguments or data the user
  can fix. ``MissingInputError`` is also a ``FileNotFoundError``, ``OutputExistsError`` a ``FileExistsError``.
  ``train.py`` / ``test.py`` check the options before BasicSR creates anything
  (:mod:`gsdd_basicsr.options_check`), and take back the run's folders for bad input found after the start
  (:func:`gsdd_basicsr.cli.run_folders`), so bad input leaves nothing behind.
- **A run that started and failed**, :class:`RunFailure` (a ``RuntimeError``), exit status 1: a non-finite
  loss, :class:`OutOfMemory` (also a ``MemoryError``), :class:`WriteError` (also an ``OSError``: a full disk,
  no permission). A training or test run keeps its folder and log, and the line names the log.
"""
from contextlib import contextmanager

import torch

# torch >= 2.5 names it torch.OutOfMemoryError; torch.cuda.OutOfMemoryError is the same class
OOM_ERRORS = getattr(torch, 'OutOfMemoryError', torch.cuda.OutOfMemoryError)


class GSDDError(ValueError):
    """Bad input or configuration that the user can fix; the message says how (exit status 2)."""


class MissingInputError(GSDDError, FileNotFoundError):
    """A file or folder the options or arguments name does not exist (or is empty)."""


class OutputExistsError(GSDDError, FileExistsError):
    """An output folder exists and is not empty (or is a file); ``--force`` replaces it."""


class RunFailure(RuntimeError):
    """A run that started and failed (exit status 1); the message says what failed and what to try."""


class WriteError(RunFailure, OSError):
    """An output file could not be written (full disk, permissions); the previous file is intact."""


class OutOfMemory(RunFailure, MemoryError):
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
    except OOM_ERRORS as err:
        raise OutOfMemory(f'out of GPU memory in {what}; {fix}.') from err
