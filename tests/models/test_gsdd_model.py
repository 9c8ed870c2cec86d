"""GSDDModel on a tiny random generator and tiny real images (CPU, seconds)."""
import os
import socket
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml
from basicsr.models import build_model

from helpers import IPC, LATENT, ROOT, SCALE, TESTS, gsdd_cli_opt, gsdd_opt, train_in_process



def test_loss_decreases_on_a_fixed_draw_and_only_latents_change(setup):
    model = build_model(gsdd_opt(setup, augment=None))
    g_before = {k: v.clone() for k, v in model.net_g.state_dict().items()}
    latents_before = model.latents.detach().clone()
    losses = []
    for _ in range(8):  # the same iteration key: same real crops, same embedding net -> a fixed objective
        model.optimize_parameters(1)
        losses.append(model.get_current_log()['l_dm'])
    assert losses[-1] < 0.8 * losses[0]
    assert all(torch.equal(v, g_before[k]) for k, v in model.net_g.state_dict().items())
    assert not any(p.requires_grad for p in model.net_g.parameters())
    assert not any(p.requires_grad for p in model.embedder.parameters())
    assert not torch.equal(model.latents.detach(), latents_before)


def test_same_seed_same_bank_and_bank_format(setup):
    banks = []
    for _ in range(2):
        model = build_model(gsdd_opt(setup))
        for it in range(1, 4):
            model.optimize_parameters(it)
        banks.append(model.latent_bank(3))
    assert torch.equal(banks[0]['latents'], banks[1]['latents'])
    bank = banks[0]
    assert bank['latents'].shape == (2 * IPC, 3, LATENT, LATENT) and bank['latents'].dtype == torch.float32
    assert bank['labels'].tolist() == [0] * IPC + [1] * IPC
    assert bank['class_names'] == ['ant', 'bee'] and bank['scale'] == SCALE and bank['iter'] == 3
    assert bank['network_g']['type'] == 'SRVGGNetCompact'


@pytest.mark.parametrize('init', ['inversion', 'real', 'noise'])
def test_init_modes(setup, init):
    model = build_model(gsdd_opt(setup, init=init, inversion_iters=5))
    z = model.latents.detach()
    if init == 'noise':
        assert 0 <= z.min() and z.max() <= 1 and z.std() > 0.2  # uniform noise
    else:  # both start from bicubic-down real crops; inversion moves them by a few Adam steps
        real = build_model(gsdd_opt(setup, init='real')).latents.detach()
        assert torch.equal(z, real) == (init == 'real')
        assert (z - real).abs().max() < 0.2


def test_batch_syn_samples_a_subset_and_validation_writes_a_grid(setup):
    model = build_model(gsdd_opt(setup, name='val', batch_syn=2))
    before = model.latents.detach().clone()
    model.optimize_parameters(1)
    changed = (model.latents.detach() != before).flatten(1).any(dim=1).view(2, IPC).sum(dim=1)
    assert changed.tolist() == [2, 2]  # exactly batch_syn latents per class got a gradient step

    from basicsr.data import build_dataset
    val_set = build_dataset(gsdd_opt(setup)['datasets']['val'])
    loader = torch.utils.data.DataLoader(val_set, batch_size=1)
    metrics = model.validation(loader, 1, tb_logger=None, save_img=True)
    assert set(metrics) == {'val_dm', 'diversity', 'homogeneity'}
    assert np.isfinite(list(metrics.values())).all() and metrics['diversity'] > 0
    grid = cv2.imread(str(setup / 'experiments' / 'val' / 'visualization' / 'grid_1.png'))
    assert grid.shape[0] > 2 * SCALE * LATENT  # two class rows


@pytest.mark.parametrize('space', ['teacher', 'both'])
def test_teacher_feature_space(setup, space):
    model = build_model(gsdd_opt(setup, feature_space=space, teacher_layers=['body.1']))
    model.optimize_parameters(1)
    assert np.isfinite(model.get_current_log()['l_dm'])
    assert (model.teacher is not None) and ((model.embedder is not None) == (space == 'both'))


