"""Distillation and its outputs on a CUDA GPU (``python -m pytest -m cuda``; skipped without CUDA).

Tiny generator and class images from ``helpers`` (the ``setup`` fixture); runs go through ``gsdd_basicsr/train.py``
in subprocesses (as users run them) with ``num_gpu: 1``. What they cover:

- a distillation past two checkpoints (the optimizer state stays on the GPU across saves);
- ``deterministic: true``: two same-seed runs give bit-identical banks, and a run killed right
  after a checkpoint and continued with ``--auto_resume`` gives the uninterrupted run's bank; the
  options exercise every op with a replacement formulation (rotation/scale augmentation, the
  teacher space's bicubic downsampling and pooling, a ``batch_syn`` subset);
- ``gsdd.amp: bf16`` with ``fuse_classes``: finite and close to float32;
- ``GANLatentDataset`` rendering on CUDA against the CPU;
- a few Real-ESRNet iterations (basicsr's ``RealESRNetModel`` on CUDA) on an exported set.
"""
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from helpers import KILL_WRAPPER, ROOT, gsdd_cli_opt, gsdd_opt  # noqa: E402

pytestmark = pytest.mark.cuda


def _env(**extra):
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get('PYTHONPATH')])), **extra)


def _cuda_opt(root, name, deterministic=True, **gsdd):
    gsdd = {'feature_space': 'both', 'teacher_layers': ['body.1'], 'batch_syn': 2,
            'augment': {'strategy': 'color_crop_cutout_flip_scale_rotate', 'mode': 'multiple'}, **gsdd}
    opt = gsdd_cli_opt(root, name, **gsdd)
    opt.update(num_gpu=1, deterministic=deterministic)
    opt['train']['total_iter'] = 6
    opt['logger']['save_checkpoint_freq'] = 2
    opt['val']['val_freq'] = 3
    return opt


def _train(root, opt, *extra, script=None):
    path = root / f"{opt['name']}.yml"
    path.write_text(yaml.safe_dump(opt))
    entry = script or os.path.join(ROOT, 'gsdd_basicsr', 'train.py')
    return subprocess.run([sys.executable, str(entry), '-opt', str(path), *extra], cwd=root, capture_output=True,
                          text=True, timeout=600, env=_env())


def _bank(root, name, it=6):
    return torch.load(root / 'experiments' / name / 'models' / f'latents_{it}.pth', weights_only=True)


def test_distillation_runs_past_two_checkpoints(setup):
    run = _train(setup, _cuda_opt(setup, 'cuda_ckpt', deterministic=False))
    assert run.returncode == 0, run.stderr[-3000:]
    states = sorted(os.listdir(setup / 'experiments' / 'cuda_ckpt' / 'training_states'))
    assert states == ['2.state', '4.state', '6.state']
    assert torch.isfinite(_bank(setup, 'cuda_ckpt')['latents']).all()


def test_checkpoint_leaves_the_optimizer_state_on_the_gpu(setup):
    from basicsr.models import build_model
    opt = gsdd_opt(setup, name='cuda_live')
    opt['num_gpu'] = 1
    model = build_model(opt)
    model.optimize_parameters(1)
    model.save(0, 1)
    for slot in model.optimizer_z.state.values():
        assert all(v.is_cuda for v in slot.values() if torch.is_tensor(v) and v.dim() > 0)
    model.optimize_parameters(2)  # crashed here before: Adam state moved to the CPU by the save


def test_deterministic_runs_are_bit_identical(setup):
    for name in ('det_a', 'det_b'):
        run = _train(setup, _cuda_opt(setup, name))
        assert run.returncode == 0, run.stderr[-3000:]
    assert torch.equal(_bank(setup, 'det_a')['latents'], _bank(setup, 'det_b')['latents'])


def test_deterministic_kill_and_auto_resume_equals_uninterrupted(setup):
    reference = setup / 'experiments' / 'det_ref' / 'models' / 'latents_6.pth'
    if not reference.exists():
        assert _train(setup, _cuda_opt(setup, 'det_ref')).returncode == 0
    wrapper = setup / 'kill_wrapper_cuda.py'
    wrapper.write_text(KILL_WRAPPER.format(root=ROOT))
    opt = _cuda_opt(setup, 'det_killed')
    path = setup / 'det_killed.yml'
    path.write_text(yaml.safe_dump(opt))
    # the 6th checkpoint write is 4.state (latents_<it>, latents_latest, <it>.state per checkpoint)
    killed = subprocess.run([sys.executable, str(wrapper), '-opt', str(path)], cwd=setup, capture_output=True,
                            text=True, timeout=600, env=_env(GSDD_KILL_AT='after_save:6'))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    resumed = _train(setup, opt, '--auto_resume')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'Resuming from' in resumed.stdout
    ref = torch.load(reference, weights_only=True)['latents']
    assert (_bank(setup, 'det_killed')['latents'] - ref).abs().max() <= 1e-6


