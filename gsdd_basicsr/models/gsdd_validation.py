"""Validation of GSDDModel: the decoded bank, its grid image and the figures logged at every validation."""
import math
from os import path as osp

import torch
from basicsr.utils import imwrite, tensor2img
from torchvision.utils import make_grid

from gsdd_basicsr.bank.render import render_latents
from gsdd_basicsr.distill.matching import distribution_matching_loss, latent_homogeneity
from gsdd_basicsr.errors import GSDDError, out_of_memory_hint


class GSDDValidationMixin:
    """``render`` / ``validation`` for :class:`GSDDModel` (BasicSR calls ``validation`` every
    ``val.val_freq`` iterations with the ``datasets.val`` loader; only its dataset is read)."""

    @torch.no_grad()
    def render(self, batch_size=None):
        """All latents decoded: N x 3 x sp x sp in [0, 1] (collective under --launcher pytorch)."""
        return render_latents(self._gather_rows(self.latents.detach()), self.net_g, batch_size or self.gsdd['ipc'])

    @torch.no_grad()
    def validation(self, dataloader, current_iter, tb_logger, save_img=False):
        """Grid of the bank plus three figures, logged and written to tensorboard.

        - ``val_dm``: distribution-matching loss between ``gsdd.val_crops`` held-out real crops
          (a ``ClassImageDataset``; the same crops at every validation) and the whole decoded bank,
          averaged over ``gsdd.val_embed_draws`` fixed random embedding networks (no augmentation;
          lower = the bank looks more like unseen real data);
        - ``diversity``: mean pairwise RMS pixel distance between decoded images of one class, in
          [0, 1] units, averaged over classes (0 = collapsed);
        - ``homogeneity``: R of each class's latents, averaged over classes.
        """
        with out_of_memory_hint('the validation', 'lower gsdd.ipc (the bank renders one class at a time) or '
                                'gsdd.val_crops'):
            return self._validate(dataloader, current_iter, tb_logger)

    def _validate(self, dataloader, current_iter, tb_logger):
        images = self.render()
        real = self._val_crops(dataloader.dataset).to(self.device)
        if real.shape[-2:] != images.shape[-2:]:
            raise GSDDError(f"validation crops are {tuple(real.shape[-2:])} but the bank renders "
                            f"{tuple(images.shape[-2:])}; set gt_size: {self.hr_size} in the val dataset.")
        val_dm = []
        for k in range(self.gsdd['val_embed_draws']):
            self._draw_space(self.seed, 'val', k)
            val_dm.append(distribution_matching_loss(self._embed(real), self._embed(images)))
        rows = [self._class_rows(c) for c in range(self.num_classes)]
        diversity, homogeneity = [], []
        for r in rows:
            flat = images[r].flatten(1)
            if len(flat) > 1:
                dists = torch.cdist(flat, flat) / math.sqrt(flat.shape[1])
                diversity.append(dists.sum() / (len(flat) * (len(flat) - 1)))
            homogeneity.append(latent_homogeneity(self.latents[r]))
        metrics = {
            'val_dm': torch.stack(val_dm).mean().item(),
            'diversity': torch.stack(diversity).mean().item() if diversity else 0.0,
            'homogeneity': torch.stack(homogeneity).mean().item(),
        }
        self.metric_results = metrics
        if self.rank != 0:
            return metrics
        name = dataloader.dataset.opt.get('name', 'val')
        self.logger.info(f'Validation {name} at iter {current_iter}: ' +
                         ', '.join(f'{k}: {v:.4e}' for k, v in metrics.items()))
        grid = self._grid(images)
        imwrite(tensor2img(grid), osp.join(self.opt['path']['visualization'], f'grid_{current_iter}.png'))
        if tb_logger:
            for key, value in metrics.items():
                tb_logger.add_scalar(f'metrics/{name}/{key}', value, current_iter)
            tb_logger.add_image('gsdd/grid', grid, current_iter)
        return metrics

    def _val_crops(self, dataset):
        """``gsdd.val_crops`` held-out crops, spread evenly over the val classes (fixed draw)."""
        if not hasattr(dataset, 'sample_class'):
            raise GSDDError('the val dataset must be a ClassImageDataset (class_mode: instance for a flat folder).')
        per_class = max(1, math.ceil(self.gsdd['val_crops'] / dataset.num_classes))
        return torch.cat([dataset.sample_class(c, per_class, (self.seed, 'val', c))
                          for c in range(dataset.num_classes)])

    def _grid(self, images):
        """One row per class, up to ``grid_per_class`` images each: 3 x H x W in [0, 1]."""
        cols = min(self.gsdd['grid_per_class'], self.gsdd['ipc'])
        picked = torch.cat([images[self._class_rows(c)][:cols] for c in range(self.num_classes)])
        return make_grid(picked, nrow=cols, padding=2, pad_value=1.0)
