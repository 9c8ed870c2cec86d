"""What every command-line entry point shares: each failure as one line on stderr, and its exit status.

Bad input (a :class:`~gsdd_basicsr.errors.GSDDError`) exits with status 2, a run that started and failed
(a :class:`~gsdd_basicsr.errors.RunFailure`) with status 1 (:mod:`gsdd_basicsr.errors`). ``train.py`` and
``test.py`` pass the run's log (:func:`run_log`) once BasicSR has started, so the line then says where the
log is, and an unexpected error (a bug) is written to that log with its traceback and also ends in one line
naming the log; the line (and a bug's traceback) is also written to the log.
"""
import contextlib
import glob
import logging
import os
import shutil
import sys
import time
import traceback
from os import path as osp

from gsdd_basicsr.errors import OOM_ERRORS, GSDDError, RunFailure


def run_pipeline(entry, pipeline):
    """Our ``train.py`` / ``test.py`` (``entry``: train | test): BasicSR's ``pipeline`` (``train_pipeline`` |
    ``test_pipeline``, called with the working folder) on the command line's options, checked before BasicSR
    creates anything (:mod:`gsdd_basicsr.options_check`), under :mod:`gsdd_basicsr.pipeline_fixes`, every failure
    one line (:func:`user_errors`; the run's folders taken back on bad input, :func:`run_folders`)."""
    from gsdd_basicsr.options_check import check_options, parse_command_line
    from gsdd_basicsr.pipeline_fixes import pipeline_fixes
    root, prog = os.getcwd(), f'{entry}.py'
    with user_errors(prog), pipeline_fixes():
        opt = parse_command_line(root, is_train=entry == 'train')
        check_options(opt)
        with user_errors(prog, log=run_log(opt, entry), take_back=run_folders(opt, entry, root)):
            pipeline(root)


def run_log(opt, entry):
    """A function returning the log file BasicSR's ``entry`` (train | test) pipeline writes for ``opt``.

    BasicSR names it ``<opt['path']['log']>/<entry>_<name>_<time>.log``; the function returns the newest one
    written since it was made (a resumed run's folder also holds the logs of its earlier starts), or None.
    """
    since = time.time() - 1  # the file name's time has whole seconds
    pattern = osp.join(glob.escape(opt['path']['log']), f"{entry}_{glob.escape(opt['name'])}_*.log")

    def newest():
        logs = [p for p in glob.glob(pattern) if osp.getmtime(p) >= since]
        return max(logs, key=osp.getmtime) if logs else None

    return newest


def run_folders(opt, entry, root):
    """A function that takes back the folders BasicSR's ``entry`` (train | test) pipeline creates for ``opt``.

    Before reading any data, BasicSR creates ``path.experiments_root`` (a test: ``path.results_root``) and,
    when ``logger.use_tb_logger`` is on and the name has no ``debug``, ``<root>/tb_logger/<name>``; a folder
    of that name that exists is first renamed ``<folder>_archived_<time>`` (``basicsr.utils.mkdir_and_rename``;
    a resumed training creates nothing). Made before the start, the function notes what each folder's parent
    holds; called after bad input stopped the run, it removes each folder the run created and moves back what
    BasicSR moved aside. A folder holding a checkpoint (``*.pth``, ``*.state``) is kept, and only the rank-0
    process (the one BasicSR lets create them) touches anything.

    Returns:
        callable: ``take_back() -> bool``, True when every folder is as it was before the start.
    """
    if entry == 'train':
        folders = [opt['path']['experiments_root']]
        if opt['logger'].get('use_tb_logger') and 'debug' not in opt['name']:
            folders.append(osp.join(root, 'tb_logger', opt['name']))  # basicsr.train's tensorboard folder
    else:
        folders = [opt['path']['results_root']]
    before = {folder: _entries(osp.dirname(folder)) for folder in folders}

    def take_back():
        from basicsr.utils.dist_util import get_dist_info
        if get_dist_info()[0] != 0:  # the run's own rank (the parsed options say 0 before the launcher starts)
            return False
        return all([_take_back(folder, entries) for folder, entries in before.items()])

    return take_back


def _entries(folder):
    return set(os.listdir(folder)) if osp.isdir(folder) else set()


def _take_back(folder, entries_before):
    """Restore ``folder``'s parent to ``entries_before`` for this folder: True when done (or nothing to do)."""
    name = osp.basename(folder)
    moved_aside = [e for e in _entries(osp.dirname(folder)) - entries_before if e.startswith(f'{name}_archived_')]
    if name in entries_before and not moved_aside:
        return True  # the run used the folder as it was (a resume): nothing of its own to take back
    if osp.isdir(folder):
        if any(f.endswith(('.pth', '.state')) for _, _, files in os.walk(folder) for f in files):
            return False
        shutil.rmtree(folder)
    if len(moved_aside) == 1:
        os.rename(osp.join(osp.dirname(folder), moved_aside[0]), folder)
    return True


def _where(log):
    if log is None:
        return 'no log was written'
    return f'the log is {log}'


@contextlib.contextmanager
def user_errors(prog, log=None, take_back=None):
    """Print a failure inside the block as ``<prog>: error: <message>`` and exit with its status.

    Args:
        prog (str): the command's name, printed first.
        log (callable | None): returns the running pipeline's log file (:func:`run_log`). Without it, only
            ``GSDDError`` (exit 2) and ``RunFailure`` (exit 1) are caught; with it, the line ends with where
            the log is and is also written to the log, an out-of-memory error is a ``RunFailure``, and any other
            error is printed and logged with its traceback and exits 1.
        take_back (callable | None): takes back the run's folders (:func:`run_folders`) on bad input; where it
            does (returns True), the line names no log, for there is none left.
    """
    try:
        yield
    except GSDDError as err:
        _exit(prog, err, 2, None if take_back is not None and take_back() else log)
    except RunFailure as err:
        _exit(prog, err, 1, log)
    except OOM_ERRORS as err:
        if log is None:
            raise
        _exit(prog, f'out of accelerator memory ({str(err).splitlines()[0] if str(err) else "no message"}); '
                    'lower datasets.train.batch_size_per_gpu or gt_size, or the network\'s size, and start again '
                    '(--auto_resume continues from the last checkpoint)', 1, log)
    except Exception as err:
        if log is None:
            raise
        traceback.print_exc(file=sys.stderr)  # a bug: the traceback on the console and in the log
        _exit(prog, f'the run failed with {type(err).__name__}: {err}; its folder is kept', 1, log, sys.exc_info())


def _exit(prog, message, status, log, exc_info=None):
    where = ''
    if log is not None:
        _to_log_file(f'{prog}: error: {message}', exc_info)
        message, where = str(message).rstrip('.'), f'; {_where(log())}'
    print(f'{prog}: error: {message}{where}', file=sys.stderr, flush=True)
    sys.exit(status)


def _to_log_file(message, exc_info):
    """``message`` (and a traceback) into the log file of BasicSR's ``basicsr`` logger only, not its console."""
    logger = logging.getLogger('basicsr')
    record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, message, None, exc_info)
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)
