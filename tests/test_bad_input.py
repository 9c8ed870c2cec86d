"""Bad input and failed runs across the product, in one list: one line naming the culprit, and the right status.

Every case below runs the real entry point: ``gsdd_basicsr/train.py``'s ``main()`` in this process
(``helpers.train_in_process``: the script's code path, without a 5 s interpreter start per case) or
``tools/export_distilled.py``'s ``main()``; one case runs the script as a subprocess to pin the real
exit status. Expected for each: the last stderr line ``<prog>: error: <message>`` naming the culprit, no
traceback, and

- bad input found by the options check (:mod:`gsdd_basicsr.options_check`): status 2, nothing created
  (no ``experiments/<name>``, ``tb_logger/<name>`` or export folder);
- bad input found once the run started (building a dataset or a network): status 2, and the folders BasicSR
  had created are taken back (nothing left; an earlier run's folder of the same name keeps its name);
- a run that started and failed (a non-finite loss, out of memory in the first step, a full disk, a bug):
  status 1, the folder and log kept, the line names the log (a bug also logs its traceback).

Distillation (``train.py``, GSDDModel), bad input:
  - before: dataroot_gt does not exist; an LMDB cut short (``data.mdb`` shorter than its header says);
    a class folder that is a dangling symlink; generator weights missing; an unknown ``gsdd:`` key; a
    ``gsdd:`` value of the wrong type; ``path.resume_state`` missing or corrupt
  - started: dataroot_gt is empty; a class folder is empty; a corrupt, truncated or zero-byte image (the file
    is named); images smaller than the crop (``gt_size``); ``gt_size`` != scale * latent_size; an LMDB whose
    meta_info.txt names a key the LMDB does not hold; generator weights for another architecture / scale; an
    optimizer BasicSR does not build; an optimizer or scheduler setting torch rejects (``train.optim_z.lr:
    -1``, an invalid beta, a misspelt scheduler argument); a scheduler BasicSR does not build
Distillation, failed runs: NaN in the loss (a generator that outputs NaN); Inf/overflow in the loss (a
  divergent learning rate); out of GPU memory in the first step; a bug in the step; a full disk while saving
  a checkpoint (the previous checkpoint must survive; the message names the file)
Downstream training (``train.py``, BasicSR's SRModel):
  - a full disk while saving a checkpoint (``pipeline_fixes`` makes BasicSR's saves atomic and fail loudly)
Export (``tools/export_distilled.py``):
  - a latent bank of the wrong format; a bank whose scale disagrees with its generator; a bank with a
    non-finite latent

Accepted, not errors (documented conversions, the run must work): grey-scale, 16-bit and RGBA
images are read as 3-channel float RGB in [0, 1] (grey replicated, 16-bit / 65535, alpha dropped).

Runtime: about 7 s of CPU (``pytest tests/test_bad_input.py``).
"""
import contextlib
import errno
import glob
import io
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml

from helpers import edsr_options, gsdd_cli_opt, make_toy_bank, paired_folder, train_in_process, write_classes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _copy_train(root, case):
    """A private copy of the tiny class set (ant, bee: 3 images of 24 px each) to break."""
    dst = root / 'cases' / case
    shutil.copytree(root / 'train', dst)
    return dst


# ------------------------------------------------------------------ breakers: (root, case, opt) -> None
def _missing_dataroot(root, case, opt):
    opt['datasets']['train']['real']['dataroot_gt'] = str(root / 'cases' / 'no_such_folder')


def _empty_dataroot(root, case, opt):
    os.makedirs(root / 'cases' / case)
    opt['datasets']['train']['real']['dataroot_gt'] = str(root / 'cases' / case)


def _empty_class_folder(root, case, opt):
    data = _copy_train(root, case)
    os.makedirs(data / 'cow')
    opt['datasets']['train']['real']['dataroot_gt'] = str(data)


def _corrupt_image(root, case, opt):
    data = _copy_train(root, case)
    (data / 'bee' / '1.png').write_bytes(b'\x89PNG but not really an image' * 8)
    opt['datasets']['train']['real']['dataroot_gt'] = str(data)


def _truncated_image(root, case, opt):  # the header (size) reads, the pixels do not
    data = _copy_train(root, case)
    path = data / 'bee' / '1.png'
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    opt['datasets']['train']['real']['dataroot_gt'] = str(data)


