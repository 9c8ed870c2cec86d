"""BasicSR's train pipeline through gsdd_basicsr/train.py: CPU run, stop, resume."""
import glob
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml


def _paired_folder(root, n=4, size=48, scale=2):
    from basicsr.utils.matlab_functions import imresize
    rng = np.random.default_rng(0)
    os.makedirs(f'{root}/HR')
    os.makedirs(f'{root}/LR')
    for i in range(n):
        small = rng.random((6, 6, 3)).astype(np.float32)
        hr = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1)
        lr = imresize(hr, 1 / scale)
        cv2.imwrite(f'{root}/HR/{i:03d}.png', (hr * 255).round().astype(np.uint8))
        cv2.imwrite(f'{root}/LR/{i:03d}.png', (lr.clip(0, 1) * 255).round().astype(np.uint8))


def _edsr_options(data, name, total_iter):
    dataset = dict(
        type='PairedImageDataset', dataroot_gt=f'{data}/HR', dataroot_lq=f'{data}/LR', io_backend=dict(type='disk'),
        filename_tmpl='{}')
    return dict(
        name=name, model_type='SRModel', scale=2, num_gpu=0, manual_seed=0,
        datasets=dict(
            train=dict(
                name='tiny', **dataset, gt_size=32, use_hflip=True, use_rot=True, num_worker_per_gpu=0,
                batch_size_per_gpu=2, dataset_enlarge_ratio=1, prefetch_mode=None, phase='train')),
        network_g=dict(
            type='EDSR', num_in_ch=3, num_out_ch=3, num_feat=8, num_block=1, upscale=2, res_scale=1,
            img_range=255., rgb_mean=[0.4488, 0.4371, 0.4040]),
        path=dict(pretrain_network_g=None, strict_load_g=True, resume_state=None),
        train=dict(
            optim_g=dict(type='Adam', lr=1e-3, betas=[0.9, 0.99]),
            scheduler=dict(type='MultiStepLR', milestones=[4], gamma=0.5),
            total_iter=total_iter, warmup_iter=-1, pixel_opt=dict(type='L1Loss', loss_weight=1.0, reduction='mean')),
        logger=dict(print_freq=1, save_checkpoint_freq=3, use_tb_logger=False),
        dist_params=dict(backend='gloo', port=29500))


def _train(cwd, opt_path, *extra, module=False):
    entry = ['-m', 'gsdd_basicsr.train'] if module else [os.path.join(pytest.ROOT, 'gsdd_basicsr', 'train.py')]
    env = dict(os.environ, PYTHONPATH=pytest.ROOT, CUDA_VISIBLE_DEVICES='')
    return subprocess.run([sys.executable, *entry, '-opt', str(opt_path), *extra], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(autouse=True)
def _root(repo_root):
    pytest.ROOT = repo_root


def test_cpu_training_stops_and_resumes_with_saved_optimizer_state(tmp_path):
    _paired_folder(tmp_path / 'data')
    opt_path = tmp_path / 'edsr.yml'
    opt_path.write_text(yaml.safe_dump(_edsr_options(tmp_path / 'data', 'resume_edsr', total_iter=3)))

    first = _train(tmp_path, opt_path)
    assert first.returncode == 0, first.stderr[-3000:]
    states = tmp_path / 'experiments' / 'resume_edsr' / 'training_states'
    assert sorted(os.listdir(states)) == ['3.state']
    step_after_first = torch.load(states / '3.state', weights_only=True)['optimizers'][0]['state'][0]['step']
    assert float(step_after_first) == 3

    # the "stopped" run is continued to 6 iterations with --auto_resume
    resumed = _train(tmp_path, opt_path, '--auto_resume', '--force_yml', 'train:total_iter=6', module=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = open(sorted(glob.glob(str(tmp_path / 'experiments' / 'resume_edsr' / 'train_*.log')))[-1]).read()
    assert 'Resuming training from epoch' in log and 'iter: 3' in log
    state6 = torch.load(states / '6.state', weights_only=True)
    assert state6['iter'] == 6
    # Adam's step counter went on from the saved 3, so the optimizer state was restored, not rebuilt
    assert float(state6['optimizers'][0]['state'][0]['step']) == 6
    # the MultiStepLR milestone at 4 was passed once: lr halved from the restored scheduler
    assert state6['optimizers'][0]['param_groups'][0]['lr'] == pytest.approx(5e-4)


def test_corrupt_newest_state_is_skipped_on_auto_resume(tmp_path):
    _paired_folder(tmp_path / 'data')
    opt_path = tmp_path / 'edsr.yml'
    opt_path.write_text(yaml.safe_dump(_edsr_options(tmp_path / 'data', 'corrupt_edsr', total_iter=3)))
    assert _train(tmp_path, opt_path).returncode == 0
    states = tmp_path / 'experiments' / 'corrupt_edsr' / 'training_states'
    (states / '9.state').write_bytes(b'not a state')  # e.g. a crash during a write
    resumed = _train(tmp_path, opt_path, '--auto_resume', '--force_yml', 'train:total_iter=4')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert '9.state cannot be loaded safely' in resumed.stderr
    assert f"Resuming from {states / '3.state'}" in resumed.stdout  # the newest complete state


def test_missing_resume_state_is_one_clear_error(tmp_path):
    _paired_folder(tmp_path / 'data')
    opt = _edsr_options(tmp_path / 'data', 'missing_state', total_iter=2)
    opt['path']['resume_state'] = str(tmp_path / 'nope.state')
    opt_path = tmp_path / 'edsr.yml'
    opt_path.write_text(yaml.safe_dump(opt))
    run = _train(tmp_path, opt_path)
    assert run.returncode != 0
    assert 'nope.state does not exist' in run.stderr
