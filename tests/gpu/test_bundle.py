"""The bundle for a bare GPU machine (gsdd_basicsr.gpu.bundle, tools/gpu_bundle.py, tools/gpu_run.sh), offline
and at toy size: float16 weights round trip, size accounting, an atomic build, run.sh's install and weights steps."""
import json
import os
import stat
import subprocess
import sys
import zipfile

import pytest
import torch
import yaml

from gsdd_basicsr.errors import GSDDError
from gsdd_basicsr.gpu import bundle
from helpers import ROOT



def _weights(path, scale=1.0):
    torch.manual_seed(0)
    params = {'conv.weight': torch.randn(8, 3, 3, 3) * scale, 'conv.bias': torch.randn(8) * scale,
              'bn.num_batches_tracked': torch.tensor(7)}
    torch.save({'params_ema': params}, path)
    return params


def test_float16_weights_round_trip_within_half_precision(tmp_path):
    params = _weights(tmp_path / 'w.pth')
    half = bundle.save_cast(str(tmp_path / 'w.pth'), str(tmp_path / 'w16.pth'), torch.float16)
    back = bundle.save_cast(str(tmp_path / 'w16.pth'), str(tmp_path / 'w32.pth'), torch.float32)
    assert half['tensors'] == back['tensors'] == 3 and back['max_abs_change'] == 0.0
    assert 0 < half['max_abs_change'] <= 2.0**-11 * max(v.abs().max().item() for v in params.values())
    stored = torch.load(tmp_path / 'w16.pth', weights_only=True)['params_ema']
    assert stored['conv.weight'].dtype == torch.float16 and stored['bn.num_batches_tracked'].dtype == torch.int64
    out = torch.load(tmp_path / 'w32.pth', weights_only=True)['params_ema']
    assert out.keys() == params.keys() and out['conv.weight'].dtype == torch.float32
    torch.testing.assert_close(out['conv.weight'], params['conv.weight'], rtol=2.0**-11, atol=0)
    assert torch.equal(out['bn.num_batches_tracked'], params['bn.num_batches_tracked'])


def test_weights_float16_cannot_hold_are_refused(tmp_path):
    _weights(tmp_path / 'big.pth', scale=1e6)
    with pytest.raises(GSDDError, match='conv.weight holds values float16 cannot represent'):
        bundle.save_cast(str(tmp_path / 'big.pth'), str(tmp_path / 'o.pth'), torch.float16)
    assert not (tmp_path / 'o.pth').exists()
    torch.save({'state': {}}, tmp_path / 'odd.pth')
    with pytest.raises(GSDDError, match='no params_ema / params'):
        bundle.save_cast(str(tmp_path / 'odd.pth'), str(tmp_path / 'o.pth'), torch.float16)


def test_size_report_counts_every_part_and_names_the_largest(tmp_path):
    (tmp_path / 'a' / 'sub').mkdir(parents=True)
    (tmp_path / 'a' / 'x.bin').write_bytes(b'0' * 3000)
    (tmp_path / 'a' / 'sub' / 'y.bin').write_bytes(b'0' * 1000)
    (tmp_path / 'b.sh').write_bytes(b'0' * 500)
    report = bundle.size_report(str(tmp_path), limit=4500)
    assert report['parts']['a'] == {'bytes': 4000, 'files': 2, 'mib': 0.0}
    assert report['total_bytes'] == 4500 and report['fits']
    bundle.check_size(report)
    over = bundle.size_report(str(tmp_path), limit=4499)
    with pytest.raises(GSDDError, match=r'over the 0.0 MiB limit \(a 0.0 MiB, b.sh'):
        bundle.check_size(over)


