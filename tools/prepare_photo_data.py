#!/usr/bin/env python
"""Build a real-photo SR data set (train tiles, val/test HR + LR_bicubic) from a folder of photos.

    python tools/prepare_photo_data.py --split options/photo_split.yml --out datasets/photo
    python tools/prepare_photo_data.py --photos my_photos --out datasets/mine      # my_photos/train|val|test

With ``--split`` the YAML file names each photo's path, split, class, source and licence; without
it the photo folder's ``train/[<class>/]``, ``val/``, ``test/`` sub-folders are the split (links followed;
``val/`` and ``test/`` may be absent, the set is then written without them). See
:mod:`gsdd_basicsr.sets.photo_data`. Bad input: one line on stderr, exit status 2, nothing written.
"""
import argparse

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.cli import user_errors
from gsdd_basicsr.sets.photo_data import MAX_SIDE, TILE_SIZE, parse_roots, prepare_photo_data



def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--split', help='YAML split file (photos: path, root, name, split, class, source, licence)')
    parser.add_argument('--photos', help='folder of photos (the split file\'s root `photos`; without --split its '
                        'train/[<class>/], val/, test/ sub-folders are the split; val/ and test/ optional)')
    parser.add_argument('--root', action='append', default=[], metavar='NAME=DIR',
                        help='folder of a root the split file names (overrides its `roots:`); repeatable')
    parser.add_argument('--out', default='datasets/photo', help='output folder (default: datasets/photo)')
    parser.add_argument('--tile', type=int, default=TILE_SIZE,
                        help=f'training tile size in px, a multiple of 12 (default {TILE_SIZE})')
    parser.add_argument('--max-tiles', type=int, help='at most this many tiles per training photo (default: all)')
    parser.add_argument('--max-side', type=int, default=MAX_SIDE,
                        help=f'first downscale (MATLAB bicubic) photos to this longer side, 0: never '
                        f'(default {MAX_SIDE})')
    parser.add_argument('--eval-max-side', type=int,
                        help='the same for the val / test photos (default: --max-side)')
    parser.add_argument('--seed', type=int, default=0, help='seed for the tiles --max-tiles keeps (default 0)')
    parser.add_argument('--lmdb', action='store_true', help='also write BasicSR LMDBs')
    parser.add_argument('--force', action='store_true', help='replace a non-empty output folder')
    args = parser.parse_args(argv)
    with user_errors('prepare_photo_data'):
        prepare_photo_data(args.out, split_file=args.split, photos_dir=args.photos, roots=parse_roots(args.root),
                           tile_size=args.tile, max_tiles=args.max_tiles, max_side=args.max_side,
                           eval_max_side=args.eval_max_side, seed=args.seed, lmdb=args.lmdb, force=args.force)
    return 0


if __name__ == '__main__':
    main()
