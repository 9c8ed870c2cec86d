"""Randomly initialised ConvNet embedder of distribution matching (DM; Zhao & Bilen, WACV 2023)."""
import math

import torch
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

_NORMS = ('instancenorm', 'batchnorm', 'layernorm', 'groupnorm', 'none')
_ACTS = ('relu', 'leakyrelu', 'sigmoid')
_POOLS = ('avgpool', 'maxpool', 'none')


def _norm_layer(norm, channels):
    if norm == 'instancenorm':
        return nn.GroupNorm(channels, channels, affine=True)  # as DM: per-channel instance norm, affine
    if norm == 'batchnorm':
        return nn.BatchNorm2d(channels, affine=True)
    if norm == 'layernorm':
        # DM uses nn.LayerNorm([C, H, W]), tied to one image size; GroupNorm(1, C) normalises over
        # the same (C, H, W) with a per-channel affine, identical at initialisation, any size.
        return nn.GroupNorm(1, channels, affine=True)
    if norm == 'groupnorm':
        return nn.GroupNorm(4, channels, affine=True)  # DM's 'groupnorm'
    return nn.Identity()


def _act_layer(act):
    if act == 'relu':
        return nn.ReLU(inplace=True)
    if act == 'leakyrelu':
        return nn.LeakyReLU(0.01, inplace=True)
    return nn.Sigmoid()


def _pool_layer(pool):
    if pool == 'avgpool':
        return nn.AvgPool2d(2, 2)
    if pool == 'maxpool':
        return nn.MaxPool2d(2, 2)
    return nn.Identity()


@ARCH_REGISTRY.register()
class DMConvNet(nn.Module):
    """DM's ConvNet embedder: ``depth`` stages of conv3x3 -> norm -> act -> pool2.

    DM matches the mean embedding of real and synthetic images under a *freshly drawn, untrained*
    network every iteration. Used that way, the network is a fixed random function: its
    parameters are created with ``requires_grad=False`` (``frozen=True``), so gradients reach
    only the inputs (the synthetic images, hence the latents). Call :meth:`reset_parameters` with
    a keyed ``torch.Generator`` to re-draw the weights in place each iteration, without
    reallocating the module.

    Note that with ``norm='batchnorm'`` the module is normally in train mode, so each batch is
    normalised with its own statistics, as in DM.

    Args:
        num_in_ch (int): input channels. Default: 3.
        num_feat (int): width of every stage (DM's ``net_width``). Default: 128.
        depth (int): number of stages (DM's ``net_depth``). Default: 3.
        norm (str): ``instancenorm`` (DM default: ``GroupNorm(C, C)``), ``batchnorm``,
            ``layernorm`` (``GroupNorm(1, C)``), ``groupnorm`` (``GroupNorm(4, C)``), ``none``.
        act (str): ``relu`` (default), ``leakyrelu`` (slope 0.01) or ``sigmoid``.
        pool (str): ``avgpool`` (default), ``maxpool`` or ``none``.
        return_layers (list[int] | None): stage indices whose (flattened) outputs ``forward``
            returns, in the given order; negative indices count from the end. Default:
            ``[depth - 1]``, DM's embedding.
        frozen (bool): create parameters with ``requires_grad=False``. Default: True.
    """

    def __init__(self,
                 num_in_ch=3,
                 num_feat=128,
                 depth=3,
                 norm='instancenorm',
                 act='relu',
                 pool='avgpool',
                 return_layers=None,
                 frozen=True):
        super().__init__()
        if norm not in _NORMS:
            raise ValueError(f'norm must be one of {_NORMS}, got {norm!r}.')
        if act not in _ACTS:
            raise ValueError(f'act must be one of {_ACTS}, got {act!r}.')
        if pool not in _POOLS:
            raise ValueError(f'pool must be one of {_POOLS}, got {pool!r}.')
        if depth < 1:
            raise ValueError(f'depth must be >= 1, got {depth}.')
        if return_layers is None:
            return_layers = [depth - 1]
        layers = []
        for idx in return_layers:
            if not -depth <= int(idx) < depth:
                raise ValueError(f'return_layers index {idx} out of range for depth {depth}.')
            layers.append(int(idx) % depth)
        self.return_layers = layers
        self.depth = depth

        stages = []
        in_ch = num_in_ch
        for _ in range(depth):
            stages.append(
                nn.Sequential(
                    nn.Conv2d(in_ch, num_feat, 3, 1, 1), _norm_layer(norm, num_feat), _act_layer(act),
                    _pool_layer(pool)))
            in_ch = num_feat
        self.stages = nn.ModuleList(stages)
        if frozen:
            self.requires_grad_(False)

    def forward(self, x):
        """Returns a list of ``B x D`` tensors, one per entry of ``return_layers``."""
        last = max(self.return_layers)
        outs = {}
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.return_layers:
                outs[i] = x.flatten(1)
            if i == last:
                break
        return [outs[i] for i in self.return_layers]

    @torch.no_grad()
    def reset_parameters(self, generator=None):
        """Re-initialise every parameter in place, drawing only from ``generator``.

        Convolutions get PyTorch's default initialisation (what DM's fresh ``get_network``
        gives): weight and bias uniform in ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` (that is
        ``kaiming_uniform_(a=sqrt(5))``); norm layers get weight 1, bias 0 and reset running
        statistics. Random numbers are drawn on the generator's device and copied into the
        parameters, so a CPU generator gives the same weights on any device.

        Args:
            generator (torch.Generator | None): ``None`` draws from the global RNG.

        Returns:
            DMConvNet: ``self``.
        """
        gen_device = generator.device if generator is not None else 'cpu'
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.in_channels // module.groups * math.prod(module.kernel_size)
                bound = 1.0 / math.sqrt(fan_in)
                for p in (module.weight, module.bias):
                    if p is None:
                        continue
                    draw = torch.empty(p.shape, dtype=torch.float32, device=gen_device)
                    draw.uniform_(-bound, bound, generator=generator)
                    p.copy_(draw)
            elif isinstance(module, (nn.GroupNorm, nn.BatchNorm2d)):
                if module.weight is not None:
                    module.weight.fill_(1.0)
                    module.bias.zero_()
                if isinstance(module, nn.BatchNorm2d):
                    module.reset_running_stats()
        return self

    @classmethod
    def draw(cls, generator, device=None, **kwargs):
        """A new network (``cls(**kwargs)``) with weights drawn from ``generator``."""
        net = cls(**kwargs)
        if device is not None:
            net = net.to(device)
        return net.reset_parameters(generator)
