#!/usr/bin/env python
"""GSDD against real-data baselines at equal storage budgets, from a checkout: the command line of
``python -m gsdd_basicsr.benchmark`` (gsdd_basicsr/benchmark/command_line.py; --help lists the options).

    python tools/benchmark.py --train-root datasets/demo/train --test-root datasets/demo/test \\
        --out results/benchmark_cpu --profile cpu --seeds 2
"""
from gsdd_basicsr.benchmark.command_line import main

if __name__ == '__main__':
    main(prog='benchmark.py', invocation='python tools/benchmark.py')
