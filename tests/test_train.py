"""BasicSR's train pipeline through gsdd_basicsr/train.py: CPU run, stop, resume."""
import glob
import os
import subprocess
import sys

import pytest
import torch
import yaml

from helpers import ROOT, edsr_options, paired_folder, train_in_process


def _train(cwd, opt_path, *extra, module=False):
    entry = ['-m', 'gsdd_basicsr.train'] if module else [os.path.join(ROOT, 'gsdd_basicsr', 'train.py')]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get('PYTHONPATH')])), CUDA_VISIBLE_DEVICES='')
    return subprocess.run([sys.executable, *entry, '-opt', str(opt_path), *extra], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cpu_training_stops_and_resumes_with_saved_optimizer_state(tmp_path):
    paired_folder(tmp_path / 'data')
    opt_path = tmp_path / 'edsr.yml'
    opt_path.write_text(yaml.safe_dump(edsr_options(tmp_path / 'data', 'resume_edsr', total_iter=3)))

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
    paired_folder(tmp_path / 'data')
    opt_path = tmp_path / 'edsr.yml'
    opt_path.write_text(yaml.safe_dump(edsr_options(tmp_path / 'data', 'corrupt_edsr', total_iter=3)))
    assert _train(tmp_path, opt_path).returncode == 0
    states = tmp_path / 'experiments' / 'corrupt_edsr' / 'training_states'
    (states / '9.state').write_bytes(b'not a state')  # e.g. a crash during a write
    resumed = _train(tmp_path, opt_path, '--auto_resume', '--force_yml', 'train:total_iter=4')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert '9.state cannot be loaded safely' in resumed.stderr
    assert f"Resuming from {states / '3.state'}" in resumed.stdout  # the newest complete state


def test_missing_resume_state_is_one_clear_error(tmp_path):
    paired_folder(tmp_path / 'data')
    opt = edsr_options(tmp_path / 'data', 'missing_state', total_iter=2)
    opt['path']['resume_state'] = str(tmp_path / 'nope.state')
    opt_path = tmp_path / 'edsr.yml'
    opt_path.write_text(yaml.safe_dump(opt))
    run = _train(tmp_path, opt_path)
    assert run.returncode != 0
    assert 'nope.state does not exist' in run.stderr


def test_resumed_training_continues_the_uninterrupted_trajectory(tmp_path, monkeypatch):
    """3 iterations + ``--auto_resume`` to 6 end with the weights and Adam state of 6 uninterrupted iterations.

    Why this assertion: after a resume BasicSR replays the saved epoch's shuffle and reseeds the crop /
    flip RNG, so with several images the batches after iteration 3 differ from the uninterrupted run's
    and neither the l_pix curve nor the weights can be compared point-wise. Here the data stream is
    made order-free (one image, crop = the whole image, no flips or rotations: every batch is the same),
    so iterations 4-6 are a deterministic function of what the resume restores: the weights
    (net_g_3.pth), Adam's moments and step count, and the MultiStepLR schedule (milestone at 4). Equal
    results prove all of them carried over; a control resume whose Adam state is dropped ends elsewhere,
    so the comparison is sensitive to a lost optimizer state.
    """
    paired_folder(tmp_path / 'data', n=1, size=32)

    def options(name, total_iter):
        opt = edsr_options(tmp_path / 'data', name, total_iter)
        opt['datasets']['train'].update(gt_size=32, use_hflip=False, use_rot=False, batch_size_per_gpu=1)
        path = tmp_path / f'{name}.yml'
        path.write_text(yaml.safe_dump(opt))
        return path

    def result(name, it):
        exp = tmp_path / 'experiments' / name
        return (torch.load(exp / 'models' / f'net_g_{it}.pth', weights_only=True)['params'],
                torch.load(exp / 'training_states' / f'{it}.state', weights_only=True))

    assert train_in_process(tmp_path, options('straight', 6), monkeypatch=monkeypatch)[0] == 0
    for name in ('resumed', 'control'):
        path = options(name, 3)
        assert train_in_process(tmp_path, path, monkeypatch=monkeypatch)[0] == 0
        if name == 'control':  # the same resume, but with Adam's moments and step count lost
            state_path = tmp_path / 'experiments' / name / 'training_states' / '3.state'
            state = torch.load(state_path, weights_only=True)
            state['optimizers'][0]['state'] = {}
            torch.save(state, state_path)
        code, out, err = train_in_process(tmp_path, path, '--auto_resume', '--force_yml', 'train:total_iter=6',
                                          monkeypatch=monkeypatch)
        assert code == 0, err[-3000:]
        assert f"Resuming from {tmp_path / 'experiments' / name / 'training_states' / '3.state'}" in out

    w3_straight, _ = result('straight', 3)
    w3_resumed, _ = result('resumed', 3)
    assert all(torch.equal(w3_straight[k], w3_resumed[k]) for k in w3_straight)  # the same first half
    w6_straight, s6_straight = result('straight', 6)
    w6_resumed, s6_resumed = result('resumed', 6)
    assert max((w6_straight[k] - w6_resumed[k]).abs().max().item() for k in w6_straight) <= 1e-6
    assert max((w6_resumed[k] - w3_resumed[k]).abs().max().item() for k in w6_resumed) > 1e-4  # it trained on
    adam_straight, adam_resumed = s6_straight['optimizers'][0], s6_resumed['optimizers'][0]
    assert adam_resumed['param_groups'][0]['lr'] == adam_straight['param_groups'][0]['lr'] == pytest.approx(5e-4)
    for idx, slot in adam_straight['state'].items():
        assert float(adam_resumed['state'][idx]['step']) == float(slot['step']) == 6
        for key in ('exp_avg', 'exp_avg_sq'):
            assert torch.allclose(adam_resumed['state'][idx][key], slot[key], rtol=1e-5, atol=1e-9)
    w6_control, _ = result('control', 6)
    assert max((w6_straight[k] - w6_control[k]).abs().max().item() for k in w6_straight) > 1e-5
