"""A bundle for a bare GPU machine (no network, no basicsr): code, wheels, weights and photos in one folder.

Built here by ``tools/gpu_bundle.py build`` (atomically: a failed build leaves no folder)::

    <bundle>/run.sh                 the one command there (tools/gpu_run.sh): install, test, time, benchmark
    <bundle>/code/                  the repository's files (tracked and untracked, not ignored)
    <bundle>/wheels/*.whl           basicsr 1.4.2 (``pip wheel --no-deps``) and its small dependencies
                                    (``pip download --no-deps --only-binary=:all:`` for the target Python)
    <bundle>/wheels/pytest/*.whl    pytest and its dependencies, installed there only if pytest is missing
    <bundle>/weights/RealESRGAN_x4plus.fp16.pth   the generator as float16 (half the bytes), cast back there
    <bundle>/photos/<root>/<path>   the photo set's source files as they are (the wallpapers are JPEG) and
    <bundle>/photos/split.yml       the split file, its roots made relative: prepare_photo_data builds the tiles there
    <bundle>/MANIFEST.json          bytes and files per part, the total against the limit, how it was built

The limit (64 MiB by default) covers everything; a bundle over it is refused with the sizes of its parts.
"""
import json
import os
import shutil
import subprocess
import sys
from os import path as osp

import torch

from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.utils.atomic import atomic_folder, atomic_torch_save
from gsdd_basicsr.utils.progress import progress

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))  # the checkout whose files the bundle carries
LIMIT_BYTES = 64 * 2**20
BASICSR = 'basicsr==1.4.2'
SMALL_DEPS = ('lmdb', 'addict', 'yapf', 'future', 'platformdirs')
PYTEST_DEPS = ('pytest', 'pluggy', 'iniconfig', 'packaging', 'pygments')
PLATFORMS = ('manylinux2014_x86_64', 'manylinux_2_28_x86_64')
WEIGHTS_NAME = 'RealESRGAN_x4plus.fp16.pth'
FP16_MAX = torch.finfo(torch.float16).max


