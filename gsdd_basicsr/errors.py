"""The errors users see for bad input: one message naming the culprit and the fix.

The command-line entry points (``gsdd_basicsr/train.py``, ``tools/*.py``) print a
``GSDDError`` as one line on stderr and exit with status 2, without a traceback.
``GSDDError`` is a ``ValueError``; ``MissingInputError`` is also a ``FileNotFoundError``.
"""


class GSDDError(ValueError):
    """Bad input or configuration that the user can fix; the message says how."""


class MissingInputError(GSDDError, FileNotFoundError):
    """A file or folder the options or arguments name does not exist (or is empty)."""


class WriteError(GSDDError, OSError):
    """An output file could not be written (full disk, permissions); the previous file is intact."""
