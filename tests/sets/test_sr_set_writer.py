"""gsdd_basicsr.sets.sr_set_writer.write_sr_set: the one prepare sequence of the demo and photo sets."""
import json
import os

import numpy as np
import pytest

from gsdd_basicsr.errors import GSDDError
from gsdd_basicsr.utils.image_io import lr_from_hr, read_rgb
from gsdd_basicsr.sets.sr_set_writer import image_counts, lr_label, tile_total, write_sr_set

TILE = 24


def _img(h, w, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _sources(train_classes=('a', 'a', 'b')):
    """Three training photos (2 x 3 tiles each), one val and one test photo (HR cropped to 36 x 48)."""
    specs = [(f't{i}', 'train', c, (48, 72)) for i, c in enumerate(train_classes)]
    specs += [('v0', 'val', None, (40, 50)), ('e0', 'test', None, (37, 49))]
    return [dict(record=dict(name=name, split=split, **{'class': cls}),
                 load=lambda hw=hw, k=k: (_img(*hw, seed=k), dict(size=list(hw))))
            for k, (name, split, cls, hw) in enumerate(specs)]


def _write(out, sources, after_source=lambda records: None, **kw):
    seen = {}

    def describe(records, train_rels):
        seen['train_rels'] = train_rels
        return dict(counts=image_counts(records), photos=records)

    info = write_sr_set(str(out), sources, describe, lambda info: f'{len(info["photos"])} photos\n', after_source,
                        print, TILE, max_tiles=kw.pop('max_tiles', None), **kw)
    return info, seen


def test_writes_the_layout_and_describes_it(tmp_path):
    out = tmp_path / 'set'
    calls = []
    info, seen = _write(out, _sources(), after_source=lambda records: calls.append([r['name'] for r in records]),
                        lmdb=True)
    assert calls == [['t0'], ['t0', 't1'], ['t0', 't1', 't2'], ['t0', 't1', 't2', 'v0'],
                     ['t0', 't1', 't2', 'v0', 'e0']]
    assert sorted(os.listdir(out)) == ['README.md', 'sources.json', 'test', 'train', 'train.lmdb', 'val']
    assert info['counts'] == dict(train={'a': 12, 'b': 6}, val=1, test=1) and tile_total(info['counts']) == 18
    listed = (out / 'train' / 'meta_info.txt').read_text().split()
    assert listed == seen['train_rels'] and len(listed) == 18 and listed[0] == 'a/t0_r0c0.png'
    for r in info['photos']:
        assert r['size'] and all((out / im['path']).is_file() for im in r['images'])
    hr = read_rgb(str(out / 'test' / 'HR' / 'e0.png'))
    assert hr.shape == (36, 48, 3)
    np.testing.assert_array_equal(read_rgb(str(out / 'test' / 'LR_bicubic' / 'X3' / 'e0.png')), lr_from_hr(hr, 3))
    assert (out / 'val' / 'HR.lmdb' / 'meta_info.txt').is_file() and (out / 'val' / 'LR_bicubic' / 'X4.lmdb').is_dir()
    written = json.loads((out / 'sources.json').read_text())
    assert written == {k: v for k, v in info.items() if k != 'total_bytes'}
    assert (out / 'README.md').read_text() == '5 photos\n'
    assert info['total_bytes'] > 0


def test_flat_training_set_and_tile_cap(tmp_path):
    info, seen = _write(tmp_path / 'set', _sources(train_classes=(None, None)), max_tiles=2, seed=3)
    assert info['counts'] == dict(train=4, val=1, test=1) and tile_total(info['counts']) == 4
    assert all('/' not in p for p in seen['train_rels'])


def test_an_error_leaves_nothing(tmp_path):
    def refuse(records):
        if len(records) == 4:
            raise GSDDError('refused')

    with pytest.raises(GSDDError, match='refused'):
        _write(tmp_path / 'set', _sources(), after_source=refuse)
    assert os.listdir(tmp_path) == []


def test_same_image_in_two_splits_is_refused(tmp_path):
    sources = _sources()
    sources[-1]['load'] = sources[-2]['load']  # the test photo is the val photo
    with pytest.raises(AssertionError, match='two splits'):
        _write(tmp_path / 'set', sources)
    assert os.listdir(tmp_path) == []


def test_lr_label():
    assert lr_label((2, 3, 4)) == 'LR_bicubic X2/X3/X4' and lr_label([4]) == 'LR_bicubic X4'