# ---------------------------------------------------------------------- weights
def _params(path):
    if not osp.isfile(path):
        raise MissingInputError(f'weights {path} not found; convert them first (tools/convert_realesrgan_ncnn.py '
                                '--model realesrgan-x4plus) or pass --weights')
    state = torch.load(path, map_location='cpu', weights_only=True)
    for key in ('params_ema', 'params'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            return key, state[key]
    raise GSDDError(f'{path} holds no params_ema / params state dict; pass a BasicSR weights file')


def save_cast(src, dst, dtype):
    """Write ``src``'s state dict with every floating tensor cast to ``dtype`` (``float16`` to carry,
    ``float32`` to use), under the same key; refuses values float16 cannot hold.

    Returns:
        dict: ``tensors``, ``bytes`` (the written file), ``max_abs_change`` (largest |cast - original|).
    """
    key, params = _params(src)
    out, change = {}, 0.0
    for name, value in params.items():
        if value.is_floating_point():
            if dtype == torch.float16 and not (torch.isfinite(value).all() and value.abs().max() <= FP16_MAX):
                raise GSDDError(f'{src}: {name} holds values float16 cannot represent; bundle the float32 weights')
            cast = value.to(dtype)
            change = max(change, (cast.float() - value.float()).abs().max().item() if value.numel() else 0.0)
            value = cast
        out[name] = value.contiguous()
    atomic_torch_save({key: out}, dst, 'weights')
    return {'tensors': len(out), 'bytes': osp.getsize(dst), 'max_abs_change': change}


# ---------------------------------------------------------------------- parts
def repo_files(root=ROOT):
    """The repository's files (relative paths) that git does not ignore, tracked or not."""
    try:
        listed = subprocess.run(['git', '-C', root, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                                capture_output=True, check=True).stdout.decode()
    except (OSError, subprocess.CalledProcessError) as err:
        raise GSDDError(f'cannot list the repository files of {root} with git ({err}); build from a git checkout') \
            from err
    return sorted(p for p in listed.split('\0') if p and osp.isfile(osp.join(root, p)))


def copy_code(dest, root=ROOT):
    for rel in repo_files(root):
        os.makedirs(osp.dirname(osp.join(dest, rel)), exist_ok=True)
        shutil.copy2(osp.join(root, rel), osp.join(dest, rel))


def copy_photos(split_file, dest, roots=None):
    """Copy every photo of ``split_file`` to ``dest/<root>/<path>``; returns the roots used."""
    from gsdd_basicsr.sets.photo_data import read_split_file
    used = set()
    for entry in read_split_file(split_file, roots=roots):
        if not osp.isfile(entry['file']):
            raise MissingInputError(f'photo {entry["file"]} ({entry["where"]}) not found; install the photos '
                                    '(docs/datasets.md, "A real-photo data set") or pass --root NAME=DIR')
        target = osp.join(dest, entry['root'], entry['path'])
        os.makedirs(osp.dirname(target), exist_ok=True)
        shutil.copy2(entry['file'], target)
        used.add(entry['root'])
    return sorted(used)


def write_split(split_file, dst, used):
    """``split_file`` with every root pointing at its copy next to ``dst`` (``<root>/``, relative), so that
    reading it there needs neither ``--root`` nor the packages a ``python:`` root names."""
    import yaml
    with open(split_file, encoding='utf-8') as f:
        data = yaml.safe_load(f)
    data['roots'] = {name: name for name in used}
    with open(dst, 'w', encoding='utf-8') as f:
        yaml.safe_dump(data, f, sort_keys=False, allow_unicode=True)


def fetch_wheels(dest, python_version='3.12'):
    """basicsr's wheel, the small dependencies' wheels for ``python_version`` on manylinux x86-64, and
    pytest's under ``dest/pytest`` (pip, from the package registry)."""
    pip = [sys.executable, '-m', 'pip']
    target = ['--no-deps', '--only-binary=:all:', '--python-version', python_version]
    target += [arg for p in PLATFORMS for arg in ('--platform', p)]
    commands = [pip + ['wheel', BASICSR, '--no-deps', '-q', '-w', dest],
                pip + ['download', *target, '-q', '-d', dest, *SMALL_DEPS],
                pip + ['download', *target, '-q', '-d', osp.join(dest, 'pytest'), *PYTEST_DEPS]]
    for cmd in commands:
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode:
            raise GSDDError(f'{" ".join(cmd[2:5])} ... failed (exit {run.returncode}): '
                            f'{" ".join(run.stderr.split()[-40:])}; check the network to the package registry')


def folder_bytes(folder):
    """``(bytes, files)`` of everything under ``folder`` (symlinks not followed)."""
    total = count = 0
    for base, _, files in os.walk(folder):
        for name in files:
            total += osp.getsize(osp.join(base, name))
            count += 1
    return total, count


def size_report(bundle, limit=LIMIT_BYTES):
    """Bytes and files per top-level part of ``bundle`` and in all; ``fits`` says whether the total is within
    ``limit``."""
    parts = {}
    for name in sorted(os.listdir(bundle)):
        path = osp.join(bundle, name)
        size, files = folder_bytes(path) if osp.isdir(path) else (osp.getsize(path), 1)
        parts[name] = {'bytes': size, 'files': files, 'mib': round(size / 2**20, 2)}
    total = sum(p['bytes'] for p in parts.values())
    return {'parts': parts, 'total_bytes': total, 'total_mib': round(total / 2**20, 2), 'limit_bytes': limit,
            'limit_mib': round(limit / 2**20, 2), 'fits': total <= limit}


def check_size(report):
    if not report['fits']:
        parts = ', '.join(f'{k} {v["mib"]} MiB' for k, v in sorted(report['parts'].items(),
                                                                    key=lambda kv: -kv[1]['bytes']))
        raise GSDDError(f'the bundle would be {report["total_mib"]} MiB, over the {report["limit_mib"]} MiB limit '
                        f'({parts}); drop what is not needed there or raise --limit-mib')


# ---------------------------------------------------------------------- the bundle
def build_bundle(out, weights, split_file, roots=None, wheels_from=None, python_version='3.12', limit=LIMIT_BYTES,
                 force=False, log=progress('gpu bundle')):
    """Build the bundle folder ``out`` (see the module docstring); returns its manifest.

    Args:
        weights (str): the float32 RealESRGAN_x4plus weights (``params_ema``), stored as float16.
        split_file (str): the photo set's split file (``options/data/photo_split.yml``).
        roots (dict | None): photo roots overriding the split file's (``--root NAME=DIR``).
        wheels_from (str | None): a folder of wheels to copy instead of asking pip (offline builds, tests).
        python_version (str): the target machine's Python (``3.12``; ``3.11`` rehearses on this one).
    """
    with atomic_folder(out, force=force, keep=[ROOT]) as tmp:
        log(f'code -> {tmp}/code')
        copy_code(osp.join(tmp, 'code'))
        wheels = osp.join(tmp, 'wheels')
        if wheels_from:
            log(f'wheels: copied from {wheels_from}')
            shutil.copytree(wheels_from, wheels)
        else:
            log(f'wheels: {BASICSR} and {", ".join(SMALL_DEPS)} for Python {python_version} (pip)')
            os.makedirs(wheels)
            fetch_wheels(wheels, python_version)
        log(f'weights: {weights} -> float16')
        cast = save_cast(weights, osp.join(tmp, 'weights', WEIGHTS_NAME), torch.float16)
        log(f'photos: {split_file}')
        used = copy_photos(split_file, osp.join(tmp, 'photos'), roots)
        write_split(split_file, osp.join(tmp, 'photos', 'split.yml'), used)
        shutil.copy2(osp.join(ROOT, 'tools', 'gpu_run.sh'), osp.join(tmp, 'run.sh'))
        os.chmod(osp.join(tmp, 'run.sh'), 0o755)
        manifest = {'python_version': python_version, 'weights': {'source': osp.abspath(weights), **cast},
                    'split_file': osp.abspath(split_file), 'photo_roots': used,
                    'wheels': sorted(n for n in os.listdir(wheels) if n.endswith('.whl'))}
        manifest['size'] = size_report(tmp, limit)  # the manifest's own few kB are not counted
        check_size(manifest['size'])
        with open(osp.join(tmp, 'MANIFEST.json'), 'w') as f:
            json.dump(manifest, f, indent=2)
    log(f'bundle {out}: {manifest["size"]["total_mib"]} MiB of {manifest["size"]["limit_mib"]} MiB')
    return manifest