def test_sharded_classes_give_the_single_process_bank(setup):
    """Two ranks, each owning one class, assemble exactly the one-process bank (in-process gloo)."""
    script = f'''
import os, sys, torch, torch.distributed as dist
sys.path.insert(0, {repr(TESTS)})
import gsdd_basicsr
from basicsr.models import build_model
import helpers as t
import pathlib
dist.init_process_group('gloo')
opt = t.gsdd_opt(pathlib.Path({str(setup)!r}), name='dist')
opt.update(dist=True, rank=dist.get_rank(), world_size=dist.get_world_size())
model = build_model(opt)
for it in range(1, 4):
    model.optimize_parameters(it)
bank = model.latent_bank(3)
if dist.get_rank() == 0:
    torch.save(bank['latents'], sys.argv[1])
dist.destroy_process_group()
'''
    out = setup / 'dist_latents.pt'
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1')
    script_path = setup / 'dist_script.py'
    script_path.write_text(script)
    with socket.socket() as sock:  # a free port: other test runs on this machine may hold a fixed one
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    run = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2', f'--master_port={port}',
                          str(script_path), str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    single = build_model(gsdd_opt(setup, name='single'))
    for it in range(1, 4):
        single.optimize_parameters(it)
    assert (torch.load(out) - single.latent_bank(3)['latents']).abs().max() <= 1e-6


def _train(root, opt, *extra):
    opt_path = root / f"{opt['name']}.yml"
    opt_path.write_text(yaml.safe_dump(opt))
    entry = os.path.join(ROOT, 'gsdd_basicsr', 'train.py')
    return subprocess.run([sys.executable, entry, '-opt', str(opt_path), *extra], cwd=root, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, CUDA_VISIBLE_DEVICES=''))


def test_resume_equals_uninterrupted(setup):
    full = _train(setup, gsdd_cli_opt(setup, 'full'))
    assert full.returncode == 0, full.stderr[-3000:]
    part = gsdd_cli_opt(setup, 'part')
    part['train']['total_iter'] = 2  # "killed" right after the checkpoint at 2
    assert _train(setup, part).returncode == 0
    part['train']['total_iter'] = 4
    resumed = _train(setup, part, '--auto_resume')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'Resuming from' in resumed.stdout
    a = torch.load(setup / 'experiments' / 'full' / 'models' / 'latents_4.pth', weights_only=True)
    b = torch.load(setup / 'experiments' / 'part' / 'models' / 'latents_4.pth', weights_only=True)
    assert (a['latents'] - b['latents']).abs().max() <= 1e-6
    assert b['iter'] == 4
    # continuing a finished run changes nothing and the latest bank still names its iteration
    assert _train(setup, part, '--auto_resume').returncode == 0
    latest = torch.load(setup / 'experiments' / 'part' / 'models' / 'latents_latest.pth', weights_only=True)
    assert latest['iter'] == 4 and torch.equal(latest['latents'], b['latents'])


# Bad input (weights, scale, options, data, NaN, ...): tests/test_bad_input.py lists every case in one place.


def test_checkpoint_state_is_a_snapshot_of_the_optimizer(setup):
    """Saving must not move or alias the live Adam state (it moved it to the CPU on a GPU)."""
    model = build_model(gsdd_opt(setup, name='snap', augment=None))
    model.optimize_parameters(1)
    state = model._training_state(0, 1)
    live = model.optimizer_z.state[model.latents]
    saved = next(iter(state['optimizers'][0]['state'].values()))
    before = {k: v.clone() for k, v in live.items()}
    for name, value in saved.items():
        assert value.untyped_storage().data_ptr() != live[name].untyped_storage().data_ptr()
        value.add_(1.0)  # changing the snapshot leaves the optimizer alone
    assert all(torch.equal(live[k], before[k]) for k in live)
    assert state['latents'].untyped_storage().data_ptr() != model.latents.untyped_storage().data_ptr()


@pytest.fixture
def native_amp(monkeypatch):
    """Autocast as if this CPU had native bf16 / fp16 (otherwise GSDDModel runs float32 instead)."""
    from gsdd_basicsr.distill import acceleration
    monkeypatch.setattr(acceleration, 'device_supports', lambda amp, device: True)


