"""Profile GSDDModel's distillation step: where the time of ``optimize_parameters`` goes, how it
compares with the bare compute the step needs, and whether peak memory grows with the data set.

Usage::

    python tools/profile_distill.py -opt options/gsdd_distill_demo_x4.yml [--iters 5] [--warmup 2]
        [--weights PATH] [--json OUT] [--scale-data 10] [--device auto|cpu|cuda]
        [--force_yml gsdd:ipc=10 gsdd:prefetch=false ...]

This is a benchmark, not a test. It builds the model the way ``gsdd_basicsr/train.py`` does
(``basicsr.utils.options.parse_options`` for a training run: YAML with BasicSR's ordered loader,
no distribution, ``manual_seed`` seeding, ``--force_yml`` overrides, ``num_gpu: auto`` -> number
of CUDA devices (an explicit ``num_gpu`` is capped to it), ``phase``/``scale`` copied into the
datasets, ``experiments_root``/``models``/``training_states``/``log``/``visualization`` set -- here
under a temporary folder that is removed at exit -- and ``cudnn.benchmark``), then
``basicsr.models.build_model``. ``--weights`` replaces ``path.pretrain_network_g``;
``resume_state`` is ignored (a fresh run). Nothing in the repository or in ``experiments/`` is
written.

Phases, one process, iteration numbers continuing ``1, 2, ...`` as in BasicSR's loop:

1. build (GAN inversion included, timed once);
2. ``--warmup`` steps and one bare-compute pass (untimed);
3. ``--iters`` x (one timed ``model.optimize_parameters(it)``, one timed bare-compute pass, one
   more step with the probes below installed, for the breakdown), interleaved so that all three
   see the same machine load (on a shared machine the load drifts within seconds).
   ``torch.cuda.synchronize()`` brackets every timer on CUDA. ``ratio = median(step) /
   median(bare)``, from the un-probed steps only: the probes add a few microseconds per call on a
   CPU, but on CUDA they synchronise at every boundary, so the probed steps' total is reported
   separately.

Bare compute: for every class the process owns, on tensors of exactly the step's sizes (the
real crops of one draw, the class's ``batch_syn``/``ipc`` latents as a fresh leaf) and with the
model's own modules: the embedding of the real batch under ``no_grad``, ``clamp(G(z), 0, 1)``,
the embedding of it, the DM loss and ``backward()``. Straight-line code: no data loading, no
augmentation, no re-draw of the embedding network, no regulariser, no optimiser step, no
logging or finiteness check. It is timed as a whole and, with timers between the statements,
piece by piece.

How the breakdown is measured, without touching ``gsdd_model.py``:

* Python-level pieces are wrapped on the *instance* (the class is untouched):
  ``model._real_batches`` (``data_wait``: what the step waits for its real crops, including the
  copy to the device), ``model._draw_real`` (``data_draw``: the cost of drawing them, in the
  prefetch thread when ``gsdd.prefetch`` is on, so it overlaps the step and is not part of the
  sum), ``model._draw_space`` (``space_draw``: re-drawing the embedding network and the
  augmentation), ``model._augment`` (``augment_fwd``), ``model._embed`` (``embed_fwd_real`` under
  ``no_grad``, ``embed_fwd_syn`` with grad; it covers the DMConvNet and/or the teacher space),
  ``model.optimizer_z.step`` (``optim_step``), and, while the pass runs, ``torch.Tensor.backward``
  (``backward``: the whole backward call of each class).
* The generator's forward is timed with a forward pre-hook and a forward hook on ``model.net_g``
  (``gen_fwd``).
* Backward is split with autograd tensor hooks on the boundaries of each piece: a hook on a
  tensor runs when the gradient with respect to that tensor has been computed. For the
  generator, a hook on its output fires when backward reaches ``G`` and a hook on its input
  latents fires when the gradient of ``z`` is complete, so their difference is ``gen_bwd``;
  the same on the input and outputs of ``_embed`` (``embed_bwd``) and of ``_augment``
  (``augment_bwd``). On a CPU, autograd runs the graph on the calling thread, one node at a time,
  in the order those boundaries imply (the regulariser's branch, created last, runs first and
  finishes before the embedding's backward starts), so the intervals are disjoint and exact up
  to hook overhead; on CUDA every hook synchronises first. ``backward_other`` = ``backward`` minus
  the three (loss, clamp, regulariser, latent indexing); ``other`` = the step minus every timed
  piece (zeroing grads, loss and regulariser forward, the host sync and finiteness check,
  Python).
* ``overhead_s`` = what the step does beyond the bare compute: ``data_wait + space_draw +
  augment_fwd + augment_bwd + backward_other + optim_step + other``, and ``ratio_from_breakdown``
  = probed step / (probed step - overhead), an estimate of the ratio that machine-load noise
  (which moves the compute pieces by tens of percent on a shared CPU) barely touches. It cannot
  see a prefetch thread slowing the compute by competing for cores; the direct ratios can
  (``ratio``: medians; ``ratio_paired_median``: median of step_i / bare_i).

Memory: ``peak_rss_mib`` is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at the end (the whole
process, build included), plus the current RSS after the build and after the steps (from
``/proc/self/statm``) to show growth during the steps; on CUDA ``torch.cuda.max_memory_allocated``
over the whole run (``cuda_max_allocated_mib``) and over the timed/probed steps only.

``--scale-data K [K ...]`` adds the memory-growth check: for K = 1 and each K given, a child
process (``ru_maxrss`` only grows, so each size needs its own process) runs the same profile on a
K-times larger copy of ``datasets.train`` (every image symlinked K times per class under a
temporary folder; ``meta_info_file`` rewritten to match) with ``cache: false`` forced, and the
table lists each child's peak RSS, image count, step time and data draw / wait. Peak memory must
not grow with K. (With ``cache: true`` it does, by design: every decoded image is kept.)

Exit status 0; bad options or input: one line on stderr, exit status 2.
"""
import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from os import path as osp

