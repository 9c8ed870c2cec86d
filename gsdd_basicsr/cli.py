"""What every command-line entry point shares: bad input -> one line on stderr, exit 2."""
import contextlib
import sys

from gsdd_basicsr.errors import GSDDError


@contextlib.contextmanager
def user_errors(prog, cleanup=None):
    """Turn a ``GSDDError`` raised inside the block into ``<prog>: error: <message>`` and exit 2.

    Args:
        prog (str): the command's name, printed first.
        cleanup (callable | None): called before exiting, e.g. to remove half-written output.
    """
    try:
        yield
    except GSDDError as err:
        if cleanup is not None:
            cleanup()
        print(f'{prog}: error: {err}', file=sys.stderr, flush=True)
        sys.exit(2)
