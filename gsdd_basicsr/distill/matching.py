"""Matching losses of a distillation step: distribution matching, the latent regulariser R, and
the feature spaces besides the random ConvNet: frozen-generator ("teacher") features, local
frequency statistics, and the high-frequency residual an SR network has to restore."""
import torch
import torch.nn.functional as F

from gsdd_basicsr.distill.resampling import resize_matrices


def _as_list(feats):
    if isinstance(feats, torch.Tensor):
        return [feats]
    return list(feats)


def distribution_matching_loss(feats_real, feats_syn):
    """DM's loss: squared distance between the mean embeddings of two batches, summed over layers.

    ``sum_l || mean_b real_l - mean_b syn_l ||^2`` (a sum of squares over feature dimensions, as
    in DM's code, not a mean), so the batches may have different sizes.

    Args:
        feats_real, feats_syn (Tensor | list[Tensor]): ``B x D`` features, one tensor per layer
            (the same number of layers and the same ``D`` per layer on both sides; a ``B x ...``
            tensor is flattened).

    Returns:
        Tensor: scalar.
    """
    feats_real, feats_syn = _as_list(feats_real), _as_list(feats_syn)
    if len(feats_real) != len(feats_syn):
        raise ValueError(f'{len(feats_real)} real feature layers but {len(feats_syn)} synthetic ones.')
    if not feats_real:
        raise ValueError('No features to match.')
    loss = 0
    for fr, fs in zip(feats_real, feats_syn):
        diff = fr.flatten(1).mean(dim=0) - fs.flatten(1).mean(dim=0)
        loss = loss + (diff * diff).sum()
    return loss


def grouped_matching_loss(feats_real, feats_syn, groups):
    """Distribution matching with finer targets: ``groups`` means per class instead of one.

    Synthetic image ``i`` belongs to group ``i % groups``. Each real image joins the group whose
    synthetic mean is nearest to it (squared distance over all layers' features, no gradient
    through the assignment), and every group's mean is matched to the mean of its real images,
    weighted by the group's share of the real batch:
    ``sum_j |X_j| / |X| * sum_l || mean real_l[X_j] - mean syn_l[S_j] ||^2``. Groups that attract
    no real image add nothing. With ``groups == 1`` this is :func:`distribution_matching_loss`.

    Args:
        feats_real, feats_syn (list[Tensor]): ``B x D`` features per layer, as for
            :func:`distribution_matching_loss` (at least ``groups`` synthetic images).
        groups (int): number of synthetic groups.

    Returns:
        Tensor: scalar.
    """
    feats_real, feats_syn = _as_list(feats_real), _as_list(feats_syn)
    if groups <= 1:
        return distribution_matching_loss(feats_real, feats_syn)
    n_syn = feats_syn[0].shape[0]
    if n_syn < groups:
        raise ValueError(f'{groups} groups need at least as many synthetic images, got {n_syn}.')
    real = [f.flatten(1) for f in feats_real]
    syn = [f.flatten(1) for f in feats_syn]
    onehot = F.one_hot(torch.arange(n_syn, device=syn[0].device) % groups, groups).to(syn[0].dtype)  # n_syn x G
    syn_means = [onehot.t() @ f / onehot.sum(0, keepdim=True).t() for f in syn]  # G x D per layer
    with torch.no_grad():
        dist = sum(torch.cdist(r.float(), m.detach().float()).square() for r, m in zip(real, syn_means))
        member = F.one_hot(dist.argmin(dim=1), groups).to(real[0].dtype)  # n_real x G
    count = member.sum(0)  # real images per group
    used = count > 0
    loss = 0
    for r, m in zip(real, syn_means):
        real_means = member.t() @ r / count.clamp(min=1).unsqueeze(1)
        diff = (real_means - m)[used]
        loss = loss + ((diff * diff).sum(dim=1) * count[used] / r.shape[0]).sum()
    return loss