def _zero_byte_image(root, case, opt):
    data = _copy_train(root, case)
    (data / 'bee' / '1.png').write_bytes(b'')
    opt['datasets']['train']['real']['dataroot_gt'] = str(data)


def _images_smaller_than_crop(root, case, opt):
    data = root / 'cases' / case
    write_classes(data, size=12)  # 12 px images, 16 px crops
    opt['datasets']['train']['real']['dataroot_gt'] = str(data)


def _gt_size_not_scale_times_latent(root, case, opt):
    opt['datasets']['train']['real']['gt_size'] = 20


def _lmdb_key_missing(root, case, opt):
    from basicsr.utils.lmdb_util import make_lmdb_from_imgs
    names = [f'{c}/{i}.png' for c in ('ant', 'bee') for i in range(3)]
    lmdb = root / 'cases' / f'{case}.lmdb'
    with contextlib.redirect_stdout(io.StringIO()):
        make_lmdb_from_imgs(str(root / 'train'), str(lmdb), names, [n[:-4] for n in names])
    with open(lmdb / 'meta_info.txt', 'a') as f:
        f.write('cow/0.png (24,24,3) 1\n')  # listed, never stored
    opt['datasets']['train']['real'].update(dataroot_gt=str(lmdb), io_backend=dict(type='lmdb'))


