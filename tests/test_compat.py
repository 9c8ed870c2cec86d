import errno
import os
import subprocess
import sys

import pytest
import torch

import gsdd_basicsr
from gsdd_basicsr import compat, pipeline_fixes
from gsdd_basicsr.errors import WriteError


def test_functional_tensor_alias_lets_basicsr_degradations_import():
    import basicsr.data.degradations as deg
    import torchvision.transforms.functional as F
    assert 'torchvision.transforms.functional_tensor' in sys.modules
    assert deg.rgb_to_grayscale is F.rgb_to_grayscale


def test_import_basicsr_fails_without_the_functional_tensor_alias(tmp_path):
    """Global fix 1: without it basicsr 1.4.2 does not import with torchvision >= 0.17."""
    import torchvision
    if tuple(int(v) for v in torchvision.__version__.split('.')[:2]) < (0, 17):
        pytest.skip('torchvision < 0.17 still has functional_tensor')
    run = _python_without_plugin('import basicsr', tmp_path)
    assert run.returncode != 0 and "No module named 'torchvision.transforms.functional_tensor'" in run.stderr


def test_basicsr_resume_fails_without_the_resume_fix(tmp_path):
    """Global fix 2: without CUDA basicsr's own load_resume_state fails on any state; with the fix it loads."""
    state_dir = tmp_path / 'experiments' / 'run' / 'training_states'
    state_dir.mkdir(parents=True)
    sched = torch.optim.lr_scheduler.MultiStepLR(torch.optim.Adam([torch.zeros(1, requires_grad=True)]), [2, 4])
    torch.save({'iter': 3, 'schedulers': [sched.state_dict()]}, state_dir / '3.state')
    probe = ("import basicsr.train\n"
             "basicsr.train.load_resume_state({'auto_resume': True, 'name': 'run', 'path': {'resume_state': None}})")
    run = _python_without_plugin(probe, tmp_path)  # CUDA hidden
    assert run.returncode != 0 and 'torch.cuda.current_device()' in run.stderr, run.stderr[-2000:]

    import basicsr.train
    assert basicsr.train.load_resume_state is compat.load_resume_state
    compat.apply()  # idempotent
    assert basicsr.train.load_resume_state is compat.load_resume_state
    opt = {'auto_resume': True, 'name': 'run', 'path': {'resume_state': None, 'models': 'm'}}
    cwd = os.getcwd()
    os.chdir(tmp_path)  # basicsr looks for auto_resume states under ./experiments
    try:
        assert compat.load_resume_state(opt)['iter'] == 3
    finally:
        os.chdir(cwd)
    assert opt['path']['resume_state'] == os.path.join('experiments', 'run', 'training_states', '3.state')


