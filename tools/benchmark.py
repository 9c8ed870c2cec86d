#!/usr/bin/env python
"""GSDD against real-data baselines at equal storage budgets (gsdd_basicsr/benchmark.py).

    python tools/benchmark.py --train-root datasets/demo/train --test-root datasets/demo/test \\
        --out results/benchmark_cpu --profile cpu --seeds 2

Profiles: smoke (< 3 min on a 2-core CPU), cpu (< 60 min on 2 cores), paper (GPU-sized).
Writes <out>/benchmark.json, benchmark.md and PNG plots; each finished row is kept in
<out>/rows/, so an interrupted run continues when started again with the same arguments.
A finished report is never overwritten: --resume reuses its rows and rewrites the report
(e.g. with more --seeds), --force deletes <out> and starts over.
"""
import argparse
import os
import shlex
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import gsdd_basicsr  # noqa: E402,F401
from gsdd_basicsr.benchmark import PROFILES, Benchmark  # noqa: E402
from gsdd_basicsr.cli import user_errors  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--train-root', required=True, help='real HR training images (class sub-folders or flat)')
    parser.add_argument('--test-root', required=True, help='folder with HR/ and LR_bicubic/X<scale>/')
    parser.add_argument('--out', required=True, help='output folder, e.g. results/benchmark_cpu')
    parser.add_argument('--profile', default='cpu', choices=sorted(PROFILES))
    parser.add_argument('--scale', type=int, default=4)
    parser.add_argument('--seeds', type=int, default=1, help='seeds 0..N-1 for every trained row')
    parser.add_argument('--device', default='auto', help='auto | cpu | cuda')
    parser.add_argument('--threads', type=int, default=None, help="torch CPU threads (default: the profile's)")
    parser.add_argument('--report-only', action='store_true',
                        help='write the report from the rows finished so far (a partial report), compute nothing')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--resume', action='store_true', help='reuse the rows of a finished report and rewrite it')
    group.add_argument('--force', action='store_true', help='delete --out and start over')
    args = parser.parse_args(argv)
    command = 'python tools/benchmark.py ' + ' '.join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    Benchmark(args.train_root, args.test_root, args.out, profile=args.profile, scale=args.scale, seeds=args.seeds,
              resume=args.resume, force=args.force, device=args.device, command=command, threads=args.threads,
              report_only=args.report_only).run()


if __name__ == '__main__':
    with user_errors('benchmark.py'):
        main()
