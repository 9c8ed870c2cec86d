"""Where the time and memory of GSDDModel's distillation step go: building the model, timing its steps.

:func:`profile_options` builds the model from an options file as ``train.py`` does
(:func:`gsdd_basicsr.benchmark.basicsr_runs.parse_options` for a training run, then ``build_model``; output
paths point into a temporary folder, and nothing is written), runs ``warmup`` steps, ``iters`` plain timed
steps and ``iters`` steps under ``torch.profiler`` (CPU activity, plus CUDA on a GPU), and reads every
``gsdd.*`` region of the step (:mod:`gsdd_basicsr.profiling.step_regions`: ``total_s``, ``self_s``, on CUDA
``device_s`` / ``self_device_s``); ``share`` = ``self_s`` / step wall time (the shares sum to at most 1;
the rest, ``other_s``, is Python between the regions).

**Bare compute** is the compute the step cannot do without: the self time of the
:data:`~gsdd_basicsr.profiling.step_regions.COMPUTE_REGIONS` per step; host wall time on a CPU, GPU kernel
time on CUDA. **ratio** = mean profiled step wall time / bare compute (>= 1; 1 means the step is nothing
but compute). Drawing the data, re-drawing the embedding network and augmentation, the host sync and the
optimiser step are the overhead it exposes.

Data: ``data.wait_s`` is the ``gsdd.data`` region (what the step waits for its real crops,
copy to the device included); ``data.load_s`` is what drawing one step's crops costs, timed
apart before the steps (with ``gsdd.prefetch`` on, a background thread pays it while the step
computes). Memory: peak RSS of the process (``ru_maxrss``, build included) and the RSS after
the build and after the steps; on CUDA ``torch.cuda.max_memory_allocated`` over the build and
warm-up, then over the measured steps. :func:`memory_growth` repeats the profile, each time in
a fresh process, on K-times copies of the training set (:func:`make_scaled_copy`, ``cache: false``):
peak memory must not grow with K. :func:`time_setting` times plain steps only, for comparing option
settings in one process (``tools/time_step_settings.py``). The report as text:
:mod:`gsdd_basicsr.profiling.table`.
"""
import gc
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from os import path as osp

import torch
from basicsr.models import build_model
from torch.profiler import ProfilerActivity, profile

from gsdd_basicsr.benchmark.basicsr_runs import parse_options
from gsdd_basicsr.profiling.step_regions import COMPUTE_REGIONS, REGIONS, region_times
from gsdd_basicsr.errors import GSDDError, MissingInputError

MIB = 1024.0 * 1024.0


# ---------------------------------------------------------------------- options and data
def load_options(opt_path, root, force_yml=None, weights=None, device='auto'):
    """The options ``train.py -opt opt_path [--force_yml ...]`` runs with, outputs under ``root``.

    Args:
        opt_path (str): a ``GSDDModel`` options file.
        root (str): stands for the working folder (``experiments/<name>/`` paths point under it).
        force_yml (list[str] | None): BasicSR's ``--force_yml`` entries, e.g. ``gsdd:ipc=10``.
        weights (str | None): replaces ``path.pretrain_network_g``.
        device (str): ``auto`` (``num_gpu`` as the file says, capped to the GPUs there are),
            ``cpu`` or ``cuda`` (one GPU).

    Returns:
        dict: the options; ``resume_state`` cleared (a fresh run).
    """
    opt = parse_options(opt_path, root, is_train=True, force_yml=force_yml)
    if opt.get('model_type') != 'GSDDModel':
        raise GSDDError(f"{opt_path} has model_type {opt.get('model_type')!r}; profile a distillation options "
                        'file (model_type: GSDDModel).')
    available = torch.cuda.device_count()
    if device == 'cuda' and not available:
        raise GSDDError('--device cuda but torch sees no CUDA device; use --device cpu or auto.')
    opt['num_gpu'] = {'cpu': 0, 'cuda': 1}.get(device, min(int(opt['num_gpu']), available))
    opt['path']['resume_state'] = None
    if weights is not None:
        opt['path']['pretrain_network_g'] = weights
    return opt


