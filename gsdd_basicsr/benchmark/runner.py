"""The benchmark run: plan the rows, run each (once: finished rows are kept), write the report.

The work is jobs on an engine (:mod:`.engines`): first one job per distilled set, then one job per row (its
training set, its training and test processes, its ``row.json``). A job that fails or is killed leaves its
row unfinished: the report of the finished rows is written, :class:`RowsFailed` names the jobs, and the same
command again runs only those rows; bad input (a ``GSDDError`` in a job) is reported once, not retried.

The output folder (``--out``) and its rules: :mod:`.out_folder`.
"""
import glob
import json
import os
import shutil
import time
from os import path as osp

import torch

from gsdd_basicsr.benchmark import basicsr_runs, instrument, training_sets
from gsdd_basicsr.benchmark.engines import ENGINES, gpu_slots, make_engine
from gsdd_basicsr.benchmark.out_folder import SCHEMA, prepare_out
from gsdd_basicsr.benchmark.profiles import CORESETS, load_profile, read_yaml
from gsdd_basicsr.benchmark.report import build_report, write_outputs
from gsdd_basicsr.benchmark.row_options import (check_metric_weights, check_test_root, sr_test_options,
                                                 sr_train_options, trained_weights)
from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.utils.atomic import atomic_write_json
from gsdd_basicsr.utils.progress import progress

log = progress('benchmark')


def class_layout(train_root):
    """``('folder', class names)`` when every image sits in a class sub-folder, else ``('kmeans', [])``."""
    from gsdd_basicsr.utils.image_io import folder_classes, list_images
    files = list_images(train_root)
    if not files:
        raise MissingInputError(f'no images under --train-root {train_root}')
    classes = folder_classes(files)
    return ('folder', classes) if classes else ('kmeans', [])


