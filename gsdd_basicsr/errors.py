"""The errors users see for bad input: one message naming the culprit and the fix.

The command-line entry points (``gsdd_basicsr/train.py``, ``tools/*.py``) print a
``GSDDError`` as one line on stderr and exit with status 2, without a traceback.
``GSDDError`` is a ``ValueError``; ``MissingInputError`` is also a ``FileNotFoundError``,
``OutputExistsError`` a ``FileExistsError``.
"""


class GSDDError(ValueError):
    """Bad input or configuration that the user can fix; the message says how."""


class MissingInputError(GSDDError, FileNotFoundError):
    """A file or folder the options or arguments name does not exist (or is empty)."""


class OutputExistsError(GSDDError, FileExistsError):
    """An output folder exists and is not empty (or is a file); ``--force`` replaces it."""


class WriteError(GSDDError, OSError):
    """An output file could not be written (full disk, permissions); the previous file is intact."""
