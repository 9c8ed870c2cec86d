"""BasicSR's own entry points (``python -m basicsr.train``, ``python basicsr/train.py``) run the plugin.

Where ``pip install`` put ``gsdd_basicsr_autoload.pth`` into a site directory (the CI's fresh
``pip install -e ".[test]"``), the subprocesses are the user's exact commands. Where it did not (a
development environment installed before the autoload existed), each subprocess first processes this
checkout's ``gsdd_basicsr_autoload.pth`` with ``site.addsitedir`` — what ``site`` does at start-up — and
then runs the module or script with ``runpy``, as ``-m`` and a script path do.

basicsr's ``train.py`` writes ``experiments/`` next to the folder that holds the ``basicsr`` package.
The tests give it a throw-away "BasicSR checkout": ``<tmp>/BasicSR/basicsr`` links to the installed
package, so outputs land in ``<tmp>/BasicSR`` and never in site-packages.
"""
import os
import shutil
import site
import subprocess
import sys
import zipfile

import pytest
import torch
import yaml

import gsdd_basicsr_autoload
from helpers import edsr_options, gsdd_cli_opt, paired_folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PTH = 'gsdd_basicsr_autoload.pth'
_SITE_DIRS = site.getsitepackages() + [site.getusersitepackages()]
INSTALLED = any(os.path.isfile(os.path.join(d, PTH)) for d in _SITE_DIRS)
# what site.py does at start-up, then what `python -m MOD` / `python SCRIPT` do
_BOOT = """import runpy, site, sys
site.addsitedir(sys.argv.pop(1))
if sys.argv[1] == '-m':
    del sys.argv[1]
    runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)
elif sys.argv[1] == '-c':
    del sys.argv[1]
    exec(sys.argv[1])
else:
    del sys.argv[0]
    runpy.run_path(sys.argv[0], run_name='__main__')
"""


def _python(args, cwd, pythonpath=(), **env):
    """``python *args`` in ``cwd`` with the autoload as installed (see the module docstring).

    ``pythonpath`` is prepended to ``PYTHONPATH`` (with this checkout); ``env`` adds variables.
    """
    command = [sys.executable, *args] if INSTALLED else [sys.executable, '-c', _BOOT, ROOT, *args]
    path = os.pathsep.join([*map(str, pythonpath), ROOT, *filter(None, [os.environ.get('PYTHONPATH')])])
    env = dict(os.environ, PYTHONPATH=path, CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1',
               PYTHONDONTWRITEBYTECODE='1', **env)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope='module')
def checkout(tmp_path_factory):
    """A BasicSR "checkout" whose ``basicsr`` is the installed package (a link: nothing is copied)."""
    import importlib.util
    root = tmp_path_factory.mktemp('entry') / 'BasicSR'
    root.mkdir()
    package = os.path.dirname(importlib.util.find_spec('basicsr').origin)
    os.symlink(package, root / 'basicsr', target_is_directory=True)
    return root


_PROBE = ("import sys; print('torch' in sys.modules, 'basicsr' in sys.modules, "
          "any(type(f).__name__ == 'BasicSRImportHook' for f in sys.meta_path))")


@pytest.mark.parametrize('value, hooked', [(None, True), ('0', False), ('off', False)])
def test_start_up_imports_no_torch_and_the_switch_turns_the_hook_off(tmp_path, value, hooked):
    run = _python(['-c', _PROBE], tmp_path, **({} if value is None else {gsdd_basicsr_autoload.ENV: value}))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ['False', 'False', str(hooked)]


def test_switched_off_basicsr_imports_without_the_plugin(tmp_path):
    probe = ("import sys\ntry:\n    import basicsr\nexcept ImportError as err:\n    print('import failed:', err)\n"
             "print('plugin imported:', 'gsdd_basicsr' in sys.modules)")
    run = _python(['-c', probe], tmp_path, GSDD_BASICSR_AUTOLOAD='0')
    assert run.returncode == 0, run.stderr[-3000:]
    # without compat fix 1 basicsr 1.4.2 does not import with torchvision >= 0.17 at all
    assert 'plugin imported: False' in run.stdout


_MAIN_PROBE = """import os, sys, sysconfig, types
import basicsr
from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, MODEL_REGISTRY
print('GSDDModel' in MODEL_REGISTRY, 'DistilledImageDataset' in DATASET_REGISTRY, 'DMConvNet' in ARCH_REGISTRY,
      type(basicsr.__loader__).__name__, any(type(f).__name__ == 'BasicSRImportHook' for f in sys.meta_path))
import basicsr.utils.options as options
import gsdd_basicsr.compat as compat
site_packages = sysconfig.get_paths()['purelib']
for folder in ('basicsr', 'not_basicsr'):
    main = types.ModuleType('__main__')
    main.__file__, main.load_resume_state = os.path.join(site_packages, folder, 'train.py'), None
    sys.modules['__main__'], sys.argv = main, ['train.py']
    try:
        options.parse_options(site_packages, is_train=True)
    except SystemExit:  # no -opt
        pass
    print(folder, main.load_resume_state is compat.load_resume_state)
"""