if __package__ in (None, ''):
    # run as a script: import the package from the repository, not this folder's siblings
    sys.path[0] = osp.dirname(osp.dirname(osp.abspath(__file__)))

import gsdd_basicsr  # noqa: E402,F401  (compat fixes + registration before basicsr)
import torch  # noqa: E402
import yaml  # noqa: E402
from basicsr.models import build_model  # noqa: E402
from basicsr.utils import set_random_seed  # noqa: E402
from basicsr.utils.options import _postprocess_yml_value, ordered_yaml  # noqa: E402

from gsdd_basicsr.cli import user_errors  # noqa: E402
from gsdd_basicsr.errors import GSDDError  # noqa: E402
from gsdd_basicsr.matching import distribution_matching_loss  # noqa: E402

PROG = 'profile_distill.py'
MIB = 1024.0 * 1024.0

# breakdown rows: (key, label, part of the step's sum)
BREAKDOWN = (
    ('data_wait', 'data: wait for real crops (_real_batches)', True),
    ('data_draw', 'data: draw real crops (prefetch thread if on)', False),
    ('space_draw', 're-draw embedder + augmentation (_draw_space)', True),
    ('augment_fwd', 'augmentation forward (real + syn)', True),
    ('augment_bwd', 'augmentation backward', False),
    ('embed_fwd_real', 'embedding forward, real (no grad)', True),
    ('embed_fwd_syn', 'embedding forward, syn', True),
    ('embed_bwd', 'embedding backward', False),
    ('gen_fwd', 'generator forward', True),
    ('gen_bwd', 'generator backward', False),
    ('backward_other', 'backward: loss, clamp, reg, indexing', False),
    ('backward', 'backward total (sum of the 4 above)', True),
    ('optim_step', 'optimiser step (Adam on the latents)', True),
    ('other', 'other (zero_grad, losses fwd, host sync, python)', False),
)
OVERHEAD = ('data_wait', 'space_draw', 'augment_fwd', 'augment_bwd', 'backward_other', 'optim_step', 'other')
BARE_PARTS = ('embed_fwd_real', 'gen_fwd', 'embed_fwd_syn', 'backward')


