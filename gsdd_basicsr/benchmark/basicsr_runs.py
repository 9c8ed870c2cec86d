"""The one place our code drives BasicSR: its parsed options, its train / test pipelines, its logs.

- :func:`parse_options`: the options ``train.py`` / ``test.py -opt <file> [--force_yml ...]`` run with
  (basicsr's ``parse_options``, which reads its command line from ``sys.argv``: set here, and only here,
  by :func:`_command_line`).
- :func:`run`: ``python -m gsdd_basicsr.train -opt <file>`` (or ``test``), a process of its own started in the
  run's folder, as a user would start it: ``experiments/``, ``results/`` and ``tb_logger/`` land in that
  folder and the written options file reruns the run as it is. Its console output goes to
  ``<folder>/<entry>.out`` (or ``<console>.out``); its iteration lines are relayed, throttled, as progress
  lines (:class:`Relay`).
  Exit status 2 (bad input) is a ``GSDDError``; any other failure, a kill included, is :class:`RunFailed`.
- Reading a run back (:func:`find_log`, :func:`training_curve`, :func:`val_dm_curve`, :func:`test_metrics`,
  :func:`run_seconds`): figures come from BasicSR's own log lines (timestamps with milliseconds, ``iter:``,
  ``Validation <set>`` with ``# <metric>: <value>``).
"""
import contextlib
import datetime
import glob
import io
import math
import os
import re
import subprocess
import sys
import time
from os import path as osp

import yaml

from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.utils.atomic import atomic_write_yaml
from gsdd_basicsr.utils.progress import progress

_VAL_DM = re.compile(r'^Validation .* at iter (\d+): val_dm: ([-+0-9.eE]+|nan|inf)')
_RECORD = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) [A-Z]+: ?(.*)$')
_ITER = re.compile(r'\[epoch:\s*\d+, iter:\s*([\d,]+),')
_ETA = re.compile(r'\[eta:\s*([^,\]]+)')
_METRIC = re.compile(r'# (\w+): (\S+?)(?:\t|$)')


@contextlib.contextmanager
def _command_line(argv):
    """``sys.argv = argv`` inside the block: basicsr's ``parse_options`` parses ``sys.argv`` (argparse)."""
    before = sys.argv
    sys.argv = list(argv)
    try:
        yield
    finally:
        sys.argv = before


def parse_options(opt_path, root, is_train=True, force_yml=None):
    """The options ``train.py`` (``is_train``) or ``test.py -opt opt_path [--force_yml ...]`` run with from ``root``.

    BasicSR's ``parse_options`` with the pipeline fixes (``--force_yml manual_seed=N`` seeds), its
    "Disable distributed." line dropped; nothing is written.

    Args:
        opt_path (str): a BasicSR options file.
        root (str): the folder the run would start in (``experiments/<name>/``, ``results/<name>/`` under it).
        force_yml (list[str] | None): BasicSR's ``--force_yml`` entries, e.g. ``gsdd:ipc=10``.

    Returns:
        dict: the parsed options.
    """
    from basicsr.utils import options

    from gsdd_basicsr.pipeline_fixes import pipeline_fixes
    if not osp.isfile(opt_path):
        raise MissingInputError(f'options file {opt_path} does not exist; pass a BasicSR options file '
                                '(e.g. -opt options/gsdd_distill_demo_x4.yml).')
    argv = ['train.py' if is_train else 'test.py', '-opt', opt_path]
    argv += ['--force_yml', *force_yml] if force_yml else []
    try:
        with _command_line(argv), contextlib.redirect_stdout(io.StringIO()), pipeline_fixes():
            opt, _ = options.parse_options(root, is_train=is_train)
    except (KeyError, TypeError, ValueError, NameError, SyntaxError, yaml.YAMLError) as err:
        forced = f" with --force_yml {' '.join(force_yml)}" if force_yml else ''
        raise GSDDError(f'{opt_path}{forced} is not a valid BasicSR {"training" if is_train else "test"} options '
                        f'file ({type(err).__name__}: {err}); fix the file or the --force_yml entries '
                        '(block:key=value).') from err
    return opt


def run(entry, opt, folder, file_name, env=None, label=None, console=None):
    """Write ``opt`` to ``folder/file_name`` and run ``python -m gsdd_basicsr.<entry> -opt <file_name>`` in ``folder``.

    The run is its own process, as a user would start it (BasicSR's logger, torch's global flags and
    thread pool start clean), with this copy of the package first on ``PYTHONPATH``. Its console output goes
    to ``<folder>/<console or entry>.out``; its BasicSR iteration lines are relayed as progress lines
    (:class:`Relay`).

    Args:
        entry (str): ``train`` | ``test``.
        opt (dict): the options (written as they are; the file reruns the run).
        env (dict | None): extra environment of the process, e.g. ``OMP_NUM_THREADS``, ``CUDA_VISIBLE_DEVICES``.
        label (str | None): the run's name in the progress lines (default: ``opt['name']``).
        console (str | None): the console output's file name without ``.out`` (default: ``entry``), e.g.
            ``val`` for a second test run in the same folder.

    Returns:
        float: wall-clock seconds.

    Raises:
        GSDDError: the run refused its input (exit status 2); the message is the run's one line.
        RunFailed: the run started and failed (any other status, or killed); with the output's last lines.
    """
    os.makedirs(folder, exist_ok=True)
    atomic_write_yaml(opt, osp.join(folder, file_name), 'options file')
    package_parent = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    child_env = dict(os.environ, **(env or {}))
    child_env['PYTHONPATH'] = os.pathsep.join(p for p in (package_parent, os.environ.get('PYTHONPATH')) if p)
    out_path = osp.join(folder, f'{console or entry}.out')
    relay = Relay(label or opt.get('name', entry), opt.get('train', {}).get('total_iter'))
    t0 = time.time()
    with open(out_path, 'w') as out:
        proc = subprocess.Popen([sys.executable, '-m', f'gsdd_basicsr.{entry}', '-opt', file_name], cwd=folder,
                                env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors='replace')
        try:
            for line in proc.stdout:
                out.write(line)
                out.flush()
                relay(line)
        finally:  # the benchmark interrupted (Ctrl-C, a killed job): the run ends with it
            if proc.poll() is None:
                proc.kill()
            code = proc.wait()
    relay.finish()
    if code == 2:
        raise GSDDError(_last_lines(out_path, 1)[0].split(': error: ', 1)[-1])
    if code != 0:
        what = f'exit status {code}' if code > 0 else f'killed by signal {-code}'
        raise RunFailed(f'{entry} in {folder} failed ({what}); the last lines of {out_path}:\n'
                        + '\n'.join(_last_lines(out_path, 15)))
    return time.time() - t0


