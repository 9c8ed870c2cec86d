"""Whether a BasicSR LMDB folder is whole before anything reads it.

An LMDB whose ``data.mdb`` is shorter than its own page count says (a copy cut short) is memory-mapped
by lmdb, and the first read past the file's end kills the process with SIGBUS (exit status 135, no
message). lmdb's own header tells the size the file needs: ``(env.info()['last_pgno'] + 1) *
env.stat()['psize']`` bytes; reading the header touches only the first two pages (the meta pages).
"""
import os
from os import path as osp

from gsdd_basicsr.errors import GSDDError, MissingInputError

#: the two meta pages lmdb reads on opening, at the smallest page size it writes (4 KiB)
_META_BYTES = 2 * 4096
#: (real path, size, modification time) of the data.mdb files found whole in this process
_WHOLE = set()


def check_lmdb(path, key='dataroot'):
    """Raise unless ``path`` is an LMDB folder whose ``data.mdb`` holds every page its header counts.

    Args:
        path (str): the LMDB folder (``*.lmdb``, holding ``data.mdb``).
        key (str): the options key that names it, for the message (e.g. ``datasets.train.dataroot_gt``).

    Raises:
        MissingInputError: ``path`` has no ``data.mdb``.
        GSDDError: ``data.mdb`` is shorter than its header says (or than lmdb's meta pages), or lmdb cannot
            open it.
    """
    import lmdb
    data = osp.join(path, 'data.mdb')
    if not osp.isfile(data):
        raise MissingInputError(f'{key}: {path} is not an LMDB (no data.mdb); point {key} at a folder made by '
                                "BasicSR's lmdb_util (scripts/data_preparation/create_lmdb.py) or use io_backend disk.")
    size = os.path.getsize(data)
    fix = (f'copy the LMDB again (compare its size with the original) or rebuild it with BasicSR\'s lmdb_util; '
           f'{key} names it')
    if size < _META_BYTES:
        raise GSDDError(f'LMDB {path} is cut short: data.mdb holds {size} bytes, less than its header; {fix}.')
    stamp = (osp.realpath(data), size, os.stat(data).st_mtime_ns)
    if stamp in _WHOLE:
        return  # py-lmdb refuses to open an environment twice in a process: a dataset may hold it open
    try:
        env = lmdb.open(path, readonly=True, lock=False, readahead=False, meminit=False)
    except lmdb.Error as err:
        if 'already open in this process' in str(err):
            return  # another reader in this process (e.g. BasicSR's LmdbBackend) holds it: it cannot be asked again
        raise GSDDError(f'LMDB {path} cannot be opened ({err}); {fix}.') from err
    try:
        need = (env.info()['last_pgno'] + 1) * env.stat()['psize']
    finally:
        env.close()
    if size < need:
        raise GSDDError(f'LMDB {path} is cut short: data.mdb holds {size} bytes but its header counts {need}; {fix}.')
    _WHOLE.add(stamp)