# ---------------------------------------------------------------------- options
def load_options(opt_path, root, weights=None, force_yml=None, device='auto'):
    """The options dict ``basicsr.utils.options.parse_options(root, is_train=True)`` would give.

    Paths of outputs point under ``root`` (a temporary folder); ``device`` is ``auto`` (CUDA when
    available, as ``num_gpu: auto``), ``cpu`` or ``cuda``.
    """
    if not osp.isfile(opt_path):
        raise GSDDError(f'options file {opt_path} does not exist.')
    with open(opt_path, mode='r') as f:
        opt = yaml.load(f, Loader=ordered_yaml()[0])
    if not isinstance(opt, dict) or opt.get('model_type') != 'GSDDModel':
        raise GSDDError(f'{opt_path} is not a GSDDModel options file (model_type: GSDDModel).')
    opt['dist'] = False
    opt['rank'], opt['world_size'] = 0, 1
    seed = opt.get('manual_seed')
    if seed is None:
        seed = random.randint(1, 10000)
        opt['manual_seed'] = seed
    set_random_seed(seed)
    for entry in force_yml or []:
        if '=' not in entry:
            raise GSDDError(f'--force_yml entries look like gsdd:ipc=10, got {entry!r}.')
        keys, value = (s.strip() for s in entry.split('=', 1))
        node = opt
        *parents, last = keys.split(':')
        for key in parents:
            if not isinstance(node.get(key), dict):
                raise GSDDError(f'--force_yml {entry}: {key!r} is not a block of the options.')
            node = node[key]
        node[last] = _postprocess_yml_value(value)
    opt['auto_resume'] = False
    opt['is_train'] = True

    available = torch.cuda.device_count()
    if device == 'cpu':
        opt['num_gpu'] = 0
    elif device == 'cuda':
        if not available:
            raise GSDDError('--device cuda but torch sees no CUDA device.')
        opt['num_gpu'] = 1
    else:
        num_gpu = opt.get('num_gpu', 'auto')
        opt['num_gpu'] = available if num_gpu in ('auto', None) else min(int(num_gpu), available)

    for phase, dataset in opt['datasets'].items():
        dataset['phase'] = phase.split('_')[0]
        if 'scale' in opt:
            dataset['scale'] = opt['scale']
        for key in ('dataroot_gt', 'dataroot_lq'):
            if dataset.get(key) is not None:
                dataset[key] = osp.expanduser(dataset[key])
    path_opt = opt.setdefault('path', {})
    for key, val in path_opt.items():
        if val is not None and ('resume_state' in key or 'pretrain_network' in key):
            path_opt[key] = osp.expanduser(val)
    path_opt['resume_state'] = None
    if weights is not None:
        path_opt['pretrain_network_g'] = weights
    experiments_root = osp.join(root, 'experiments', opt['name'])
    path_opt['experiments_root'] = experiments_root
    path_opt['models'] = osp.join(experiments_root, 'models')
    path_opt['training_states'] = osp.join(experiments_root, 'training_states')
    path_opt['log'] = experiments_root
    path_opt['visualization'] = osp.join(experiments_root, 'visualization')
    return opt


