"""BasicSR's training pipeline with the gsdd-basicsr plugin registered.

Usage (from the folder that should hold ``experiments/`` and ``tb_logger/``)::

    python gsdd_basicsr/train.py -opt options/gsdd_distill_demo_x4.yml [--auto_resume]
    python -m gsdd_basicsr.train -opt ...
    torchrun --nproc_per_node=2 gsdd_basicsr/train.py -opt ... --launcher pytorch
"""
import os
import sys

if __package__ in (None, ''):
    # run as a script: import the package from the repository, not this folder's siblings
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import gsdd_basicsr  # noqa: E402,F401  (compat fixes + registration)
from basicsr.train import train_pipeline  # noqa: E402


def main():
    train_pipeline(os.getcwd())


if __name__ == '__main__':
    main()
