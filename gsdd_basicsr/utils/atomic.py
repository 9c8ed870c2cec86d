"""Crash-safe writes: a reader sees the previous complete file or the new complete file, never half.

Everything is written to a temporary name in the destination folder (same file system, so the
final ``os.replace`` is atomic), flushed and fsync'ed, then renamed over the destination.
"""
import os
import uuid

import torch


def atomic_torch_save(obj, path):
    """``torch.save(obj, path)`` through a temporary file and ``os.replace``.

    Raises:
        OSError: the write failed (e.g. a full disk); ``path`` is left as it was and the
            temporary file is removed.
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
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
