"""basicsr's ``PerceptualLoss`` on ImageNet VGG features read from a local file (never a download).

basicsr's ``VGGFeatureExtractor`` loads ``experiments/pretrained_models/vgg19-dcbb9e9d.pth`` inside its
constructor when that file exists and otherwise downloads torchvision's weights; it has no argument for
weights. :class:`StateDictVGGFeatureExtractor` is that extractor (its ``forward``, layer names and input
normalisation) built from a state dict instead, and :class:`OfflinePerceptualLoss` is basicsr's
``PerceptualLoss`` (its ``forward``: criterion, layer weights, style term) on that extractor. Weights:

- ``vgg_type: vgg16`` (default): LPIPS's VGG16 backbone, which is torchvision's ImageNet VGG16, as
  ``tools/convert_lpips_weights.py`` writes it (``weights`` default: ``experiments/pretrained_models/lpips_vgg.pth``);
- ``vgg_type: vgg19`` (Real-ESRGAN's and ESRGAN's recipes): torchvision's own ``vgg19-dcbb9e9d.pth``
  (``weights`` default: ``<torch hub dir>/checkpoints/vgg19-dcbb9e9d.pth``, i.e. ``~/.cache/torch/hub/checkpoints``,
  where torchvision keeps it once it has downloaded it).

In an options file::

    perceptual_opt:
      type: OfflinePerceptualLoss
      layer_weights: {conv5_3: 1.0}     # vgg19: {conv5_4: 1.0}, Real-ESRGAN's five conv*_1 / conv5_4 taps, ...
      vgg_type: vgg16                   # or vgg19
      weights: ~                        # the defaults above
      perceptual_weight: 1.0
      criterion: l1
"""
from collections import OrderedDict
from os import path as osp

import torch
from basicsr.archs.vgg_arch import NAMES, VGGFeatureExtractor
from basicsr.losses.basic_loss import PerceptualLoss
from basicsr.utils.registry import LOSS_REGISTRY
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.weights.lpips import load_state_dict as load_lpips_state_dict
from gsdd_basicsr.weights.state_file import load_state_dict_file

VGG19_FILE = 'vgg19-dcbb9e9d.pth'  # torchvision's name of its ImageNet VGG19 weights
_CFG = {'vgg16': 'D', 'vgg19': 'E'}  # torchvision's layer configurations of the two


def torchvision_vgg19_path():
    """Where torchvision keeps its VGG19 weights (``<torch.hub.get_dir()>/checkpoints/vgg19-dcbb9e9d.pth``)."""
    return osp.join(torch.hub.get_dir(), 'checkpoints', VGG19_FILE)


def vgg_features_state(vgg_type, weights=None):
    """The ``features.<i>.*`` tensors of ImageNet VGG16 / VGG19 from a local file (keys as torchvision's).

    Raises:
        MissingInputError: the file does not exist (the line names it and where it comes from).
    """
    if vgg_type == 'vgg16':
        state = load_lpips_state_dict('vgg', weights)
    else:
        weights = weights or torchvision_vgg19_path()
        if not osp.isfile(weights):
            raise MissingInputError(
                f'VGG19 weights {weights} are missing; put torchvision\'s {VGG19_FILE} there (torchvision keeps it in '
                f'{osp.join(torch.hub.get_dir(), "checkpoints")}) or set perceptual_opt.weights to its path.')
        state = load_state_dict_file(weights, 'VGG19 weights', f"use torchvision's {VGG19_FILE}")
    return {k: v for k, v in state.items() if k.startswith('features.')}


