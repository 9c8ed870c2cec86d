"""The image sets the SR rows train on, each written once under ``<out>/data/<set>/`` in the
exported-set layout (``HR/``, ``LR_bicubic/X<s>/``, ``storage_report.json``):

- the full real set (:func:`gsdd_basicsr.sets.coreset.full_set`: every training image, the layout of a coreset);
- real coresets (:func:`gsdd_basicsr.sets.coreset.select_coreset`), per class where the set has class
  folders, so that IPC means the same for every row;
- GSDD sets: a distillation run (BasicSR's train pipeline, as ``gsdd_basicsr/train.py -opt`` run in
  ``<out>/distill/<set>/``, its resolved ``options.yml`` kept there) exported by
  :func:`gsdd_basicsr.sets.export.export_distilled`.

A set is ready when its ``storage_report.json`` (and for GSDD ``distill.json``) exists, so an
interrupted benchmark reuses every finished set. Each set is built under an exclusive lock
(``data/<set>.lock``): rows run side by side (``--jobs``, GPUs, cluster jobs) that need the same set wait for one
build.
"""
import contextlib
import fcntl
import json
import os
import shutil
from os import path as osp


from gsdd_basicsr.benchmark import basicsr_runs
from gsdd_basicsr.benchmark.row_options import distill_options
from gsdd_basicsr.utils.atomic import atomic_write_json
from gsdd_basicsr.utils.progress import progress
from gsdd_basicsr.weights import realesrgan


log = progress('benchmark')


def read_json(path):
    with open(path) as f:
        return json.load(f)


@contextlib.contextmanager
def _building(folder):
    """Hold ``<folder>.lock`` exclusively (released when the process ends, even on a crash)."""
    os.makedirs(osp.dirname(folder), exist_ok=True)
    with open(f'{folder}.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _report(folder):
    path = osp.join(folder, 'storage_report.json')
    return read_json(path) if osp.isfile(path) else None


def full_set(out, train_root, scale):
    """Every real HR training image (cropped to a multiple of ``scale``) -> ``(folder, storage report)``."""
    folder = osp.join(out, 'data', 'full')
    with _building(folder):
        _write_full_set(folder, train_root, scale)
    return folder, _report(folder)


def _write_full_set(folder, train_root, scale):
    if _report(folder) is None:
        from gsdd_basicsr.sets.coreset import full_set
        log(f'full set: the real HR images of {train_root} -> {folder}')
        full_set(train_root, folder, scale, force=True)


def coreset(out, train_root, method, budget, seed, hr_size, scale):
    """Real crops of ``hr_size`` px chosen by ``method`` -> ``(folder, storage report)``.

    Where every training image lies in a class folder (class_mode folder) the crops are chosen per class,
    ``budget['ipc']`` within each class, as the GSDD rows' IPC is; for a flat set (k-means pseudo-classes,
    which the coreset does not know) ``budget['images']`` over the whole set. Both hold ``budget['images']``
    crops.
    """
    from gsdd_basicsr.sets.coreset import select_coreset
    from gsdd_basicsr.utils.image_io import folder_classes, list_images
    per_class = folder_classes(list_images(train_root)) is not None
    seed_part = '' if method == 'informative' else f'_s{seed}'  # informative does not depend on the seed
    folder = osp.join(out, 'data', f'{method}_{budget["key"]}{seed_part}')
    with _building(folder):
        report = _report(folder)
        if report is None or report.get('per_class', False) != per_class:  # a set of an earlier version: rebuilt
            k = budget['ipc'] if per_class else budget['images']
            log(f'coreset {method}: {k} crops of {hr_size} px ' + ('per class' if per_class else 'over the whole set')
                + f' -> {folder}')
            select_coreset(train_root, folder, method, k, hr_size, seed=seed, scale=scale, force=True,
                           per_class=per_class)
    return folder, _report(folder)


def _prepare_generator(opt):
    """Make missing generator weights when they can be made: computed for a (parameter-free) BicubicUpsampler,
    converted offline for a Real-ESRGAN generator (known by its file name)."""
    path = opt['path']['pretrain_network_g']
    if not path or osp.isfile(path):
        return
    if opt['network_g']['type'] == 'BicubicUpsampler':
        from gsdd_basicsr.archs.bicubic_upsampler_arch import write_state_dict
        log(f'writing the BicubicUpsampler weights -> {path}')
        write_state_dict(path, opt['network_g'].get('scale', 4))
        return
    for model in realesrgan.known_models():
        if osp.basename(path) == realesrgan.model_info(model)['filename']:
            log(f'converting the generator {model} -> {path}')
            realesrgan.ensure_converted(model, osp.dirname(path))
            return


def distilled(out, prof, variant, budget, seed, data, device, env=None):
    """Distil (``gsdd_basicsr.train``, a process with ``env`` added to its environment), export on ``device``
    -> ``(folder, storage report, distillation record)``.

    The record (``distill.json``) holds ``distill_seconds`` (from the run's log: model setup, the
    initialisation and every step), ``run_seconds`` (the whole pipeline call) and the options path.
    """
    set_id = f'{variant}_{budget["key"]}_s{seed}'
    folder = osp.join(out, 'data', set_id)
    run_dir = osp.join(out, 'distill', set_id)
    record = osp.join(run_dir, 'distill.json')
    with _building(folder):
        if _report(folder) is None or not osp.isfile(record):
            from gsdd_basicsr.sets.export import export_distilled
            shutil.rmtree(run_dir, ignore_errors=True)  # an interrupted distillation starts over
            opt = distill_options(prof, variant, budget['ipc'], seed, set_id, data)
            os.makedirs(run_dir)
            _prepare_generator(opt)
            log(f'distilling {set_id}: ipc {budget["ipc"]}, {opt["train"]["total_iter"]} iterations, '
                f'generator {opt["network_g"]["type"]} ({run_dir})')
            seconds = basicsr_runs.run('train', opt, run_dir, 'options.yml', env=env, label=f'distill {set_id}')
            bank = osp.join(run_dir, 'experiments', set_id, 'models', 'latents_latest.pth')
            export_distilled(bank, folder, source=data['train_root'], force=True, device=str(device))
            atomic_write_json({'distill_seconds': basicsr_runs.run_seconds(basicsr_runs.find_log(run_dir, 'train')),
                               'run_seconds': seconds, 'iters': opt['train']['total_iter'], 'bank': bank,
                               'options': osp.join(run_dir, 'options.yml')}, record)
    return folder, _report(folder), read_json(record)