def latent_homogeneity(z, eps=1e-8):
    """The regulariser R against latents of one class collapsing onto each other.

    Definition, for the ``n`` latents ``z_1 .. z_n`` of one class (``n x C x p x p``):

    1. centre each latent on itself: subtract from each channel of ``z_i`` its spatial mean,
       ``c_i = z_i - mean_{x,y} z_i`` (per latent, per channel);
    2. flatten and L2-normalise: ``u_i = c_i / max(||c_i||, eps)``;
    3. ``R = 1 / (n (n - 1)) * sum_{i != j} <u_i, u_j>``, the mean pairwise cosine similarity,
       i.e. the mean pairwise Pearson correlation of the latents' pixel patterns. ``R = 0`` for
       ``n < 2``.

    Why centre: latents are LR images, all positive with a large shared DC / colour component,
    so raw cosine similarities of unrelated images are already ~0.7-0.9 and R would mostly reward
    brightness and colour shifts. After centring, unrelated images score ~0, identical or
    near-identical ones ~1, so R measures the structural sameness that collapse produces.

    Why each latent on itself and not on the class mean latent: centred on the class mean, the
    vectors sum to zero, so ``sum_{i != j} <u_i, u_j> = ||sum_i u_i||^2 - n`` is ``~ -n`` for
    almost any configuration (spread, collapsed to a point, or split into clusters alike: R then
    sits at ``-1/(n-1)`` and only sees differences of norm), so it cannot detect collapse.

    Range: ``[-1/(n-1), 1]`` (the lower bound because ``||sum_i u_i||^2 >= 0``); ``1`` when all
    latents have the same pattern up to brightness and contrast, about 0 for independent
    patterns. Minimising ``lambda * R`` (the paper's best ``lambda`` is 0.1) decorrelates the
    latents of a class, spreading them apart. Computed from the Gram matrix, no loops.
    Latents that are constant per channel (zero after centring) count as orthogonal to all.

    Args:
        z (Tensor): ``n x C x p x p`` (any ``n x ...``) latents of one class.
        eps (float): guards the normalisation.

    Returns:
        Tensor: scalar, differentiable with respect to ``z``.
    """
    n = z.shape[0]
    if n < 2:
        return z.sum() * 0.0
    c = z.flatten(2) if z.dim() > 2 else z.unsqueeze(1)
    c = c - c.mean(dim=-1, keepdim=True)
    u = F.normalize(c.flatten(1), dim=1, eps=eps)
    gram = u @ u.t()
    return (gram.sum() - gram.diagonal().sum()) / (n * (n - 1))


