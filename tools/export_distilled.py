#!/usr/bin/env python
"""Export a GSDD latent bank as a BasicSR image set (HR, LR_bicubic/X<s>, meta_info, LMDBs).

    python tools/export_distilled.py --latents experiments/<name>/models/latents_latest.pth \\
        --out datasets/gsdd_export [--weights G.pth] [--lmdb] [--source REAL_TRAIN_DIR] [--force]

See :mod:`gsdd_basicsr.sets.export` for the layout and how BasicSR's datasets read it. Bad input:
one line on stderr, exit status 2, nothing written.
"""
import argparse
import json
import os

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.cli import user_errors
from gsdd_basicsr.sets.export import export_distilled


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--latents', required=True, help='latent bank (latents_<iter>.pth)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--weights', default=None,
                        help="generator weights (default: the bank's pretrain_network_g)")
    parser.add_argument('--param-key', default=None, help='state-dict key (default params_ema, then params)')
    parser.add_argument('--lmdb', action='store_true', help='also write HR.lmdb and LR_bicubic/X<s>.lmdb')
    parser.add_argument('--source', default=None, help='real training set to compare storage with')
    parser.add_argument('--force', action='store_true', help='replace a non-empty output folder')
    parser.add_argument('--device', default='auto', help='auto | cpu | cuda (default auto)')
    parser.add_argument('--batch-size', type=int, default=16, help='latents per forward pass (default 16)')
    args = parser.parse_args(argv)
    with user_errors('export_distilled'):
        report = export_distilled(args.latents, args.out, weights=args.weights, lmdb=args.lmdb, source=args.source,
                                  force=args.force, device=args.device, batch_size=args.batch_size,
                                  param_key=args.param_key)
    summary = {k: report[k] for k in ('num_images', 'latent_bank_bytes', 'hr_png_bytes', 'lr_png_bytes')}
    if 'ratios' in report:
        summary['ratios'] = report['ratios']
    print(f'exported to {os.path.abspath(args.out)}: {json.dumps(summary)}')
    return 0


if __name__ == '__main__':
    main()