def _lmdb_cut_short(root, case, opt):  # a copy that stopped half-way: lmdb would die with SIGBUS on reading
    from basicsr.utils.lmdb_util import make_lmdb_from_imgs
    names = [f'{c}/{i}.png' for c in ('ant', 'bee') for i in range(3)]
    lmdb = root / 'cases' / f'{case}.lmdb'
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        make_lmdb_from_imgs(str(root / 'train'), str(lmdb), names, [n[:-4] for n in names])
    data = lmdb / 'data.mdb'
    data.write_bytes(data.read_bytes()[:data.stat().st_size // 2])
    opt['datasets']['train']['real'].update(dataroot_gt=str(lmdb), io_backend=dict(type='lmdb'))


def _dangling_class_symlink(root, case, opt):  # a class folder whose target went away: it must not vanish silently
    data = _copy_train(root, case)
    os.symlink(root / 'cases' / 'moved_away', data / 'cow')
    opt['datasets']['train']['real']['dataroot_gt'] = str(data)


def _weights_missing(root, case, opt):
    opt['path']['pretrain_network_g'] = str(root / 'cases' / 'no_such_weights.pth')


def _weights_for_another_arch(root, case, opt):
    opt['network_g']['num_feat'] = 16


def _weights_for_another_scale(root, case, opt):
    opt['scale'] = 4


def _unknown_gsdd_key(root, case, opt):
    opt['gsdd']['ipcs'] = 3


def _wrong_type(root, case, opt):
    opt['gsdd']['ipc'] = 'ten'


def _nan_loss(root, case, opt):
    state = torch.load(root / 'g.pth', weights_only=True)
    state['params_ema']['body.0.bias'][0] = float('nan')  # the generator outputs NaN
    torch.save(state, root / 'cases' / 'g_nan.pth')
    opt['path']['pretrain_network_g'] = str(root / 'cases' / 'g_nan.pth')
    opt['gsdd']['init'] = 'real'


def _inf_loss(root, case, opt):
    opt['train']['optim_z'] = dict(type='Adam', lr=1e37)  # the latents jump to ~1e37: G overflows within 2 steps
    opt['logger']['save_checkpoint_freq'] = 100  # fails before its first checkpoint: nothing may be left


def _unsupported_optimizer(root, case, opt):
    opt['train']['optim_z'] = dict(type='SGD', lr=0.1)  # basicsr 1.4.2's BaseModel.get_optimizer knows only Adam


def _negative_learning_rate(root, case, opt):
    opt['train']['optim_z']['lr'] = -1  # torch.optim.Adam: "Invalid learning rate: -1"


def _unknown_optimizer_argument(root, case, opt):
    opt['train']['optim_z']['betas'] = [0.9, 1.5]  # torch.optim.Adam: "Invalid beta parameter at index 1"


def _unknown_scheduler_argument(root, case, opt):
    opt['train']['scheduler']['gama'] = 0.5  # a typo: an unexpected keyword argument


def _unsupported_scheduler(root, case, opt):
    opt['train']['scheduler'] = dict(type='StepLR', step_size=2)  # basicsr 1.4.2 does not build it


def _resume_state_missing(root, case, opt):
    opt['path']['resume_state'] = str(root / 'cases' / 'no_such.state')


def _resume_state_corrupt(root, case, opt):
    (root / 'cases' / 'cut.state').write_bytes(b'PK\x03\x04 cut short by a crash')
    opt['path']['resume_state'] = str(root / 'cases' / 'cut.state')


BEFORE, STARTED = 'before', 'started'  # found by the options check (nothing created) / once the run started

CASES = [  # (breaker, what the one message must say, when it is found)
    (_missing_dataroot, "datasets.train.real.dataroot_gt '{root}/cases/no_such_folder' does not exist; set it with "
                        '--force_yml datasets:train:real:dataroot_gt=<folder>', BEFORE),
    (_empty_dataroot, "'{root}/cases/_empty_dataroot' has no class sub-folders", STARTED),
    (_empty_class_folder, "Class 'cow' has no images under '{root}/cases/_empty_class_folder/cow'", STARTED),
    (_corrupt_image, "Cannot read image '{root}/cases/_corrupt_image/bee/1.png'", STARTED),
    (_truncated_image, "Cannot decode image '{root}/cases/_truncated_image/bee/1.png'", STARTED),
    (_zero_byte_image, "Cannot read image '{root}/cases/_zero_byte_image/bee/1.png'", STARTED),
    (_images_smaller_than_crop, "Class 'ant' has 0 usable image(s) of at least gt_size=16 px", STARTED),
    (_gt_size_not_scale_times_latent, 'set gt_size: 16', STARTED),
    (_lmdb_key_missing, "Image key 'cow/0' is listed in '{root}/cases/_lmdb_key_missing.lmdb/meta_info.txt'",
     STARTED),
    (_lmdb_cut_short, 'LMDB {root}/cases/_lmdb_cut_short.lmdb is cut short: data.mdb holds', BEFORE),
    (_dangling_class_symlink, '{root}/cases/_dangling_class_symlink/cow is a symbolic link to', BEFORE),
    (_weights_missing, "path.pretrain_network_g '{root}/cases/no_such_weights.pth' does not exist", BEFORE),
    (_weights_for_another_arch, 'generator weights {root}/g.pth do not fit network_g', STARTED),
    (_weights_for_another_scale, 'scale is 4 in the options but the generator {root}/g.pth upscales x2', STARTED),
    (_unknown_gsdd_key, 'unknown key(s) gsdd.ipcs', BEFORE),
    (_wrong_type, "gsdd.ipc must be int, got 'ten'", BEFORE),
    (_unsupported_optimizer, 'train.optim_z.type SGD is not supported', STARTED),
    (_negative_learning_rate, 'train.optim_z (Adam) is rejected: Invalid learning rate: -1; fix train.optim_z',
     STARTED),
    (_unknown_optimizer_argument, 'train.optim_z (Adam) is rejected: Invalid beta parameter at index 1', STARTED),
    (_unknown_scheduler_argument, "train.scheduler (MultiStepLR) is rejected: MultiStepRestartLR.__init__() got an "
                                  "unexpected keyword argument 'gama'", STARTED),
    (_unsupported_scheduler, 'train.scheduler.type StepLR is not supported', STARTED),
    (_resume_state_missing, 'path.resume_state {root}/cases/no_such.state does not exist', BEFORE),
    (_resume_state_corrupt, 'Training state {root}/cases/cut.state cannot be loaded safely', BEFORE),
]


def _one_error_line(code, err, prog, status, message):
    """The last stderr line is the only ``<prog>: error:`` line and holds ``message``; no traceback."""
    assert code == status, err[-3000:]
    assert 'Traceback' not in err, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith(f'{prog}: error:')]
    assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0], err[-3000:]
    assert message in errors[0], errors[0]
    return errors[0]


def _assert_one_error(code, err, prog, message):
    return _one_error_line(code, err, prog, 2, message)


def _nothing_left(root, name):
    return not (root / 'experiments' / name).exists() and not (root / 'tb_logger' / name).exists()


def _names_its_log(line, root, name):
    """The line ends with ``the log is <experiments/<name>/train_<name>_<time>.log>``, a file that exists."""
    log = line.rsplit('; the log is ', 1)[-1]
    assert log.startswith(str(root / 'experiments' / name / f'train_{name}_')) and log.endswith('.log'), line
    assert os.path.isfile(log)
    return log