def test_bf16_step_is_finite_and_close_to_float32(setup, native_amp):
    losses, latents = {}, {}
    for amp in ('none', 'bf16'):
        model = build_model(gsdd_opt(setup, name=f'amp_{amp}', amp=amp, init='real', augment=None))
        model.optimize_parameters(1)
        losses[amp], latents[amp] = model.get_current_log()['l_dm'], model.latents.detach()
        assert model.latents.dtype == torch.float32 and torch.isfinite(model.latents).all()
    assert np.isfinite(losses['bf16']) and abs(losses['bf16'] - losses['none']) <= 0.1 * abs(losses['none'])
    # Adam's first step moves every latent pixel by +-lr (0.05); bf16 may flip the sign of tiny gradients only
    flipped = ((latents['bf16'] - latents['none']).abs() > 0.05).float().mean()
    assert flipped <= 0.1, flipped


def test_fused_classes_take_the_same_step(setup):
    latents = [build_model(gsdd_opt(setup, name=f'fuse_{f}', fuse_classes=f, batch_syn=2)) for f in (False, True)]
    for model in latents:
        model.optimize_parameters(1)
        model.optimize_parameters(2)
    assert (latents[0].latents - latents[1].latents).abs().max() <= 1e-5
    assert latents[0].get_current_log() == pytest.approx(latents[1].get_current_log(), rel=1e-4)


@pytest.fixture
def deterministic_mode():
    """Restore the process-wide flags ``deterministic: true`` sets."""
    saved = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
             torch.backends.cudnn.deterministic)
    yield
    torch.use_deterministic_algorithms(saved[0])
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[1:]


def test_deterministic_option_sets_the_flags_and_keeps_the_step(setup, deterministic_mode):
    gsdd = dict(feature_space='both', teacher_layers=['body.1'], augment=dict(strategy='scale_rotate', mode='multiple'))
    plain = build_model(gsdd_opt(setup, name='det_off', **gsdd))
    assert not torch.are_deterministic_algorithms_enabled()
    plain.optimize_parameters(1)
    opt = gsdd_opt(setup, name='det_on', **gsdd)
    opt['deterministic'] = True
    model = build_model(opt)
    assert torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.benchmark
    model.optimize_parameters(1)  # our grid-sample and bicubic formulations: same step up to rounding
    assert (model.latents - plain.latents).abs().max() <= 1e-5


def test_out_of_memory_names_the_settings_to_lower(setup, monkeypatch):
    from gsdd_basicsr.errors import OutOfMemory
    model = build_model(gsdd_opt(setup, name='oom'))

    def oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 20.00 GiB')

    monkeypatch.setattr(model.net_g, 'forward', oom)
    with pytest.raises(OutOfMemory, match=r'iteration 1\).*gsdd\.batch_real or gsdd\.batch_syn'):
        model.optimize_parameters(1)


def test_bank_dtype_compacts_the_banks_but_not_the_training_state(setup):
    model = build_model(gsdd_opt(setup, name='compact', bank_dtype='uint8', augment=None))
    model.optimize_parameters(1)
    for key in ('models', 'training_states'):
        os.makedirs(model.opt['path'][key], exist_ok=True)
    model.save(0, 1)
    bank = torch.load(os.path.join(model.opt['path']['models'], 'latents_1.pth'), weights_only=True)
    state = torch.load(os.path.join(model.opt['path']['training_states'], '1.state'), weights_only=True)
    assert bank['latent_dtype'] == 'uint8' and bank['latents'].dtype == torch.uint8
    assert torch.equal(state['latents'], model.latents.detach())  # resuming stays exact


@pytest.mark.parametrize('gsdd', [dict(feature_space='frequency'), dict(feature_space=['dmconvnet', 'frequency']),
                                  dict(match_residual=True), dict(match_groups=2)],
                         ids=['frequency', 'dmconvnet+frequency', 'residual', 'groups'])
