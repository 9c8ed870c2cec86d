"""Crash-safe writes: a reader sees the previous complete file or the new complete file, never half.

Everything is written to a temporary name in the destination folder (same file system, so the
final rename is atomic), then renamed over the destination: a file (:func:`atomic_write`, flushed and
fsync'ed first; :func:`atomic_torch_save`, :func:`atomic_write_text`, :func:`atomic_write_json`,
:func:`atomic_write_yaml` for what it holds) or a whole output folder (:func:`atomic_folder`).
"""
import contextlib
import json
import os
import shutil
import tempfile
import uuid
from os import path as osp

import torch
import yaml

from gsdd_basicsr.errors import GSDDError, OutputExistsError, RunFailure, WriteError


def atomic_write(path, write, binary=False, what='file', fix='Free disk space (or fix the permissions) and run '
                 'again.'):
    """Write ``path`` through a temporary file in its folder, flushed, fsync'ed and renamed over ``path``.

    Args:
        path (str): the destination; replaced only once the new file is complete.
        write (callable): ``write(f)`` fills the open temporary file ``f``.
        binary (bool): open the temporary file in binary mode (else text, UTF-8).
        what (str): what to call the file in an error message (``network``, ``report``, ...).
        fix (str): the last sentence of that message: what the user can do.

    Returns:
        str: ``path``.

    Raises:
        WriteError: (a ``RunFailure`` and an ``OSError``) the write failed: a full disk, no permission, ...
            (``torch.save`` reports a failed write of its zip container as a ``RuntimeError``, so both are
            caught). ``path`` is left as it was and the temporary file is removed.
    """
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f'.{os.path.basename(path)}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp')
    try:
        os.makedirs(folder, exist_ok=True)
        # 'x': normal permissions (umask), unlike mkstemp's 0600
        with (open(tmp, 'xb') if binary else open(tmp, 'x', encoding='utf-8')) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return path
    except BaseException as err:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(err, (OSError, RuntimeError)) and not isinstance(err, (GSDDError, RunFailure)):
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise WriteError(f'cannot write {what} {path} ({type(err).__name__}: {reason}); the previous file of '
                             f'that name, if any, is unchanged. {fix}') from err
        raise


def atomic_torch_save(obj, path, what='file'):
    """``torch.save(obj, path)`` through :func:`atomic_write` (a failed write: continue with --auto_resume)."""
    return atomic_write(path, lambda f: torch.save(obj, f), binary=True, what=what,
                        fix='Free disk space (or fix the permissions) and continue with --auto_resume.')


def atomic_write_text(text, path, what='file'):
    """Write the string ``text`` to ``path`` through :func:`atomic_write`."""
    return atomic_write(path, lambda f: f.write(text), what=what)


def atomic_write_json(obj, path, what='file'):
    """Write ``obj`` as indented JSON to ``path`` through :func:`atomic_write`."""
    return atomic_write(path, lambda f: json.dump(obj, f, indent=2), what=what)


def atomic_write_yaml(obj, path, what='file'):
    """Write ``obj`` as block-style YAML (keys in their order) to ``path`` through :func:`atomic_write`."""
    return atomic_write(path, lambda f: yaml.safe_dump(obj, f, sort_keys=False, default_flow_style=False), what=what)


def _is_nonempty_dir(path):
    return osp.isdir(path) and bool(os.listdir(path))


def _inside(child, parent):
    child, parent = osp.realpath(child), osp.realpath(parent)
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


def check_output_dir(out, force=False, keep=()):
    """Refuse an unusable output folder before any work is done.

    Args:
        out (str): the folder to write.
        force (bool): allow replacing a non-empty folder.
        keep (sequence[str | None]): inputs that must not lie inside ``out`` (they would be deleted),
            nor contain it.

    Raises:
        OutputExistsError: ``out`` is a file, or a non-empty folder without ``force``.
        GSDDError: ``out`` and an input overlap.
    """
    if osp.exists(out) and not osp.isdir(out):
        raise OutputExistsError(f'output {out} exists and is not a folder')
    if _is_nonempty_dir(out) and not force:
        raise OutputExistsError(f'output folder {out} exists and is not empty; pass --force to replace it')
    for p in keep:
        if p and (_inside(p, out) or _inside(out, p) and osp.isdir(p)):
            raise GSDDError(f'output folder {out} and input {p} overlap; choose another --out')


def _folder_write_error(out, err):
    reason = ' '.join(str(err).split()) or type(err).__name__
    return WriteError(f'cannot write {out} ({type(err).__name__}: {reason}); nothing was written and the previous '
                      'folder of that name, if any, is unchanged. Free disk space (or fix the permissions) and run '
                      'again.')


@contextlib.contextmanager
def atomic_folder(out, force=False, keep=()):
    """Build an output folder in a temporary sibling and rename it to ``out`` when the block ends.

    ``out`` is checked first (:func:`check_output_dir`). If the block raises, the temporary folder
    is removed and ``out`` is left as it was; an ``OSError`` (full disk, permissions) is re-raised
    as a :class:`WriteError` (a ``RunFailure`` and an ``OSError``) naming ``out``.

    Args:
        out (str): the folder to write; a previous one is replaced only with ``force``.
        force (bool): replace a non-empty ``out``.
        keep (sequence[str | None]): inputs that must not overlap ``out``.

    Yields:
        str: the temporary folder to fill (normal permissions, same file system as ``out``).
    """
    out = osp.abspath(out)
    check_output_dir(out, force, keep)
    parent = osp.dirname(out)
    tmp = None
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f'.{osp.basename(out)}.tmp-', dir=parent)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it 0700; the output is an ordinary folder
        yield tmp
        _move_into_place(tmp, out, force)
    except BaseException as err:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError) and not isinstance(err, (GSDDError, RunFailure)):
            raise _folder_write_error(out, err) from err
        raise


def _move_into_place(tmp, out, force):
    if not osp.exists(out):
        os.rename(tmp, out)
        return
    if _is_nonempty_dir(out) and not force:
        raise OutputExistsError(f'output folder {out} appeared while writing; pass --force to replace it')
    old = tempfile.mkdtemp(prefix=f'.{osp.basename(out)}.old-', dir=osp.dirname(out))
    os.rmdir(old)
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)  # put the previous folder back
        raise
    shutil.rmtree(old, ignore_errors=True)
