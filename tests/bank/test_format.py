"""Latent bank format: load / save / validate, generator building, rendering.

``helpers.make_toy_bank`` (also used by test_export, test_distilled_image_dataset and
test_gan_latent_dataset): a seeded, randomly initialised tiny SRVGGNetCompact (x4) saved as
``{'params_ema': state_dict}`` and a bank of smooth latents.
"""
import json
import os
import pickle

import numpy as np
import pytest
import torch

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.bank.format import load_latent_bank, save_latent_bank, validate_latent_bank
from gsdd_basicsr.bank.names import bank_image_names
from gsdd_basicsr.bank.render import build_bank_generator, render_bank
from gsdd_basicsr.errors import GSDDError
from helpers import TOY_G, make_toy_bank


def test_save_load_roundtrip_is_plain_and_atomic(tmp_path):
    path, weights, bank = make_toy_bank(tmp_path)
    raw = torch.load(path, weights_only=True)  # plain dict, no arbitrary unpickling
    assert set(raw) == {'format', 'latent_dtype', 'latents', 'labels', 'class_names', 'scale', 'network_g', 'iter', 'pretrain_network_g'}
    loaded = load_latent_bank(path)
    assert torch.equal(loaded['latents'], bank['latents'])
    assert loaded['labels'].dtype == torch.int64 and loaded['labels'].tolist() == [0, 0, 0, 1, 1, 1]
    assert loaded['class_names'] == ['sky', 'water'] and loaded['scale'] == 4 and loaded['iter'] == 7
    assert loaded['network_g'] == TOY_G and loaded['pretrain_network_g'] == weights
    assert sorted(os.listdir(tmp_path)) == ['bank.pth', 'g.pth']  # no temporary file left
    # overwrite in place; extra plain entries are kept, unpicklable ones refused before writing
    bank['iter'] = 8
    bank['distill'] = {'lambda': 0.1, 'ipc': 3}
    save_latent_bank(bank, path)
    assert load_latent_bank(path)['iter'] == 8 and load_latent_bank(path)['distill'] == {'lambda': 0.1, 'ipc': 3}
    with pytest.raises(ValueError, match="'evil'"):
        save_latent_bank(dict(bank, evil=_Custom()), path)
    assert load_latent_bank(path)['iter'] == 8
    assert sorted(os.listdir(tmp_path)) == ['bank.pth', 'g.pth']


def _bad(tmp_path, **changes):
    _, _, bank = make_toy_bank(tmp_path)
    bank = dict(bank)
    for k, v in changes.items():
        if v is KeyError:
            bank.pop(k)
        else:
            bank[k] = v
    path = str(tmp_path / 'bad.pth')
    torch.save(bank, path)
    return path


@pytest.mark.parametrize('changes, message', [
    ({'latents': KeyError}, 'missing key'),
    ({'latents': torch.zeros(6, 1, 8, 8)}, 'N x 3 x p x p'),
    ({'latents': torch.zeros(6, 3, 8, 8, dtype=torch.long)}, 'float tensor'),
    ({'labels': torch.zeros(5, dtype=torch.long)}, "'labels' must have shape"),
    ({'labels': torch.tensor([0, 0, 0, 1, 1, 2])}, "'labels' must lie in"),
    ({'class_names': 'sky'}, 'class_names'),
    ({'scale': 2}, 'scale mismatch'),
    ({'network_g': {'num_feat': 8}}, "'type'"),
    ({'iter': '7'}, "'iter'"),
    ({'format': KeyError}, "missing key(s) ['format']"),
    ({'format': 'gsdd-latent-bank-v0'}, "'format' is 'gsdd-latent-bank-v0', expected 'gsdd-latent-bank-v1'"),
])
def test_load_rejects_bad_banks_naming_the_file(tmp_path, changes, message):
    path = _bad(tmp_path, **changes)
    with pytest.raises(ValueError) as err:
        load_latent_bank(path)
    assert 'bad.pth' in str(err.value) and message in str(err.value)
    assert isinstance(err.value, GSDDError)  # the user-facing error: one line on stderr, exit 2


class _Custom:
    pass