def make_scaled_copy(train_opt, scale, dst):
    """Point ``train_opt`` (a ClassImageDataset block, changed in place) at a ``scale``-times copy.

    Every file under ``dataroot_gt`` is symlinked ``scale`` times (``name_k<k>.ext``) under ``dst``,
    with the same sub-folders (classes); a ``meta_info_file`` is rewritten with every entry
    ``scale`` times. ``cache`` is forced off. Returns the number of image files written.
    """
    if (train_opt.get('io_backend') or {}).get('type', 'disk') != 'disk':
        raise GSDDError('--scale-data needs datasets.train.io_backend.type: disk (LMDB is not copied).')
    src = osp.abspath(train_opt['dataroot_gt'])
    if not osp.isdir(src):
        raise GSDDError(f'datasets.train.dataroot_gt {src} is not a folder.')

    def scaled(name, k):
        stem, ext = osp.splitext(name)
        return f'{stem}_k{k}{ext}'

    count = 0
    for folder, _, files in os.walk(src, followlinks=True):
        rel = osp.relpath(folder, src)
        out = osp.normpath(osp.join(dst, rel))
        os.makedirs(out, exist_ok=True)
        for name in sorted(files):
            target = osp.realpath(osp.join(folder, name))
            if name == 'meta_info.txt' and rel == '.':
                continue  # rewritten below when used
            for k in range(scale):
                os.symlink(target, osp.join(out, scaled(name, k)))
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
class Clock:
    """``perf_counter`` that first waits for the device when the model runs on CUDA."""

    def __init__(self, device):
        self.cuda = torch.device(device).type == 'cuda'

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def __call__(self):
        self.sync()
        return time.perf_counter()


def rss_mib():
    """Current resident set size in MiB (Linux ``/proc/self/statm``; ``None`` elsewhere)."""
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / MIB
    except (OSError, ValueError, IndexError):
        return None


def peak_rss_mib():
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024.0 if sys.platform != 'darwin' else kib / MIB


def _tensors(obj):
    if torch.is_tensor(obj):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


class StepProbe:
    """Timing wrappers and hooks on one model's step components (see the module docstring)."""

    def __init__(self, model, clock):
        self.model, self.clock = model, clock
        self.acc = defaultdict(float)      # seconds of the current step, per key
        self.draws = []                    # data_draw durations (any thread)
        self.spans = []                    # backward spans: [key, start, end] filled by grad hooks
        self._handles, self._patched, self._orig_backward = [], [], None

    # ---- installing
    def _patch(self, obj, name, value):
        """Set an instance attribute, remembering the instance attribute it shadows (if any)."""
        self._patched.append((obj, name, vars(obj).get(name)))
        setattr(obj, name, value)

    def _wrap(self, name, key):
        orig = getattr(self.model, name)

        def timed(*args, **kwargs):
            t0 = self.clock()
            out = orig(*args, **kwargs)
            self.acc[key] += self.clock() - t0
            return out

        self._patch(self.model, name, timed)

    def _span(self, key, inputs, outputs):
        """Time the backward from ``outputs``' gradients to ``inputs``' gradient."""
        outs = [t for t in _tensors(outputs) if t.requires_grad]
        ins = [t for t in _tensors(inputs) if t.requires_grad]
        if not outs or not ins or any(o is i for o in outs for i in ins):
            return
        span = [key, None, None]
        self.spans.append(span)

        def on_out(grad):
            now = self.clock()
            span[1] = now if span[1] is None else min(span[1], now)

        def on_in(grad):
            span[2] = self.clock()

        for t in outs:
            t.register_hook(on_out)
        ins[0].register_hook(on_in)

    def install(self):
        model = self.model
        self._wrap('_real_batches', 'data_wait')
        self._wrap('_draw_space', 'space_draw')

        orig_draw = model._draw_real

        def draw(*args, **kwargs):  # may run in the prefetch thread: no device sync
            t0 = time.perf_counter()
            out = orig_draw(*args, **kwargs)
            self.draws.append(time.perf_counter() - t0)
            return out

        self._patch(model, '_draw_real', draw)

        for name, fwd_key, bwd_key in (('_augment', 'augment_fwd', 'augment_bwd'),
                                       ('_embed', None, 'embed_bwd')):
            orig = getattr(model, name)

            def timed(x, *args, _orig=orig, _fwd=fwd_key, _bwd=bwd_key, **kwargs):
                key = _fwd or ('embed_fwd_syn' if torch.is_grad_enabled() and x.requires_grad else 'embed_fwd_real')
                t0 = self.clock()
                out = _orig(x, *args, **kwargs)
                self.acc[key] += self.clock() - t0
                if torch.is_grad_enabled():
                    self._span(_bwd, x, out)
                return out

            self._patch(model, name, timed)

        start = {}

        def pre_hook(module, args):
            start['g'] = self.clock()

        def post_hook(module, args, out):
            self.acc['gen_fwd'] += self.clock() - start.pop('g')
            if torch.is_grad_enabled():
                self._span('gen_bwd', args, out)

        self._handles += [model.net_g.register_forward_pre_hook(pre_hook), model.net_g.register_forward_hook(post_hook)]

        optimizer = model.optimizer_z
        orig_step = optimizer.step

        def step(*args, **kwargs):
            t0 = self.clock()
            out = orig_step(*args, **kwargs)
            self.acc['optim_step'] += self.clock() - t0
            return out

        self._patch(optimizer, 'step', step)

        self._orig_backward = torch.Tensor.backward
        orig_backward = self._orig_backward

        def backward(tensor, *args, **kwargs):
            t0 = self.clock()
            out = orig_backward(tensor, *args, **kwargs)
            self.acc['backward'] += self.clock() - t0
            return out

        torch.Tensor.backward = backward

    def remove(self):
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if self._orig_backward is not None:
            torch.Tensor.backward = self._orig_backward
            self._orig_backward = None
        for obj, name, old in reversed(self._patched):
            if old is None:
                delattr(obj, name)
            else:
                setattr(obj, name, old)  # e.g. the LR scheduler's wrapper of optimizer.step
        self._patched = []

    # ---- one step
    def run_step(self, iteration):
        self.acc.clear()
        self.spans.clear()
        t0 = self.clock()
        self.model.optimize_parameters(iteration)
        total = self.clock() - t0
        out = dict(self.acc)
        for key, begin, end in self.spans:
            if begin is not None and end is not None:
                out[key] = out.get(key, 0.0) + (end - begin)
        for key, _, _ in BREAKDOWN:
            out.setdefault(key, 0.0)
        out['backward_other'] = max(0.0, out['backward'] - out['augment_bwd'] - out['embed_bwd'] - out['gen_bwd'])
        out['other'] = total - sum(out[key] for key, _, summed in BREAKDOWN if summed)
        out['step'] = total
        return out


