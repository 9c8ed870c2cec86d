"""Profile GSDDModel's distillation step: time per profiler region, the step / bare-compute ratio,
data waiting and peak memory (a benchmark, not a test; see :mod:`gsdd_basicsr.profiling.profiler`).

Usage::

    python tools/profile_distill.py -opt options/gsdd_distill_demo_x4.yml [--iters 5] [--warmup 2]
        [--weights PATH] [--device auto|cpu|cuda] [--json OUT] [--scale-data K [K ...]]
        [--force_yml gsdd:ipc=10 gsdd:prefetch=false ...]

Nothing in the repository or in ``experiments/`` is written. Bad options or input: one line on
stderr, exit status 2.
"""
import argparse

from gsdd_basicsr.profiling import profiler, table
from gsdd_basicsr.cli import user_errors
from gsdd_basicsr.utils.atomic import atomic_write_json

PROG = 'profile_distill.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description='Profile the GSDD distillation step.')
    parser.add_argument('-opt', required=True, help='a GSDDModel options file')
    parser.add_argument('--iters', type=int, default=5, help='plain timed steps, and as many profiled ones')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps first')
    parser.add_argument('--weights', default=None, help='generator weights (replaces path.pretrain_network_g)')
    parser.add_argument('--device', choices=('auto', 'cpu', 'cuda'), default='auto')
    parser.add_argument('--json', default=None, help='also write the report as JSON here')
    parser.add_argument('--scale-data', type=int, nargs='+', default=None, metavar='K',
                        help='memory check: peak RSS on K-times copies of the train set (and K=1), cache off')
    parser.add_argument('--force_yml', nargs='+', default=None, help="BasicSR's option overrides, e.g. gsdd:ipc=10")
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0:
        parser.error('--iters must be >= 1 and --warmup >= 0.')
    if args.scale_data and min(args.scale_data) < 1:
        parser.error('--scale-data values must be >= 1.')
    return args


def main(argv=None):
    args = parse_args(argv)
    settings = dict(iters=args.iters, warmup=args.warmup, force_yml=args.force_yml, weights=args.weights,
                    device=args.device)
    with user_errors(PROG):
        report = profiler.profile_options(args.opt, **settings)
        if args.scale_data:
            report['scale_data'] = profiler.memory_growth(args.opt, args.scale_data, **settings)
        if args.json:
            atomic_write_json(report, args.json, 'report')
        print(table.format_report(report), flush=True)
    return report


if __name__ == '__main__':
    main()
