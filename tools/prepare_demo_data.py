#!/usr/bin/env python
"""Build the small real demo data set from the photos scikit-image ships (no download).

    python tools/prepare_demo_data.py --out datasets/demo [--lmdb] [--force] [--seed S]

Writes ``train/<class>/*.png`` (+ ``train/meta_info.txt``), ``val|test/HR`` and
``val|test/LR_bicubic/X2|X3|X4`` with matching file names, ``sources.json`` and
``README.md`` (origin and licence of every image); with ``--lmdb`` also BasicSR LMDBs.
See :mod:`gsdd_basicsr.sets.demo_data`. Bad input: one line on stderr, exit status 2, nothing written.
"""
import argparse

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.cli import user_errors
from gsdd_basicsr.sets.demo_data import MAX_TILES, TILE_SIZE, prepare_demo_data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='datasets/demo', help='output folder (default: datasets/demo)')
    parser.add_argument('--lmdb', action='store_true', help='also write BasicSR LMDBs')
    parser.add_argument('--force', action='store_true', help='replace a non-empty output folder')
    parser.add_argument('--seed', type=int, default=0, help='seed for choosing training tiles (default 0)')
    parser.add_argument('--tile-size', type=int, default=TILE_SIZE,
                        help=f'training tile size, a multiple of 12 (default {TILE_SIZE})')
    parser.add_argument('--max-tiles', type=int, default=MAX_TILES,
                        help=f'at most this many tiles per training photo (default {MAX_TILES})')
    args = parser.parse_args(argv)
    with user_errors('prepare_demo_data'):
        prepare_demo_data(args.out, lmdb=args.lmdb, force=args.force, seed=args.seed,
                          tile_size=args.tile_size, max_tiles=args.max_tiles)
    return 0


if __name__ == '__main__':
    main()
