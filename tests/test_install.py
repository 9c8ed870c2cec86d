"""The package works installed: a wheel built from this tree carries the shipped profiles and the options files
they name, and from an empty folder, with only that wheel's files added to the path, the benchmark's command
line finds a shipped profile and plans its rows (--report-only: nothing is trained)."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from helpers import ROOT

# every shipped profile's distillation options, the installed package's file, and one weights path
PROBE = '''import json, gsdd_basicsr
from gsdd_basicsr.benchmark import builtin_profiles, load_profile
from gsdd_basicsr.benchmark.row_options import distill_options
data = dict(train_root='t', scale=4, class_mode='folder', num_classes=2, num_images=6, num_gpu=0)
gen = distill_options(load_profile('cpu'), 'gsdd-bicubic-gen', 1, 0, 'x', data)
print(json.dumps([gsdd_basicsr.__file__, {p: load_profile(p)['distill']['options'] for p in builtin_profiles()},
                  gen['path']['pretrain_network_g']]))
'''


def _copy_source(dest):
    """The files git tracks or would track (not the ignored experiments/, datasets/, build/ ...)."""
    listed = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split('\0')
    for rel in listed:
        if rel and os.path.isfile(os.path.join(ROOT, rel)):  # a tracked file deleted in the work tree is listed
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, rel), os.path.join(dest, rel))


def test_an_installed_wheel_finds_and_plans_the_shipped_profiles(data, tmp_path):
    if not (importlib.util.find_spec('wheel') or importlib.util.find_spec('setuptools.command.bdist_wheel')):
        pytest.skip('building a wheel needs setuptools >= 70.1 or the wheel package (pip install "wheel<0.45")')
    src, site, empty = tmp_path / 'src', tmp_path / 'site', tmp_path / 'empty'
    _copy_source(src)
    pip = [sys.executable, '-m', 'pip', '--disable-pip-version-check', '-q']
    subprocess.run(pip + ['wheel', '--no-deps', '--no-build-isolation', '--no-index', '-w', str(tmp_path / 'dist'),
                          str(src)], check=True, capture_output=True)
    (wheel, ) = (tmp_path / 'dist').glob('gsdd_basicsr-*.whl')
    names = zipfile.ZipFile(wheel).namelist()
    assert {'gsdd_basicsr/options/benchmark/smoke.yml', 'gsdd_basicsr/options/benchmark/ablations.yml',
            'gsdd_basicsr/options/gsdd_distill_demo_x4.yml', 'gsdd_basicsr_autoload.pth'} <= set(names)
    subprocess.run(pip + ['install', '--no-deps', '--no-index', '--target', str(site), str(wheel)], check=True,
                   capture_output=True)
    empty.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site), CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1')
    run = subprocess.run([sys.executable, '-m', 'gsdd_basicsr.benchmark', '--profile', 'smoke', '--train-root',
                          str(data / 'train'), '--test-root', str(data / 'test'), '--out', 'out', '--device', 'cpu',
                          '--report-only'], cwd=empty, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    config = json.loads((empty / 'out' / 'config.json').read_text())
    shipped = site / 'gsdd_basicsr' / 'options'
    assert config['profile_path'] == str(shipped / 'benchmark' / 'smoke.yml')
    assert config['profile_settings']['distill']['options'] == str(shipped / 'gsdd_distill_demo_x4.yml')
    report = json.loads((empty / 'out' / 'benchmark.json').read_text())
    assert len(report['rows_missing']) == 6 and 'gsdd-real-init__ipc1__EDSR-tiny__s0' in report['rows_missing']
    probe = subprocess.run([sys.executable, '-c', PROBE], cwd=empty, env=env, capture_output=True, text=True,
                           timeout=300)
    assert probe.returncode == 0, probe.stderr[-2000:]
    package, profiles, weights = json.loads(probe.stdout.strip().splitlines()[-1])
    assert package == str(site / 'gsdd_basicsr' / '__init__.py')
    assert {'smoke', 'cpu', 'paper', 'photo_gpu'} <= set(profiles) and 'ablations' not in profiles
    assert all(path.startswith(str(shipped) + os.sep) for path in profiles.values())
    # a relative weights path in the options is the working folder's, as for train.py
    assert weights == str(empty / 'experiments' / 'pretrained_models' / 'bicubic_upsampler_x4.pth')
