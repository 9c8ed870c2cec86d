"""BasicSR's test pipeline with the gsdd-basicsr plugin registered (and :mod:`gsdd_basicsr.pipeline_fixes`).

Usage (from the folder that should hold ``experiments/`` and ``tb_logger/``)::

    python gsdd_basicsr/test.py -opt options/gsdd_test_demo_x4.yml
    python -m gsdd_basicsr.test -opt ...
"""
import os
import sys

if __package__ in (None, ''):
    # run as a script: import the package from the repository, not this folder's siblings
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import gsdd_basicsr  # noqa: E402,F401  (global fixes + registration)
from basicsr.test import test_pipeline  # noqa: E402

from gsdd_basicsr.cli import user_errors  # noqa: E402
from gsdd_basicsr.pipeline_fixes import pipeline_fixes  # noqa: E402


def main():
    with user_errors('test.py'), pipeline_fixes():
        test_pipeline(os.getcwd())


if __name__ == '__main__':
    main()
