"""Differentiable siamese augmentation (DSA; Zhao & Bilen, ICML 2021), written in plain torch.

In a distillation step the real batch ``X_c`` and the synthetic batch ``S_c`` must go through
the *same* random transformation (the siamese pair), and gradients must flow through it back
to the synthetic images (and on to the latents). :class:`SiameseAugment` splits this in two:

* :meth:`SiameseAugment.draw` takes every random number of one draw from an explicit
  ``torch.Generator`` (see :func:`gsdd_basicsr.utils.seeding.keyed_generator`, key e.g.
  ``(seed, iteration, class_idx, 'augment')``) and returns them as a plain dict of Python
  numbers, one parameter set for the whole batch (DSA's siamese mode);
* :meth:`SiameseAugment.apply` applies that dict to any ``B x 3 x H x W`` batch, whatever ``B``,
  so ``apply(real, p)`` and ``apply(syn, p)`` transform every image identically.

We do not use kornia's augmentation module on purpose: its draws come from the global RNG (or
its own per-call state), and a parameter set drawn for one batch is tied to that batch's size;
here the draw must come from a keyed generator (so resumed and sharded runs draw the same
thing) and one draw must apply to two batches of different sizes.

Operations (names as in DSA's ``strategy`` string, default magnitudes are DSA's):

============  =================================================================================
``color``     brightness ``x + (u - 0.5) * brightness``; saturation ``(x - m_c) * u * saturation
              + m_c`` (``m_c``: per-pixel channel mean); contrast ``(x - m) * (u + contrast) + m``
              (``m``: per-image mean). All three are applied, in this order.
``crop``      translation by a whole number of pixels, up to ``crop_ratio`` of the size in each
              direction, zero fill (DSA's pad-and-crop).
``cutout``    zero a square of side ``cutout_ratio`` of the image size at a random position.
``flip``      horizontal flip with probability ``flip_prob``.
``scale``     independent x / y scaling of the sampling grid by a factor in
              ``[1 / scale_ratio, scale_ratio]``, zero fill.
``rotate``    rotation by an angle in ``[-rotate_degrees, rotate_degrees]``, zero fill.
============  =================================================================================

``mode='single'`` (the default, DSA's and DM's ``aug_mode='S'``) applies *one* operation per
draw, chosen uniformly from the strategy; ``mode='multiple'`` applies all of them (colour, then
the geometric ops as one resampling, then cutout). Every draw consumes the same fixed number of
random numbers from the generator whatever the strategy and mode.

Implementation: colour ops are vectorised arithmetic; crop, flip, scale and rotate are composed
into a single 2 x 3 matrix and applied with one ``affine_grid`` + ``grid_sample`` pass
(bilinear, ``align_corners=True`` as in DSA; under ``torch.use_deterministic_algorithms`` the same
sampling through :func:`gsdd_basicsr.distill.resampling.bilinear_sample`); when only crop and/or flip
are active they are done exactly with padding / slicing / ``flip`` instead; cutout is a broadcast mask multiply.
There is no loop over images or pixels. The output is not clamped (DSA does not clamp either,
and clamping would cut gradients), so it may leave ``[0, 1]``.

Differences from DSA's reference code, none of which change the distribution of a single op:
in ``'multiple'`` mode cutout is applied after the geometric ops (DSA: between crop and flip),
and the geometric ops are sampled once instead of one interpolation per op.
"""
import math

import torch
import torch.nn.functional as F

from gsdd_basicsr.distill.resampling import bilinear_sample

_OPS = ('color', 'crop', 'cutout', 'flip', 'scale', 'rotate')
_NUM_UNIFORMS = 12  # op choice, brightness, saturation, contrast, crop(2), cutout(2), flip, scale(2), rotate


