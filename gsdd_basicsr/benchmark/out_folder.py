"""A benchmark's output folder (``--out``): what it holds, and when a run may write there.

Layout::

    config.json                 the resolved profile, command and paths (checked when continuing)
    rows/<row>/row.json         one finished row, written atomically last; a rerun skips the row
    rows/<row>/train_options.yml, test_options.yml
                                the row's resolved options: ``cd rows/<row> && python -m gsdd_basicsr.train
                                -opt train_options.yml`` (what the benchmark ran) reruns its training
    rows/<row>/train.out, test.out   the console output of the row's two processes
    rows/<row>/val_options.yml, val.out   with --val-root: the row's test on the val photos (:mod:`.instrument`)
    rows/<row>/experiments/, results/   the row's BasicSR outputs (logs, net_g_latest.pth, restorations)
    data/<set>/                 full set, coresets, exported GSDD sets (exported-set layout)
    distill/<set>/options.yml   each distillation's resolved options and its BasicSR outputs
    engine/slurm/               with --engine slurm: submitit's pickled jobs, their results and Slurm logs
    benchmark.json, benchmark.md, psnr_vs_budget.png, val_psnr_vs_time.png, restorations.png
"""
import os
import shutil
from os import path as osp

from gsdd_basicsr.benchmark.training_sets import read_json
from gsdd_basicsr.errors import GSDDError
from gsdd_basicsr.utils.atomic import atomic_write_json
from gsdd_basicsr.utils.progress import progress

SCHEMA = 'gsdd-benchmark-v2'
# what may differ when a run continues another: the val tests are extra, not the rows' identity
NOT_IDENTITY = ('seeds', 'command', 'first_command', 'val_root')
log = progress('benchmark')


def prepare_out(out, config, resume=False, force=False, report_only=False):
    """Make ``out`` (absolute) ready for a run whose settings are ``config`` and write ``config.json``.

    ``force`` removes ``out`` first. A non-empty ``out`` must hold a benchmark with the same settings (all but
    :data:`NOT_IDENTITY`); a finished one continues only with ``resume`` or ``report_only``. ``config`` gains
    ``first_command`` (the command that started the folder).

    Raises:
        GSDDError: one line naming the conflict and the flag that resolves it; nothing is written then.
    """
    report, cfg_path = osp.join(out, 'benchmark.json'), osp.join(out, 'config.json')
    if force and osp.isdir(out):
        log(f'--force: removing {out}')
        shutil.rmtree(out)
    if osp.exists(out) and not osp.isdir(out):
        raise GSDDError(f'--out {out} exists and is not a folder')
    if osp.isdir(out) and os.listdir(out):
        if not osp.isfile(cfg_path):
            raise GSDDError(f'--out {out} is not empty and holds no benchmark; choose another folder or '
                            'pass --force to replace it')
        finished = osp.isfile(report) and read_json(report).get('complete', True)
        if finished and not (resume or report_only):  # a partial report (failed jobs) continues
            raise GSDDError(f'{report} exists (a finished benchmark); pass --resume to reuse its rows and '
                            'rewrite the report, or --force to start over')
        stored = read_json(cfg_path)
        config['first_command'] = stored.get('first_command') or stored.get('command')
        diff = sorted(k for k in set(stored) | set(config) if k not in NOT_IDENTITY and stored.get(k) != config.get(k))
        if diff:
            raise GSDDError(f'--out {out} holds a benchmark with other settings ({", ".join(diff)}); '
                            'use another --out or pass --force to start over')
        log(f'continuing the benchmark in {out} (finished rows are kept)')
    os.makedirs(osp.join(out, 'rows'), exist_ok=True)
    atomic_write_json(config, cfg_path)