class RunFailed(RuntimeError):
    """A BasicSR run that started and failed (or was killed): not bad input, so running it again may succeed."""


def _last_lines(path, n):
    with open(path, errors='replace') as f:
        lines = [line.rstrip('\n') for line in f if line.strip()]
    return lines[-n:] or ['(no output)']


class Relay:
    """Relays a run's BasicSR iteration lines (``[epoch: .., iter: .., ...] [eta: .., ...]``) as progress lines
    ``[<label>] iter <i> / <total>, eta <h:mm:ss>``: at most one per ``every`` seconds, and the last one.

    Args:
        label (str): the run's name.
        total (int | None): its ``total_iter``.
        every (float): seconds between two relayed lines (``GSDD_PROGRESS_SECONDS``, default 30).
    """

    def __init__(self, label, total=None, every=None):
        self.log, self.total = progress(label), total
        self.every = float(os.environ.get('GSDD_PROGRESS_SECONDS', 30) if every is None else every)
        self.last_time, self.pending = None, None

    def __call__(self, line):
        it = _ITER.search(line)
        if not it:
            return
        eta = _ETA.search(line)
        # BasicSR's eta of the last iteration is a negative timedelta ('-1 day, 23:59:58'): nothing is left
        eta = eta and ('0:00:00' if eta.group(1).startswith('-') else eta.group(1))
        total = f' / {self.total}' if self.total else ''
        self.pending = f'iter {it.group(1).replace(",", "")}{total}' + (f', eta {eta}' if eta else '')
        now = time.time()
        if self.last_time is None or now - self.last_time >= self.every:
            self.log(self.pending)
            self.last_time, self.pending = now, None

    def finish(self):
        """Relay the last iteration line if the throttle held it back."""
        if self.pending:
            self.log(self.pending)
            self.pending = None


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
        validation and count from "Start training"), ``curve_metrics`` = ``[[iter, {metric: value}], ...]``
        (the validation's other metrics, e.g. LPIPS), ``train_seconds`` (the whole loop without
        validation), ``val_seconds``, ``setup_seconds`` (log start to "Start training": data, model).
    """
    records = log_records(log_path)
    start = next((t for t, msg in records if msg.startswith('Start training')), None)
    if start is None:
        raise RuntimeError(f'{log_path}: no "Start training" line')
    curve, others, val_total, val_in_loop, mark, end = [], [], 0.0, 0.0, None, None
    for t, msg in records:
        it = _ITER.search(msg)
        if it:
            mark = (int(it.group(1).replace(',', '')), t)
        elif msg.startswith('End of training'):
            end = t
            mark = (int(total_iter), t)
        elif msg.startswith('Validation') and mark is not None:
            metrics = _metrics(msg)
            if not curve or curve[-1][0] != mark[0]:  # BasicSR validates the last iteration twice
                curve.append([mark[0], round(mark[1] - start - val_in_loop, 3), metrics.pop('psnr', None)])
                if metrics:
                    others.append([mark[0], metrics])
            val_total += t - mark[1]
            if end is None:
                val_in_loop += t - mark[1]
            mark = (mark[0], t)
    if end is None:
        raise RuntimeError(f'{log_path}: the run did not reach "End of training"')
    return {'curve': curve, 'curve_metrics': others, 'train_seconds': round(end - start - val_in_loop, 3),
            'val_seconds': round(val_total, 3), 'setup_seconds': round(start - records[0][0], 3)}


def val_dm_curve(log_path):
    """``[[iter, val_dm], ...]`` of a GSDD distillation log (empty when it never validated).

    BasicSR validates once more after the loop under a later iteration number; that validation is
    the last step's bank, so it is kept under the last iteration the loop logged (once).
    """
    curve, last, ended = [], 0, False
    for _, msg in log_records(log_path):
        it, m = _ITER.search(msg), _VAL_DM.match(msg)
        if it and not ended:
            last = int(it.group(1).replace(',', ''))
        elif msg.startswith('End of training'):
            ended = True
        elif m:
            step = last if ended else int(m.group(1))
            last = max(last, step)
            if not curve or curve[-1][0] != step:
                curve.append([step, float(m.group(2))])
    return curve


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
