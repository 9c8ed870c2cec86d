"""Seconds per iteration of the CPU GAN recipe (options/gsdd_train_ESRGAN_S_x4.yml: batch 8 of 64 px, VGG16 to
conv4_3) on one CPU thread: docs/gan_lpips.md, "A GAN recipe that trains on a CPU". Trains it ``--iters``
iterations without validation through gsdd_basicsr/train.py and records the ``time`` BasicSR logs (its mean
seconds per iteration since the start). Needs the converted LPIPS VGG16 (tools/convert_lpips_weights.py) and a
training set in the recipe's layout (``HR/`` + ``LR_bicubic/X4/``, e.g. from tools/select_coreset.py). The
figure varies with the machine.

    python docs/records/esrgan_recipe_step.py --train datasets/demo_random_x4   # -> esrgan_recipe_step.json
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys

from record import ROOT, save

NAME = 'records_esrgan_recipe_step'
TIME = re.compile(r'iter:\s*([\d,]+).*time \(data\): ([\d.]+) \(([\d.]+)\)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--train', required=True, help='the training set (HR/ + LR_bicubic/X4/)')
    parser.add_argument('--iters', type=int, default=30, help='iterations to train (default 30)')
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(args.train, 'HR')):
        sys.exit(f'esrgan_recipe_step.py: error: {args.train}/HR does not exist; pass --train <a set with HR/ and '
                 'LR_bicubic/X4/>, e.g. from tools/select_coreset.py')
    cmd = [sys.executable, 'gsdd_basicsr/train.py', '-opt', 'options/gsdd_train_ESRGAN_S_x4.yml', '--force_yml',
           f'name={NAME}', f'datasets:train:dataroot={args.train}', 'datasets:val=~',
           f'train:total_iter={args.iters}', f'logger:print_freq={args.iters}', 'logger:save_checkpoint_freq=1000000']
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')  # one CPU thread
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    folder = os.path.join(ROOT, 'experiments', NAME)
    log = sorted(glob.glob(os.path.join(folder, f'train_{NAME}_*.log')))[-1]
    with open(log, encoding='utf-8') as f:
        last = [m for m in map(TIME.search, f) if m][-1]
    shutil.rmtree(folder)  # this script's own run folder: nothing else of it is needed
    save('esrgan_recipe_step', {'iterations': int(last.group(1).replace(',', '')), 'threads': 1,
                                'seconds_per_iteration': float(last.group(2)),
                                'data_seconds_per_iteration': float(last.group(3))})


if __name__ == '__main__':
    main()
