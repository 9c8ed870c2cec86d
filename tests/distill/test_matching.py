import gsdd_basicsr  # noqa: F401
import pytest
import torch
from basicsr.archs.srvgg_arch import SRVGGNetCompact

from gsdd_basicsr.distill.matching import (TeacherFeatures, default_layers, distribution_matching_loss,
                                           latent_homogeneity)


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_dm_loss_zero_for_identical_positive_otherwise():
    a = torch.rand(6, 10, generator=_g(0))
    assert distribution_matching_loss(a, a.clone()).item() == 0
    # same mean, different batch order / size
    assert distribution_matching_loss([a, a], [a.flip(0), a]).item() == pytest.approx(0, abs=1e-10)
    b = torch.rand(4, 10, generator=_g(1))
    loss = distribution_matching_loss([a], [b])
    assert loss.item() > 0
    assert loss.item() == pytest.approx(((a.mean(0) - b.mean(0))**2).sum().item())
    assert distribution_matching_loss([a, a], [b, b]).item() == pytest.approx(2 * loss.item())
    b.requires_grad_(True)
    distribution_matching_loss(a, b).backward()
    assert b.grad.abs().sum() > 0


def test_latent_homogeneity_spread_vs_collapsed():
    n = 8
    spread = torch.rand(n, 3, 8, 8, generator=_g(0))
    base = torch.rand(1, 3, 8, 8, generator=_g(1))
    collapsed = base + 0.01 * torch.randn(n, 3, 8, 8, generator=_g(2))
    r_spread, r_coll = latent_homogeneity(spread), latent_homogeneity(collapsed)
    assert r_coll.item() > 0.95
    assert abs(r_spread.item()) < 0.2
    assert r_spread < r_coll
    # brightness / contrast changes of one pattern are still "the same latent"
    same = torch.cat([base, 0.5 * base + 0.2, 2 * base - 0.3])
    assert latent_homogeneity(same).item() == pytest.approx(1.0, abs=1e-5)


def test_latent_homogeneity_range_and_small_n():
    assert latent_homogeneity(torch.rand(1, 3, 4, 4)).item() == 0
    assert latent_homogeneity(torch.rand(0, 3, 4, 4)).item() == 0
    for n in (2, 3, 5):
        for seed in range(3):
            r = latent_homogeneity(torch.randn(n, 3, 4, 4, generator=_g(seed))).item()
            assert -1 / (n - 1) - 1e-6 <= r <= 1 + 1e-6
    # lower bound reached by an anti-correlated pair
    p = torch.randn(1, 3, 4, 4, generator=_g(5))
    assert latent_homogeneity(torch.cat([p, -p])).item() == pytest.approx(-1.0, abs=1e-6)


def test_latent_homogeneity_gradient_spreads():
    z = (torch.rand(1, 3, 8, 8, generator=_g(0)) + 0.05 * torch.randn(6, 3, 8, 8, generator=_g(1)))
    z.requires_grad_(True)
    r0 = latent_homogeneity(z)
    r0.backward()
    with torch.no_grad():
        r1 = latent_homogeneity(z - 0.5 * z.grad)
    assert r1 < r0


def _small_srvgg():
    torch.manual_seed(0)
    net = SRVGGNetCompact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=4, upscale=2)
    return net.requires_grad_(False)


def test_teacher_features_shapes_and_gradients():
    net = _small_srvgg()
    assert default_layers(net) == ['body.5', 'body.9']
    teacher = TeacherFeatures(net, layers=None, scale=2, pool_size=4)
    hr = torch.rand(3, 3, 32, 32, requires_grad=True)
    feats = teacher(hr)
    assert len(feats) == 2 and all(f.shape == (3, 8 * 16) for f in feats)
    distribution_matching_loss(feats, [f.detach() + 1 for f in feats]).backward()
    assert hr.grad is not None and hr.grad.abs().sum() > 0
    # hooks are inactive outside __call__: the generator still renders normally
    out = net(torch.rand(1, 3, 8, 8))
    assert out.shape == (1, 3, 16, 16)
    feats_none = TeacherFeatures(net, ['body.1'], scale=2, pool_size=None)(hr)
    assert feats_none[0].shape == (3, 8 * 16 * 16)
    teacher.remove()
    with pytest.raises(ValueError):
        TeacherFeatures(net, ['nope'], scale=2)


def test_teacher_stops_early():
    net = _small_srvgg()
    calls = []
    net.upsampler.register_forward_hook(lambda *a: calls.append(1))
    TeacherFeatures(net, ['body.3'], scale=2)(torch.rand(1, 3, 16, 16))
    assert calls == []


def test_hf_residual_is_what_bicubic_sr_misses():
    from gsdd_basicsr.distill.matching import hf_residual
    torch.manual_seed(0)
    flat = torch.full((1, 3, 32, 32), 0.4)
    assert hf_residual(flat, 4).abs().max() < 1e-5  # nothing to restore
    noise = torch.rand(2, 3, 32, 32, requires_grad=True)
    res = hf_residual(noise, 4)
    assert res.shape == noise.shape and res.abs().mean() > 0.1  # pixel noise is almost all high frequency
    res.square().sum().backward()
    assert torch.isfinite(noise.grad).all() and noise.grad.abs().sum() > 0


def test_frequency_statistics_see_detail_per_scale():
    from gsdd_basicsr.distill.matching import FrequencyStatistics
    torch.manual_seed(0)
    stats = FrequencyStatistics(levels=3, patch=8)
    smooth = torch.nn.functional.interpolate(torch.rand(4, 3, 8, 8), size=(64, 64), mode='bilinear',
                                             align_corners=False)
    noisy = smooth + 0.2 * torch.randn_like(smooth)
    fs, fn = stats(smooth), stats(noisy)
    assert [f.shape for f in fs] == [(4, 6)] * 3
    assert (fn[0][:, :3] > fs[0][:, :3] + 2).all()  # much more energy in the finest band
    assert distribution_matching_loss(fs, fn) > distribution_matching_loss(fs, stats(smooth.flip(-1))) * 10


def test_grouped_matching_targets_the_nearest_real_images():
    from gsdd_basicsr.distill.matching import grouped_matching_loss
    torch.manual_seed(0)
    real = [torch.cat([torch.randn(30, 4) * 0.1 - 2, torch.randn(10, 4) * 0.1 + 2])]  # two clusters, 3:1
    syn = [torch.tensor([[-2.0] * 4, [2.0] * 4, [-2.0] * 4, [2.0] * 4], requires_grad=True)]  # groups 0, 1, 0, 1
    assert torch.allclose(grouped_matching_loss(real, syn, 1), distribution_matching_loss(real, syn))
    covered = grouped_matching_loss(real, syn, 2)
    assert covered < 0.01 < distribution_matching_loss(real, syn)  # each group sits on its own cluster
    moved = [syn[0].detach() + torch.tensor([[0.0], [1.0], [0.0], [1.0]])]  # group 1 off its cluster by 1 per dim
    assert grouped_matching_loss(real, moved, 2) == pytest.approx(0.25 * 4, rel=0.05)  # weight 10/40, 4 dims
    covered.backward()
    assert syn[0].grad is not None and torch.isfinite(syn[0].grad).all()
