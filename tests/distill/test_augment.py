import gsdd_basicsr  # noqa: F401  (compat fixes first)
import pytest
import torch

from gsdd_basicsr.distill.augment import SiameseAugment
from gsdd_basicsr.utils.seeding import keyed_generator

OPS = ['color', 'crop', 'cutout', 'flip', 'scale', 'rotate']


def _images(n, size=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g)


def _gen(*key):
    return keyed_generator(0, *key, 'augment')


@pytest.mark.parametrize('mode', ['single', 'multiple'])
def test_siamese_same_draw_same_transform(mode):
    aug = SiameseAugment(mode=mode)
    a, b = _images(3, seed=1), _images(5, seed=2)
    for it in range(6):
        p = aug.draw(_gen(it, 0))
        joint = aug.apply(torch.cat([a, b]), p)
        sep = torch.cat([aug.apply(a, p), aug.apply(b, p)])
        assert joint.shape == (8, 3, 24, 24)
        assert torch.allclose(joint, sep, atol=1e-6)
        # every image gets the same transform: a repeated image stays repeated
        rep = aug.apply(torch.cat([a[:1], a[:1]]), p)
        assert torch.allclose(rep[0], rep[1], atol=1e-6)


def test_draw_reproducible_and_seed_dependent():
    aug = SiameseAugment(mode='multiple')
    x = _images(2)
    y1 = aug(x, _gen(3, 1))
    y2 = aug(x, _gen(3, 1))
    y3 = aug(x, _gen(4, 1))
    assert torch.equal(y1, y2)
    assert aug.draw(_gen(3, 1)) == aug.draw(_gen(3, 1))
    assert not torch.allclose(y1, y3)


def test_single_mode_picks_one_op_from_strategy():
    aug = SiameseAugment(strategy='flip_rotate')
    seen = set()
    for it in range(20):
        p = aug.draw(_gen(it, 0))
        assert len(p['ops']) == 1 and p['ops'][0] in ('flip', 'rotate')
        seen.add(p['ops'][0])
    assert seen == {'flip', 'rotate'}
    assert SiameseAugment(strategy='none').apply(_images(1), SiameseAugment('none').draw(_gen(0, 0))).shape


def test_gradient_flows_to_input():
    aug = SiameseAugment(mode='multiple')
    x = _images(2).requires_grad_(True)
    aug.apply(x, aug.draw(_gen(0, 0))).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize('op', OPS)
def test_each_op_alone_changes_image_and_keeps_shape(op):
    aug = SiameseAugment(strategy=op, flip_prob=1.0)
    x = _images(2, size=32).requires_grad_(True)
    changed = 0
    for it in range(3):
        p = aug.draw(_gen(it, 0))
        assert p['ops'] == (op, )
        y = aug.apply(x, p)
        assert y.shape == x.shape
        changed += int(not torch.allclose(y, x, atol=1e-4))
    assert changed >= 2
    y.sum().backward()
    assert x.grad is not None


def test_exact_crop_and_flip_match_affine_path():
    """The exact crop/flip path and the one-pass affine path agree (scale 1, rotation 0)."""
    aug = SiameseAugment(strategy='crop_flip_scale', mode='multiple', flip_prob=1.0)
    x = _images(1, size=16)
    p = aug.draw(_gen(0, 0))
    p['crop'] = (2 / 16, -3 / 16)
    p['scale'] = (1.0, 1.0)
    affine = aug.apply(x, p)
    p['ops'] = ('crop', 'flip')
    exact = aug.apply(x, p)
    assert torch.allclose(affine, exact, atol=1e-5)
    expected = torch.zeros_like(x)
    expected[..., :14, 3:] = x[..., 2:, :13]  # out[i, j] = x[i + 2, j - 3]
    assert torch.allclose(exact, expected.flip(-1))


def test_flip_and_cutout_semantics():
    x = _images(1, size=16)
    flip = SiameseAugment(strategy='flip', flip_prob=1.0)
    assert torch.equal(flip.apply(x, flip.draw(_gen(0, 0))), x.flip(-1))
    cut = SiameseAugment(strategy='cutout')
    y = cut.apply(x, cut.draw(_gen(0, 0)))
    zeroed = (y == 0).all(dim=1)[0]
    assert 0 < zeroed.sum() <= 8 * 8
    assert torch.equal(y[:, :, ~zeroed], x[:, :, ~zeroed])
