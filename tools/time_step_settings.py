#!/usr/bin/env python
"""Median wall time of GSDDModel's distillation step under several option settings, in one process.

    python tools/time_step_settings.py -opt options/gsdd_distill_demo_RealESRGANx4plus_IPC100.yml \\
        --setting "gsdd:amp=none gsdd:fuse_classes=false" --setting "gsdd:amp=bf16 gsdd:fuse_classes=true" \\
        --setting "gsdd:amp=bf16 gsdd:fuse_classes=true gsdd:channels_last=true gsdd:compile=true" \\
        [--setting "... deterministic=true"] [--warmup 3 --iters 10] [--device cuda] \\
        [--train-root datasets/photo/train --classes 7] [--project-steps 20000] [--json timing.json]

Each ``--setting`` is a list of BasicSR ``--force_yml`` entries applied on top of the options file
(plus ``gsdd:init=real``: the initialisation is not timed). The model is built as ``train.py``
builds it, with cuDNN's benchmark mode on as BasicSR's train pipeline sets it; settings with
``deterministic=true`` turn determinism on for the rest of the process, so list them last. Prints
one JSON line per setting (first step, which holds ``gsdd.compile``'s compile time; median, min, max
step seconds; peak CUDA memory; the projected time of ``--project-steps`` steps) and a table.
``--train-root`` distils another real set; ``--classes K`` regroups its images into K classes
(round-robin symlinks, for a step of that shape, e.g. OST's 7 classes). For where the time goes
inside a step, use ``tools/profile_distill.py``.
"""
import argparse
import json
import os
import tempfile
from os import path as osp

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.profiling.profiler import time_setting
from gsdd_basicsr.cli import user_errors
from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.utils.atomic import atomic_write_json


def regroup_classes(train_root, classes, dst):
    """Symlink every image under ``train_root`` into ``dst/class_<k>/`` (k = 0..classes-1, round-robin
    over the sorted files), so a step has ``classes`` classes whatever the set's own; returns ``dst``."""
    from gsdd_basicsr.utils.image_io import list_images
    files = list_images(train_root)
    if len(files) < classes:
        raise MissingInputError(f'--train-root {train_root} has {len(files)} images, fewer than --classes {classes}')
    for i, rel in enumerate(files):
        folder = osp.join(dst, f'class_{i % classes}')
        os.makedirs(folder, exist_ok=True)
        os.symlink(osp.realpath(osp.join(train_root, rel)), osp.join(folder, f'{i:06d}{osp.splitext(rel)[1]}'))
    return dst


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('-opt', required=True, help='a GSDDModel options file')
    parser.add_argument('--setting', action='append', required=True, help='force_yml entries, space-separated')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--device', choices=('auto', 'cpu', 'cuda'), default='auto')
    parser.add_argument('--weights', default=None, help='generator weights (replaces path.pretrain_network_g)')
    parser.add_argument('--train-root', default=None, help='real training images (replaces datasets.train.real)')
    parser.add_argument('--classes', type=int, default=None, help='regroup --train-root into this many classes')
    parser.add_argument('--project-steps', type=int, default=20000, help='steps of the projected run time')
    parser.add_argument('--json', default=None, help='also write the rows to this JSON file')
    args = parser.parse_args(argv)
    rows = []
    with user_errors('time_step_settings'), tempfile.TemporaryDirectory(prefix='gsdd_classes_') as tmp:
        if args.classes is not None and (args.classes < 1 or not args.train_root):
            raise GSDDError('--classes K needs K >= 1 and --train-root (the images to regroup)')
        extra = []
        if args.train_root:
            if not osp.isdir(args.train_root):
                raise MissingInputError(f'--train-root {args.train_root} is not a folder')
            root = regroup_classes(args.train_root, args.classes, tmp) if args.classes else args.train_root
            extra = [f'datasets:train:real:dataroot_gt={osp.abspath(root)}', 'datasets:train:real:meta_info_file=~',
                     'datasets:train:real:class_mode=folder']
        for setting in args.setting:
            row = time_setting(args.opt, extra + setting.split(), args.device, args.warmup, args.iters, args.weights)
            row.update(setting=setting, classes=args.classes, project_steps=args.project_steps,
                       projected_h=(row['median_s'] * args.project_steps + (row['first_step_s'] or 0)) / 3600)
            rows.append(row)
            print(json.dumps(rows[-1]), flush=True)
        if args.json:
            atomic_write_json({'options': args.opt, 'train_root': args.train_root, 'rows': rows}, args.json, 'timings')
    base = rows[0]['median_s']
    print(f'| setting | step (median of {args.iters}) | vs the first | first step (compile) | '
          f'{args.project_steps} steps | peak CUDA memory |')
    print('| --- | --- | --- | --- | --- | --- |')
    for r in rows:
        mem = '-' if r['peak_cuda_gib'] is None else f"{r['peak_cuda_gib']:.1f} GiB"
        print(f"| {r['setting']} | {r['median_s']:.3f} s | {r['median_s'] / base:.2f}x | {r['first_step_s']:.1f} s "
              f"| {r['projected_h']:.2f} h | {mem} |")


if __name__ == '__main__':
    main()
