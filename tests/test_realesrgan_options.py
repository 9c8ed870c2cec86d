"""Real-ESRGAN's two stages (options/gsdd_train_RealESRNet_x4plus.yml -> gsdd_train_RealESRGAN_x4plus.yml, and
gsdd_train_RealESRGAN_x4plus_finetune.yml) at toy size on the CPU: basicsr's RealESRNetModel / RealESRGANModel with
their degradations, through BasicSR's train pipeline inside our pipeline fixes (fix 5: no CUDA needed)."""
import os

import numpy as np
import pytest
import torch
import yaml

from gsdd_basicsr.sets.export import write_image_set
from helpers import ROOT


def _smooth_images(n, size, seed):
    import cv2
    rng = np.random.default_rng(seed)
    return [cv2.resize(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
            for _ in range(n)]


TINY_G = {'num_feat': 8, 'num_block': 1, 'num_grow_ch': 4}  # RealESRGAN_x4plus: 64, 23, 32


def _toy(file_name, name, train_set, val_set, lpips_files, pretrain_g):
    """The shipped file with toy overrides only: data, sizes, 2 iterations; the offline perceptual loss."""
    with open(os.path.join(ROOT, 'options', file_name)) as f:
        opt = yaml.safe_load(f)
    opt.update(name=name, num_gpu=0, gt_size=32, queue_size=2)
    opt['datasets']['train'].update(dataroot_gt=f'{train_set}/HR', meta_info=f'{train_set}/meta_info.txt', gt_size=32,
                                    batch_size_per_gpu=2, num_worker_per_gpu=0, dataset_enlarge_ratio=1)
    opt['datasets']['val'].update(dataroot_gt=f'{val_set}/HR', dataroot_lq=f'{val_set}/LR_bicubic/X4')
    opt['network_g'].update(TINY_G)
    if 'network_d' in opt:
        opt['network_d']['num_feat'] = 8
        # VGG19 would come from torchvision (a download where not cached): the documented offline alternative
        assert opt['train']['perceptual_opt']['vgg_type'] == 'vgg19'
        opt['train']['perceptual_opt'] = dict(type='OfflinePerceptualLoss', weights=lpips_files['vgg'],
                                              layer_weights={'conv1_2': 0.1, 'conv2_2': 1.0}, use_input_norm=True,
                                              range_norm=False, perceptual_weight=1.0, style_weight=0, criterion='l1')
    opt['path']['pretrain_network_g'] = pretrain_g
    opt['train']['total_iter'] = 2
    opt['val'].update(val_freq=2)
    opt['val']['metrics']['lpips']['weights'] = lpips_files['alex']
    opt['logger'].update(print_freq=1, save_checkpoint_freq=2, use_tb_logger=False)
    return opt


def _run(opt, folder):
    from gsdd_basicsr.benchmark import basicsr_runs  # in this process (runs_in_process), its own log file
    basicsr_runs.run('train', opt, str(folder), f'{opt["name"]}.yml')
    text = open(basicsr_runs.find_log(str(folder), 'train')).read()
    assert '# lpips:' in text and '# psnr:' in text  # LPIPS in validation
    return text


@pytest.fixture(scope='module')
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp('realesrgan')
    write_image_set(str(root / 'set'), _smooth_images(4, 64, 0), [f'c_{i}.png' for i in range(4)], 4,
                    groups=['c'] * 4)  # an exported set: HR/, LR_bicubic/X4/, meta_info.txt
    write_image_set(str(root / 'val'), _smooth_images(1, 112, 1), ['a.png'], 4)
    return root


def test_from_scratch_stage_1_then_stage_2_from_its_weights(sets, tmp_path, lpips_files, monkeypatch, runs_in_process):
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    s1 = _toy('gsdd_train_RealESRNet_x4plus.yml', 'toy_realesrnet', sets / 'set', sets / 'val', lpips_files, None)
    assert s1['model_type'] == 'RealESRNetModel' and 'network_d' not in s1
    text = _run(s1, tmp_path / 's1')
    assert 'l_pix' in text
    stage1 = tmp_path / 's1' / 'experiments' / 'toy_realesrnet' / 'models' / 'net_g_latest.pth'
    assert set(torch.load(stage1, weights_only=True)) == {'params', 'params_ema'}

    s2 = _toy('gsdd_train_RealESRGAN_x4plus.yml', 'toy_realesrgan', sets / 'set', sets / 'val', lpips_files,
              str(stage1))
    assert s2['model_type'] == 'RealESRGANModel' and s2['network_d']['type'] == 'UNetDiscriminatorSN'
    text = _run(s2, tmp_path / 's2')
    assert 'l_g_pix' in text and 'l_g_percep' in text and 'l_g_gan' in text and 'l_d_real' in text
    assert f'Loading RRDBNet model from {stage1}' in text  # stage 2 starts from stage 1
    models = tmp_path / 's2' / 'experiments' / 'toy_realesrgan' / 'models'
    assert (models / 'net_g_latest.pth').is_file() and (models / 'net_d_latest.pth').is_file()


def test_fine_tuning_starts_from_the_x4plus_file(sets, tmp_path, lpips_files, monkeypatch, runs_in_process):
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    from basicsr.archs.rrdbnet_arch import RRDBNet
    x4plus = tmp_path / 'RealESRGAN_x4plus.pth'  # a stand-in with the converted file's key (params_ema)
    net = RRDBNet(3, 3, scale=4, **TINY_G)
    torch.save({'params_ema': net.state_dict()}, x4plus)
    with open(os.path.join(ROOT, 'options', 'gsdd_train_RealESRGAN_x4plus_finetune.yml')) as f:
        shipped = yaml.safe_load(f)
    assert shipped['path']['pretrain_network_g'] == 'experiments/pretrained_models/RealESRGAN_x4plus.pth'
    opt = _toy('gsdd_train_RealESRGAN_x4plus_finetune.yml', 'toy_finetune', sets / 'set', sets / 'val', lpips_files,
               str(x4plus))
    text = _run(opt, tmp_path)
    assert f'Loading RRDBNet model from {x4plus}, with param key: [params_ema]' in text
    assert 'l_g_gan' in text


def test_the_stages_share_real_esrgans_degradations_and_data_keys():
    def load(name):
        with open(os.path.join(ROOT, 'options', name)) as f:
            return yaml.safe_load(f)
    s1, s2, ft = (load(n) for n in ('gsdd_train_RealESRNet_x4plus.yml', 'gsdd_train_RealESRGAN_x4plus.yml',
                                    'gsdd_train_RealESRGAN_x4plus_finetune.yml'))
    deg = [k for k in s1 if k.endswith(('_prob', '_range', '_prob2', '_range2'))]
    assert len(deg) >= 12 and all(s1[k] == s2[k] == ft[k] for k in deg)
    assert s1['datasets']['train'] == s2['datasets']['train'] == ft['datasets']['train']
    # Real-ESRGAN's stage-2 settings (options/train_realesrgan_x4plus.yml)
    for o in (s2, ft):
        assert o['train']['optim_g']['lr'] == o['train']['optim_d']['lr'] == 1e-4
        assert o['train']['gan_opt']['loss_weight'] == 0.1 and o['train']['total_iter'] == 400000
        assert o['train']['perceptual_opt']['layer_weights'] == {'conv1_2': 0.1, 'conv2_2': 0.1, 'conv3_4': 1,
                                                                 'conv4_4': 1, 'conv5_4': 1}
        assert o['network_d'] == {'type': 'UNetDiscriminatorSN', 'num_in_ch': 3, 'num_feat': 64,
                                  'skip_connection': True}
