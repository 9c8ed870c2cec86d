"""gsdd_basicsr.profiling.profiler (with step_regions), tools/profile_distill.py and tools/time_step_settings.py:
a tiny model profiled and timed for 2 steps on the CPU."""
import contextlib
import importlib.util
import io
import json
import math
import os
from types import SimpleNamespace

import pytest
import torch
from torch.autograd import DeviceType
from torch.autograd.profiler_util import Interval, Kernel

from gsdd_basicsr.profiling import profiler
from helpers import ROOT



def _load_tool():
    spec = importlib.util.spec_from_file_location('_tool_profile_distill', os.path.join(ROOT, 'tools',
                                                                                       'profile_distill.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


@pytest.fixture(scope='module')
def cli_run(tiny):
    """The CLI on the tiny options (2 profiled steps): its report, stdout and JSON file."""
    out, json_path = io.StringIO(), tiny / 'out' / 'report.json'
    with contextlib.redirect_stdout(out):
        report = _load_tool().main(['-opt', str(tiny / 'tiny.yml'), '--weights', str(tiny / 'g.pth'), '--iters', '2',
                                    '--warmup', '1', '--device', 'cpu', '--json', str(json_path)])
    return report, out.getvalue(), json_path


def _positive(x):
    return isinstance(x, float) and math.isfinite(x) and x > 0


def test_every_region_has_time_and_the_ratio_is_sound(cli_run):
    report = cli_run[0]
    assert report['device'] == 'cpu' and report['config']['images'] == 6 and report['config']['ipc'] == 2
    regions = report['regions']
    assert list(regions) == list(profiler.REGIONS)  # every region, in the step's order
    for name, r in regions.items():  # how often a region runs per step is the model's business
        assert r['calls'] >= 1 and _positive(r['total_s']) and _positive(r['self_s']), name
        assert r['self_s'] <= r['total_s'] + 1e-9, name
    shares = sum(r['share'] for r in regions.values())
    assert 0 < shares <= 1 + 1e-3
    assert report['other_s'] >= -1e-3 * report['profiled_step_s']['mean']
    compute = sum(regions[n]['self_s'] for n in profiler.COMPUTE_REGIONS)
    assert report['bare_compute_s'] == pytest.approx(compute)
    assert math.isfinite(report['ratio']) and report['ratio'] >= 1 - 1e-3
    assert report['ratio'] == pytest.approx(report['profiled_step_s']['mean'] / compute)
    for stats in (report['step_s'], report['profiled_step_s']):
        assert len(stats['all']) == 2 and all(_positive(v) for v in stats['all'])
    assert _positive(report['data']['load_s']) and report['data']['wait_s'] > 0
    assert _positive(report['memory']['peak_rss_mib'])
    assert report['memory']['peak_rss_mib'] >= report['memory']['rss_after_steps_mib'] - 1


def test_cli_prints_the_table_and_writes_json(cli_run):
    report, printed, json_path = cli_run
    assert 'ratio step / bare compute' in printed
    for name in profiler.REGIONS:
        assert f'  {name} ' in printed, name
    with open(json_path) as f:
        saved = json.load(f)
    assert saved['regions'].keys() == report['regions'].keys()
    assert saved['ratio'] == pytest.approx(report['ratio'])
    assert not [n for n in os.listdir(json_path.parent) if n != 'report.json']  # no temporary left


def test_nested_regions_count_once():
    """A region inside another: the outer one's self time excludes it, so self times never overlap."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(2):
            with torch.profiler.record_function('gsdd.outer'):
                x = torch.randn(64, 64)
                with torch.profiler.record_function('gsdd.inner'):
                    for _ in range(5):
                        x = x @ x.clamp(-1, 1)
    regions = profiler.region_times(prof.events(), steps=2)
    outer, inner = regions['gsdd.outer'], regions['gsdd.inner']
    assert outer['calls'] == 1 and inner['calls'] == 1
    assert outer['self_s'] == pytest.approx(outer['total_s'] - inner['total_s'])
    assert 0 < outer['self_s'] < outer['total_s']


def _event(name, start, end, thread=1, kernels=(), children=(), device_type=DeviceType.CPU, annotation=False):
    """A stand-in for torch's FunctionEvent with the fields region_times reads."""
    event = SimpleNamespace(name=name, time_range=Interval(start, end), thread=thread, device_type=device_type,
                            kernels=[Kernel(k, 0, us) for k, us in kernels], cpu_children=list(children),
                            cpu_parent=None, is_user_annotation=annotation)
    for child in children:
        child.cpu_parent = event
    return event


def test_gpu_time_counts_kernels_of_other_threads_and_skips_annotation_spans():
    """On CUDA, backward ops run on autograd's own thread: their kernels count for the region they
    start in; a region's GPU-side annotation span is not a kernel; nested regions are subtracted."""
    loss = _event('gsdd.loss', 30, 40, children=[_event('aten::mse', 31, 39, kernels=[('sum_kernel', 3)])])
    own_op = _event('aten::mm', 10, 20, kernels=[('gemm', 5), ('gsdd.backward', 90)])
    region = _event('gsdd.backward', 0, 100, children=[own_op, loss], annotation=True)
    inside = _event('autograd::ConvolutionBackward0', 50, 60, thread=2, kernels=[('conv_bwd', 7)])
    after = _event('autograd::ConvolutionBackward0', 150, 160, thread=2, kernels=[('conv_bwd', 11)])
    gpu_span = _event('gsdd.backward', 5, 95, device_type=DeviceType.CUDA, annotation=True)
    events = [region, own_op, loss, *loss.cpu_children, inside, after, gpu_span]
    times = profiler.region_times(events, steps=1, cuda=True)
    assert times['gsdd.backward']['device_s'] == pytest.approx(15e-6)  # 5 + 3 + 7
    assert times['gsdd.backward']['self_device_s'] == pytest.approx(12e-6)
    assert times['gsdd.loss']['device_s'] == pytest.approx(3e-6)
    assert times['gsdd.backward']['self_s'] == pytest.approx(90e-6) and times['gsdd.backward']['calls'] == 1


BAD = [
    (lambda tiny: ['-opt', str(tiny / 'nope.yml')], 'options file'),
    (lambda tiny: ['-opt', os.path.join(ROOT, 'options', 'gsdd_train_EDSR_demo_x4.yml')], 'model_type'),
    (lambda tiny: ['-opt', str(tiny / 'tiny.yml'), '--force_yml', 'nosuch:ipc=3'], 'nosuch'),
]


@pytest.mark.parametrize('argv, message', BAD, ids=['missing_options', 'not_gsdd', 'bad_force_yml'])
def test_bad_input_is_one_line_and_exit_2(tiny, tmp_path, argv, message):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        _load_tool().main(argv(tiny) + ['--json', str(tmp_path / 'r.json')])
    assert exc.value.code == 2
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('profile_distill.py: error: ') and message in lines[0], lines
    assert not os.listdir(tmp_path)


def test_scaled_copy_multiplies_the_images_and_turns_cache_off(tiny, tmp_path):
    train = {'dataroot_gt': str(tiny / 'train'), 'io_backend': {'type': 'disk'}, 'cache': True}
    assert profiler.make_scaled_copy(train, 3, str(tmp_path / 'x3')) == 18
    assert train['cache'] is False and train['dataroot_gt'] == str(tmp_path / 'x3')
    assert sorted(os.listdir(tmp_path / 'x3')) == ['ant', 'bee']
    assert len(os.listdir(tmp_path / 'x3' / 'bee')) == 9


def test_time_step_settings_times_each_setting(tiny, run_tool, capsys):
    code = run_tool('time_step_settings', ['-opt', str(tiny / 'tiny.yml'), '--weights', str(tiny / 'g.pth'),
                                           '--setting', 'gsdd:amp=none', '--setting', 'gsdd:fuse_classes=true',
                                           '--warmup', '1', '--iters', '2', '--device', 'cpu'])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    rows = [json.loads(line) for line in out if line.startswith('{')]
    assert [r['setting'] for r in rows] == ['gsdd:amp=none', 'gsdd:fuse_classes=true']
    assert all(0 < r['min_s'] <= r['median_s'] <= r['max_s'] for r in rows)
    assert out[-1].startswith('| gsdd:fuse_classes=true |')
    assert run_tool('time_step_settings', ['-opt', str(tiny / 'missing.yml'), '--setting', 'gsdd:amp=none']) == 2


def test_time_step_settings_regroups_classes_and_projects_the_run(tiny, run_tool, capsys, tmp_path):
    code = run_tool('time_step_settings', ['-opt', str(tiny / 'tiny.yml'), '--weights', str(tiny / 'g.pth'),
                                           '--setting', 'gsdd:amp=none', '--train-root', str(tiny / 'train'),
                                           '--classes', '3', '--project-steps', '1000', '--warmup', '1', '--iters',
                                           '2', '--device', 'cpu', '--json', str(tmp_path / 't.json')])
    assert code == 0
    (row, ) = json.loads((tmp_path / 't.json').read_text())['rows']
    assert row['classes'] == row['num_classes'] == 3 and row['setting'] == 'gsdd:amp=none' and row['first_step_s'] > 0
    assert row['projected_h'] == pytest.approx((row['median_s'] * 1000 + row['first_step_s']) / 3600)
    assert '| gsdd:amp=none |' in capsys.readouterr().out
    assert run_tool('time_step_settings', ['-opt', str(tiny / 'tiny.yml'), '--setting', 'gsdd:amp=none',
                                           '--classes', '3']) == 2


@pytest.mark.cuda
def test_time_setting_on_a_gpu(tiny):
    """The timing helper on CUDA: synchronised step times and the peak memory of the measured steps."""
    if not torch.cuda.is_available():
        pytest.skip('no CUDA device')
    row = profiler.time_setting(str(tiny / 'tiny.yml'), ['gsdd:amp=none'], device='cuda', warmup=1, iters=2,
                                 weights=str(tiny / 'g.pth'))
    assert 0 < row['min_s'] <= row['median_s'] <= row['max_s'] and row['peak_cuda_gib'] > 0