def _pool(x, size):
    """Adaptive average pooling to ``size x size``; a plain ``avg_pool2d`` (same result, and a
    deterministic CUDA backward) when the feature map divides evenly."""
    h, w = x.shape[-2:]
    if h % size == 0 and w % size == 0:
        return F.avg_pool2d(x, (h // size, w // size))
    return F.adaptive_avg_pool2d(x, size)


class _StopForward(Exception):
    """Raised from the hook of the last needed layer to skip the rest of the generator."""


_UPSAMPLE_BLOCK_NAMES = ('conv_up1', 'conv_up2', 'conv_hr', 'conv_last', 'upsampler')


def default_layers(generator):
    """Sensible trunk layers of a BasicSR SR generator for :class:`TeacherFeatures`.

    * ``SRVGGNetCompact``: the activation after the middle body conv and the last activation
      before ``conv_last`` (e.g. ``['body.17', 'body.33']`` for 16 convs).
    * ``RRDBNet``: the middle RRDB block and ``conv_body`` (trunk output before the skip add;
      e.g. ``['body.11', 'conv_body']`` for 23 blocks).

    Args:
        generator (nn.Module): the generator (unwrapped from DataParallel etc.).

    Returns:
        list[str]: submodule names.

    Raises:
        ValueError: for other architectures (pass ``layers`` explicitly).
    """
    name = type(generator).__name__
    if name == 'SRVGGNetCompact':
        num_conv = (len(generator.body) - 3) // 2
        last_act = 2 * num_conv + 1
        mid_act = 2 * (num_conv // 2) + 1
        return sorted({f'body.{mid_act}', f'body.{last_act}'}, key=lambda s: int(s.split('.')[1]))
    if name == 'RRDBNet':
        nb = len(generator.body)
        return [f'body.{(nb - 1) // 2}', 'conv_body']
    raise ValueError(f'No default teacher layers for {name}; pass layer names explicitly.')


class TeacherFeatures:
    """Features of a frozen SR generator's trunk on the bicubic LR of an HR batch (IDC-style).

    ``__call__(hr)`` downsamples ``hr`` by ``scale`` (``F.interpolate`` bicubic with antialias,
    differentiable), runs the generator until every hooked layer has produced its output (a
    private exception raised from the last hook stops it early, so the upsampling tail is
    skipped), and returns each layer's output adaptively average-pooled to
    ``pool_size x pool_size`` and flattened: a list of ``B x (C * pool_size^2)`` tensors, in the
    order of ``layers``, ready for :func:`distribution_matching_loss`.

    The hooks only record while ``__call__`` runs, so the same generator can render latents in
    between unaffected. The generator is not modified: freeze it yourself
    (``requires_grad_(False)``); gradients still flow to ``hr``. Hook the output of a module
    that is not modified in place afterwards (an activation rather than a conv followed by an
    in-place ReLU); the defaults do.

    Args:
        generator (nn.Module): a BasicSR generator (``SRVGGNetCompact``, ``RRDBNet``, ...).
        layers (list[str] | None): names of submodules (as in ``named_modules()``); ``None`` uses
            :func:`default_layers`.
        scale (int): SR scale of the generator.
        pool_size (int | None): side of the adaptive average pooling grid; ``None`` flattens
            the full feature map.
    """

    def __init__(self, generator, layers=None, scale=4, pool_size=4):
        self.generator = generator
        self.layers = list(layers) if layers is not None else default_layers(generator)
        if not self.layers:
            raise ValueError('TeacherFeatures needs at least one layer.')
        self.scale = int(scale)
        self.pool_size = pool_size
        modules = dict(generator.named_modules())
        missing = [name for name in self.layers if name not in modules]
        if missing:
            raise ValueError(f'Generator {type(generator).__name__} has no submodule(s) {missing}.')
        self._active = False
        self._outputs = {}
        self._handles = [modules[name].register_forward_hook(self._make_hook(name)) for name in self.layers]

    def _make_hook(self, name):

        def hook(module, inputs, output):
            if not self._active:
                return
            self._outputs[name] = output
            if len(self._outputs) == len(set(self.layers)):
                raise _StopForward

        return hook

    def downsample(self, hr):
        """Differentiable bicubic (antialiased) downsampling by ``scale``."""
        h, w = hr.shape[-2:]
        size = (h // self.scale, w // self.scale)
        hr = hr.float()  # resampling kernels: float32 (bf16 has none on some devices); autocast recasts after
        if torch.are_deterministic_algorithms_enabled():  # the antialiased bicubic backward is not
            return resize_matrices(hr, size)
        return F.interpolate(hr, size=size, mode='bicubic', antialias=True, align_corners=False)

    def __call__(self, hr):
        """``B x 3 x H x W`` HR batch -> list of ``B x D`` features, one per layer."""
        lr = self.downsample(hr)
        self._outputs = {}
        self._active = True
        try:
            self.generator(lr)
        except _StopForward:
            pass
        finally:
            self._active = False
        outputs, self._outputs = self._outputs, {}
        missing = [name for name in self.layers if name not in outputs]
        if missing:
            raise RuntimeError(f'Layer(s) {missing} did not run in the generator forward.')
        feats = []
        for name in self.layers:
            out = outputs[name]
            if self.pool_size is not None:
                out = _pool(out, self.pool_size)
            feats.append(out.flatten(1))
        return feats

    def remove(self):
        """Remove the hooks from the generator."""
        for handle in self._handles:
            handle.remove()
        self._handles = []


def hf_residual(x, scale):
    """``x - up(down(x))``: what bicubic SR by ``scale`` misses, the part an SR network must add.

    ``down`` is antialiased bicubic by ``1 / scale``, ``up`` bicubic back to the input size, both
    as matrix products (:func:`gsdd_basicsr.distill.resampling.resize_matrices`: differentiable,
    deterministic on CUDA).

    Args:
        x (Tensor): B x C x H x W, H and W multiples of ``scale``.

    Returns:
        Tensor: B x C x H x W, about zero-mean.
    """
    h, w = x.shape[-2:]
    x = x.float()
    return x - resize_matrices(resize_matrices(x, (h // scale, w // scale)), (h, w))


class FrequencyStatistics:
    """Local frequency statistics of an image batch, as features for :func:`distribution_matching_loss`.

    A Haar-like Laplacian pyramid: ``G_0 = x``, ``G_{l+1} = avgpool_2(G_l)``, band
    ``B_l = G_l - nearest_up(G_{l+1})`` for ``l < levels``. Each band's energy is averaged over
    ``patch x patch`` windows (``log(mean(B_l^2) + eps)``), and each image gets, per band and
    channel, the mean and the standard deviation of its windows' log energies: how much detail
    of each scale the image has, and how unevenly it is spread. No learned or random weights.

    Returns from ``__call__(x)`` (B x C x H x W): a list of ``levels`` tensors of B x 2C.
    """

    def __init__(self, levels=3, patch=8, eps=1e-6):
        self.levels, self.patch, self.eps = int(levels), int(patch), float(eps)

    def __call__(self, x):
        feats, g = [], x.float()
        for _ in range(self.levels):
            low = F.avg_pool2d(g, 2)
            band = g - F.interpolate(low, scale_factor=2, mode='nearest')
            patch = min(self.patch, band.shape[-1], band.shape[-2])
            energy = torch.log(F.avg_pool2d(band * band, patch) + self.eps).flatten(2)
            feats.append(torch.cat([energy.mean(dim=2), energy.std(dim=2, unbiased=False)], dim=1))
            g = low
        return feats
