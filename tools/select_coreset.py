#!/usr/bin/env python
"""Select a real-image coreset (N HR crops, or N per class) and write it like an exported distilled set.

    python tools/select_coreset.py --source datasets/OST --out datasets/coreset_kcenter_ipc100 \\
        --method random|informative|kcenter --budget 100 --patch 128 [--seed 0] [--scale 4] [--lmdb] [--force] \\
        [--per-class | --no-per-class]
    python tools/select_coreset.py --source datasets/OST --out datasets/full_OST --method full   # every image, whole

With class folders (every image in ``SOURCE/<class>/``) ``--budget`` is per class (IPC) and each class's
crops are chosen within it (``--per-class``, the default there); ``--no-per-class`` (the default for a
flat folder) chooses ``--budget`` crops over the whole source.

See :mod:`gsdd_basicsr.sets.coreset` for the candidates and the selection rules. Bad input: one line
on stderr, exit status 2, nothing written.
"""
import argparse
import json
import os

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.cli import user_errors
from gsdd_basicsr.errors import GSDDError
from gsdd_basicsr.sets.coreset import METHODS, full_set, select_coreset


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--source', required=True, help='real HR images (searched recursively; class folders allowed)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--method', required=True, choices=METHODS + ('full',),
                        help='full: the full set (every source image, whole; no --budget or --patch), to train on '
                        'with the same options as a coreset')
    parser.add_argument('--budget', type=int, help='crops per class with --per-class, else crops in all')
    parser.add_argument('--patch', type=int, help='HR crop size (a multiple of --scale)')
    parser.add_argument('--seed', type=int, default=0, help='seed for random / the first k-center (default 0)')
    parser.add_argument('--scale', type=int, default=4, help='SR factor of the LR_bicubic images (default 4)')
    parser.add_argument('--per-class', action=argparse.BooleanOptionalAction, default=None,
                        help='choose --budget crops within each class (default: when every image lies in a class '
                        'folder) or over the whole source (--no-per-class)')
    parser.add_argument('--lmdb', action='store_true', help='also write BasicSR LMDBs')
    parser.add_argument('--force', action='store_true', help='replace a non-empty output folder')
    args = parser.parse_args(argv)
    with user_errors('select_coreset'):
        if args.method == 'full':
            if args.budget is not None or args.patch is not None or args.per_class is not None:
                raise GSDDError('--method full writes every source image whole; drop --budget, --patch and '
                                '--per-class')
            report = full_set(args.source, args.out, scale=args.scale, force=args.force, lmdb=args.lmdb)
            print(f'full set written to {os.path.abspath(args.out)}: {report["num_images"]} images, '
                  f'{report["hr_png_bytes"]} HR PNG bytes')
            return 0
        if args.budget is None or args.patch is None:
            raise GSDDError(f'--method {args.method} needs --budget N (crops per class) and --patch P (px), e.g. '
                            '--budget 10 --patch 128')
        report = select_coreset(args.source, args.out, args.method, args.budget, args.patch, seed=args.seed,
                                scale=args.scale, force=args.force, lmdb=args.lmdb, per_class=args.per_class)
    summary = {k: report[k] for k in ('num_images', 'budget_unit', 'images_per_class', 'num_candidates', 'hr_png_bytes',
                                      'lr_png_bytes')}
    summary['ratios'] = report.get('ratios')
    print(f'coreset written to {os.path.abspath(args.out)}: {json.dumps(summary)}')
    return 0


if __name__ == '__main__':
    main()
