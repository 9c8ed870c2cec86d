"""basicsr's ``PerceptualLoss`` on ImageNet VGG16 features read from a local file (no download).

basicsr's ``VGGFeatureExtractor`` loads ``experiments/pretrained_models/vgg19-dcbb9e9d.pth`` when it
exists and otherwise downloads torchvision's weights. No package ships VGG19's; LPIPS's VGG16 backbone
(``tools/convert_lpips_weights.py``) is torchvision's ImageNet VGG16. This loss builds basicsr's own
``PerceptualLoss`` with that backbone, so the layer names, input normalisation, criterion and style
term are basicsr's. In an options file (ESRGAN's recipe with VGG16's deepest ReLU-less tap)::

    perceptual_opt:
      type: OfflinePerceptualLoss
      layer_weights: {conv5_3: 1.0}
      perceptual_weight: 1.0
      criterion: l1
      weights: ~            # default experiments/pretrained_models/lpips_vgg.pth
"""
from types import SimpleNamespace
from unittest import mock

import torchvision
from basicsr.archs import vgg_arch
from basicsr.losses.basic_loss import PerceptualLoss
from basicsr.utils.registry import LOSS_REGISTRY

from gsdd_basicsr.weights.lpips import load_state_dict


def _vgg16_from_file(weights):
    """torchvision's VGG16 with the converted ImageNet features (the classifier stays random: unused)."""
    net = torchvision.models.vgg16(weights=None)
    feats = {k[len('features.'):]: v for k, v in load_state_dict('vgg', weights).items() if k.startswith('features.')}
    net.features.load_state_dict(feats)
    return net


@LOSS_REGISTRY.register()
class OfflinePerceptualLoss(PerceptualLoss):
    """``PerceptualLoss`` (basicsr) with ``vgg_type: vgg16`` from ``weights``; other arguments are basicsr's.

    Args:
        layer_weights (dict): VGG16 layer name (basicsr's ``NAMES['vgg16']``, e.g. ``conv5_3``) -> weight.
        weights (str | None): LPIPS VGG weights of ``tools/convert_lpips_weights.py``.
    """

    def __init__(self, layer_weights, weights=None, vgg_type='vgg16', **kwargs):
        if vgg_type != 'vgg16':
            from gsdd_basicsr.errors import GSDDError
            raise GSDDError(f'OfflinePerceptualLoss has ImageNet weights for vgg16 only, not {vgg_type!r}; '
                            'set perceptual_opt.vgg_type: vgg16 (or leave it out)')
        # basicsr's extractor calls vgg.vgg16(pretrained=True) when its VGG19 file is absent: hand it ours
        # for the duration of this constructor only
        local = SimpleNamespace(vgg16=lambda pretrained=True: _vgg16_from_file(weights))
        with mock.patch.object(vgg_arch, 'VGG_PRETRAIN_PATH', '\0 no file'), mock.patch.object(vgg_arch, 'vgg', local):
            super().__init__(layer_weights, vgg_type='vgg16', **kwargs)