def test_import_basicsr_registers_the_plugin_and_fixes_basicsr_main(tmp_path):
    """The registries know the plugin, basicsr keeps its own loader, the hook is gone; basicsr's train.py as
    ``__main__`` (and only it) gets compat's load_resume_state (global fix 2), and a warning when it would write
    into site-packages."""
    run = _python(['-c', _MAIN_PROBE], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ['True', 'True', 'True', 'SourceFileLoader', 'False',
                                  'basicsr', 'True', 'not_basicsr', 'False']
    warnings = [line for line in run.stderr.splitlines() if line.startswith('WARNING: basicsr/train.py writes')]
    assert len(warnings) == 1 and 'python -m gsdd_basicsr.train' in warnings[0]


def test_python_m_basicsr_train_distils(setup, checkout):
    opt = gsdd_cli_opt(setup, 'entry_distill')
    opt_path = setup / 'entry_distill.yml'
    opt_path.write_text(yaml.safe_dump(opt))
    run = _python(['-m', 'basicsr.train', '-opt', str(opt_path)], checkout, pythonpath=[checkout])
    assert run.returncode == 0, run.stderr[-3000:]
    models = checkout / 'experiments' / 'entry_distill' / 'models'
    bank = torch.load(models / 'latents_latest.pth', weights_only=True)
    assert bank['iter'] == opt['train']['total_iter']
    assert tuple(bank['latents'].shape[-2:]) == (opt['gsdd']['latent_size'],) * 2

    # resuming with BasicSR's own loader: BasicSR's switch keeps the frozen generator's weights
    opt['path']['ignore_resume_networks'] = ['network_g']
    opt_path.write_text(yaml.safe_dump(opt))
    more = opt['train']['total_iter'] + 2
    resumed = _python(['-m', 'basicsr.train', '-opt', str(opt_path), '--auto_resume', '--force_yml',
                       f'train:total_iter={more}'], checkout, pythonpath=[checkout])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"iter: {opt['train']['total_iter']}." in resumed.stderr  # basicsr's "Resuming training from ..."
    assert torch.load(models / 'latents_latest.pth', weights_only=True)['iter'] == more


def test_basicsr_train_script_trains_sr_on_distilled_images_and_resumes_on_cpu(tmp_path, checkout):
    paired_folder(tmp_path / 'data')
    opt = edsr_options(tmp_path / 'data', 'entry_edsr', total_iter=2)
    opt['logger']['save_checkpoint_freq'] = 2
    opt['datasets']['train'].update(type='DistilledImageDataset', dataroot=str(tmp_path / 'data'),
                                    lr_source='on_the_fly')
    for key in ('dataroot_gt', 'dataroot_lq', 'filename_tmpl'):
        del opt['datasets']['train'][key]
    opt_path = tmp_path / 'edsr.yml'
    opt_path.write_text(yaml.safe_dump(opt))
    script = str(checkout / 'basicsr' / 'train.py')

    first = _python([script, '-opt', str(opt_path)], checkout)
    assert first.returncode == 0, first.stderr[-3000:]
    states = checkout / 'experiments' / 'entry_edsr' / 'training_states'
    assert sorted(os.listdir(states)) == ['2.state']
    # basicsr's own load_resume_state would need CUDA here; the autoload gives __main__ compat's (global fix 2)
    resumed = _python([script, '-opt', str(opt_path), '--auto_resume', '--force_yml', 'train:total_iter=4'], checkout)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'Resuming training from epoch: 0, iter: 2.' in resumed.stderr  # basicsr's own resume, on the CPU
    state = torch.load(states / '4.state', weights_only=True)
    assert float(state['optimizers'][0]['state'][0]['step']) == 4


_PLAIN_RUN = """import os, sys
if os.environ.get('GSDD_BASICSR_AUTOLOAD') == '0':  # basicsr 1.4.2 without the plugin: only global fix 1
    from gsdd_basicsr_autoload import alias_functional_tensor
    alias_functional_tensor()
import basicsr.train
print('plugin loaded:', 'gsdd_basicsr' in sys.modules)
sys.argv = ['train.py', '-opt', sys.argv[1]]
basicsr.train.train_pipeline(os.getcwd())
"""


def test_a_plain_srmodel_run_is_the_same_with_and_without_the_plugin(tmp_path):
    """BasicSR's own SRModel training (no class of ours in its options), once with the installed hook (which
    loads the plugin at ``import basicsr``) and once with the hook off: the same weights, training states and
    validation images. The plugin changes BasicSR only through the global fixes of ``gsdd_basicsr.compat``."""
    paired_folder(tmp_path / 'data')
    opt = edsr_options(tmp_path / 'data', 'plain', total_iter=4)
    opt['logger']['save_checkpoint_freq'] = 2
    opt['datasets']['val'] = dict(name='tiny_val', type='PairedImageDataset', dataroot_gt=str(tmp_path / 'data' / 'HR'),
                                  dataroot_lq=str(tmp_path / 'data' / 'LR'), io_backend=dict(type='disk'),
                                  filename_tmpl='{}', phase='val')
    opt['val'] = dict(val_freq=2, save_img=True, metrics=dict(psnr=dict(type='calculate_psnr', crop_border=2)))
    opt_path = tmp_path / 'plain.yml'
    opt_path.write_text(yaml.safe_dump(opt))
    outputs = {}
    for hook, env in (('on', {}), ('off', {gsdd_basicsr_autoload.ENV: '0'})):
        (tmp_path / hook).mkdir()
        run = _python(['-c', _PLAIN_RUN, str(opt_path)], tmp_path / hook, **env)
        assert run.returncode == 0, run.stderr[-3000:]
        assert f'plugin loaded: {hook == "on"}' in run.stdout
        outputs[hook] = tmp_path / hook / 'experiments' / 'plain'
    on, off = outputs['on'], outputs['off']
    files = sorted(str(p.relative_to(on)) for p in on.rglob('*') if p.is_file() and p.suffix != '.log'
                   and p.name != 'plain.yml')
    assert files == sorted(str(p.relative_to(off)) for p in off.rglob('*') if p.is_file() and p.suffix != '.log'
                           and p.name != 'plain.yml')
    assert {'models/net_g_4.pth', 'training_states/4.state', 'visualization/000/000_4.png'} <= set(files)
    for name in files:
        if name.endswith('.png'):
            assert (on / name).read_bytes() == (off / name).read_bytes(), name
        else:
            a, b = (torch.load(d / name, weights_only=True) for d in (on, off))
            assert _same(a, b), name  # same keys, weights, optimizer and scheduler states


def _same(a, b):
    """Whether two loaded checkpoints are equal: same structure, tensors equal element for element."""
    if torch.is_tensor(a) or torch.is_tensor(b):
        return torch.is_tensor(a) and torch.is_tensor(b) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _setuptools_builds_wheels():
    """Whether this environment's setuptools can build wheels without a download (``pip`` builds in isolation)."""
    import importlib.util
    if importlib.util.find_spec('setuptools') is None:
        return False
    import setuptools
    version = tuple(map(int, setuptools.__version__.split('.')[:2]))
    return importlib.util.find_spec('wheel') is not None or version >= (70, 1)  # 70.1 has its own bdist_wheel


def test_an_install_by_this_setup_py_has_the_pth():
    from importlib.metadata import distributions
    installs = [d for d in distributions(path=_SITE_DIRS) if d.metadata['Name'] == 'gsdd-basicsr']
    if not any('gsdd_basicsr_autoload' in (d.read_text('top_level.txt') or '').split() for d in installs):
        pytest.skip('gsdd-basicsr was installed before the autoload existed: reinstall to get it')
    assert INSTALLED, f'{PTH} is in none of {_SITE_DIRS}'


@pytest.mark.skipif(not _setuptools_builds_wheels(), reason='no setuptools >= 70.1 (or setuptools + wheel) here')
@pytest.mark.parametrize('hook', ['build_wheel', 'build_editable'])
def test_wheels_install_the_pth_into_site_packages(tmp_path, hook):
    """``pip install .`` and ``pip install -e .`` wheels carry the .pth at their root (-> site-packages), in RECORD."""
    source = tmp_path / 'src'  # the files setup.py needs, with an empty package (a fast build)
    (source / 'gsdd_basicsr').mkdir(parents=True)
    for name in ('setup.py', 'README.md', 'MANIFEST.in', PTH, 'gsdd_basicsr_autoload.py'):
        shutil.copy(os.path.join(ROOT, name), source / name)
    shutil.copytree(os.path.join(ROOT, 'options'), source / 'options')  # shipped as package data
    (source / 'gsdd_basicsr' / '__init__.py').write_text('')
    (source / 'gsdd_basicsr' / 'version.py').write_text("__version__ = '0.0.0'\n")
    build = (f'import setuptools.build_meta as backend; print(backend.{hook}({str(tmp_path / "dist")!r}))')
    (tmp_path / 'dist').mkdir()
    run = subprocess.run([sys.executable, '-c', build], cwd=source, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    wheel = zipfile.ZipFile(tmp_path / 'dist' / run.stdout.split()[-1])
    assert wheel.read(PTH) == open(os.path.join(ROOT, PTH), 'rb').read()
    assert wheel.read(PTH).startswith(b'import gsdd_basicsr_autoload;')
    record = next(n for n in wheel.namelist() if n.endswith('.dist-info/RECORD'))
    assert any(line.startswith(f'{PTH},sha256=') for line in wheel.read(record).decode().splitlines())
    if hook == 'build_wheel':
        assert 'gsdd_basicsr_autoload.py' in wheel.namelist()