def make_scaled_copy(train_opt, scale, dst):
    """Point ``train_opt`` (``datasets.train.real``, a ClassImageDataset block, changed in place) at a
    ``scale``-times copy.

    Every file under ``dataroot_gt`` is symlinked ``scale`` times (``name_k<k>.ext``) under ``dst``,
    with the same sub-folders (classes); a ``meta_info_file`` is rewritten with every entry
    ``scale`` times. ``cache`` is forced off. Returns the number of image files written.
    """
    if (train_opt.get('io_backend') or {}).get('type', 'disk') != 'disk':
        raise GSDDError('--scale-data needs datasets.train.real.io_backend.type: disk (an LMDB is not copied).')
    src = osp.abspath(train_opt['dataroot_gt'])
    if not osp.isdir(src):
        raise MissingInputError(f'datasets.train.real.dataroot_gt {src} is not a folder; fix it in the options file.')

    def scaled(name, k):
        stem, ext = osp.splitext(name)
        return f'{stem}_k{k}{ext}'

    count = 0
    for folder, _, files in os.walk(src, followlinks=True):
        rel = osp.relpath(folder, src)
        out = osp.normpath(osp.join(dst, rel))
        os.makedirs(out, exist_ok=True)
        for name in sorted(files):
            if name == 'meta_info.txt' and rel == '.':
                continue  # rewritten below when the options use it
            for k in range(scale):
                os.symlink(osp.realpath(osp.join(folder, name)), osp.join(out, scaled(name, k)))
                count += 1
    meta = train_opt.get('meta_info_file')
    if meta:
        with open(meta) as f:
            lines = [line.rstrip('\n') for line in f if line.strip()]
        new_meta = osp.join(dst, '_scaled_meta_info.txt')
        with open(new_meta, 'w') as f:
            for k in range(scale):
                for line in lines:
                    first, *rest = line.split(' ', 1)
                    f.write(' '.join([scaled(first, k)] + rest) + '\n')
        train_opt['meta_info_file'] = new_meta
    train_opt['dataroot_gt'] = dst
    train_opt['cache'] = False
    return count


# ---------------------------------------------------------------------- measuring
def rss_mib():
    """Current resident set size in MiB (Linux ``/proc/self/statm``; ``None`` elsewhere)."""
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / MIB
    except (OSError, ValueError, IndexError):
        return None


def peak_rss_mib():
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / MIB if sys.platform == 'darwin' else kib / 1024.0  # macOS reports bytes


def _stats(values):
    return {'median': statistics.median(values), 'mean': statistics.fmean(values), 'min': min(values),
            'max': max(values), 'all': list(values)}


def _config(model, opt):
    g, train = model.gsdd, opt['datasets']['train']['real']
    return {
        'classes': model.num_classes, 'own_classes': len(model.own_classes), 'ipc': g['ipc'],
        'batch_syn': g['batch_syn'] or g['ipc'], 'batch_real': g['batch_real'], 'latent_size': g['latent_size'],
        'hr_size': model.hr_size, 'network_g': opt['network_g'].get('type'), 'feature_space': g['feature_space'],
        'augment': None if model.augment is None else model.augment.strategy, 'prefetch': g['prefetch'],
        'cache': bool(train.get('cache', False)), 'images': len(model.real),
    }


def _clock(cuda):
    if cuda:  # CUDA runs asynchronously: wait for the device before reading the clock
        torch.cuda.synchronize()
    return time.perf_counter()


def step_seconds(model, first_iter, count, cuda):
    """Wall seconds (list of ``count`` floats) of the steps ``first_iter .. first_iter + count - 1``
    of ``model``, the device synchronised before each clock reading on CUDA."""
    seconds = []
    for it in range(first_iter, first_iter + count):
        t0 = _clock(cuda)
        model.optimize_parameters(it)
        seconds.append(_clock(cuda) - t0)
    return seconds


def profile_model(opt, iters=5, warmup=2):
    """Build ``opt``'s model and measure its step (see the module docstring); returns the report."""
    cuda = opt['num_gpu'] > 0
    load_start = os.getloadavg()
    torch.backends.cudnn.benchmark = True  # as basicsr's train_pipeline
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = _clock(cuda)
    model = build_model(opt)
    build_s = _clock(cuda) - t0
    rss_build = rss_mib()

    # drawing one step's real crops, timed apart before any step (no prefetch thread runs yet)
    loads = []
    for k in range(iters + 1):
        t0 = time.perf_counter()
        for c in model.own_classes:
            model.real.sample_class(c, model.gsdd['batch_real'], (model.seed, 'profile', k, c))
        loads.append(time.perf_counter() - t0)

    step_seconds(model, 1, warmup, cuda)
    memory = {'rss_after_build_mib': rss_build}
    if cuda:
        memory['cuda_max_allocated_warmup_mib'] = torch.cuda.max_memory_allocated() / MIB
        torch.cuda.reset_peak_memory_stats()
    plain = step_seconds(model, warmup + 1, iters, cuda)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        profiled = step_seconds(model, warmup + iters + 1, iters, cuda)
    regions = region_times(prof.events(), iters, cuda)

    step = statistics.fmean(profiled)
    for entry in regions.values():
        entry['share'] = entry['self_s'] / step
    ordered = {name: regions[name] for name in REGIONS if name in regions}
    ordered.update(sorted((name, entry) for name, entry in regions.items() if name not in ordered))
    compute_key = 'self_device_s' if cuda else 'self_s'
    compute = sum(regions[name][compute_key] for name in COMPUTE_REGIONS if name in regions)
    memory.update(peak_rss_mib=peak_rss_mib(), rss_after_steps_mib=rss_mib())
    if cuda:
        memory['cuda_max_allocated_steps_mib'] = torch.cuda.max_memory_allocated() / MIB
    device = str(model.device) + (f' ({torch.cuda.get_device_name(model.device)})' if cuda else '')
    return {
        'device': device, 'cuda': cuda, 'torch_threads': torch.get_num_threads(), 'cpu_count': os.cpu_count(),
        'loadavg_start': list(load_start), 'loadavg_end': list(os.getloadavg()),
        'config': _config(model, opt), 'iters': iters, 'warmup': warmup, 'build_s': build_s,
        'step_s': _stats(plain), 'profiled_step_s': _stats(profiled),
        'regions': ordered, 'other_s': step - sum(entry['self_s'] for entry in regions.values()),
        'compute_basis': 'cuda kernel time' if cuda else 'host wall time',
        'bare_compute_s': compute, 'ratio': step / compute if compute > 0 else float('inf'),
        'data': {'prefetch': model.gsdd['prefetch'], 'wait_s': regions.get('gsdd.data', {}).get('total_s', 0.0),
                 'load_s': statistics.fmean(loads[1:])},  # the first draw warms the file cache
        'memory': memory,
    }


