"""A summary of a built real-photo set: docs/datasets.md, "A real-photo data set". Reads the folder's
``sources.json`` (written by tools/prepare_photo_data.py) for the tile counts and photos, and sums the bytes
of its files.

    python docs/records/photo_set.py [--root datasets/photo]     # -> docs/records/photo_set.json
"""
import argparse
import json
import os
import sys

from record import save


def summarise(root):
    """{'train_tiles', 'tiles_per_class', 'train_photos_per_class', 'val_photos', 'test_photos', 'test_sizes',
    'files', 'bytes', 'MB'} of a photo set folder (MB = 1e6 bytes)."""
    with open(os.path.join(root, 'sources.json'), encoding='utf-8') as f:
        src = json.load(f)
    counts = src['counts']
    photos = {}
    for p in src['photos']:
        if p['split'] == 'train':
            photos[p['class']] = photos.get(p['class'], 0) + 1
    sizes = [os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(root) for n in names]
    return {'split_file': os.path.basename(src['split_file']), 'tile_size': src['tile_size'],
            'train_tiles': sum(counts['train'].values()), 'tiles_per_class': counts['train'],
            'train_photos_per_class': dict(sorted(photos.items())), 'val_photos': counts['val'],
            'test_photos': counts['test'],
            'test_sizes': sorted('x'.join(map(str, p['size'])) for p in src['photos'] if p['split'] == 'test'),
            'files': len(sizes), 'bytes': sum(sizes), 'MB': round(sum(sizes) / 1e6, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--root', default='datasets/photo', help='the built set (default: datasets/photo)')
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(args.root, 'sources.json')):
        sys.exit(f'photo_set.py: error: {args.root}/sources.json does not exist; build the set with '
                 'tools/prepare_photo_data.py or pass --root')
    save('photo_set', summarise(args.root))


if __name__ == '__main__':
    main()
