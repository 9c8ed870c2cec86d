"""The first latents of GSDDModel (``gsdd.init``): noise, downscaled real crops, or their GAN inversion."""
import torch
import torch.nn.functional as F

from gsdd_basicsr.utils.seeding import keyed_generator


class GSDDLatentInitMixin:
    """``_initialise_latents`` / ``_invert`` for :class:`GSDDModel`, run once by a run that does not resume.

    Class ``c``'s draws are keyed by ``(manual_seed, 'init', c)``: ``noise`` is uniform in [0, 1];
    ``real`` is ``ipc`` real crops of the class downscaled to the latent size (bicubic, antialiased);
    ``inversion`` starts there and runs ``gsdd.inversion_iters`` Adam steps of the L1 distance
    between the rendered latents and those crops.
    """

    @torch.no_grad()
    def _initialise_latents(self):
        """Latents of the classes this process owns; the rest are filled in by ``_gather_rows``."""
        g, p = self.gsdd, self.gsdd['latent_size']
        for c in self.own_classes:
            key = (self.seed, 'init', c)
            if g['init'] == 'noise':
                z = torch.rand(g['ipc'], 3, p, p, generator=keyed_generator(*key, device=self.device),
                               device=self.device)
            else:
                crops = self.real.sample_class(c, g['ipc'], key).to(self.device)
                z = F.interpolate(crops, size=(p, p), mode='bicubic', antialias=True, align_corners=False).clamp_(0, 1)
                if g['init'] == 'inversion' and g['inversion_iters'] > 0:
                    z = self._invert(z, crops, c)
            self.latents[self._class_rows(c)] = z
        self.latents.data = self._gather_rows(self.latents.data)

    @torch.enable_grad()
    def _invert(self, z, target, c):
        """``inversion_iters`` Adam steps of mean |clamp(G(z), 0, 1) - target|_1 (GAN inversion)."""
        z = z.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([z], lr=self.gsdd['inversion_lr'])
        for step in range(self.gsdd['inversion_iters']):
            optimizer.zero_grad(set_to_none=True)
            with self._autocast():
                out = self.net_g(z)
            loss = (out.float().clamp(0, 1) - target).abs().mean()
            if step == 0:
                first = loss.detach()
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()
        self.logger.info(f'Inversion of class {self.class_names[c]}: L1 {first.item():.4f} -> {loss.item():.4f} '
                         f'after {self.gsdd["inversion_iters"]} steps.')
        return z.detach()
