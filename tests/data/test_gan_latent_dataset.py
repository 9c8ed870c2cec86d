"""GANLatentDataset renders the bank once and yields the pairs of the exported PNGs."""
import random
from os import path as osp

import pytest
import torch

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.data.distilled_image_dataset import DistilledImageDataset
from gsdd_basicsr.data.gan_latent_dataset import GANLatentDataset
from gsdd_basicsr.data.sr_pair import SRPairDataset
from gsdd_basicsr.sets.export import export_distilled
from helpers import make_toy_bank


@pytest.fixture(scope='module')
def bank_and_export(tmp_path_factory):
    base = tmp_path_factory.mktemp('ganlatent')
    bank_path, weights, _ = make_toy_bank(base / 'bank', store_weights=False)
    out = str(base / 'out')
    export_distilled(bank_path, out, weights=weights, device='cpu')
    return bank_path, weights, out


def _opt(bank_path, weights, **kw):
    opt = {'name': 'g', 'type': 'GANLatentDataset', 'latents': bank_path, 'pretrain_network_g': weights,
           'render_device': 'cpu', 'render_batch_size': 4, 'scale': 4, 'phase': 'train', 'gt_size': 32,
           'use_hflip': True, 'use_rot': True}
    opt.update(kw)
    return opt


def test_val_pairs_equal_exported_pngs(bank_and_export):
    from basicsr.data import build_dataset
    bank_path, weights, out = bank_and_export
    gan = build_dataset(_opt(bank_path, weights, phase='val'))
    assert isinstance(gan, GANLatentDataset) and isinstance(gan, SRPairDataset) and len(gan) == 6
    files = DistilledImageDataset({'dataroot': out, 'io_backend': {'type': 'disk'}, 'scale': 4, 'phase': 'val'})
    for i in range(len(gan)):
        a, b = gan[i], files[i]
        assert osp.basename(a['gt_path']) == osp.basename(b['gt_path'])
        assert a['gt_path'] == osp.join(osp.splitext(bank_path)[0], osp.basename(b['gt_path']))
        assert torch.equal(a['gt'], b['gt'])  # the cache is the 8-bit export
        assert (a['lq'] - b['lq']).abs().max().item() <= 1 / 255 + 1e-6  # up to 8-bit rounding
        assert torch.equal(a['lq'], b['lq'])  # (and in fact equal: both are rounded the same way)


def test_train_samples_equal_on_the_fly_export(bank_and_export):
    bank_path, weights, out = bank_and_export
    gan = GANLatentDataset(_opt(bank_path, weights))
    files = DistilledImageDataset({'dataroot': out, 'io_backend': {'type': 'disk'}, 'scale': 4, 'phase': 'train',
                                   'gt_size': 32, 'use_hflip': True, 'use_rot': True, 'lr_source': 'on_the_fly'})
    for seed in range(3):
        random.seed(seed)
        a = [gan[i] for i in range(6)]
        random.seed(seed)
        b = [files[i] for i in range(6)]
        for x, y in zip(a, b):
            assert x['gt'].shape == (3, 32, 32) and x['lq'].shape == (3, 8, 8)
            assert torch.equal(x['gt'], y['gt']) and torch.equal(x['lq'], y['lq'])


def test_uses_bank_weights_and_checks_options(bank_and_export, tmp_path):
    bank_path, weights, _ = bank_and_export
    with pytest.raises(ValueError, match='no generator weights'):
        GANLatentDataset(_opt(bank_path, None))
    with pytest.raises(ValueError, match='scale 4.*dataset scale is 2'):
        GANLatentDataset(_opt(bank_path, weights, scale=2, gt_size=16))
    with pytest.raises(ValueError, match='on_the_fly'):
        GANLatentDataset(_opt(bank_path, weights, lr_source='stored'))
    with_w, _, _ = make_toy_bank(tmp_path)  # bank that names its weights
    ds = GANLatentDataset(_opt(with_w, None, phase='val'))
    assert len(ds) == 6 and ds[5]['gt'].shape == (3, 64, 64)