@pytest.mark.parametrize('breaker, message, found', CASES, ids=[b.__name__.strip('_') for b, _, _ in CASES])
def test_distillation_bad_input(setup, monkeypatch, breaker, message, found):
    os.makedirs(setup / 'cases', exist_ok=True)
    name = f'bad{breaker.__name__}'
    opt = gsdd_cli_opt(setup, name)
    opt['logger']['use_tb_logger'] = True  # BasicSR then creates tb_logger/<name> too
    breaker(setup, breaker.__name__, opt)
    opt_path = setup / 'cases' / f'{name}.yml'
    opt_path.write_text(yaml.safe_dump(opt))
    code, _, err = train_in_process(setup, opt_path, monkeypatch=monkeypatch)
    line = _assert_one_error(code, err, 'train.py', message.format(root=setup))
    assert ('Version Information' in err) == (found == STARTED)  # BasicSR's first log lines: it had started
    assert _nothing_left(setup, name) and 'the log is' not in line
    assert not glob.glob(str(setup / '*' / f'{name}_archived_*'))


def test_bad_input_after_the_start_gives_an_earlier_runs_folder_its_name_back(setup, monkeypatch):
    """BasicSR renames an existing ``experiments/<name>`` (and ``tb_logger/<name>``) ``<name>_archived_<time>``
    before the data shows the input is bad; the rename is undone, the earlier run's files untouched."""
    os.makedirs(setup / 'cases', exist_ok=True)
    name = 'bad_after_an_earlier_run'
    opt = gsdd_cli_opt(setup, name)
    opt['logger']['use_tb_logger'] = True
    _empty_dataroot(setup, '_empty_dataroot_again', opt)
    opt_path = setup / 'cases' / f'{name}.yml'
    opt_path.write_text(yaml.safe_dump(opt))
    for folder in ('experiments', 'tb_logger'):
        os.makedirs(setup / folder / name)
        (setup / folder / name / 'earlier.txt').write_text(folder)
    code, _, err = train_in_process(setup, opt_path, monkeypatch=monkeypatch)
    _assert_one_error(code, err, 'train.py', 'has no class sub-folders')
    for folder in ('experiments', 'tb_logger'):
        assert os.listdir(setup / folder / name) == ['earlier.txt']
        assert not glob.glob(str(setup / folder / f'{name}_archived_*'))


RUN_FAILURES = [  # (breaker, what the one message must say): runs that started and failed
    (_nan_loss, 'non-finite distillation loss at iteration 1'),
    (_inf_loss, 'non-finite distillation loss at iteration'),
]


@pytest.mark.parametrize('breaker, message', RUN_FAILURES, ids=[b.__name__.strip('_') for b, _ in RUN_FAILURES])
def test_a_failed_run_keeps_its_folder_and_log(setup, monkeypatch, breaker, message):
    """Not bad input: the run started and failed. Exit 1, the folder and its log kept, the line names the log."""
    os.makedirs(setup / 'cases', exist_ok=True)
    name = f'failed{breaker.__name__}'
    opt = gsdd_cli_opt(setup, name)
    breaker(setup, breaker.__name__, opt)
    opt_path = setup / 'cases' / f'{name}.yml'
    opt_path.write_text(yaml.safe_dump(opt))
    code, _, err = train_in_process(setup, opt_path, monkeypatch=monkeypatch)
    line = _one_error_line(code, err, 'train.py', 1, message)
    log = open(_names_its_log(line, setup, name)).read()
    assert 'Start training from epoch: 0, iter: 0' in log and message in log  # BasicSR's lines, then the failure


def test_out_of_memory_in_the_first_step_keeps_the_folder_and_log(setup, monkeypatch):
    """A CUDA out-of-memory error in the first distillation step (raised where the step runs): exit 1, one line
    naming the setting to lower and the log; the folder is kept."""
    from gsdd_basicsr.models.gsdd_model import GSDDModel

    def out_of_memory(self, iteration):
        raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 20.00 GiB')

    monkeypatch.setattr(GSDDModel, '_step', out_of_memory)
    os.makedirs(setup / 'cases', exist_ok=True)
    opt_path = setup / 'cases' / 'oom_first_step.yml'
    opt_path.write_text(yaml.safe_dump(gsdd_cli_opt(setup, 'oom_first_step')))
    code, _, err = train_in_process(setup, opt_path, monkeypatch=monkeypatch)
    line = _one_error_line(code, err, 'train.py', 1, 'out of GPU memory in the distillation step (iteration 1)')
    assert 'gsdd.batch_real' in line
    _names_its_log(line, setup, 'oom_first_step')