def process_plan(device_type, jobs, threads, cpu_count, num_gpus=0, rows_per_gpu=1, visible=None):
    """Where this machine runs the rows (the local engine's slots) and with how many torch threads each.

    On a CPU ``jobs`` rows run side by side; on CUDA each GPU runs ``rows_per_gpu`` rows at a time
    (:func:`~gsdd_basicsr.benchmark.engines.gpu_slots`), or ``jobs`` (> 1) rows at a time spread over the GPUs,
    and ``threads`` left unset with several slots splits the cores evenly (``cpu_count // slots``, at least 1).

    Returns:
        dict: ``slots`` (``None`` per CPU slot, ``(torch index, CUDA_VISIBLE_DEVICES)`` per GPU slot),
        ``threads`` (None: torch's default), ``device_type``.
    """
    if jobs < 1:
        raise GSDDError(f'--jobs must be >= 1, got {jobs}')
    if rows_per_gpu < 1:
        raise GSDDError(f'--rows-per-gpu must be >= 1, got {rows_per_gpu}')
    if device_type == 'cuda':
        slots = gpu_slots(num_gpus, max(rows_per_gpu, -(-jobs // max(num_gpus, 1))), visible)
        slots = slots[:jobs] if jobs > 1 else slots  # --jobs N on CUDA: N rows at once, spread over the GPUs
        if threads is None and len(slots) > 1:
            threads = max(1, (cpu_count or 1) // len(slots))
    elif jobs > 1 and device_type != 'cpu':
        raise GSDDError(f'--jobs {jobs} runs rows side by side on a CPU or on CUDA GPUs; on {device_type} use --jobs 1')
    else:
        slots = [None] * jobs
    return dict(slots=slots, threads=threads, device_type=device_type)


def plan_budgets(fractions, real_pixels, num_classes, hr_size):
    """Requested fractions of the real HR pixels -> distinct IPCs (>= 1) and their exact budgets."""
    out, seen = [], set()
    for frac in fractions:
        ipc = max(1, round(frac * real_pixels / (num_classes * hr_size * hr_size)))
        if ipc not in seen:
            seen.add(ipc)
            px = num_classes * ipc * hr_size * hr_size
            out.append(dict(requested_fraction=frac, ipc=ipc, images=num_classes * ipc, hr_pixels=px,
                            fraction=px / real_pixels, key=f'ipc{ipc}'))
    return out


class Benchmark:
    """GSDD against real-data baselines at equal budgets; every SR row through BasicSR's SRModel.

    Args:
        profile (str): a shipped profile name (``smoke``, ``cpu``, ``paper``) or a profile YAML path.
        override (str | dict | None): settings merged onto the profile (a YAML path or a dict, e.g.
            ``options/benchmark/overrides/photo_gpu_smoke.yml``: the GPU profile at smoke size on a CPU).
        seeds (int): seeds ``0 .. seeds-1`` for every trained row.
        resume / force: reuse a finished report's rows / delete ``out`` first.
        device (str): ``auto`` | ``cpu`` | ``cuda`` (``num_gpu`` of every run).
        threads (int | None): torch threads per run on a CPU (default: the profile's).
        report_only (bool): write the report from the rows finished so far; run nothing.
        jobs (int): rows run side by side on a CPU (:func:`process_plan`; a set shared by several rows is built
            once, under a lock).
        rows_per_gpu (int): rows one GPU runs at once (on CUDA every visible GPU runs rows).
        engine (str): ``local`` (this machine) or ``slurm`` (one Slurm job per row, :mod:`.engines`).
        engine_options (dict | None): the cluster engine's parameters (``submitit``'s, e.g. ``slurm_partition``).
        val_root (str | None): val photos (the ``test_root`` layout): every row is also tested there; a finished
            row gets that test on its own (:mod:`.instrument`), so adding it to a finished benchmark retrains nothing.
    """

    def __init__(self, train_root, test_root, out, profile='cpu', seeds=1, resume=False, force=False,
                 device='auto', command=None, threads=None, report_only=False, jobs=1, override=None,
                 rows_per_gpu=1, engine='local', engine_options=None, val_root=None):
        if seeds < 1:
            raise GSDDError(f'--seeds must be >= 1, got {seeds}')
        if jobs < 1:
            raise GSDDError(f'--jobs must be >= 1, got {jobs}')
        if resume and force:
            raise GSDDError('--resume and --force exclude each other')
        if engine not in ENGINES:
            raise GSDDError(f'--engine {engine} is not one of {", ".join(ENGINES)}')
        for root, what in ((train_root, '--train-root'), (test_root, '--test-root')):
            if not osp.isdir(root):
                raise MissingInputError(f'{what} {root} is not a folder')
        self.train_root, self.out = osp.abspath(train_root), osp.abspath(out)
        self.prof = load_profile(profile, override)
        self.scale, self.seeds = int(self.prof['scale']), list(range(seeds))
        self.test_root = check_test_root(test_root, '--test-root', self.scale)
        self.val_root = instrument.check_val_root(val_root, self.test_root, self.scale)
        for root in filter(None, (self.train_root, self.test_root, self.val_root)):  # nor --out in the training set
            if root == self.out or root.startswith(self.out + os.sep) or self.out.startswith(self.train_root + os.sep):
                raise GSDDError(f'--out {out} overlaps the input data {root}; choose another folder')
        from gsdd_basicsr.weights.generator import resolve_device
        # a cluster's login node may have no GPU: --device cuda is then the jobs' device, not this process's
        self.device = torch.device('cuda') if engine != 'local' and device == 'cuda' else resolve_device(device)
        self.num_gpu = 'auto' if self.device.type == 'cuda' else 0
        # on a CPU one thread per run by default (smoke, cpu): on a small shared machine it beats
        # oversubscribed torch threads
        if engine == 'local':
            gpus = torch.cuda.device_count() if self.device.type == 'cuda' else 0
            self.plan = process_plan(self.device.type, jobs, threads or self.prof['threads'], os.cpu_count(), gpus,
                                     rows_per_gpu, os.environ.get('CUDA_VISIBLE_DEVICES'))
        else:  # one job per row, wherever the cluster puts it
            self.plan = dict(slots=None, threads=threads or self.prof['threads'], device_type=self.device.type)
        self.threads = self.plan['threads']
        if self.threads and self.device.type == 'cpu':
            torch.set_num_threads(int(self.threads))
        self.engine, self.engine_options = engine, dict(engine_options or {})
        self.command, self.resume, self.force, self.report_only = command, resume, force, report_only
        self._engine()  # a missing engine or a bad --engine-option stops here, before anything is written

    def child_env(self, gpu):
        """The environment of a BasicSR run's process: its torch threads, its GPU (a local slot's)."""
        env = {'OMP_NUM_THREADS': str(self.threads)} if self.threads else {}
        if gpu is not None:
            env['CUDA_VISIBLE_DEVICES'] = gpu[1]
        return env

    def job_device(self, gpu):
        """The torch device of this process's own work for a job (exporting a bank): the slot's GPU."""
        return torch.device('cuda', gpu[0]) if gpu is not None else self.device

    def config(self):
        """The run's identity and settings, as ``config.json`` holds them (:func:`~.out_folder.prepare_out`)."""
        return json.loads(json.dumps({'schema': SCHEMA, 'profile': self.prof['name'], 'profile_path': self.prof['path'],
                'profile_settings': self.prof, 'train_root': self.train_root, 'test_root': self.test_root,
                'val_root': self.val_root, 'scale': self.scale, 'seeds': self.seeds, 'device': str(self.device),
                'threads': self.threads, 'command': self.command}))

    # -------------------------------------------------------------- rows
    def _row_specs(self):
        """Every row, in order: main rows for every seed, then ablations, variants, other generators."""
        specs = [dict(id='bicubic', method='bicubic', budget=None, net=None, seed=None)]
        last = len(self.budgets) - 1
        abl = (self.budgets if self.prof['ablation_budget'] == 'all'
               else [self.budgets[min(self.prof['ablation_budget'], last)]])
        var = self.budgets[min(self.prof['variant_budget'], last)]
        extra = ([(m, b, None) for b in abl for m in self.prof['ablations']]
                 + [(m, var, None) for m in self.prof['variants']]
                 + [(f'gsdd-{g}', var, self.prof['generator_seeds']) for g in self.prof['generators']])
        for net in self.prof['sr_nets']:
            for seed in self.seeds:
                specs.append(dict(id=f'full__{net}__s{seed}', method='full', budget=None, net=net, seed=seed))
                for b in self.budgets:
                    for m in ['gsdd'] + list(self.prof['coresets']):
                        specs.append(dict(id=f'{m}__{b["key"]}__{net}__s{seed}', method=m, budget=b, net=net,
                                          seed=seed))
            for m, b, n in extra:
                for seed in self.seeds[:n]:
                    specs.append(dict(id=f'{m}__{b["key"]}__{net}__s{seed}', method=m, budget=b, net=net,
                                      seed=seed))
        return specs

    def _training_set(self, spec, gpu=None):
        m, b, seed = spec['method'], spec['budget'], spec['seed']
        if m == 'full':
            return ('full', ) + training_sets.full_set(self.out, self.train_root, self.scale) + (None, )
        if m in CORESETS:
            return ('coreset', ) + training_sets.coreset(self.out, self.train_root, m, b, seed, self.hr_size,
                                                         self.scale) + (None, )
        return ('distilled', ) + training_sets.distilled(self.out, self.prof, m, b, seed, self.data,
                                                         self.job_device(gpu), self.child_env(gpu))

    def run_row(self, spec, row_dir, gpu=None):
        """Train (SRModel: ``python -m gsdd_basicsr.train``) and test (``gsdd_basicsr.test``) one row in ``row_dir``,
        each a process started there on its resolved options file, on ``gpu`` (a local slot; None: the job's)."""
        res = dict(spec, row_dir=row_dir, threads=self.threads, storage=None, distill_seconds=None,
                   distill_options=None, curve=[], train_seconds=0.0)
        if spec['method'] == 'bicubic':  # no training: the BicubicUpsampler arch through the test pipeline
            from gsdd_basicsr.archs.bicubic_upsampler_arch import write_state_dict
            weights = write_state_dict(osp.join(row_dir, f'bicubic_upsampler_x{self.scale}.pth'), self.scale)
            network_g, key = {'type': 'BicubicUpsampler', 'scale': self.scale}, 'params_ema'
        else:
            kind, folder, storage, meta = self._training_set(spec, gpu)
            opt = sr_train_options(self.prof, spec['net'], kind, spec['id'], spec['seed'], folder, self.test_root,
                                   self.scale, self.num_gpu)
            log(f'  training {spec["id"]}: {opt["train"]["total_iter"]} iterations on {folder}')
            res['train_run_seconds'] = basicsr_runs.run('train', opt, row_dir, 'train_options.yml', self.child_env(gpu))
            res.update(basicsr_runs.training_curve(basicsr_runs.find_log(row_dir, 'train'), opt['train']['total_iter']))
            keep = ('num_images', 'hr_png_bytes', 'lr_png_bytes', 'hr_pixels', 'latent_bank_bytes',
                    'bank_plus_generator_bytes', 'generator_params', 'generator_paid_back_above_real_bytes',
                    'hr_shapes', 'images_per_class', 'source', 'ratios')
            res.update(dataroot=folder, train_options=osp.join(row_dir, 'train_options.yml'),
                       storage={k: storage[k] for k in keep if k in storage})
            if meta:
                res.update(distill_seconds=meta['distill_seconds'], distill_options=meta['options'])
            weights, key = trained_weights(opt, row_dir)
            network_g = opt['network_g']
        topt = sr_test_options(self.prof, spec['id'], network_g, weights, key, self.test_root, self.scale,
                               self.num_gpu)
        res['test_seconds'] = basicsr_runs.run('test', topt, row_dir, 'test_options.yml', self.child_env(gpu))
        res['metrics'] = basicsr_runs.test_metrics(basicsr_runs.find_log(row_dir, 'test'))
        res['test_options'] = osp.join(row_dir, 'test_options.yml')
        images = sorted(glob.glob(osp.join(row_dir, 'results', spec['id'], 'visualization', '*', '*.png')))
        res['restored'] = images[0] if images else None
        return res

    # -------------------------------------------------------------- main
    def _plan(self):
        from gsdd_basicsr.utils.image_io import folder_stats as source_stats
        mode, names = class_layout(self.train_root)
        self.real_stats = source_stats(self.train_root)
        self.num_classes = len(names) if mode == 'folder' else int(self.prof['kmeans_classes'])
        self.layout = (mode, names)
        self.data = dict(train_root=self.train_root, scale=self.scale, class_mode=mode, num_classes=self.num_classes,
                         num_images=self.real_stats['num_images'], num_gpu=self.num_gpu)
        latent = int(read_yaml(self.prof['distill']['options'])['gsdd'].get('latent_size', 32))
        self.hr_size = self.scale * latent
        self.budgets = plan_budgets(self.prof['budgets'], self.real_stats['num_pixels'], self.num_classes,
                                    self.hr_size)

    def run(self):
        t_start, load_start = time.time(), os.getloadavg()
        if not self.report_only:  # LPIPS's weights: missing, they would fail every row's test after its training
            check_metric_weights(self.prof)
        config = self.config()
        prepare_out(self.out, config, self.resume, self.force, self.report_only)
        self._plan()
        specs = self._row_specs()
        log(f'profile {self.prof["name"]}: {len(specs)} rows, {self.num_classes} classes ({self.layout[0]}), '
            'budgets ' + ', '.join(f'IPC {b["ipc"]} = {b["images"]} images = {100 * b["fraction"]:.1f}% of the '
                                   'real HR pixels' for b in self.budgets) + f'; device {self.device}')
        todo = []
        for k, spec in enumerate(specs, 1):
            if osp.isfile(_row_json(self.out, spec['id'])):
                log(f'({k}/{len(specs)}) {spec["id"]}: done earlier, kept')
            elif self.report_only:
                log(f'({k}/{len(specs)}) {spec["id"]}: not computed (--report-only)')
            else:
                todo.append((spec, f'{k}/{len(specs)}'))
        failures = self._run_jobs(todo, t_start) if todo else {}
        if not self.report_only:  # then each finished row's test on --val-root (a failed one leaves the row kept)
            failures.update(instrument.run_val_jobs(self, [(s['id'], _row_json(self.out, s['id'])) for s in specs]))
        rows = [training_sets.read_json(_row_json(self.out, s['id'])) for s in specs
                if osp.isfile(_row_json(self.out, s['id']))]
        report = build_report(rows, config, self.budgets, self.real_stats, self.num_classes, self.layout)
        report.update(schema=SCHEMA, run_seconds=time.time() - t_start, loadavg_start=list(load_start),
                      loadavg_end=list(os.getloadavg()), complete=len(rows) == len(specs),
                      rows_missing=[s['id'] for s in specs if not osp.isfile(_row_json(self.out, s['id']))],
                      rows_seconds_total=float(sum(r.get('row_seconds') or 0 for r in rows)))
        previous = osp.join(self.out, 'benchmark.json')
        if osp.isfile(previous):  # --resume / --report-only: keep the timing of the run that computed the rows
            old = training_sets.read_json(previous)
            report['previous_run'] = old.get('previous_run') or {
                k: old.get(k) for k in ('run_seconds', 'loadavg_start', 'loadavg_end')}
        write_outputs(self.out, report)
        log(f'report: {osp.join(self.out, "benchmark.md")}')
        _raise_failures(failures)
        return json.loads(json.dumps(report))

    def _engine(self):
        return make_engine(self.engine, osp.join(self.out, 'engine', self.engine), self.engine_options,
                           self.plan['slots'], gpus=int(self.device.type == 'cuda'), cpus=self.threads or 1)

    def _run_jobs(self, todo, t_start):
        """The distillations first (one job per distilled set), then the rows (one job each) whose set exists.

        Returns:
            dict: ``{job name: Outcome}`` of the jobs that did not finish (bad input or failed).
        """
        engine = self._engine()
        where = (f'{len(self.plan["slots"])} at a time on this machine ({self.device.type})' if engine.name == 'local'
                 else f'one {engine.name} job each')
        log(f'{len(todo)} rows, {where}; {self.threads or "default"} torch thread(s) per run')
        sets = {}
        for spec, _ in todo:
            if _set_job(spec):
                sets.setdefault(_set_job(spec), spec)
        outcomes = engine.run([(name, _distill, (self, spec)) for name, spec in sets.items()]) if sets else {}
        unready = {name for name, o in outcomes.items() if o.status != 'done'}
        blocked = sorted(spec['id'] for spec, _ in todo if _set_job(spec) in unready)
        rows = [(spec['id'], _run_and_store, (self, spec, pos, t_start)) for spec, pos in todo
                if spec['id'] not in blocked]
        outcomes.update(engine.run(rows) if rows else {})
        failures = {name: o for name, o in outcomes.items() if o.status != 'done'}
        for name, o in failures.items():
            log(f'{name}: {"bad input" if o.status == "bad_input" else "failed"}: {o.message}')
        if blocked:
            log(f'not run (their distillation did not finish): {", ".join(blocked)}')
        return failures


def _row_json(out, row_id):
    """A finished row's record (written last: its presence marks the row done)."""
    return osp.join(out, 'rows', row_id, 'row.json')


def _set_job(spec):
    """The name of the distillation job a GSDD row needs (None for other rows)."""
    if spec['method'].startswith('gsdd'):
        return f'distill {spec["method"]}_{spec["budget"]["key"]}_s{spec["seed"]}'
    return None


def _distill(bench, spec, gpu):
    """A distillation job: the distilled set of the GSDD row ``spec`` (its rows then find it ready)."""
    bench._training_set(spec, gpu)


def _run_and_store(bench, spec, pos, t_start, gpu):
    """A row's job: run the row ``spec`` (``'k/n'`` of the rows) on ``gpu`` and write its ``row.json`` last."""
    if bench.threads:
        torch.set_num_threads(int(bench.threads))
    row_dir = osp.join(bench.out, 'rows', spec['id'])
    log(f'({pos}) {spec["id"]} ...' + (f' (GPU {gpu[1]})' if gpu is not None else ''))
    shutil.rmtree(row_dir, ignore_errors=True)  # an interrupted row starts over
    t0 = time.time()
    res = bench.run_row(spec, row_dir, gpu)
    res.update(row_seconds=time.time() - t0, loadavg_after=os.getloadavg(),
               gpu=gpu[1] if gpu is not None else os.environ.get('CUDA_VISIBLE_DEVICES'))
    atomic_write_json(res, _row_json(bench.out, spec['id']))
    log(f'({pos}) {spec["id"]}: PSNR {res["metrics"]["psnr"]:.3f} '
        f'SSIM {res["metrics"].get("ssim") or float("nan"):.4f} ({res["row_seconds"]:.0f} s; '
        f'elapsed {time.time() - t_start:.0f} s)')


def _raise_failures(failures):
    """Bad input: one ``GSDDError`` with the first message (exit 2); a failed or killed job: :class:`RowsFailed`."""
    bad = [o.message for o in failures.values() if o.status == 'bad_input']
    if bad:
        raise GSDDError(bad[0])
    if failures:
        raise RowsFailed(f'{len(failures)} job(s) did not finish ({", ".join(sorted(failures))}); the report holds the '
                         'finished rows; run the same command again to rerun only these')


class RowsFailed(RuntimeError):
    """Jobs that started and failed or were killed: their rows rerun on the next call (exit status 1)."""
