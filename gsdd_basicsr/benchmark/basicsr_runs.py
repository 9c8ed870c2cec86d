"""Run ``gsdd_basicsr.train`` / ``gsdd_basicsr.test`` on a resolved options file and read their logs.

Each run is a subprocess ``python -m gsdd_basicsr.<train|test> -opt <file>`` with the run's folder as
its working directory, so ``experiments/``, ``results/`` and ``tb_logger/`` land in that folder and
the written options file reruns the run as it is. Figures come from BasicSR's own log lines
(timestamps with milliseconds, ``iter:``, ``Validation <set>`` with ``# <metric>: <value>``).
"""
import datetime
import glob
import math
import os
import re
import subprocess
import sys
import time
from os import path as osp

import yaml

from gsdd_basicsr.errors import GSDDError

PACKAGE_PARENT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_RECORD = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) [A-Z]+: ?(.*)$')
_ITER = re.compile(r'\[epoch:\s*\d+, iter:\s*([\d,]+),')
_METRIC = re.compile(r'# (\w+): (\S+?)(?:\t|$)')


def write_options(opt, path):
    """Write a resolved options file (plain YAML that BasicSR's ``parse_options`` reads)."""
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        yaml.safe_dump(opt, f, sort_keys=False, default_flow_style=False)
    os.replace(tmp, path)
    return path


def run(entry, opt, folder, file_name, threads=None):
    """Write ``opt`` to ``folder/file_name`` and run ``python -m gsdd_basicsr.<entry> -opt file_name`` there.

    Returns the wall-clock seconds. Output goes to ``folder/<entry>.out``. A refused input (exit 2)
    becomes a ``GSDDError`` with the run's message; any other failure a ``RuntimeError``.
    """
    os.makedirs(folder, exist_ok=True)
    write_options(opt, osp.join(folder, file_name))
    env = dict(os.environ)
    # the subprocess imports this very package (a checkout's, not another installed copy)
    env['PYTHONPATH'] = os.pathsep.join([PACKAGE_PARENT] + [p for p in [env.get('PYTHONPATH')] if p])
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out_path = osp.join(folder, f'{entry}.out')
    t0 = time.time()
    with open(out_path, 'w') as out:
        rc = subprocess.run([sys.executable, '-m', f'gsdd_basicsr.{entry}', '-opt', file_name], cwd=folder,
                            stdout=out, stderr=subprocess.STDOUT, env=env).returncode
    seconds = time.time() - t0
    if rc != 0:
        with open(out_path, errors='replace') as f:
            tail = f.read().strip().splitlines()[-1:] or ['']
        if rc == 2:
            raise GSDDError(f'{osp.join(folder, file_name)}: {tail[0]}')
        raise RuntimeError(f'{entry} run in {folder} failed (exit {rc}): {tail[0]} (full output: {out_path})')
    return seconds


def log_records(path):
    """``[(seconds since the epoch, message)]`` of a BasicSR log; continuation lines join their record."""
    records = []
    with open(path, errors='replace') as f:
        for line in f:
            m = _RECORD.match(line.rstrip('\n'))
            if m:
                t = datetime.datetime.strptime(m.group(1), '%Y-%m-%d %H:%M:%S,%f').timestamp()
                records.append([t, m.group(2)])
            elif records:
                records[-1][1] += '\n' + line.rstrip('\n')
    return records


def find_log(folder, kind):
    """The newest ``train_*.log`` / ``test_*.log`` under ``folder``."""
    logs = sorted(glob.glob(osp.join(folder, '**', f'{kind}_*.log'), recursive=True), key=osp.getmtime)
    if not logs:
        raise RuntimeError(f'no {kind} log under {folder}')
    return logs[-1]


def _metrics(message):
    return {k: (float(v) if math.isfinite(float(v)) else None) for k, v in _METRIC.findall(message)}


def training_curve(log_path, total_iter):
    """The validation curve and times of a BasicSR training log.

    Returns:
        dict: ``curve`` = ``[[iter, training seconds, PSNR dB], ...]`` (training seconds exclude
        validation and count from "Start training"), ``train_seconds`` (the whole loop without
        validation), ``val_seconds``, ``setup_seconds`` (log start to "Start training": data, model).
    """
    records = log_records(log_path)
    start = next((t for t, msg in records if msg.startswith('Start training')), None)
    if start is None:
        raise RuntimeError(f'{log_path}: no "Start training" line')
    curve, val_total, val_in_loop, mark, end = [], 0.0, 0.0, None, None
    for t, msg in records:
        it = _ITER.search(msg)
        if it:
            mark = (int(it.group(1).replace(',', '')), t)
        elif msg.startswith('End of training'):
            end = t
            mark = (int(total_iter), t)
        elif msg.startswith('Validation') and mark is not None:
            psnr = _metrics(msg).get('psnr')
            if not curve or curve[-1][0] != mark[0]:  # BasicSR validates the last iteration twice
                curve.append([mark[0], round(mark[1] - start - val_in_loop, 3), psnr])
            val_total += t - mark[1]
            if end is None:
                val_in_loop += t - mark[1]
            mark = (mark[0], t)
    if end is None:
        raise RuntimeError(f'{log_path}: the run did not reach "End of training"')
    return {'curve': curve, 'train_seconds': round(end - start - val_in_loop, 3), 'val_seconds': round(val_total, 3),
            'setup_seconds': round(start - records[0][0], 3)}


def test_metrics(log_path):
    """``{metric: value}`` of the first ``Validation`` record of a BasicSR test log (None for NaN)."""
    for _, msg in log_records(log_path):
        if msg.startswith('Validation'):
            return _metrics(msg)
    raise RuntimeError(f'{log_path}: no "Validation" line')


def run_seconds(log_path):
    """Seconds from a training log's first record to "End of training" (model setup + the loop)."""
    records = log_records(log_path)
    end = next((t for t, msg in records if msg.startswith('End of training')), None)
    if end is None:
        raise RuntimeError(f'{log_path}: the run did not reach "End of training"')
    return round(end - records[0][0], 3)
