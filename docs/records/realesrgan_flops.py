"""FLOPs and float32 activation GiB per crop of Real-ESRGAN's networks, counted on PyTorch's meta device
(nothing is computed): docs/realesrgan.md, "GPU time and memory (projected)".

    python docs/records/realesrgan_flops.py     # -> docs/records/realesrgan_flops.json
"""
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from basicsr.archs.discriminator_arch import UNetDiscriminatorSN
from basicsr.archs.rrdbnet_arch import RRDBNet
from record import save


def gflop_gib(net, shape):
    """Forward + backward (input and weight gradients) of one crop: (GFLOP, GiB of float32 leaf-module outputs)."""
    x = torch.zeros(shape, device='meta', requires_grad=True)
    n = [0]
    for m in net.modules():
        if not list(m.children()):
            m.register_forward_hook(lambda m, i, o: n.__setitem__(0, n[0] + o.numel()))
    with FlopCounterMode(display=False) as fc:
        net(x).sum().backward()
    return {'gflop': round(fc.get_total_flops() / 1e9, 1), 'gib': round(n[0] * 4 / 2**30, 3)}


def result():
    """The record's figures (exact counts on the meta device)."""
    with torch.device('meta'):
        gen = gflop_gib(RRDBNet(3, 3, scale=4, num_feat=64, num_block=23, num_grow_ch=32), (1, 3, 32, 32))
        disc = gflop_gib(UNetDiscriminatorSN(3, num_feat=64, skip_connection=True), (1, 3, 128, 128))
    vgg = gflop_gib(torchvision.models.vgg19().features[:35].to('meta'), (1, 3, 128, 128))  # to conv5_4
    return {'RRDBNet x4plus, 32 px LR crop': gen, 'UNetDiscriminatorSN 64, 128 px crop': disc,
            'VGG19 features to conv5_4, 128 px crop': vgg}


def main():
    save('realesrgan_flops', result())


if __name__ == '__main__':
    main()
