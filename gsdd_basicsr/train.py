"""BasicSR's training pipeline with the gsdd-basicsr plugin registered.

Usage (from the folder that should hold ``experiments/`` and ``tb_logger/``)::

    python gsdd_basicsr/train.py -opt options/gsdd_distill_demo_x4.yml [--auto_resume]
    python -m gsdd_basicsr.train -opt ...
    torchrun --nproc_per_node=2 gsdd_basicsr/train.py -opt ... --launcher pytorch

The options are checked before BasicSR creates anything (:mod:`gsdd_basicsr.options_check`): bad input is one
line, exit status 2, nothing created; bad input that only reading the data or building the networks shows also
exits 2, and the folders BasicSR had created for the run are taken back (:func:`gsdd_basicsr.cli.run_folders`).
A run that started and failed (a non-finite loss, out of memory, a full disk, a bug) keeps
``experiments/<name>/`` with its log and exits with status 1; its last line names the log
(:mod:`gsdd_basicsr.cli`). The run gets :mod:`gsdd_basicsr.pipeline_fixes` (safe resume, CPU DDP, atomic
checkpoints, ``--force_yml`` seeds, ``--force_yml datasets:val=~``).
"""
import os
import sys

if __package__ in (None, ''):
    # run as a script: import the package from the repository, not this folder's siblings
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import gsdd_basicsr  # noqa: E402,F401  (global fixes + registration)
from basicsr.train import train_pipeline  # noqa: E402

from gsdd_basicsr.cli import run_pipeline  # noqa: E402


def main():
    run_pipeline('train', train_pipeline)


if __name__ == '__main__':
    main()