def _wheel(folder, name='gsdddummy'):
    """A minimal valid pure-Python wheel (pip installs it offline)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f'{name}-0.1-py3-none-any.whl')
    info = f'{name}-0.1.dist-info'
    files = {f'{name}/__init__.py': 'VALUE = 1\n',
             f'{info}/METADATA': f'Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n',
             f'{info}/WHEEL': 'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n'}
    record = ''.join(f'{n},,\n' for n in files) + f'{info}/RECORD,,\n'
    with zipfile.ZipFile(path, 'w') as z:
        for n, text in files.items():
            z.writestr(n, text)
        z.writestr(f'{info}/RECORD', record)
    return path


@pytest.fixture(scope='module')
def toy_bundle(tmp_path_factory):
    """A bundle built offline: one hand-made wheel, toy weights, two photos under a root of their own."""
    src = tmp_path_factory.mktemp('bundle_src')
    _weights(src / 'w.pth')
    _wheel(str(src / 'wheels'))
    _wheel(str(src / 'wheels' / 'pytest'), 'gsddpytestdummy')
    (src / 'pics').mkdir()
    for name in ('a.jpg', 'b.jpg'):
        (src / 'pics' / name).write_bytes(os.urandom(2000))
    split = {'roots': {'mine': str(src / 'pics')},
             'photos': [{'name': 'a', 'root': 'mine', 'path': 'a.jpg', 'split': 'train', 'class': 'x'},
                        {'name': 'b', 'root': 'mine', 'path': 'b.jpg', 'split': 'test'}]}
    (src / 'split.yml').write_text(yaml.safe_dump(split))
    out = src / 'bundle'
    manifest = bundle.build_bundle(str(out), str(src / 'w.pth'), str(src / 'split.yml'),
                                       wheels_from=str(src / 'wheels'), log=lambda msg: None)
    return src, out, manifest


def test_bundle_holds_code_wheels_fp16_weights_and_photos(toy_bundle):
    src, out, manifest = toy_bundle
    assert os.stat(out / 'run.sh').st_mode & stat.S_IXUSR
    assert (out / 'run.sh').read_text() == open(os.path.join(ROOT, 'tools', 'gpu_run.sh')).read()
    for rel in ('gsdd_basicsr/gpu/bundle.py', 'options/benchmark/photo_gpu.yml', 'tests/conftest.py', 'setup.py'):
        assert (out / 'code' / rel).is_file(), rel
    assert not list((out / 'code').rglob('__pycache__')) and not (out / 'code' / '.git').exists()
    assert (out / 'photos' / 'mine' / 'a.jpg').read_bytes() == (src / 'pics' / 'a.jpg').read_bytes()
    assert manifest['photo_roots'] == ['mine']
    from gsdd_basicsr.sets.photo_data import read_split_file  # the copy reads without --root: roots made relative
    (a, b) = read_split_file(str(out / 'photos' / 'split.yml'))
    assert a['file'] == str(out / 'photos' / 'mine' / 'a.jpg') and b['split'] == 'test'
    w = torch.load(out / 'weights' / bundle.WEIGHTS_NAME, weights_only=True)['params_ema']
    assert w['conv.weight'].dtype == torch.float16
    assert manifest['wheels'] == ['gsdddummy-0.1-py3-none-any.whl']
    size = manifest['size']
    on_disk = sum(f.stat().st_size for f in out.rglob('*') if f.is_file() and f.name != 'MANIFEST.json')
    assert size['total_bytes'] == on_disk and size['fits'] and size['limit_mib'] == 64.0
    assert json.loads((out / 'MANIFEST.json').read_text())['size'] == size


def test_a_bundle_over_the_limit_leaves_no_folder(toy_bundle, tmp_path):
    src, _, _ = toy_bundle
    with pytest.raises(GSDDError, match='over the .* MiB limit .*code'):
        bundle.build_bundle(str(tmp_path / 'b'), str(src / 'w.pth'), str(src / 'split.yml'),
                                wheels_from=str(src / 'wheels'), limit=100_000, log=lambda msg: None)
    assert os.listdir(tmp_path) == []


def test_run_sh_installs_the_wheels_and_casts_the_weights_back(toy_bundle, tmp_path):
    """run.sh's first steps on the toy bundle: pip --no-deps --target, float16 -> float32, steps.tsv, SUMMARY.md."""
    _, built, _ = toy_bundle
    out = tmp_path / 'out'
    env = dict(os.environ, PYTHON=sys.executable, STEPS='install weights')
    env.pop('PYTHONPATH', None)
    run = subprocess.run(['bash', str(built / 'run.sh'), str(out), '--smoke'], capture_output=True, text=True,
                         env=env, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    steps = [line.split('\t') for line in (out / 'steps.tsv').read_text().splitlines()]
    assert [s[:2] for s in steps if s[0] in ('install', 'weights')] == [['install', '0'], ['weights', '0']]
    assert (out / 'site' / 'gsdddummy' / '__init__.py').is_file()
    w = torch.load(out / 'code' / 'experiments' / 'pretrained_models' / 'RealESRGAN_x4plus.pth',
                   weights_only=True)['params_ema']
    assert w['conv.weight'].dtype == torch.float32
    assert '## Steps' in (out / 'SUMMARY.md').read_text() and (out / 'environment.txt').is_file()
    inside = subprocess.run(['bash', str(built / 'run.sh'), str(built / 'o')], capture_output=True, text=True,
                            env=env, timeout=60)
    assert inside.returncode == 2 and 'outside the bundle' in inside.stderr
