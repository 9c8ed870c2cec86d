"""The regulariser R on spread and collapsed latents, centred per latent (ours) or on the class mean (the
alternative it rejects): docs/method.md, "The regulariser R". The latents are those of
tests/distill/test_matching.py: n = 8 of 3 x 8 x 8, spread = uniform noise, collapsed = one pattern + 0.01 noise.

    python docs/records/regulariser.py     # -> docs/records/regulariser.json
"""
import torch

from gsdd_basicsr.distill.matching import latent_homogeneity
from record import save


def class_mean_centred(z):
    """R with each latent centred on the class mean latent instead of on itself."""
    u = (z - z.mean(0, keepdim=True)).flatten(1)
    u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-8)
    n = len(u)
    return ((u @ u.T).sum() - n) / (n * (n - 1))


def result():
    """The record's figures (deterministic: fixed seeds)."""
    n = 8
    spread = torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    base = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    collapsed = base + 0.01 * torch.randn(n, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    return {
        'n': n, 'lower bound -1/(n-1)': round(-1 / (n - 1), 4),
        'per-latent centring (latent_homogeneity)': {'spread': round(latent_homogeneity(spread).item(), 4),
                                                     'collapsed': round(latent_homogeneity(collapsed).item(), 4)},
        'class-mean centring': {'spread': round(class_mean_centred(spread).item(), 4),
                                'collapsed': round(class_mean_centred(collapsed).item(), 4)},
    }


def main():
    save('regulariser', result())


if __name__ == '__main__':
    main()