class StateDictVGGFeatureExtractor(VGGFeatureExtractor):
    """basicsr's ``VGGFeatureExtractor`` (same modules, names, buffers and ``forward``) with given weights.

    Args:
        layer_name_list (list[str]): basicsr layer names (``NAMES[vgg_type]``, e.g. ``conv5_4``).
        state_dict (dict): torchvision VGG tensors ``features.<i>.weight`` / ``.bias``; those up to the
            deepest listed layer are required.
        vgg_type (str): ``vgg16`` or ``vgg19``.
        use_input_norm, range_norm, requires_grad, remove_pooling, pooling_stride: basicsr's.

    Input of ``forward``: N x 3 x H x W RGB in [0, 1] (``[-1, 1]`` with ``range_norm``).
    """

    def __init__(self, layer_name_list, state_dict, vgg_type='vgg19', use_input_norm=True, range_norm=False,
                 requires_grad=False, remove_pooling=False, pooling_stride=2):
        # basicsr's __init__ reads its weights from VGG_PRETRAIN_PATH or downloads them (BasicSR master
        # 8d56e3a unchanged; no upstream fix): build the same modules here, from the given tensors, and
        # skip its loading. nn.Module.__init__ instead of super().__init__ for that reason.
        nn.Module.__init__(self)
        if vgg_type not in _CFG:
            raise GSDDError(f'OfflinePerceptualLoss has ImageNet weights for vgg16 and vgg19, not {vgg_type!r}; '
                            'set perceptual_opt.vgg_type to one of them.')
        self.layer_name_list, self.use_input_norm, self.range_norm = layer_name_list, use_input_norm, range_norm
        self.names = NAMES[vgg_type]
        unknown = [v for v in layer_name_list if v not in self.names]
        if unknown:
            raise GSDDError(f'perceptual_opt.layer_weights names {unknown[0]!r}, not a {vgg_type} layer '
                            f'(e.g. {", ".join(self.names[i] for i in (2, 7, 12))}).')
        depth = max(self.names.index(v) for v in layer_name_list) + 1
        features = make_layers(cfgs[_CFG[vgg_type]])[:depth]
        wanted = [f'features.{k}' for k in features.state_dict()]
        missing = [k for k in wanted if k not in state_dict]
        if missing:
            raise GSDDError(f'the {vgg_type} weights lack {missing[0]} ({len(missing)} tensors missing up to '
                            f'{layer_name_list[0] if len(layer_name_list) == 1 else "the deepest layer"}); use '
                            f'torchvision\'s {vgg_type} weights.')
        try:
            features.load_state_dict({k[len('features.'):]: state_dict[k] for k in wanted})
        except RuntimeError as err:  # tensors of other shapes
            raise GSDDError(f'the {vgg_type} weights do not fit torchvision\'s {vgg_type} '
                            f'({" ".join(str(err).split())[:200]}).') from err
        layers = OrderedDict()
        for name, layer in zip(self.names, features):
            if 'pool' in name:
                if remove_pooling:
                    continue
                layer = nn.MaxPool2d(kernel_size=2, stride=pooling_stride)
            layers[name] = layer
        self.vgg_net = nn.Sequential(layers)
        self.vgg_net.train(requires_grad)
        self.requires_grad_(requires_grad)
        if use_input_norm:  # ImageNet statistics of images in [0, 1]
            self.register_buffer('mean', torch.Tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
            self.register_buffer('std', torch.Tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))


@LOSS_REGISTRY.register()
class OfflinePerceptualLoss(PerceptualLoss):
    """basicsr's ``PerceptualLoss`` (its ``forward``) on :class:`StateDictVGGFeatureExtractor`.

    Args:
        layer_weights (dict): layer name of ``NAMES[vgg_type]`` (e.g. ``conv5_3``) -> weight.
        vgg_type (str): ``vgg16`` (default; LPIPS's converted VGG16) or ``vgg19`` (torchvision's file).
        weights (str | None): the weights file; None: the module docstring's defaults.
        use_input_norm, range_norm, perceptual_weight, style_weight, criterion: basicsr's.
    """

    def __init__(self, layer_weights, vgg_type='vgg16', weights=None, use_input_norm=True, range_norm=False,
                 perceptual_weight=1.0, style_weight=0., criterion='l1'):
        # PerceptualLoss.__init__ builds basicsr's extractor (which loads or downloads its own weights):
        # set its attributes here instead; the criteria are basicsr's (its 'l2' names a torch class that
        # does not exist, torch.nn.L2loss, so l2 is MSELoss here, what it means)
        nn.Module.__init__(self)
        criteria = {'l1': torch.nn.L1Loss, 'l2': torch.nn.MSELoss, 'fro': None}
        if criterion not in criteria:
            raise GSDDError(f'perceptual_opt.criterion {criterion!r} is not one of l1, l2, fro.')
        self.perceptual_weight, self.style_weight, self.layer_weights = perceptual_weight, style_weight, layer_weights
        self.vgg = StateDictVGGFeatureExtractor(
            list(layer_weights), vgg_features_state(vgg_type, weights) if vgg_type in _CFG else {}, vgg_type=vgg_type,
            use_input_norm=use_input_norm, range_norm=range_norm)
        self.criterion_type = criterion
        self.criterion = criteria[criterion]() if criteria[criterion] else None