def _python_without_plugin(code, cwd):
    """``python -c code`` with the import hook off and only the functional_tensor alias (when not importing
    basicsr itself): basicsr 1.4.2 as it runs without the plugin."""
    alias = '' if code == 'import basicsr' else (
        'from gsdd_basicsr_autoload import alias_functional_tensor\nalias_functional_tensor()\n')
    env = dict(os.environ, GSDD_BASICSR_AUTOLOAD='0', CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, '-c', alias + code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_pipeline_fixes_patch_basicsr_only_inside_the_block():
    import basicsr.train
    import basicsr.utils.dist_util
    from basicsr.models.base_model import BaseModel
    before = {name: BaseModel.__dict__[name] for name in ('model_to_device', 'save_network', 'save_training_state')}
    with pipeline_fixes.pipeline_fixes():
        assert basicsr.train.load_resume_state is pipeline_fixes.load_resume_state
        assert basicsr.utils.dist_util._init_dist_pytorch is pipeline_fixes._init_dist_pytorch
        assert BaseModel.model_to_device is pipeline_fixes._model_to_device
        # atomic checkpoint writers, still rank-0 only (basicsr's @master_only wrapper around ours)
        assert BaseModel.save_network.__wrapped__ is pipeline_fixes._save_network
        assert BaseModel.save_training_state.__wrapped__ is pipeline_fixes._save_training_state
    assert basicsr.train.load_resume_state is compat.load_resume_state
    assert basicsr.utils.dist_util._init_dist_pytorch is not pipeline_fixes._init_dist_pytorch
    assert {name: BaseModel.__dict__[name] for name in before} == before


def test_registered_names():
    from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, MODEL_REGISTRY
    assert 'GSDDModel' in MODEL_REGISTRY
    for name in ('ClassImageDataset', 'DistilledImageDataset', 'GANLatentDataset'):
        assert name in DATASET_REGISTRY, name
    assert 'DMConvNet' in ARCH_REGISTRY
    assert gsdd_basicsr.__version__


class Foreign:
    """A class torch's weights_only unpickler does not allow."""


def test_state_loading_is_safe_and_names_the_file(tmp_path):
    good = tmp_path / '3.state'
    sched = torch.optim.lr_scheduler.MultiStepLR(torch.optim.Adam([torch.zeros(1, requires_grad=True)]), [2, 4])
    torch.save({'iter': 3, 'schedulers': [sched.state_dict()]}, good)
    assert pipeline_fixes.load_state_file(str(good))['iter'] == 3  # Counter milestones load with weights_only

    truncated = tmp_path / '6.state'
    truncated.write_bytes(good.read_bytes()[:40])
    with pytest.raises(pipeline_fixes.ResumeStateError, match='6.state'):
        pipeline_fixes.load_state_file(str(truncated))

    foreign = tmp_path / '9.state'
    torch.save({'iter': 9, 'obj': Foreign()}, foreign)
    with pytest.raises(pipeline_fixes.ResumeStateError, match='9.state'):
        pipeline_fixes.load_state_file(str(foreign))


def _srmodel(tmp_path):
    from basicsr.models import build_model
    opt = dict(
        name='atomic', model_type='SRModel', scale=2, num_gpu=0, is_train=True, dist=False, rank=0, world_size=1,
        network_g=dict(type='EDSR', num_in_ch=3, num_out_ch=3, num_feat=4, num_block=1, upscale=2),
        path=dict(pretrain_network_g=None, strict_load_g=True, resume_state=None, models=str(tmp_path / 'models'),
                  training_states=str(tmp_path / 'training_states')),
        train=dict(optim_g=dict(type='Adam', lr=1e-3), scheduler=dict(type='MultiStepLR', milestones=[4], gamma=0.5),
                   pixel_opt=dict(type='L1Loss', loss_weight=1.0)))
    os.makedirs(tmp_path / 'models')
    os.makedirs(tmp_path / 'training_states')
    return build_model(opt)


@pipeline_fixes.pipeline_fixes()
def test_basicsr_saves_are_atomic_and_a_failed_write_is_a_clear_error(tmp_path, monkeypatch):
    model = _srmodel(tmp_path)
    model.save(epoch=0, current_iter=2)
    net_path, state_path = tmp_path / 'models' / 'net_g_2.pth', tmp_path / 'training_states' / '2.state'
    saved = torch.load(net_path, weights_only=True)
    assert set(saved) == {'params'}  # basicsr's keys and names
    assert torch.equal(saved['params']['conv_first.weight'], model.net_g.state_dict()['conv_first.weight'])
    assert pipeline_fixes.load_state_file(str(state_path))['iter'] == 2
    before = {p: p.read_bytes() for p in (net_path, state_path)}

    with torch.no_grad():
        model.net_g.conv_first.weight.add_(1)  # the next save would differ

    def no_space(obj, f, *args, **kwargs):
        f.write(b'half a checkpoint')  # the disk fills up mid-write
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(torch, 'save', no_space)
    for save, path in ((lambda: model.save_network(model.net_g, 'net_g', 2), net_path),
                       (lambda: model.save_training_state(0, 2), state_path)):
        with pytest.raises(WriteError, match=f'cannot write .*{path.name}') as info:
            save()
        assert str(path) in str(info.value) and 'No space left on device' in str(info.value)
        assert path.read_bytes() == before[path]  # the previous checkpoint is intact
    leftovers = [n for d in ('models', 'training_states') for n in os.listdir(tmp_path / d)]
    assert sorted(leftovers) == ['2.state', 'net_g_2.pth']  # no temporary file left behind

    # torch reports a failed write inside its zip container as a RuntimeError: the same clear error
    monkeypatch.setattr(torch, 'save', lambda *a, **k: (_ for _ in ()).throw(RuntimeError('unexpected pos 704')))
    with pytest.raises(WriteError, match='net_g_latest.pth'):
        model.save_network(model.net_g, 'net_g', -1)


@pipeline_fixes.pipeline_fixes()
def test_non_master_ranks_do_not_write(tmp_path, monkeypatch):
    model = _srmodel(tmp_path)
    monkeypatch.setattr('basicsr.utils.dist_util.get_dist_info', lambda: (1, 2))
    model.save(epoch=0, current_iter=2)
    assert os.listdir(tmp_path / 'models') == [] and os.listdir(tmp_path / 'training_states') == []


def test_filter2d_accepts_non_contiguous_input():
    """Global fix 3; the last line is basicsr's own function failing without it."""
    import basicsr.models.realesrnet_model as realesrnet
    from basicsr.utils.img_process_util import filter2D
    assert realesrnet.filter2D is filter2D
    img = torch.rand(2, 16, 16, 3).permute(0, 3, 1, 2)  # channels-last strides, as DiffJPEG + resize give
    kernel = torch.ones(2, 3, 3) / 9
    out = filter2D(img, kernel)
    assert torch.allclose(out, filter2D.__wrapped__(img.contiguous(), kernel))
    with pytest.raises(RuntimeError, match='view'):
        filter2D.__wrapped__(img, kernel)  # basicsr's own function fails on it


def test_force_yml_manual_seed_seeds_the_run(tmp_path, monkeypatch):
    """basicsr seeds before applying --force_yml; with the fix the forced seed is the seed used."""
    import yaml

    from helpers import edsr_options, paired_folder, train_in_process
    paired_folder(tmp_path / 'data')

    def weights(name, seed, *extra):
        opt = edsr_options(tmp_path / 'data', name, total_iter=2)
        opt['manual_seed'] = seed
        path = tmp_path / f'{name}.yml'
        path.write_text(yaml.safe_dump(opt))
        assert train_in_process(tmp_path, path, *extra, monkeypatch=monkeypatch)[0] == 0
        return torch.load(tmp_path / 'experiments' / name / 'models' / 'net_g_latest.pth', weights_only=True)['params']

    in_file = weights('seed1_file', 1)
    forced = weights('seed1_forced', 0, '--force_yml', 'manual_seed=1')
    seed0 = weights('seed0', 0)
    assert all(torch.equal(in_file[k], forced[k]) for k in in_file)
    assert not all(torch.equal(in_file[k], seed0[k]) for k in in_file)