class SiameseAugment:
    """Differentiable siamese augmentation with explicitly drawn parameters.

    Args:
        strategy (str): ops joined by ``_``, from ``color crop cutout flip scale rotate``;
            ``''`` or ``'none'`` for the identity.
        brightness, saturation, contrast (float): colour magnitudes (DSA: 1.0, 2.0, 0.5).
        crop_ratio (float): largest translation, as a fraction of the size (DSA: 0.125).
        cutout_ratio (float): side of the cutout square, as a fraction of the size (DSA: 0.5).
        scale_ratio (float): scale factors lie in ``[1 / scale_ratio, scale_ratio]`` (DSA: 1.2).
        rotate_degrees (float): largest rotation angle in degrees (DSA: 15).
        flip_prob (float): probability of a horizontal flip (DSA: 0.5).
        mode (str): ``'single'`` (one op per draw, DSA/DM default) or ``'multiple'`` (all ops).

    Example::

        aug = SiameseAugment()
        params = aug.draw(keyed_generator(seed, it, c, 'augment'))
        real_aug, syn_aug = aug.apply(real, params), aug.apply(syn, params)
    """

    def __init__(self,
                 strategy='color_crop_cutout_flip_scale_rotate',
                 brightness=1.0,
                 saturation=2.0,
                 contrast=0.5,
                 crop_ratio=0.125,
                 cutout_ratio=0.5,
                 scale_ratio=1.2,
                 rotate_degrees=15,
                 flip_prob=0.5,
                 mode='single'):
        ops = [] if strategy in (None, '', 'none', 'None') else strategy.split('_')
        unknown = [op for op in ops if op not in _OPS]
        if unknown:
            raise ValueError(f'Unknown augmentation op(s) {unknown}; choose from {_OPS}.')
        if mode not in ('single', 'multiple'):
            raise ValueError(f"mode must be 'single' or 'multiple', got {mode!r}.")
        self.strategy = '_'.join(ops)
        self.ops = tuple(ops)
        self.brightness = float(brightness)
        self.saturation = float(saturation)
        self.contrast = float(contrast)
        self.crop_ratio = float(crop_ratio)
        self.cutout_ratio = float(cutout_ratio)
        self.scale_ratio = float(scale_ratio)
        self.rotate_degrees = float(rotate_degrees)
        self.flip_prob = float(flip_prob)
        self.mode = mode

    def __repr__(self):
        return (f'{self.__class__.__name__}(strategy={self.strategy!r}, mode={self.mode!r}, '
                f'brightness={self.brightness}, saturation={self.saturation}, contrast={self.contrast}, '
                f'crop_ratio={self.crop_ratio}, cutout_ratio={self.cutout_ratio}, '
                f'scale_ratio={self.scale_ratio}, rotate_degrees={self.rotate_degrees}, '
                f'flip_prob={self.flip_prob})')

    # ------------------------------------------------------------------ draw
    def draw(self, generator, device=None):
        """Draw the parameters of one augmentation, shared by every image of any batch.

        Args:
            generator (torch.Generator): the only source of randomness.
            device: where the random numbers are drawn; must be the generator's device
                (``None``, the default, follows the generator). The result holds Python
                numbers only, so it applies to tensors on any device.

        Returns:
            dict: ``ops`` (tuple of the active op names) and, for every op of the strategy,
            its parameters: ``brightness`` (additive shift), ``saturation`` and ``contrast``
            (factors), ``crop`` (``(ty, tx)`` translation as fractions of H / W), ``cutout``
            (``(cy, cx)`` centre position in ``[0, 1)``), ``flip`` (bool), ``scale``
            (``(sx, sy)`` factors), ``rotate`` (angle in radians).
        """
        if device is None:
            device = generator.device
        u = torch.rand(_NUM_UNIFORMS, generator=generator, device=device, dtype=torch.float64).tolist()
        if not self.ops:
            active = ()
        elif self.mode == 'single':
            active = (self.ops[min(int(u[0] * len(self.ops)), len(self.ops) - 1)], )
        else:
            active = self.ops
        params = {'ops': active}
        if 'color' in self.ops:
            params['brightness'] = (u[1] - 0.5) * self.brightness
            params['saturation'] = u[2] * self.saturation
            params['contrast'] = u[3] + self.contrast
        if 'crop' in self.ops:
            params['crop'] = ((2 * u[4] - 1) * self.crop_ratio, (2 * u[5] - 1) * self.crop_ratio)
        if 'cutout' in self.ops:
            params['cutout'] = (u[6], u[7])
        if 'flip' in self.ops:
            params['flip'] = u[8] < self.flip_prob
        if 'scale' in self.ops:
            r = self.scale_ratio
            params['scale'] = (u[9] * (r - 1 / r) + 1 / r, u[10] * (r - 1 / r) + 1 / r)
        if 'rotate' in self.ops:
            params['rotate'] = (u[11] - 0.5) * 2 * self.rotate_degrees / 180 * math.pi
        return params

    # ----------------------------------------------------------------- apply
    def apply(self, x, params):
        """Apply one drawn parameter set to every image of ``x``.

        Args:
            x (Tensor): ``B x C x H x W`` float (colour ops expect ``C == 3`` images in
                ``[0, 1]``, but any ``C`` works), any ``B``.
            params (dict): from :meth:`draw`.

        Returns:
            Tensor: same shape as ``x``; differentiable with respect to ``x``.
        """
        ops = params['ops']
        if 'color' in ops:
            x = _color(x, params['brightness'], params['saturation'], params['contrast'])
        geo = [op for op in ('crop', 'flip', 'scale', 'rotate') if op in ops]
        if geo:
            x = _geometric(x, params, geo)
        if 'cutout' in ops:
            x = _cutout(x, params['cutout'], self.cutout_ratio)
        return x

    def __call__(self, x, generator):
        """``apply(x, draw(generator))``."""
        return self.apply(x, self.draw(generator))


