#!/usr/bin/env python
"""The end-to-end demo, offline, on a CPU: real data -> GSDD bank -> SR training -> comparison.

    python tools/run_demo.py [--fresh]

Builds ``datasets/demo``, converts the compact Real-ESRGAN generator, distils, exports, picks a
random coreset of the same size, trains and tests the same EDSR on both and prints one table;
logs and ``summary.json`` go to ``results/demo_x4/``. Each step is skipped when its output is
complete (an interrupted distillation continues). See :mod:`gsdd_basicsr.benchmark.demo`.
"""
import argparse
import os

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.cli import user_errors
from gsdd_basicsr.benchmark.demo import run_demo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository: options/, datasets/


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--fresh', action='store_true', help='remove the previous demo outputs first')
    args = parser.parse_args(argv)
    with user_errors('run_demo.py'):
        run_demo(ROOT, fresh=args.fresh)
    return 0


if __name__ == '__main__':
    main()