def test_other_matching_spaces_lower_their_loss(setup, gsdd):
    model = build_model(gsdd_opt(setup, augment=None, **gsdd))
    losses = []
    for _ in range(6):  # one fixed draw: a fixed objective
        model.optimize_parameters(1)
        losses.append(model.get_current_log()['l_dm'])
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


def test_out_of_memory_in_a_run_is_one_line_and_keeps_the_last_checkpoint(setup, monkeypatch):

    from gsdd_basicsr.models.gsdd_model import GSDDModel
    step = GSDDModel._step

    def step_then_oom(self, iteration):
        if iteration == 3:  # after the checkpoint at 2
            raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 20.00 GiB')
        return step(self, iteration)

    monkeypatch.setattr(GSDDModel, '_step', step_then_oom)
    opt = gsdd_cli_opt(setup, 'oom_run')
    path = setup / 'oom_run.yml'
    path.write_text(yaml.safe_dump(opt))
    code, _, err = train_in_process(setup, path, monkeypatch=monkeypatch)
    lines = [line for line in err.strip().splitlines() if line.startswith('train.py: error:')]
    assert code == 1 and len(lines) == 1, err[-2000:]  # a run failure: status 1, its folder and log kept
    assert 'out of GPU memory in the distillation step (iteration 3)' in lines[0] and 'gsdd.batch_real' in lines[0]
    assert '; the log is ' in lines[0]
    exp = setup / 'experiments' / 'oom_run'
    assert torch.load(exp / 'training_states' / '2.state', weights_only=True)['iter'] == 2
    assert torch.load(exp / 'models' / 'latents_2.pth', weights_only=True)['iter'] == 2


def test_fp16_uses_loss_scaling_and_checkpoints_its_state(setup, native_amp):
    model = build_model(gsdd_opt(setup, name='fp16', amp='fp16', augment=None))
    assert model.scaler.is_enabled()
    for it in (1, 2, 3):
        model.optimize_parameters(it)
    assert torch.isfinite(model.latents).all() and model.latents.dtype == torch.float32
    state = model._training_state(0, 3)
    assert state['grad_scaler']['scale'] == model.scaler.get_scale()
    resumed = build_model(dict(gsdd_opt(setup, name='fp16', amp='fp16', augment=None),
                               path=dict(gsdd_opt(setup)['path'], resume_state='x')))
    resumed.resume_training(state)
    assert resumed.scaler.get_scale() == model.scaler.get_scale()
    assert torch.equal(resumed.latents, model.latents)


def test_inversion_leaves_the_distillations_loss_scaler_as_new(setup, native_amp):
    """fp16: the inversion scales its loss with a scaler of its own, so the run's starts as a fresh one."""
    model = build_model(gsdd_opt(setup, name='fp16_init', amp='fp16', init='inversion', inversion_iters=3,
                                 augment=None))
    assert model.amp_dtype == torch.float16 and model.scaler.is_enabled()
    fresh = torch.amp.GradScaler('cpu', enabled=True)
    assert model.scaler.state_dict() == fresh.state_dict()  # scale and growth tracker untouched by 2 x 3 steps
    inverted = model.latents.detach().clone()
    real = build_model(gsdd_opt(setup, name='fp16_real', amp='fp16', init='real', augment=None)).latents.detach()
    assert not torch.equal(inverted, real) and torch.isfinite(inverted).all()  # the inversion did run in fp16


def test_validation_writes_the_grid_only_with_save_img(setup):
    from basicsr.data import build_dataset
    model = build_model(gsdd_opt(setup, name='val_noimg', init='real'))
    loader = torch.utils.data.DataLoader(build_dataset(gsdd_opt(setup)['datasets']['val']), batch_size=1)
    visualization = setup / 'experiments' / 'val_noimg' / 'visualization'
    without = model.validation(loader, 5, tb_logger=None, save_img=False)
    assert not (visualization / 'grid_5.png').exists()
    with_img = model.validation(loader, 6, tb_logger=None, save_img=True)
    assert (visualization / 'grid_6.png').is_file() and with_img == without  # the figures do not depend on it
