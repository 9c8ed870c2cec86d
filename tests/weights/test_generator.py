"""load_frozen_generator: DataParallel prefixes, strict / non-strict loading and what it reports."""
import pytest
import torch

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.errors import GSDDError
from gsdd_basicsr.weights.generator import load_frozen_generator

NET = dict(type='SRVGGNetCompact', num_in_ch=3, num_out_ch=3, num_feat=4, num_conv=1, upscale=2, act_type='prelu')


def _weights(tmp_path, edit=None, prefix=''):
    from basicsr.archs.srvgg_arch import SRVGGNetCompact
    torch.manual_seed(0)
    net = SRVGGNetCompact(**{k: v for k, v in NET.items() if k != 'type'})
    state = {prefix + k: v for k, v in net.state_dict().items()}
    if edit:
        edit(state)
    path = str(tmp_path / 'g.pth')
    torch.save({'params_ema': state}, path)
    return net, path


def test_dataparallel_prefix_is_stripped(tmp_path):
    net, path = _weights(tmp_path, prefix='module.')
    g = load_frozen_generator(NET, path, scale=2)
    x = torch.rand(1, 3, 8, 8)
    assert torch.equal(g(x), net(x).detach()) and not any(p.requires_grad for p in g.parameters())


def test_missing_and_unexpected_keys(tmp_path):
    def drop_and_add(state):
        state.pop('body.0.bias')
        state['extra.weight'] = torch.zeros(1)

    net, path = _weights(tmp_path, drop_and_add)
    with pytest.raises(GSDDError, match=r'1 missing \(e.g. body.0.bias\); 1 unexpected \(e.g. extra.weight\)'):
        load_frozen_generator(NET, path)
    g = load_frozen_generator(NET, path, strict=False)  # what fits is loaded
    assert torch.equal(g.body[0].weight, net.body[0].weight)


def test_wrong_shape_is_refused_even_when_not_strict(tmp_path):
    def widen(state):
        state['body.0.weight'] = torch.zeros(4, 3, 5, 5)

    _, path = _weights(tmp_path, widen)
    with pytest.raises(GSDDError, match=r'1 shape \(e.g. body.0.weight \(4, 3, 5, 5\) vs \(4, 3, 3, 3\)\)'):
        load_frozen_generator(NET, path, strict=False)
    with pytest.raises(GSDDError, match='do not fit network_g'):
        load_frozen_generator(NET, path)
