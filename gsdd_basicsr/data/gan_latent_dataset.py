"""GANLatentDataset: train straight from a latent bank, without exporting images first.

At construction the bank's generator renders every ``HR = clamp(G(z), 0, 1)`` once (batched, no
autograd) and the images are kept in memory as 8-bit, exactly what ``tools/export_distilled.py``
writes to ``HR/``. Samples are then made like :class:`DistilledImageDataset` with
``lr_source: on_the_fly`` (LR = MATLAB bicubic of the HR crop, rounded to 8 bits), so a sample
equals the one built from the exported PNGs.
"""
import gc
from os import path as osp

import numpy as np
import torch
from basicsr.utils import get_root_logger
from basicsr.utils.registry import DATASET_REGISTRY

from gsdd_basicsr.bank.format import load_latent_bank
from gsdd_basicsr.bank.names import bank_image_names
from gsdd_basicsr.bank.render import build_bank_generator, render_bank
from gsdd_basicsr.data.sr_pair import SRPairDataset
from gsdd_basicsr.errors import GSDDError


@DATASET_REGISTRY.register()
class GANLatentDataset(SRPairDataset):
    """HR rendered from a latent bank, LR computed on the fly.

    Options (besides those of :class:`SRPairDataset`):
        latents (str): latent bank file.
        pretrain_network_g (str): generator weights (default: the bank's ``pretrain_network_g``).
        param_key_g (str): state-dict key (default: the bank's, else ``params_ema`` then ``params``).
        render_device (str): ``auto`` (default) | ``cpu`` | ``cuda``.
        render_batch_size (int): latents per generator pass (default 16).
    """

    def __init__(self, opt):
        lr_source = opt.get('lr_source', 'on_the_fly')
        if lr_source != 'on_the_fly':
            raise GSDDError(f"GANLatentDataset: lr_source must be on_the_fly (LR is computed from the rendered HR), "
                             f'got {lr_source!r}')
        super().__init__(opt, lr_source)
        latents = opt.get('latents')
        if not latents:
            raise GSDDError('GANLatentDataset: option latents (the latent bank file) is missing')
        bank = load_latent_bank(latents)
        if bank['scale'] != self.scale:
            raise GSDDError(f"GANLatentDataset: the latent bank {latents} has scale {bank['scale']}, "
                             f'but the dataset scale is {self.scale}')
        device = opt.get('render_device', 'auto')
        generator = build_bank_generator(bank, weights=opt.get('pretrain_network_g'), device=device,
                                         param_key=opt.get('param_key_g'))
        images = render_bank(bank, generator, batch_size=int(opt.get('render_batch_size', 16)))
        on_gpu = next(generator.parameters()).is_cuda
        del generator
        gc.collect()
        if on_gpu:
            torch.cuda.empty_cache()
        # BGR like imfrombytes, uint8 to keep memory small and equal to the exported PNGs
        self.images = [np.ascontiguousarray(img[..., ::-1]) for img in images]
        # virtual paths: <bank file without extension>/<exported file name>
        stem = osp.splitext(osp.abspath(latents))[0]
        self.paths = [osp.join(stem, n) for n in bank_image_names(bank)]
        self.class_names = bank['class_names']
        self.labels = bank['labels'].tolist()
        get_root_logger().info(f'GANLatentDataset: rendered {len(self.images)} HR images '
                               f'{self.images[0].shape[1]}x{self.images[0].shape[0]} from {latents}')

    def __len__(self):
        return len(self.images)

    def _load(self, index):
        return self.images[index], None, self.paths[index], self.paths[index]