def test_load_refuses_arbitrary_pickles_and_garbage(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save({'latents': _Custom()}, path)
    with pytest.raises(ValueError, match='evil.pth.*arbitrary unpickling'):
        load_latent_bank(path)
    with open(tmp_path / 'plain.pkl', 'wb') as f:
        pickle.dump([1, 2], f)
    with pytest.raises(ValueError, match='plain.pkl'):
        load_latent_bank(str(tmp_path / 'plain.pkl'))
    (tmp_path / 'junk.pth').write_bytes(b'not a torch file')
    with pytest.raises(ValueError, match='junk.pth'):
        load_latent_bank(str(tmp_path / 'junk.pth'))
    with pytest.raises(FileNotFoundError):
        load_latent_bank(str(tmp_path / 'missing.pth'))
    torch.save([1, 2, 3], str(tmp_path / 'list.pth'))
    with pytest.raises(ValueError, match='list.pth: wrong format'):
        load_latent_bank(str(tmp_path / 'list.pth'))


def test_build_generator_frozen_and_param_key_fallback(tmp_path):
    path, weights, _ = make_toy_bank(tmp_path, param_key='params')  # only 'params': falls back
    bank = load_latent_bank(path)
    g = build_bank_generator(bank)
    assert not g.training and not any(p.requires_grad for p in g.parameters())
    # explicit weights win over the bank's, and a wrong architecture is a clear error
    from basicsr.archs.srvgg_arch import SRVGGNetCompact
    other = str(tmp_path / 'other.pth')
    torch.save({'params_ema': SRVGGNetCompact(num_feat=4, num_conv=1).state_dict()}, other)
    with pytest.raises(ValueError, match=r'other.pth do not fit network_g \(SRVGGNetCompact\)'):
        build_bank_generator(bank, weights=other)
    no_w = dict(bank)
    no_w.pop('pretrain_network_g')
    with pytest.raises(ValueError, match='no generator weights'):
        build_bank_generator(no_w)


def test_build_generator_checks_scale(tmp_path):
    _, weights, bank = make_toy_bank(tmp_path)
    bank = dict(bank, scale=2, network_g={k: v for k, v in TOY_G.items() if k != 'upscale'})  # arch default x4
    bank = validate_latent_bank(bank)
    with pytest.raises(ValueError, match='upscales x4'):
        build_bank_generator(bank, weights=weights)


def test_render_bank_uint8_matches_float_and_is_batch_invariant(tmp_path):
    path, _, _ = make_toy_bank(tmp_path)
    bank = load_latent_bank(path)
    g = build_bank_generator(bank)
    hr = render_bank(bank, g, batch_size=4, as_uint8=False)
    assert hr.shape == (6, 3, 64, 64) and hr.min() >= 0 and hr.max() <= 1
    with torch.no_grad():
        direct = g(bank['latents']).clamp(0, 1)
    assert torch.allclose(hr, direct, atol=1e-5)
    imgs = render_bank(bank, g, batch_size=1)
    assert len(imgs) == 6 and imgs[0].dtype == np.uint8 and imgs[0].shape == (64, 64, 3)
    expected = (hr * 255).round().byte().permute(0, 2, 3, 1).numpy()
    assert max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in zip(imgs, expected)) <= 1
    assert np.array_equal(render_bank(bank, g, indices=[4])[0], render_bank(bank, g, batch_size=16)[4])


def test_image_names(tmp_path):
    _, _, bank = make_toy_bank(tmp_path, classes=('sky', 'water.v2'), per_class=2)
    assert bank_image_names(bank) == ['sky_0000.png', 'sky_0001.png', 'water_v2_0000.png', 'water_v2_0001.png']


def test_render_out_of_memory_names_the_batch_size(tmp_path, monkeypatch):
    from gsdd_basicsr.errors import OutOfMemory
    _, _, bank = make_toy_bank(tmp_path)
    g = build_bank_generator(bank, weights=str(tmp_path / 'g.pth'), device='cpu')

    def oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError('CUDA out of memory.')

    monkeypatch.setattr(g, 'forward', oom)
    with pytest.raises(OutOfMemory, match='render_batch_size of GANLatentDataset, --batch-size of tools/export'):
        render_bank(bank, g, batch_size=4)


@pytest.mark.parametrize('dtype, ratio, tol', [('float16', 0.5, 1e-3), ('uint8', 0.25, 0.7 / 255)])
def test_compact_banks_store_less_and_record_their_dtype(tmp_path, dtype, ratio, tol):
    from gsdd_basicsr.bank.render import compact_bank
    path, weights, bank = make_toy_bank(tmp_path, p=32)
    out = str(tmp_path / f'{dtype}.pth')
    report = compact_bank(path, out, dtype, weights=weights, device='cpu')
    raw = torch.load(out, weights_only=True)
    assert raw['latent_dtype'] == dtype and raw['latents'].dtype == getattr(torch, dtype)
    assert ('latent_range' in raw) == (dtype == 'uint8')
    loaded = load_latent_bank(out)  # dequantised on loading
    assert loaded['latents'].dtype == torch.float32 and loaded['latent_dtype'] == dtype
    assert (loaded['latents'] - bank['latents']).abs().max() <= tol
    n_latent_bytes = bank['latents'].numel() * 4
    assert report['bytes_in'] - report['bytes_out'] == pytest.approx(n_latent_bytes * (1 - ratio), rel=0.05)
    assert 25 < report['render_psnr_db'] < float('inf')
    save_latent_bank(loaded, str(tmp_path / 'again.pth'))  # keeps its dtype unless told otherwise
    assert torch.load(tmp_path / 'again.pth', weights_only=True)['latent_dtype'] == dtype


def test_compact_bank_tool(tmp_path, run_tool, capsys):
    path, weights, _ = make_toy_bank(tmp_path)
    out = tmp_path / 'f16.pth'
    assert run_tool('compact_bank', ['--latents', path, '--out', str(out), '--dtype', 'float16', '--weights', weights,
                                     '--device', 'cpu']) in (0, None)
    report = json.loads(capsys.readouterr().out)
    assert report['latent_dtype'] == 'float16' and report['bytes_out'] < report['bytes_in']
    assert run_tool('compact_bank', ['--latents', str(tmp_path / 'none.pth'), '--out', str(tmp_path / 'x.pth'),
                                     '--dtype', 'uint8']) == 2
    assert not (tmp_path / 'x.pth').exists()
