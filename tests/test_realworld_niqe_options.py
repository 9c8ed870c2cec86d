"""options/gsdd_test_realworld_niqe_x4.yml through gsdd_basicsr/test.py on a CPU: an LR-only folder (no ground
truth) super-resolved by a tiny RRDBNet and scored by NIQE."""
import glob
import os
import subprocess
import sys

import cv2
import numpy as np
import torch
import yaml

from helpers import ROOT


def test_lr_only_folder_gets_niqe(tmp_path):
    from basicsr.archs.rrdbnet_arch import RRDBNet
    with open(os.path.join(ROOT, 'options', 'gsdd_test_realworld_niqe_x4.yml')) as f:
        opt = yaml.safe_load(f)
    ds = opt['datasets']['test_1']
    assert ds['type'] == 'SingleImageDataset' and 'dataroot_gt' not in ds
    assert opt['val']['metrics'] == {'niqe': {'type': 'calculate_niqe', 'crop_border': 4, 'input_order': 'HWC',
                                              'convert_to': 'y', 'better': 'lower'}}
    # the file's own LR folder, under the run's folder: 2 textured LR images of 64 px
    # (SR 256 px: NIQE needs two 96 px blocks or more after the 4 px border, docs/realesrgan.md)
    lr = tmp_path / ds['dataroot_lq']
    lr.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(2):
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        img = cv2.resize(small, (64, 64), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(lr / f'photo_{i}.png'), np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8))
    # a tiny generator of the file's architecture at the file's weights path (params_ema, as GAN runs save);
    # seeded: with 8 of 40 seeds the random generator's output makes basicsr's NIQE fail (LinAlgError: SVD did
    # not converge), which is NIQE's limit, not the options file's
    opt['network_g'].update(num_feat=8, num_block=1, num_grow_ch=4)
    torch.manual_seed(1)
    weights = tmp_path / opt['path']['pretrain_network_g']
    weights.parent.mkdir(parents=True)
    torch.save({'params_ema': RRDBNet(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=4).state_dict()}, weights)
    (tmp_path / 'test.yml').write_text(yaml.safe_dump(opt))

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get('PYTHONPATH')])),
               CUDA_VISIBLE_DEVICES='')
    run = subprocess.run([sys.executable, os.path.join(ROOT, 'gsdd_basicsr', 'test.py'), '-opt', 'test.yml'],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    results = tmp_path / 'results' / opt['name']
    log = open(sorted(glob.glob(str(results / 'test_*.log')))[-1]).read()
    line = next(v for v in log.splitlines() if '# niqe:' in v)
    assert np.isfinite(float(line.split('# niqe:')[1].split()[0])) and 'psnr' not in log
    assert len(glob.glob(str(results / 'visualization' / ds['name'] / '*.png'))) == 2
