"""The demo, offline, on a CPU: the ``demo`` benchmark profile on the demo set, and its table.

``python tools/run_demo.py [--root DIR] [--fresh] [--override YAML]`` runs :func:`run_demo` in the current
folder (``--root``: that folder), the one that gets ``datasets/``, ``experiments/`` and ``results/``, as for
``gsdd_basicsr/train.py``:

1. ``datasets/demo``: a small real SR set from scikit-image's photos
   (:func:`gsdd_basicsr.sets.demo_data.prepare_demo_data`), built when missing;
2. the ``demo`` profile (``options/benchmark/demo.yml``) through :class:`~gsdd_basicsr.benchmark.runner.Benchmark`
   in ``results/demo_x4``: the compact Real-ESRGAN generator converted when missing
   (``experiments/pretrained_models/realesr-animevideov3-x4.pth``), a GSDD distillation
   (``options/gsdd_distill_demo_x4.yml``) exported as images, a random coreset of real crops with as many
   pixels, the full set; the demo's EDSR (``options/gsdd_train_EDSR_demo_x4.yml``) trained on each and tested,
   with bicubic, on the held-out test split (``options/gsdd_test_demo_x4.yml``);
3. the benchmark's table (:func:`gsdd_basicsr.benchmark.report.summary_table`): per training set its images,
   PSNR / SSIM / NIQE, training and distillation seconds, stored bytes.

A rerun keeps every finished set and row and rewrites the report; ``fresh`` starts over.
"""
import os
from os import path as osp

from gsdd_basicsr.benchmark.report import summary_table
from gsdd_basicsr.benchmark.runner import Benchmark
from gsdd_basicsr.errors import OutputExistsError
from gsdd_basicsr.sets.demo_data import prepare_demo_data
from gsdd_basicsr.utils.progress import progress

PROFILE = 'demo'
DATA = osp.join('datasets', 'demo')
OUT = osp.join('results', 'demo_x4')
log = progress('demo')


def run_demo(fresh=False, override=None, command=None):
    """Run the demo in the current folder and print its table.

    Args:
        fresh (bool): delete ``results/demo_x4`` first (the demo data and the generator are kept).
        override (str | dict | None): settings merged onto the profile (the benchmark's ``--override``).
        command (str | None): the command line recorded in the report.

    Returns:
        dict: the benchmark's report (also ``results/demo_x4/benchmark.json``).
    """
    if not fresh and osp.isdir(OUT) and os.listdir(OUT) and not osp.isfile(osp.join(OUT, 'config.json')):
        raise OutputExistsError(f'{OUT} holds files but no benchmark (an older demo\'s outputs?); pass --fresh to '
                                'replace them')
    if osp.isfile(osp.join(DATA, 'sources.json')):
        log(f'{DATA} exists; kept')
    else:
        log(f'building {DATA}')
        prepare_demo_data(DATA)
    report = Benchmark(osp.join(DATA, 'train'), osp.join(DATA, 'test'), OUT, profile=PROFILE, resume=not fresh,
                       force=fresh, command=command, override=override).run()
    for net in report['config']['profile_settings']['sr_nets']:
        print('\n'.join(['', f'{net}, trained on each set and tested on {osp.join(DATA, "test")}:', '']
                        + summary_table(report, net) + ['']), flush=True)
    log(f'report and plots: {osp.join(OUT, "benchmark.md")}; the sets: {osp.join(OUT, "data")}; each row\'s '
        f'options and logs: {osp.join(OUT, "rows")}')
    return report
