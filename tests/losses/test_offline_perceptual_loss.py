"""OfflinePerceptualLoss with torchvision's VGG19 layout (Real-ESRGAN's recipes).

VGG16 (LPIPS's converted weights) is tested in tests/weights/test_lpips.py.
"""
import os

import pytest
import torch
import torchvision
from basicsr.archs import vgg_arch
from basicsr.utils.registry import LOSS_REGISTRY

from gsdd_basicsr.errors import MissingInputError
from gsdd_basicsr.losses.offline_perceptual_loss import torchvision_vgg19_path

DEPTH = 8  # torchvision's vgg19.features[:8] ends at conv2_2 (basicsr's NAMES['vgg19'][7])


@pytest.fixture
def vgg19_file(tmp_path):
    """The first layers of a random VGG19 in torchvision's vgg19-dcbb9e9d.pth key layout."""
    torch.manual_seed(3)
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs['E'])[:DEPTH]
    path = tmp_path / 'vgg19-dcbb9e9d.pth'
    torch.save({f'features.{k}': v for k, v in features.state_dict().items()}, path)
    return str(path), features


def test_vgg19_from_a_torchvision_file_without_download_or_globals(vgg19_file, monkeypatch):
    path, features = vgg19_file

    def no_download(*args, **kwargs):
        raise AssertionError('tried to download')

    monkeypatch.setattr(torch.hub, 'load_state_dict_from_url', no_download)
    before = (vgg_arch.VGG_PRETRAIN_PATH, vgg_arch.vgg)
    loss = LOSS_REGISTRY.get('OfflinePerceptualLoss')({'conv2_2': 1.0}, vgg_type='vgg19', weights=path,
                                                      perceptual_weight=0.5, style_weight=0.1)
    assert (vgg_arch.VGG_PRETRAIN_PATH, vgg_arch.vgg) == before
    assert isinstance(loss.vgg, vgg_arch.VGGFeatureExtractor) and list(loss.vgg.vgg_net._modules)[-1] == 'conv2_2'
    assert not any(p.requires_grad for p in loss.parameters())
    x, y = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    percep, style = loss(x, y)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        want = 0.5 * torch.nn.functional.l1_loss(features((x - mean) / std), features((y - mean) / std))
    assert torch.allclose(percep, want, rtol=1e-5) and style is not None and style > 0


def test_missing_vgg19_file_names_it_and_torchvisions_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    with pytest.raises(MissingInputError) as info:
        LOSS_REGISTRY.get('OfflinePerceptualLoss')({'conv5_4': 1.0}, vgg_type='vgg19')
    message = str(info.value)
    assert torchvision_vgg19_path() in message and os.path.join(str(tmp_path / 'hub'), 'checkpoints') in message
    assert '\n' not in message
