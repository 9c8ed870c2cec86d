"""BasicSR's test pipeline with the gsdd-basicsr plugin registered (and :mod:`gsdd_basicsr.pipeline_fixes`).

Usage (from the folder that should hold ``results/``)::

    python gsdd_basicsr/test.py -opt options/gsdd_test_demo_x4.yml
    python -m gsdd_basicsr.test -opt ...

As in ``train.py``: the options are checked before BasicSR creates anything (bad input: one line, exit status 2,
nothing left: what only the data shows takes ``results/<name>/`` back); a test that started and failed keeps
``results/<name>/`` with its log, exits with status 1 and names the log.
"""
import os
import sys

if __package__ in (None, ''):
    # run as a script: import the package from the repository, not this folder's siblings
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import gsdd_basicsr  # noqa: E402,F401  (global fixes + registration)
from basicsr.test import test_pipeline  # noqa: E402

from gsdd_basicsr.cli import run_pipeline  # noqa: E402


def main():
    run_pipeline('test', test_pipeline)


if __name__ == '__main__':
    main()
