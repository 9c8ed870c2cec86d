"""The benchmark's command line: ``python -m gsdd_basicsr.benchmark`` (installed) or ``python tools/benchmark.py``.

    python -m gsdd_basicsr.benchmark --train-root datasets/demo/train --test-root datasets/demo/test \\
        --out results/benchmark_cpu --profile cpu --seeds 2

--profile: a shipped profile (smoke: < 3 min on a 2-core CPU; cpu: < 60 min; your_data: docs/your_data.md's table
on a CPU, with options/benchmark/overrides/your_data_quick.yml for a rehearsal; paper, photo_gpu: GPU-sized; the
files in options/benchmark/, shipped with the package) or the path of your own profile file of that form;
--override merges a YAML of settings onto it (options/benchmark/overrides/photo_gpu_smoke.yml rehearses
photo_gpu on a CPU). Relative paths in profiles are tried against the current folder, then the shipped
options' root; relative weights paths in options (experiments/pretrained_models/...) are the current folder's.
Every SR row runs gsdd_basicsr.train / gsdd_basicsr.test, each a process started in <out>/rows/<row>/ on the
row's resolved options ({train,test}_options.yml there); their iterations and ETA print as progress lines
(every 30 s, GSDD_PROGRESS_SECONDS). Where the rows run: --jobs rows side by side on a CPU; on CUDA every
visible GPU runs --rows-per-gpu rows at a time (the distillations first); --engine slurm makes each
distillation and each row one Slurm job (submitit; --engine-option slurm_partition=gpu ...; docs/scale.md).
--val-root DIR (val photos, the --test-root layout) also tests every row there: the report's instrument check
(does the full set beat the best coreset on val, per budget?); added to a finished benchmark with --resume it
runs only those tests. Writes <out>/benchmark.json, benchmark.md and plots; each finished row is kept, so an
interrupted run (or a failed or killed job) continues when started again with the same arguments. A finished
report is never overwritten: --resume reuses its rows and rewrites the report (e.g. with more --seeds), --force
deletes <out> and starts over.
"""
import argparse
import shlex
import sys

import yaml

import gsdd_basicsr  # noqa: F401  (compat fixes + registration)
from gsdd_basicsr.benchmark.engines import ENGINES
from gsdd_basicsr.benchmark.profiles import builtin_profiles
from gsdd_basicsr.benchmark.runner import Benchmark, RowsFailed
from gsdd_basicsr.cli import user_errors
from gsdd_basicsr.errors import GSDDError


def main(argv=None, prog='gsdd_basicsr.benchmark', invocation='python -m gsdd_basicsr.benchmark'):
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the benchmark; bad input exits 2 with one line
    ``<prog>: error: ...``. ``invocation`` starts the command recorded in ``config.json``."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--train-root', required=True, help='real HR training images (class sub-folders or flat)')
    parser.add_argument('--test-root', required=True, help='folder with HR/ and LR_bicubic/X<scale>/')
    parser.add_argument('--val-root', default=None,
                        help='val photos in the --test-root layout (never the test photos): every row is also tested '
                             'there, and the report\'s instrument check says per budget whether the full set beats '
                             'the best coreset; added to a finished benchmark (--resume) it runs only those tests')
    parser.add_argument('--out', required=True, help='output folder, e.g. results/benchmark_cpu')
    parser.add_argument('--profile', default='cpu',
                        help=f'a shipped profile ({", ".join(builtin_profiles())}) or a profile YAML file')
    parser.add_argument('--override', default=None,
                        help='a YAML of profile settings merged onto the profile (e.g. '
                             'options/benchmark/overrides/photo_gpu_smoke.yml: photo_gpu at smoke size on a CPU)')
    parser.add_argument('--seeds', type=int, default=1, help='seeds 0..N-1 for every trained row')
    parser.add_argument('--device', default='auto', help='auto | cpu | cuda')
    parser.add_argument('--threads', type=int, default=None, help="torch CPU threads per run (default: the profile's)")
    parser.add_argument('--jobs', type=int, default=1,
                        help='rows run side by side: on a CPU (e.g. 2 with --threads 1); on CUDA spread over the GPUs')
    parser.add_argument('--rows-per-gpu', type=int, default=1,
                        help='on CUDA: rows one GPU runs at a time (every visible GPU runs rows; torch threads '
                             'default to cores / running rows)')
    parser.add_argument('--engine', default='local', choices=ENGINES,
                        help='local: this machine; slurm: one Slurm job per distillation and per row (submitit)')
    parser.add_argument('--engine-option', action='append', default=[], metavar='KEY=VALUE',
                        help="a cluster engine parameter (submitit's), repeatable: slurm_partition=gpu, "
                             'timeout_min=720, slurm_account=lab')
    parser.add_argument('--report-only', action='store_true',
                        help='write the report from the rows finished so far (a partial report), compute nothing')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--resume', action='store_true', help='reuse the rows of a finished report and rewrite it')
    group.add_argument('--force', action='store_true', help='delete --out and start over')
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    command = f'{invocation} ' + ' '.join(shlex.quote(a) for a in argv)
    try:
        with user_errors(prog):
            Benchmark(args.train_root, args.test_root, args.out, profile=args.profile, seeds=args.seeds,
                      resume=args.resume, force=args.force, device=args.device, command=command,
                      threads=args.threads, report_only=args.report_only, jobs=args.jobs, override=args.override,
                      rows_per_gpu=args.rows_per_gpu, engine=args.engine,
                      engine_options=engine_options(args.engine_option), val_root=args.val_root).run()
    except RowsFailed as err:  # jobs that started and failed: not bad input; the next call reruns their rows
        print(f'{prog}: {err}', file=sys.stderr, flush=True)
        sys.exit(1)


def engine_options(entries):
    """``['key=value', ...]`` -> ``{key: YAML value}`` (numbers and booleans typed as in an options file)."""
    out = {}
    for entry in entries:
        key, sep, value = entry.partition('=')
        if not sep or not key:
            raise GSDDError(f'--engine-option {entry} is not KEY=VALUE (e.g. slurm_partition=gpu)')
        out[key.strip()] = yaml.safe_load(value)
    return out
