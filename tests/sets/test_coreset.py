"""Real-image coresets: candidates, the three selection rules, and the shared exported layout."""
import json
import os
from os import path as osp

import cv2
import numpy as np
import pytest

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.sets.coreset import crop_features, degradation_psnr, full_set, imresize_matrix, select_coreset

P = 16


def _write(path, rgb):
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(path, np.ascontiguousarray(rgb[..., ::-1]))


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    """Two classes, three images (one flat in the root); textures from smooth to noisy."""
    root = tmp_path_factory.mktemp('real')
    rng = np.random.default_rng(0)

    def texture(h, w, sigma):
        img = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        return cv2.GaussianBlur(img, (0, 0), sigma) if sigma else img

    _write(str(root / 'animal' / 'a.png'), texture(48, 64, 0.8))  # 3 x 4 crops
    _write(str(root / 'animal' / 'b.png'), texture(40, 36, 2.5))  # 2 x 2 crops (remainders unused)
    _write(str(root / 'sky' / 'c.png'), texture(32, 48, 0))  # 2 x 3 crops
    _write(str(root / 'flat.png'), texture(16, 16, 6))  # 1 crop, class 'all'
    return str(root)


def _brute_force(source):
    """Every grid crop of every image, and its PSNR against imresize down-then-up, directly."""
    from basicsr.utils.matlab_functions import imresize
    crops = []
    for rel in ['animal/a.png', 'animal/b.png', 'flat.png', 'sky/c.png']:
        img = cv2.imread(osp.join(source, rel))[..., ::-1]
        for y in range(0, img.shape[0] - P + 1, P):
            for x in range(0, img.shape[1] - P + 1, P):
                c = np.ascontiguousarray(img[y:y + P, x:x + P])
                f = c.astype(np.float32) / 255.
                up = imresize(imresize(f, 1 / 4), 4)
                crops.append((c, 10 * np.log10(1 / np.mean((up.astype(np.float64) - f)**2))))
    return crops


def _hr(out):
    names = open(osp.join(out, 'meta_info.txt')).read().split()
    return names, [cv2.imread(osp.join(out, 'HR', n))[..., ::-1] for n in names]


def test_imresize_matrix_is_exact():
    from basicsr.utils.matlab_functions import imresize
    rng = np.random.default_rng(1)
    x = rng.random((24, 24, 3)).astype(np.float32)
    d, u = imresize_matrix(24, 1 / 4), imresize_matrix(6, 4)
    assert d.shape == (6, 24) and u.shape == (24, 6)
    lr = np.einsum('ih,hwc,jw->ijc', d, x, d)
    assert np.allclose(lr, imresize(x, 1 / 4), atol=1e-5)
    assert np.allclose(np.einsum('ih,hwc,jw->ijc', u, lr, u), imresize(imresize(x, 1 / 4), 4), atol=1e-5)


def test_random_is_seeded_and_respects_budget(source, tmp_path):
    a = select_coreset(source, str(tmp_path / 'a'), 'random', 5, P, seed=3)
    b = select_coreset(source, str(tmp_path / 'b'), 'random', 5, P, seed=3)
    c = select_coreset(source, str(tmp_path / 'c'), 'random', 5, P, seed=4)
    assert a['num_candidates'] == 12 + 4 + 6 + 1 and a['num_images'] == 5
    na, ha = _hr(str(tmp_path / 'a'))
    nb, hb = _hr(str(tmp_path / 'b'))
    nc, hc = _hr(str(tmp_path / 'c'))
    assert len(na) == 5 and na == nb and all(np.array_equal(x, y) for x, y in zip(ha, hb))
    assert json.load(open(tmp_path / 'a' / 'coreset.json')) != json.load(open(tmp_path / 'c' / 'coreset.json'))
    assert all(h.shape == (P, P, 3) for h in ha)
    assert all(n.split('_')[0] in ('animal', 'sky', 'all') for n in na)


def test_informative_picks_lowest_psnr_crops(source, tmp_path):
    out = str(tmp_path / 'inf')
    rep = select_coreset(source, out, 'informative', 4, P)
    brute = _brute_force(source)
    order = sorted(range(len(brute)), key=lambda i: brute[i][1])
    names, hr = _hr(out)
    assert len(hr) == 4
    for got, i in zip(hr, order[:4]):  # same crops, in ascending PSNR
        assert np.array_equal(got, brute[i][0])
    record = json.load(open(osp.join(out, 'coreset.json')))
    assert [r['name'] for r in record] == names
    assert [r['psnr_bicubic'] for r in record] == pytest.approx([brute[i][1] for i in order[:4]], abs=1e-3)
    assert rep['method'] == 'informative'
    # batched scores agree with direct imresize for every candidate
    crops = np.stack([c for c, _ in brute])
    assert np.allclose(degradation_psnr(crops, 4), [s for _, s in brute], atol=1e-3)