def test_a_bug_in_a_run_is_logged_with_its_traceback(setup, monkeypatch):
    """An unexpected error (a bug): exit 1, the traceback in the run's log, the last line names the log."""
    from gsdd_basicsr.models.gsdd_model import GSDDModel

    def bug(self, iteration):
        raise ZeroDivisionError('a bug in the step')

    monkeypatch.setattr(GSDDModel, '_step', bug)
    os.makedirs(setup / 'cases', exist_ok=True)
    opt_path = setup / 'cases' / 'bug_first_step.yml'
    opt_path.write_text(yaml.safe_dump(gsdd_cli_opt(setup, 'bug_first_step')))
    code, _, err = train_in_process(setup, opt_path, monkeypatch=monkeypatch)
    assert code == 1, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith('train.py: error: the run failed with ZeroDivisionError: a bug in the step'), last
    log = open(_names_its_log(last, setup, 'bug_first_step')).read()
    assert 'Traceback' in log and 'ZeroDivisionError: a bug in the step' in log


def test_script_exit_status(setup):
    """The same through a real ``python gsdd_basicsr/train.py`` process: status 2, one line, nothing left."""
    os.makedirs(setup / 'cases', exist_ok=True)
    opt = gsdd_cli_opt(setup, 'bad_script')
    _missing_dataroot(setup, 'script', opt)
    opt_path = setup / 'cases' / 'bad_script.yml'
    opt_path.write_text(yaml.safe_dump(opt))
    run = subprocess.run([sys.executable, os.path.join(ROOT, 'gsdd_basicsr', 'train.py'), '-opt', str(opt_path)],
                         cwd=setup, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1'))
    _assert_one_error(run.returncode, run.stderr, 'train.py', 'no_such_folder')
    assert _nothing_left(setup, 'bad_script')


def test_grey_16bit_and_rgba_images_are_converted(setup, monkeypatch):
    """Not an error: grey -> 3 equal channels, 16-bit -> / 65535, RGBA -> alpha dropped; the run works."""
    from gsdd_basicsr.data.class_image_dataset import ClassImageDataset
    data = setup / 'cases' / 'odd_images'
    rng = np.random.default_rng(5)
    base = (rng.random((24, 24, 3)) * 255).astype(np.uint8)
    for cls, img in (('grey', base[:, :, 0]), ('deep', base.astype(np.uint16) * 257),
                     ('rgba', np.dstack([base, np.full((24, 24), 77, np.uint8)]))):
        os.makedirs(data / cls)
        for i in range(2):
            assert cv2.imwrite(str(data / cls / f'{i}.png'), np.roll(img, 3 * i, axis=0))
    dataset = ClassImageDataset(dict(dataroot_gt=str(data), gt_size=16))
    for cls, expected in (('deep', base), ('grey', np.repeat(base[:, :, :1], 3, axis=2)), ('rgba', base)):
        img = dataset.read_image(dataset.names.index(f'{cls}/0.png'))
        assert img.shape == (24, 24, 3) and img.dtype == np.float32
        assert np.abs(img - expected / 255.).max() < 1e-6

    opt = gsdd_cli_opt(setup, 'odd_images')
    opt['datasets']['train']['real']['dataroot_gt'] = str(data)
    opt['train']['total_iter'] = 2
    opt_path = setup / 'cases' / 'odd_images.yml'
    opt_path.write_text(yaml.safe_dump(opt))
    code, _, err = train_in_process(setup, opt_path, monkeypatch=monkeypatch)
    assert code == 0, err[-3000:]
    bank = torch.load(setup / 'experiments' / 'odd_images' / 'models' / 'latents_2.pth', weights_only=True)
    assert bank['class_names'] == ['deep', 'grey', 'rgba'] and torch.isfinite(bank['latents']).all()


# ------------------------------------------------------------------ a full disk while saving
def _full_disk_on(monkeypatch, failing_call):
    """``torch.save`` fills the disk (half a file, then ENOSPC) from its ``failing_call``-th call on."""
    real_save, calls = torch.save, [0]

    def save(obj, f, *args, **kwargs):
        calls[0] += 1
        if calls[0] < failing_call:
            return real_save(obj, f, *args, **kwargs)
        f.write(b'half a checkpoint')
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(torch, 'save', save)


def _gsdd_full_disk(root):
    opt = gsdd_cli_opt(root, 'full_disk_gsdd')  # checkpoints at 2 and 4: latents_2, latents_latest, 2.state, latents_4
    return opt, 4, 'latents_4.pth', ['models/latents_2.pth', 'models/latents_latest.pth', 'training_states/2.state']


def _srmodel_full_disk(root):
    paired_folder(root / 'cases' / 'paired')
    opt = edsr_options(root / 'cases' / 'paired', 'full_disk_edsr', total_iter=4)
    opt['logger']['save_checkpoint_freq'] = 2  # net_g_2.pth, 2.state, then net_g_4.pth fails
    return opt, 3, 'net_g_4.pth', ['models/net_g_2.pth', 'training_states/2.state']


@pytest.mark.parametrize('case', [
    pytest.param(_gsdd_full_disk, id='GSDDModel'),
    pytest.param(_srmodel_full_disk, id='SRModel'),
])
def test_full_disk_while_saving_keeps_the_previous_checkpoint(setup, monkeypatch, case):
    os.makedirs(setup / 'cases', exist_ok=True)
    opt, failing_call, culprit, previous = case(setup)
    opt_path = setup / 'cases' / f"{opt['name']}.yml"
    opt_path.write_text(yaml.safe_dump(opt))
    _full_disk_on(monkeypatch, failing_call)
    code, _, err = train_in_process(setup, opt_path, monkeypatch=monkeypatch)
    monkeypatch.undo()
    exp = setup / 'experiments' / opt['name']
    line = _one_error_line(code, err, 'train.py', 1, f"{exp / 'models' / culprit}")  # a run failure, not bad input
    _names_its_log(line, setup, opt['name'])
    assert 'No space left on device' in err
    assert not (exp / 'models' / culprit).exists()
    for rel in previous:  # the previous checkpoint survives, complete
        assert torch.load(exp / rel, weights_only=True) is not None
    assert not [n for d in ('models', 'training_states') for n in os.listdir(exp / d) if n.endswith('.tmp')]


# ------------------------------------------------------------------ export of a latent bank
def _bank_wrong_format(folder):
    path = folder / 'list.pth'
    torch.save([1, 2, 3], path)
    return path, f'latent bank {path}: wrong format'


def _bank_wrong_scale(folder):
    bank_path, _, _ = make_toy_bank(folder / 'toy')
    bank = torch.load(bank_path, weights_only=True)
    bank['scale'] = 2  # its generator (network_g.upscale) is x4
    path = folder / 'x2.pth'
    torch.save(bank, path)
    return path, f"latent bank {path}: scale mismatch: 'scale' is 2 but network_g (SRVGGNetCompact) upscales by 4"


def _bank_non_finite_latent(folder):
    bank_path, _, _ = make_toy_bank(folder / 'toy')
    bank = torch.load(bank_path, weights_only=True)
    bank['latents'][4, 1, 2, 3] = float('nan')  # one NaN written into a saved bank
    path = folder / 'nan.pth'
    torch.save(bank, path)
    return path, (f"latent bank {path}: 'latents' holds non-finite values (NaN or Inf) in 1 of 6 latents "
                  '(first: index 4)')


@pytest.mark.parametrize('make_bank', [_bank_wrong_format, _bank_wrong_scale, _bank_non_finite_latent],
                         ids=['wrong-format', 'wrong-scale', 'non-finite-latent'])
def test_export_bad_latent_bank(tmp_path, make_bank, run_tool):
    bank, message = make_bank(tmp_path)
    out, err = tmp_path / 'out', io.StringIO()
    with contextlib.redirect_stderr(err):
        code = run_tool('export_distilled', ['--latents', str(bank), '--out', str(out), '--device', 'cpu'])
    _assert_one_error(code, err.getvalue(), 'export_distilled', message)
    assert not out.exists() and not [n for n in os.listdir(tmp_path) if n.startswith('.')]
