"""Crash-safe writes: a reader sees the previous complete file or the new complete file, never half.

Everything is written to a temporary name in the destination folder (same file system, so the
final ``os.replace`` is atomic), flushed and fsync'ed, then renamed over the destination.
"""
import os
import uuid

import torch

from gsdd_basicsr.errors import WriteError


def atomic_torch_save(obj, path, what='file'):
    """``torch.save(obj, path)`` through a temporary file and ``os.replace``.

    Args:
        obj: what ``torch.save`` writes.
        path (str): the destination; replaced only once the new file is complete.
        what (str): what to call the file in an error message (``network``, ``training state``, ...).

    Returns:
        str: ``path``.

    Raises:
        WriteError: (a ``GSDDError`` and an ``OSError``) the write failed: a full disk, no
            permission, ... (``torch.save`` reports a failed write of its zip container as a
            ``RuntimeError``, so both are caught). ``path`` is left as it was and the temporary
            file is removed.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f'.{os.path.basename(path)}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp')
    try:
        with open(tmp, 'xb') as f:  # normal permissions (umask), unlike mkstemp's 0600
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return path
    except BaseException as err:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(err, (OSError, RuntimeError)):
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise WriteError(f'cannot write {what} {path} ({type(err).__name__}: {reason}); the previous file of '
                             'that name, if any, is unchanged. Free disk space (or fix the permissions) and '
                             'continue with --auto_resume.') from err
        raise
