"""Row options of the ``paper`` profile's GAN rows (Real-ESRGAN fine-tuned from x4plus): resolved as the benchmark
resolves them, then one row trained and tested at toy size on a CPU (basicsr's RealESRGANModel, LPIPS)."""
import numpy as np
import torch

from gsdd_basicsr import benchmark as bm
from gsdd_basicsr.benchmark import basicsr_runs
from gsdd_basicsr.benchmark.row_options import sr_test_options, sr_train_options, trained_weights
from gsdd_basicsr.sets.export import write_image_set


def _smooth_images(n, size, seed):
    import cv2
    rng = np.random.default_rng(seed)
    return [cv2.resize(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
            for _ in range(n)]


def test_paper_gan_row_fine_tunes_and_is_judged_by_lpips(tmp_path, lpips_files, monkeypatch, runs_in_process):
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    monkeypatch.chdir(tmp_path)
    train_set, test_root = str(tmp_path / 'set'), str(tmp_path / 'test')
    write_image_set(train_set, _smooth_images(4, 64, 0), [f'c_{i}.png' for i in range(4)], 4, groups=['c'] * 4)
    write_image_set(test_root, _smooth_images(1, 208, 1), ['a.png'], 4)
    prof = bm.load_profile('paper')
    spec = prof['sr_nets']['Real-ESRGAN-ft']
    assert spec['keep_pretrain'] and spec['curve_metrics'] == ['lpips']
    opt = sr_train_options(prof, 'Real-ESRGAN-ft', 'distilled', 'gan_row', 0, train_set, test_root, 4, 0)
    assert opt['model_type'] == 'RealESRGANModel' and opt['train']['total_iter'] == 7700
    assert opt['datasets']['train']['dataroot_gt'] == f'{train_set}/HR'
    assert opt['datasets']['train']['meta_info'] == f'{train_set}/meta_info.txt'
    assert opt['path']['pretrain_network_g'] == str(tmp_path / 'experiments/pretrained_models/RealESRGAN_x4plus.pth')
    assert set(opt['val']['metrics']) == {'psnr', 'lpips'}

    # toy size: a tiny x4plus stand-in at the resolved path, the offline perceptual loss, 2 iterations
    from basicsr.archs.rrdbnet_arch import RRDBNet
    tiny = dict(num_feat=8, num_block=1, num_grow_ch=4)
    opt['network_g'].update(tiny)
    opt['network_d']['num_feat'] = 8
    (tmp_path / 'experiments' / 'pretrained_models').mkdir(parents=True)
    torch.save({'params_ema': RRDBNet(3, 3, scale=4, **tiny).state_dict()}, opt['path']['pretrain_network_g'])
    opt.update(gt_size=32, queue_size=2)
    opt['datasets']['train'].update(gt_size=32, batch_size_per_gpu=2, num_worker_per_gpu=0, dataset_enlarge_ratio=1)
    opt['train']['perceptual_opt'] = dict(type='OfflinePerceptualLoss', weights=lpips_files['vgg'],
                                          layer_weights={'conv1_2': 1.0}, perceptual_weight=1.0, style_weight=0)
    opt['train']['total_iter'] = 2
    opt['val']['val_freq'] = 2
    opt['val']['metrics']['lpips']['weights'] = lpips_files['alex']
    opt['logger'].update(print_freq=1, save_checkpoint_freq=2, use_tb_logger=False)
    row = tmp_path / 'row'
    basicsr_runs.run('train', opt, str(row), 'train_options.yml')
    log = open(basicsr_runs.find_log(str(row), 'train')).read()
    assert 'l_g_gan' in log and 'Loading RRDBNet model from' in log
    assert basicsr_runs.training_curve(basicsr_runs.find_log(str(row), 'train'), 2)['curve_metrics'][-1][1]['lpips'] > 0

    weights, key = trained_weights(opt, str(row))
    assert key == 'params_ema'
    test = sr_test_options(prof, 'gan_row', opt['network_g'], weights, key, test_root, 4, 0)
    test['val']['metrics']['lpips']['weights'] = lpips_files['alex']
    basicsr_runs.run('test', test, str(row), 'test_options.yml')
    metrics = basicsr_runs.test_metrics(basicsr_runs.find_log(str(row), 'test'))
    assert {'psnr', 'ssim', 'lpips'} <= set(metrics) and 0 < metrics['lpips'] < 2
