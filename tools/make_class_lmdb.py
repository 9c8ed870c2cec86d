#!/usr/bin/env python
"""Write a class-labelled BasicSR LMDB (keys ``<class>/<name>``) from a folder of class folders.

    python tools/make_class_lmdb.py --source datasets/mine --out datasets/mine.lmdb [--tile-size 192] [--force]

ClassImageDataset reads it with ``dataroot_gt: datasets/mine.lmdb``, ``io_backend: {type: lmdb}``,
``class_mode: folder``. See :mod:`gsdd_basicsr.sets.class_lmdb`. Bad input: one line on stderr, exit
status 2, nothing written.
"""
import argparse

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.cli import user_errors
from gsdd_basicsr.sets.class_lmdb import make_class_lmdb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--source', required=True, help='folder of class folders: SOURCE/<class>/**/*.png|jpg|...')
    parser.add_argument('--out', required=True, help='the LMDB folder to write (ends with .lmdb)')
    parser.add_argument('--tile-size', type=int, help='cut every image into non-overlapping tiles of this many px '
                        '(default: whole images)')
    parser.add_argument('--force', action='store_true', help='replace an existing output')
    args = parser.parse_args(argv)
    with user_errors('make_class_lmdb'):
        make_class_lmdb(args.source, args.out, tile_size=args.tile_size, force=args.force)
    return 0


if __name__ == '__main__':
    main()