def profile_options(opt_path, iters=5, warmup=2, force_yml=None, weights=None, device='auto', data_scale=None):
    """:func:`load_options` + :func:`profile_model`, in a temporary working folder; with
    ``data_scale`` K, on a K-times copy of the training set (:func:`make_scaled_copy`)."""
    with tempfile.TemporaryDirectory(prefix='gsdd_profile_') as root:
        opt = load_options(opt_path, root, force_yml=force_yml, weights=weights, device=device)
        if data_scale is not None:
            make_scaled_copy(opt['datasets']['train']['real'], data_scale, osp.join(root, 'train_scaled'))
        report = profile_model(opt, iters=iters, warmup=warmup)
    report['options'] = opt_path
    if data_scale is not None:
        report['data_scale'] = data_scale
    return report


def time_setting(opt_path, force_yml, device='auto', warmup=3, iters=10, weights=None):
    """Median, min and max wall seconds of ``iters`` steps (after ``warmup``) of the model that
    ``opt_path`` plus ``force_yml`` builds (``gsdd:init=real`` added: the initialisation is not timed),
    and its peak CUDA memory over those steps (GiB; None on a CPU); ``first_step_s``, the first warm-up step
    (with ``gsdd.compile``: the compile time). Built as ``train.py`` builds it,
    with cuDNN's benchmark mode on; ``deterministic=true`` turns determinism on for the rest of the process."""
    with tempfile.TemporaryDirectory(prefix='gsdd_time_') as root:
        opt = load_options(opt_path, root, force_yml=['gsdd:init=real', *force_yml], device=device, weights=weights)
        cuda = opt['num_gpu'] > 0
        torch.backends.cudnn.benchmark = True  # as basicsr's train_pipeline (a deterministic model turns it off)
        model = build_model(opt)
        first = step_seconds(model, 1, warmup, cuda)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        times = sorted(step_seconds(model, warmup + 1, iters, cuda))
        row = {'setting': ' '.join(force_yml), 'num_classes': model.num_classes,
               'first_step_s': first[0] if first else None,
               'median_s': statistics.median(times), 'min_s': times[0],
               'max_s': times[-1], 'peak_cuda_gib': torch.cuda.max_memory_allocated() / 2**30 if cuda else None}
        del model
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return row


def memory_growth(opt_path, scales, **kwargs):
    """Peak memory against the data-set size: :func:`profile_options` with ``data_scale`` K for
    K = 1 and each of ``scales``, each in a fresh process (``ru_maxrss`` never goes down).

    Returns:
        dict: ``runs`` (K -> images, peak / after-steps RSS, CUDA peak, step median, data wait
        and load, ratio) and ``peak_rss_growth_mib`` (largest K minus K = 1).
    """
    runs = {}
    for k in sorted({1, *scales}):
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context('spawn')) as pool:
            child = pool.submit(profile_options, opt_path, data_scale=k, **kwargs).result()
        runs[k] = {
            'images': child['config']['images'], 'peak_rss_mib': child['memory']['peak_rss_mib'],
            'rss_after_steps_mib': child['memory']['rss_after_steps_mib'],
            'cuda_max_allocated_steps_mib': child['memory'].get('cuda_max_allocated_steps_mib'),
            'step_median_s': child['step_s']['median'], 'data_wait_s': child['data']['wait_s'],
            'data_load_s': child['data']['load_s'], 'ratio': child['ratio'],
        }
    return {'runs': runs, 'peak_rss_growth_mib': runs[max(runs)]['peak_rss_mib'] - runs[1]['peak_rss_mib']}
