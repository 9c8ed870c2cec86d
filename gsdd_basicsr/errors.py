"""The error users see for bad input: one message naming the culprit and the fix.

The command-line entry points (``gsdd_basicsr/train.py``, ``tools/*.py``) print a
``GSDDError`` as one line on stderr and exit with status 2, without a traceback.
"""


class GSDDError(Exception):
    """Bad input or configuration that the user can fix; the message says how."""
