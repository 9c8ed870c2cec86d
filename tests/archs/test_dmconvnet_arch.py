import gsdd_basicsr  # noqa: F401  (registers DMConvNet)
import pytest
import torch
from basicsr.archs import build_network
from basicsr.utils.registry import ARCH_REGISTRY

from gsdd_basicsr.archs.dmconvnet_arch import DMConvNet
from gsdd_basicsr.utils.seeding import keyed_generator


def test_registered_and_buildable():
    assert ARCH_REGISTRY.get('DMConvNet') is DMConvNet
    net = build_network({'type': 'DMConvNet', 'num_feat': 8, 'depth': 2})
    assert isinstance(net, DMConvNet)
    assert all(not p.requires_grad for p in net.parameters())


@pytest.mark.parametrize('norm', ['instancenorm', 'batchnorm', 'layernorm', 'groupnorm', 'none'])
@pytest.mark.parametrize('pool', ['avgpool', 'maxpool', 'none'])
def test_output_dims(norm, pool):
    net = DMConvNet(num_feat=8, depth=3, norm=norm, pool=pool)
    feats = net(torch.rand(2, 3, 16, 16))
    side = 2 if pool != 'none' else 16
    assert isinstance(feats, list) and len(feats) == 1
    assert feats[0].shape == (2, 8 * side * side)


def test_return_layers():
    net = DMConvNet(num_feat=4, depth=3, return_layers=[0, -1, 1])
    feats = net(torch.rand(3, 3, 16, 16))
    assert [f.shape for f in feats] == [(3, 4 * 64), (3, 4 * 4), (3, 4 * 16)]
    with pytest.raises(ValueError):
        DMConvNet(depth=2, return_layers=[2])


def test_reset_parameters_keyed():
    net = DMConvNet(num_feat=8, depth=2)
    w = lambda: [p.clone() for p in net.parameters()]  # noqa: E731
    net.reset_parameters(keyed_generator(0, 5, 1, 'embed'))
    a = w()
    net.reset_parameters(keyed_generator(0, 6, 1, 'embed'))
    b = w()
    net.reset_parameters(keyed_generator(0, 5, 1, 'embed'))
    c = w()
    assert all(torch.equal(x, y) for x, y in zip(a, c))
    convs = [x for x in a if x.dim() == 4]
    assert not any(torch.equal(x, y) for x, y in zip(convs, [y for y in b if y.dim() == 4]))
    # DM init: uniform in +-1/sqrt(fan_in)
    assert convs[0].abs().max() <= 1 / 27**0.5
    assert all(not p.requires_grad for p in net.parameters())
    other = DMConvNet.draw(keyed_generator(0, 5, 1, 'embed'), num_feat=8, depth=2)
    assert all(torch.equal(x, y) for x, y in zip(a, other.parameters()))


def test_gradient_reaches_input_only():
    net = DMConvNet(num_feat=8, depth=2).reset_parameters(keyed_generator(1))
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    net(x)[0].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())
