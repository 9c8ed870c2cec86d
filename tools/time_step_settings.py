#!/usr/bin/env python
"""Median wall time of GSDDModel's distillation step under several option settings, in one process.

    python tools/time_step_settings.py -opt options/gsdd_distill_demo_RealESRGANx4plus_IPC100.yml \\
        --setting "gsdd:amp=none gsdd:fuse_classes=false" --setting "gsdd:amp=bf16 gsdd:fuse_classes=true" \\
        [--setting "... deterministic=true"] [--warmup 3 --iters 10] [--device cuda]

Each ``--setting`` is a list of BasicSR ``--force_yml`` entries applied on top of the options file
(plus ``gsdd:init=real``: the initialisation is not timed). The model is built as ``train.py``
builds it, with cuDNN's benchmark mode on as BasicSR's train pipeline sets it; settings with
``deterministic=true`` turn determinism on for the rest of the process, so list them last. Prints
one JSON line per setting (median, min, max step seconds; peak CUDA memory) and a table. For where
the time goes inside a step, use ``tools/profile_distill.py``.
"""
import argparse
import json

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.cli import user_errors
from gsdd_basicsr.profiling import time_setting


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('-opt', required=True, help='a GSDDModel options file')
    parser.add_argument('--setting', action='append', required=True, help='force_yml entries, space-separated')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--device', choices=('auto', 'cpu', 'cuda'), default='auto')
    parser.add_argument('--weights', default=None, help='generator weights (replaces path.pretrain_network_g)')
    args = parser.parse_args(argv)
    rows = []
    with user_errors('time_step_settings'):
        for setting in args.setting:
            rows.append(time_setting(args.opt, setting.split(), args.device, args.warmup, args.iters, args.weights))
            print(json.dumps(rows[-1]), flush=True)
    base = rows[0]['median_s']
    print(f'| setting | step (median of {args.iters}) | vs the first | peak CUDA memory |')
    print('| --- | --- | --- | --- |')
    for r in rows:
        mem = '-' if r['peak_cuda_gib'] is None else f"{r['peak_cuda_gib']:.1f} GiB"
        print(f"| {r['setting']} | {r['median_s']:.3f} s | {r['median_s'] / base:.2f}x | {mem} |")


if __name__ == '__main__':
    main()