def make_bare(model, iteration, clock):
    """The bare compute of one step (see the module docstring) as a function returning its timings."""
    real = {c: x.to(model.device) for c, x in model._draw_real(iteration).items()}
    latents = {c: model.latents.detach()[model._syn_rows(c, iteration)].clone() for c in model.own_classes}

    def embed(x):
        feats = []
        if model.embedder is not None:
            feats += model.embedder(x)
        if model.teacher is not None:
            feats += model.teacher(x)
        return feats

    def bare():
        parts = dict.fromkeys(BARE_PARTS, 0.0)
        t_start = clock()
        for c in model.own_classes:
            t0 = clock()
            with torch.no_grad():
                feats_real = embed(real[c])
            t1 = clock()
            z = latents[c].requires_grad_(True)
            syn = model.net_g(z).clamp(0, 1)
            t2 = clock()
            loss = distribution_matching_loss(feats_real, embed(syn))
            t3 = clock()
            loss.backward()
            t4 = clock()
            z.grad = None
            for key, dt in zip(BARE_PARTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                parts[key] += dt
        parts['total'] = clock() - t_start
        return parts

    return bare


def _stats(values):
    values = list(values)
    return {
        'median': statistics.median(values),
        'mean': statistics.fmean(values),
        'min': min(values),
        'max': max(values),
        'all': values
    }


def _config(model, opt):
    g = model.gsdd
    train = opt['datasets']['train']
    return {
        'classes': model.num_classes,
        'own_classes': len(model.own_classes),
        'ipc': g['ipc'],
        'batch_syn': g['batch_syn'] or g['ipc'],
        'batch_real': g['batch_real'],
        'latent_size': g['latent_size'],
        'hr_size': model.hr_size,
        'network_g': opt['network_g'].get('type'),
        'feature_space': g['feature_space'],
        'embed': dict(g['embed']),
        'augment': None if model.augment is None else model.augment.strategy,
        'prefetch': bool(g['prefetch']),
        'cache': bool(train.get('cache', False)),
        'images': len(model.real),
    }


def run_profile(opt, iters, warmup):
    """Build the model from ``opt`` and measure it; returns the report dict (see the module docstring)."""
    load_start = os.getloadavg()
    device_is_cuda = opt['num_gpu'] > 0
    torch.backends.cudnn.benchmark = True
    if device_is_cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    model = build_model(opt)
    clock = Clock(model.device)
    clock.sync()
    build_s = time.perf_counter() - t0
    rss_build = rss_mib()

    it = 0
    bare = make_bare(model, 0, clock)
    for _ in range(warmup):
        it += 1
        model.optimize_parameters(it)
    bare()
    cuda_build_peak = None
    if device_is_cuda:
        clock.sync()
        cuda_build_peak = torch.cuda.max_memory_allocated() / MIB
        torch.cuda.reset_peak_memory_stats()

    steps, bares, probed = [], [], []
    bare_parts = defaultdict(list)
    probe = StepProbe(model, clock)
    for _ in range(iters):  # interleaved, so that all three see the same machine load
        it += 1
        t_start = clock()
        model.optimize_parameters(it)
        steps.append(clock() - t_start)
        parts = bare()
        bares.append(parts.pop('total'))
        for key, value in parts.items():
            bare_parts[key].append(value)
        it += 1
        probe.install()
        try:
            probed.append(probe.run_step(it))
        finally:
            probe.remove()
    if model._pending is not None:  # let the last prefetch finish before reading memory
        model._pending[1].result()

    step_stats, bare_stats = _stats(steps), _stats(bares)
    breakdown = {key: statistics.fmean(p[key] for p in probed) for key, _, _ in BREAKDOWN}
    breakdown['data_draw'] = statistics.fmean(probe.draws) if probe.draws else 0.0
    # what the step does beyond the bare compute (data_draw runs in the prefetch thread when on)
    overhead = sum(breakdown[key] for key in OVERHEAD)
    probed_mean = statistics.fmean(p['step'] for p in probed)
    memory = {
        'peak_rss_mib': peak_rss_mib(),
        'rss_after_build_mib': rss_build,
        'rss_after_steps_mib': rss_mib(),
    }
    if device_is_cuda:
        memory['cuda_max_allocated_steps_mib'] = torch.cuda.max_memory_allocated() / MIB
        memory['cuda_max_allocated_mib'] = max(cuda_build_peak, memory['cuda_max_allocated_steps_mib'])
    device = str(model.device)
    if device_is_cuda:
        device += f' ({torch.cuda.get_device_name(model.device)})'
    report = {
        'device': device,
        'torch_threads': torch.get_num_threads(),
        'cpu_count': os.cpu_count(),
        'loadavg_start': list(load_start),
        'loadavg_end': list(os.getloadavg()),
        'config': _config(model, opt),
        'iters': iters,
        'warmup': warmup,
        'build_s': build_s,
        'step_s': step_stats,
        'bare_s': bare_stats,
        'bare_parts_s': {key: statistics.fmean(v) for key, v in bare_parts.items()},
        'ratio': step_stats['median'] / bare_stats['median'],
        'ratio_paired_median': statistics.median(s / b for s, b in zip(steps, bares)),
        'overhead_s': overhead,
        'ratio_from_breakdown': probed_mean / max(probed_mean - overhead, 1e-12),
        'probed_step_s': _stats(p['step'] for p in probed),
        'breakdown_s': breakdown,
        'memory': memory,
    }
    if model._prefetcher is not None:
        model._prefetcher.shutdown(wait=True)
        model._prefetcher = None
    return report


def memory_growth(args, scales):
    """One child process per data scale; returns ``{str(K): child report summary}``."""
    out = {}
    for k in sorted(set([1] + list(scales))):
        with tempfile.TemporaryDirectory(prefix='gsdd_profile_mem_') as tmp:
            json_path = osp.join(tmp, 'report.json')
            cmd = [sys.executable, osp.abspath(__file__), '-opt', args.opt, '--iters', str(args.iters),
                   '--warmup', str(args.warmup), '--device', args.device, '--json', json_path,
                   '--data-scale-child', str(k)]
            if args.weights:
                cmd += ['--weights', args.weights]
            if args.force_yml:
                cmd += ['--force_yml'] + list(args.force_yml)
            proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if proc.returncode != 0:
                tail = proc.stderr.strip().splitlines()[-1:] or ['(no output)']
                raise GSDDError(f'the --scale-data {k} run failed (exit {proc.returncode}): {tail[0]}')
            with open(json_path) as f:
                child = json.load(f)
        out[str(k)] = {
            'images': child['config']['images'],
            'peak_rss_mib': child['memory']['peak_rss_mib'],
            'rss_after_build_mib': child['memory']['rss_after_build_mib'],
            'rss_after_steps_mib': child['memory']['rss_after_steps_mib'],
            'cuda_max_allocated_steps_mib': child['memory'].get('cuda_max_allocated_steps_mib'),
            'step_median_s': child['step_s']['median'],
            'data_draw_s': child['breakdown_s']['data_draw'],
            'data_wait_s': child['breakdown_s']['data_wait'],
            'ratio': child['ratio'],
            'loadavg_end': child['loadavg_end'],
        }
    base, top = out['1']['peak_rss_mib'], out[str(max(int(k) for k in out))]['peak_rss_mib']
    out['growth_mib'] = top - base
    return out


# ---------------------------------------------------------------------- output
def format_report(report, opt_path):
    cfg, step, bare = report['config'], report['step_s'], report['bare_s']
    lines = [
        f'GSDD distillation step profile: {opt_path}',
        f"device {report['device']}, {report['torch_threads']} torch threads, {report['cpu_count']} cpus; "
        f"load average {' '.join(f'{v:.2f}' for v in report['loadavg_start'])} (start) -> "
        f"{' '.join(f'{v:.2f}' for v in report['loadavg_end'])} (end)",
        f"{cfg['classes']} classes, ipc {cfg['ipc']} (batch_syn {cfg['batch_syn']}), batch_real {cfg['batch_real']}, "
        f"latent {cfg['latent_size']} -> HR {cfg['hr_size']}, G {cfg['network_g']}, features {cfg['feature_space']}, "
        f"augment {cfg['augment']}, prefetch {'on' if cfg['prefetch'] else 'off'}, "
        f"cache {'on' if cfg['cache'] else 'off'}, {cfg['images']} real images",
        f"{report['iters']} timed + {report['iters']} probed iterations after {report['warmup']} warm-up; "
        f"build (incl. init) {report['build_s']:.2f} s",
        '',
        f"{'':40s}{'median':>10s}{'mean':>10s}{'min':>10s}{'max':>10s}",
    ]
    for label, s in (('step (optimize_parameters)  [s]', step), ('bare compute  [s]', bare),
                     ('probed step  [s]', report['probed_step_s'])):
        lines.append(f"{label:40s}{s['median']:10.4f}{s['mean']:10.4f}{s['min']:10.4f}{s['max']:10.4f}")
    lines += [
        f"{'ratio step / bare (medians)':40s}{report['ratio']:10.3f}",
        f"{'ratio, median of per-iteration pairs':40s}{report['ratio_paired_median']:10.3f}",
        f"{'ratio from the breakdown':40s}{report['ratio_from_breakdown']:10.3f}"
        f"   (probed step / (probed step - overhead {1e3 * report['overhead_s']:.1f} ms))", ''
    ]

    probed = report['probed_step_s']['mean']
    lines.append(f"{'breakdown, probed pass, mean per step':52s}{'ms':>9s}{'% step':>8s}")
    for key, label, summed in BREAKDOWN:
        value = report['breakdown_s'][key]
        indent = '' if summed or key == 'other' else '  '
        if key == 'data_draw':
            indent = '  '
        lines.append(f"{indent + label:52s}{1e3 * value:9.1f}{100 * value / probed:7.1f}%")
    lines.append(f"{'bare compute, timed pass, mean per pass':52s}{'ms':>9s}{'% bare':>8s}")
    for key in BARE_PARTS:
        value = report['bare_parts_s'][key]
        lines.append(f"{'  ' + key:52s}{1e3 * value:9.1f}{100 * value / bare['mean']:7.1f}%")
    mem = report['memory']
    lines += ['', f"peak RSS {mem['peak_rss_mib']:.0f} MiB; RSS after build {mem['rss_after_build_mib']:.0f} MiB, "
                  f"after steps {mem['rss_after_steps_mib']:.0f} MiB"]
    if 'cuda_max_allocated_steps_mib' in mem:
        lines.append(f"CUDA max allocated {mem['cuda_max_allocated_mib']:.0f} MiB, during the measured steps "
                     f"{mem['cuda_max_allocated_steps_mib']:.0f} MiB")
    growth = report.get('scale_data')
    if growth:
        lines += ['', 'memory growth with the data set (child processes, cache: false)',
                  f"{'K':>4s}{'images':>8s}{'peak RSS MiB':>14s}{'RSS after steps':>17s}{'step median s':>15s}"
                  f"{'data draw ms':>14s}{'data wait ms':>14s}"]
        for k, row in growth.items():
            if k == 'growth_mib':
                continue
            lines.append(f"{k:>4s}{row['images']:8d}{row['peak_rss_mib']:14.0f}{row['rss_after_steps_mib']:17.0f}"
                         f"{row['step_median_s']:15.3f}{1e3 * row['data_draw_s']:14.1f}"
                         f"{1e3 * row['data_wait_s']:14.1f}")
        lines.append(f"peak RSS growth, largest K vs K=1: {growth['growth_mib']:+.0f} MiB")
    return '\n'.join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description='Profile the GSDD distillation step (benchmark).')
    parser.add_argument('-opt', required=True, help='a GSDDModel options file')
    parser.add_argument('--iters', type=int, default=5, help='timed iterations (and as many probed ones)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations first')
    parser.add_argument('--weights', default=None, help='generator weights (replaces path.pretrain_network_g)')
    parser.add_argument('--json', default=None, help='also write the report as JSON here')
    parser.add_argument('--scale-data', type=int, nargs='+', default=None, metavar='K',
                        help='memory-growth check: peak RSS on K-times copies of the train set (and K=1)')
    parser.add_argument('--device', choices=('auto', 'cpu', 'cuda'), default='auto')
    parser.add_argument('--force_yml', nargs='+', default=None, help='option overrides, e.g. gsdd:ipc=10')
    parser.add_argument('--data-scale-child', type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0:
        parser.error('--iters must be >= 1 and --warmup >= 0.')
    if args.scale_data and min(args.scale_data) < 1:
        parser.error('--scale-data values must be >= 1.')
    return args


def main(argv=None):
    args = parse_args(argv)
    with user_errors(PROG), tempfile.TemporaryDirectory(prefix='gsdd_profile_') as tmp:
        opt = load_options(args.opt, tmp, weights=args.weights, force_yml=args.force_yml, device=args.device)
        if args.data_scale_child is not None:
            make_scaled_copy(opt['datasets']['train'], args.data_scale_child, osp.join(tmp, 'train_scaled'))
        report = run_profile(opt, args.iters, args.warmup)
        report['options'] = args.opt
        if args.data_scale_child is not None:
            report['data_scale'] = args.data_scale_child
        if args.scale_data:
            report['scale_data'] = memory_growth(args, args.scale_data)
        if args.json:
            os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
            with open(args.json, 'w') as f:
                json.dump(report, f, indent=2, default=float)
        if args.data_scale_child is None:
            print(format_report(report, args.opt), flush=True)
    return report


if __name__ == '__main__':
    main()