# ---------------------------------------------------------------------- ops
def _color(x, brightness, saturation, contrast):
    x = x + brightness
    m = x.mean(dim=1, keepdim=True)
    x = (x - m) * saturation + m
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - m) * contrast + m


def _pixel_shift(frac, size):
    """Whole-pixel shift for a translation ``frac`` of ``size``, at most DSA's ``int(size * r + 0.5)``."""
    return int(round(frac * size))


def _translate(x, dy, dx):
    """``out[..., i, j] = x[..., i + dy, j + dx]``, zeros outside (exact, no interpolation)."""
    if dy == 0 and dx == 0:
        return x
    h, w = x.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        return torch.zeros_like(x)
    # pad on the side we read past, then take the window
    x = F.pad(x, (max(-dx, 0), max(dx, 0), max(-dy, 0), max(dy, 0)))
    y0, x0 = max(dy, 0), max(dx, 0)
    return x[..., y0:y0 + h, x0:x0 + w]


def _geometric(x, params, geo):
    h, w = x.shape[-2:]
    dy = dx = 0
    if 'crop' in geo:
        dy, dx = _pixel_shift(params['crop'][0], h), _pixel_shift(params['crop'][1], w)
    flip = 'flip' in geo and params['flip']
    if 'scale' not in geo and 'rotate' not in geo:
        # exact path: translation then flip (the composed map samples x at (flip(p) + t))
        x = _translate(x, dy, dx)
        return x.flip(-1) if flip else x

    # Compose the sampling maps (output coords -> input coords, normalised, align_corners=True).
    # Applying op1 then op2 samples the input at M1 @ M2 @ p, in DSA's order crop, flip, scale, rotate.
    mat = torch.eye(3, dtype=torch.float64)
    if dx or dy:
        mat = mat @ torch.tensor([[1, 0, 2 * dx / max(w - 1, 1)], [0, 1, 2 * dy / max(h - 1, 1)], [0, 0, 1]],
                                 dtype=torch.float64)
    if flip:
        mat = mat @ torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))
    if 'scale' in geo:
        sx, sy = params['scale']
        mat = mat @ torch.diag(torch.tensor([sx, sy, 1.0], dtype=torch.float64))
    if 'rotate' in geo:
        a = params['rotate']
        c, s = math.cos(a), math.sin(a)
        mat = mat @ torch.tensor([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=torch.float64)
    theta = mat[:2].to(device=x.device, dtype=x.dtype).unsqueeze(0)
    grid = F.affine_grid(theta, (1, x.shape[1], h, w), align_corners=True)
    if torch.are_deterministic_algorithms_enabled():  # grid_sample's backward has no deterministic CUDA kernel
        return bilinear_sample(x, grid)
    # one grid, broadcast over the batch (expand is free)
    return F.grid_sample(x, grid.expand(x.shape[0], h, w, 2), mode='bilinear', padding_mode='zeros',
                         align_corners=True)


def _cutout(x, centre, ratio):
    h, w = x.shape[-2:]
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # DSA: offset uniform over [0, size + 1 - side % 2), square of `side` centred on it, clipped
    oy = min(int(centre[0] * (h + 1 - ch % 2)), h - ch % 2) - ch // 2
    ox = min(int(centre[1] * (w + 1 - cw % 2)), w - cw % 2) - cw // 2
    rows = torch.arange(h, device=x.device)
    cols = torch.arange(w, device=x.device)
    inside = ((rows >= oy) & (rows < oy + ch))[:, None] & ((cols >= ox) & (cols < ox + cw))[None, :]
    return x * (~inside).to(x.dtype)