def test_kcenter_spreads(tmp_path):
    """13 near-identical grey crops and 3 saturated ones: 4 centres cover all four clusters."""
    rng = np.random.default_rng(0)
    img = np.clip(128 + rng.normal(0, 2, (64, 64, 3)), 0, 255).astype(np.uint8)
    colours = {(0, 16): (255, 0, 0), (32, 48): (0, 255, 0), (48, 0): (0, 0, 255)}
    for (y, x), col in colours.items():
        img[y:y + P, x:x + P] = col
    _write(str(tmp_path / 'src' / 'img.png'), img)
    for seed in range(3):
        out = str(tmp_path / f'k{seed}')
        select_coreset(str(tmp_path / 'src'), out, 'kcenter', 4, P, seed=seed)
        _, hr = _hr(out)
        got = {tuple(int(v) for v in h[P // 2, P // 2]) for h in hr}
        assert set(colours.values()) <= got and len(got) == 4
        feats = crop_features(np.stack(hr))
        dists = [np.linalg.norm(feats[i] - feats[j]) for i in range(4) for j in range(i)]
        assert min(dists) > 20  # Lab units: every pair clearly different
    select_coreset(str(tmp_path / 'src'), str(tmp_path / 'again'), 'kcenter', 4, P, seed=0)
    assert json.load(open(tmp_path / 'k0' / 'coreset.json')) == json.load(open(tmp_path / 'again' / 'coreset.json'))


def test_layout_report_and_errors(source, tmp_path):
    from basicsr.utils.matlab_functions import imresize
    out = str(tmp_path / 'set')
    rep = select_coreset(source, out, 'kcenter', 6, P, seed=0, scale=2)
    names, hr = _hr(out)
    assert sorted(os.listdir(out)) == ['HR', 'LR_bicubic', 'coreset.json', 'meta_info.txt', 'preview_grid.png',
                                       'storage_report.json']
    for n, h in zip(names, hr):
        lr = cv2.imread(osp.join(out, 'LR_bicubic', 'X2', n))[..., ::-1]
        expect = np.clip(np.round(imresize(h.astype(np.float32) / 255., 1 / 2) * 255), 0, 255).astype(np.uint8)
        assert np.array_equal(lr, expect)
    assert rep['hr_png_bytes'] == sum(osp.getsize(osp.join(out, 'HR', n)) for n in names)
    assert rep['source']['num_images'] == 4 and rep['source']['num_pixels'] == 48 * 64 + 40 * 36 + 32 * 48 + 256
    assert rep['ratios']['image_count_to_real'] == pytest.approx(6 / 4)
    assert set(rep['notes']) == {k for k in rep if k != 'notes'} | {f'ratios.{k}' for k in rep['ratios']}
    with pytest.raises(ValueError, match='budget 24 is larger than the 23 candidate'):
        select_coreset(source, str(tmp_path / 'x'), 'random', 24, P)
    with pytest.raises(ValueError, match='multiple of scale'):
        select_coreset(source, str(tmp_path / 'x'), 'random', 2, 18)
    with pytest.raises(ValueError, match='overlap'):
        select_coreset(source, osp.join(source, 'out'), 'random', 2, P)
    assert not osp.exists(tmp_path / 'x')


def test_cli(source, tmp_path, capsys, run_tool):
    out = str(tmp_path / 'cli')
    args = ['--source', source, '--out', out, '--method', 'informative', '--budget', '3', '--patch', str(P)]
    assert run_tool('select_coreset', args) == 0
    assert len(os.listdir(osp.join(out, 'HR'))) == 3
    assert run_tool('select_coreset', args) == 2  # non-empty out
    assert run_tool('select_coreset', args + ['--force', '--budget', '99']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and 'not empty' in err[0] and 'budget 99' in err[1]
    assert len(os.listdir(osp.join(out, 'HR'))) == 3  # untouched by the failed runs
    assert run_tool('select_coreset', args + ['--force', '--method', 'random', '--budget', '2']) == 0
    assert len(os.listdir(osp.join(out, 'HR'))) == 2


@pytest.fixture(scope='module')
def classes(tmp_path_factory):
    """Three classes of very different sizes (36, 6 and 2 candidate crops): a global pick is unbalanced."""
    root = tmp_path_factory.mktemp('classes')
    rng = np.random.default_rng(1)
    for rel, (h, w), sigma in (('plant/a.png', (96, 96), 0), ('water/b.png', (32, 48), 1), ('rock/c.png', (16, 32), 3)):
        img = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        _write(str(root / rel), cv2.GaussianBlur(img, (0, 0), sigma) if sigma else img)
    return str(root)


@pytest.mark.parametrize('method', ['random', 'informative', 'kcenter'])
def test_per_class_is_the_default_with_class_folders(classes, tmp_path, method):
    rep = select_coreset(classes, str(tmp_path / 'pc'), method, 2, P, seed=0)
    assert rep['per_class'] and rep['budget_unit'] == 'crops per class' and rep['num_images'] == 6
    assert rep['images_per_class'] == {'plant': 2, 'rock': 2, 'water': 2}
    record = json.load(open(tmp_path / 'pc' / 'coreset.json'))
    assert [r['class'] for r in record] == ['plant'] * 2 + ['rock'] * 2 + ['water'] * 2
    if method == 'informative':  # within each class, its lowest-PSNR crops
        brute = {}
        for r in record:
            brute.setdefault(r['class'], []).append(r['psnr_bicubic'])
        assert all(v == sorted(v) for v in brute.values())
    # --no-per-class: the same rule over all 44 candidates (the large, noisy class takes most or all)
    glob = select_coreset(classes, str(tmp_path / 'g'), method, 6, P, seed=0, per_class=False)
    assert not glob['per_class'] and glob['num_images'] == 6 and glob['budget_unit'] == 'crops in all'
    assert glob['images_per_class'] != rep['images_per_class']


def test_per_class_budget_larger_than_a_class(classes, tmp_path, run_tool, capsys):
    with pytest.raises(ValueError, match="2 candidate crops.*class 'rock'.*--no-per-class"):
        select_coreset(classes, str(tmp_path / 'x'), 'random', 3, P)
    args = ['--source', classes, '--out', str(tmp_path / 'cli'), '--method', 'kcenter', '--budget', '3', '--patch',
            str(P)]
    assert run_tool('select_coreset', args) == 2 and 'rock' in capsys.readouterr().err
    assert run_tool('select_coreset', args + ['--no-per-class']) == 0
    assert json.load(open(tmp_path / 'cli' / 'storage_report.json'))['num_images'] == 3
    assert not osp.exists(tmp_path / 'x')


def test_full_set_writes_every_image_whole_and_the_cli_names_its_arguments(source, tmp_path, run_tool, capsys):
    """--method full: the full set by hand, in a coreset's layout (what the benchmark's full row trains on)."""
    rep = full_set(source, str(tmp_path / 'full'), scale=4)
    assert rep['kind'] == 'full_real_set' and rep['num_images'] == 4
    assert rep['images_per_class'] == {'all': 1, 'animal': 2, 'sky': 1}
    names, hrs = _hr(str(tmp_path / 'full'))
    assert names == ['00000_animal_a.png', '00001_animal_b.png', '00002_flat.png', '00003_sky_c.png']
    whole = [cv2.imread(osp.join(source, r))[..., ::-1] for r in ('animal/a.png', 'animal/b.png', 'flat.png', 'sky/c.png')]
    for hr, img in zip(hrs, whole):  # whole images, cropped at the bottom and right to a multiple of 4
        h, w = img.shape[0] // 4 * 4, img.shape[1] // 4 * 4
        assert np.array_equal(hr, img[:h, :w])
    for hr, n in zip(hrs, names):
        lr = cv2.imread(osp.join(tmp_path, 'full', 'LR_bicubic', 'X4', n))
        assert lr.shape[:2] == (hr.shape[0] // 4, hr.shape[1] // 4)

    out = str(tmp_path / 'cli')
    assert run_tool('select_coreset', ['--source', source, '--out', out, '--method', 'full']) == 0
    assert 'full set written' in capsys.readouterr().out and len(os.listdir(osp.join(out, 'HR'))) == 4
    for bad, says in ((['--method', 'full', '--budget', '3'], 'drop --budget'),
                      (['--method', 'kcenter', '--patch', str(P)], 'needs --budget N')):
        assert run_tool('select_coreset', ['--source', source, '--out', str(tmp_path / 'bad')] + bad) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0]
    assert not osp.exists(tmp_path / 'bad')
    with pytest.raises(ValueError, match='does not exist'):
        full_set(str(tmp_path / 'nowhere'), str(tmp_path / 'x'))
