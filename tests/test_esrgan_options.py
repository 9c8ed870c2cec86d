"""The GAN recipe on an exported set: basicsr's ESRGANModel with the offline perceptual loss and LPIPS validation."""
import os

import numpy as np
import pytest
import yaml

from gsdd_basicsr.sets.export import write_image_set
from helpers import ROOT


def _smooth_images(n, size, seed):
    import cv2
    rng = np.random.default_rng(seed)
    return [cv2.resize(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
            for _ in range(n)]


@pytest.mark.parametrize('steps', [3])
def test_esrgan_options_train_on_an_exported_set(tmp_path, lpips_files, steps, runs_in_process):
    train = str(tmp_path / 'set')
    write_image_set(train, _smooth_images(4, 64, 0), [f'c_{i}.png' for i in range(4)], 4, groups=['c'] * 4)
    val = str(tmp_path / 'val')
    write_image_set(val, _smooth_images(2, 144, 1), ['a.png', 'b.png'], 4)
    with open(os.path.join(ROOT, 'options', 'gsdd_train_ESRGAN_S_x4.yml')) as f:
        opt = yaml.safe_load(f)
    opt.update(name='esrgan_tiny', num_gpu=0)
    opt['datasets']['train'].update(dataroot=train, gt_size=32, batch_size_per_gpu=2, dataset_enlarge_ratio=1)
    opt['datasets']['val'].update(dataroot_gt=f'{val}/HR', dataroot_lq=f'{val}/LR_bicubic/X4')
    opt['network_g'].update(num_feat=8, num_conv=2)
    opt['network_d']['num_feat'] = 8
    opt['train'].update(total_iter=steps)
    opt['train']['perceptual_opt'].update(weights=lpips_files['vgg'], layer_weights={'conv1_2': 0.1, 'conv2_2': 1.0})
    opt['val'].update(val_freq=steps)
    opt['val']['metrics']['lpips']['weights'] = lpips_files['alex']
    opt['logger'].update(print_freq=1, save_checkpoint_freq=steps)
    from gsdd_basicsr.benchmark import basicsr_runs  # gsdd_basicsr.train in tmp_path (runs_in_process), its own log
    basicsr_runs.run('train', opt, str(tmp_path), 'esrgan.yml')
    exp = tmp_path / 'experiments' / 'esrgan_tiny'
    assert (exp / 'models' / 'net_g_latest.pth').is_file() and (exp / 'models' / 'net_d_latest.pth').is_file()
    import torch
    ckpt = torch.load(exp / 'models' / 'net_g_latest.pth', weights_only=True)
    assert set(ckpt) == {'params', 'params_ema'}  # ema_decay: the benchmark tests params_ema
    text = open(basicsr_runs.find_log(str(tmp_path), 'train')).read()
    assert 'l_g_percep' in text and 'l_g_gan' in text and 'l_d_real' in text
    assert '# lpips:' in text and '# psnr:' in text
    curve = basicsr_runs.training_curve(basicsr_runs.find_log(str(tmp_path), 'train'), steps)
    assert curve['curve'][-1][0] == steps and 0 < curve['curve_metrics'][-1][1]['lpips'] < 2