def test_bf16_fused_step_is_finite_and_close_to_float32(setup):
    from basicsr.models import build_model
    losses = {}
    for amp in ('none', 'bf16'):
        opt = gsdd_opt(setup, name=f'cuda_{amp}', amp=amp, fuse_classes=True, augment=None)
        opt['num_gpu'] = 1
        model = build_model(opt)
        model.optimize_parameters(1)
        losses[amp] = model.get_current_log()['l_dm']
        assert torch.isfinite(model.latents).all()
    assert np.isfinite(losses['bf16']) and abs(losses['bf16'] - losses['none']) <= 0.1 * abs(losses['none'])
    run = _train(setup, _cuda_opt(setup, 'cuda_bf16', deterministic=False, amp='bf16', fuse_classes=True))
    assert run.returncode == 0, run.stderr[-3000:]
    assert torch.isfinite(_bank(setup, 'cuda_bf16')['latents']).all()


def _bank_file(root):
    bank = root / 'experiments' / 'cuda_ckpt' / 'models' / 'latents_6.pth'
    if not bank.exists():
        assert _train(root, _cuda_opt(root, 'cuda_ckpt', deterministic=False)).returncode == 0
    return bank


def test_gan_latent_dataset_renders_on_cuda_like_the_cpu(setup):
    from gsdd_basicsr.data.gan_latent_dataset import GANLatentDataset
    base = dict(name='g', type='GANLatentDataset', latents=str(_bank_file(setup)), phase='train',
                pretrain_network_g=str(setup / 'g.pth'), scale=2, gt_size=8, use_hflip=False, use_rot=False,
                io_backend=dict(type='disk'))
    cpu = GANLatentDataset(dict(base, render_device='cpu'))
    gpu = GANLatentDataset(dict(base, render_device='cuda'))
    a, b = (np.stack([np.asarray(img, dtype=np.float64) for img in d.images]) for d in (cpu, gpu))
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= 2 / 255  # 8-bit images: TF32/cuDNN rounding moves at most a level or two
    assert np.abs(a - b).mean() <= 0.05 / 255


def test_real_esrnet_trains_a_few_iterations_on_an_export(setup, tmp_path):
    from basicsr.archs.srvgg_arch import SRVGGNetCompact
    from gsdd_basicsr.bank.format import build_latent_bank, save_latent_bank
    from gsdd_basicsr.sets.export import export_distilled
    # a scale-4 bank: Real-ESRNet is x4
    net = SRVGGNetCompact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=4, act_type='prelu')
    torch.save({'params_ema': net.state_dict()}, tmp_path / 'g4.pth')
    bank = build_latent_bank(torch.rand(4, 3, 32, 32), torch.tensor([0, 0, 1, 1]), ['a', 'b'], 4,
                             dict(type='SRVGGNetCompact', num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2,
                                  upscale=4, act_type='prelu'), 1, pretrain_network_g=str(tmp_path / 'g4.pth'))
    save_latent_bank(bank, str(tmp_path / 'bank.pth'))
    export_distilled(str(tmp_path / 'bank.pth'), str(tmp_path / 'export'))
    with open(os.path.join(ROOT, 'options', 'gsdd_train_RealESRNet_x4plus.yml')) as f:
        opt = yaml.safe_load(f)
    del opt['datasets']['val']  # optional: no Set5 here
    opt_file = tmp_path / 'realesrnet.yml'
    opt_file.write_text(yaml.safe_dump(opt))
    run = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'gsdd_basicsr', 'train.py'), '-opt', str(opt_file), '--force_yml',
         'name=cuda_realesrnet', f"datasets:train:dataroot_gt={tmp_path / 'export' / 'HR'}",
         f"datasets:train:meta_info={tmp_path / 'export' / 'meta_info.txt'}", 'datasets:train:batch_size_per_gpu=2',
         'datasets:train:num_worker_per_gpu=0', 'train:total_iter=3', 'logger:print_freq=1',
         'logger:save_checkpoint_freq=3', 'num_gpu=1'],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env=_env())
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / 'experiments' / 'cuda_realesrnet' / 'models' / 'net_g_3.pth').exists()
