"""BasicSR's training pipeline with the gsdd-basicsr plugin registered.

Usage (from the folder that should hold ``experiments/`` and ``tb_logger/``)::

    python gsdd_basicsr/train.py -opt options/gsdd_distill_demo_x4.yml [--auto_resume]
    python -m gsdd_basicsr.train -opt ...
    torchrun --nproc_per_node=2 gsdd_basicsr/train.py -opt ... --launcher pytorch

Bad input (a ``GSDDError``) is printed as one line, the exit status is 2, and a run that
failed before writing any checkpoint leaves no experiment folder behind. The run gets
:mod:`gsdd_basicsr.pipeline_fixes` (safe resume, CPU DDP, atomic checkpoints, ``--force_yml`` seeds).
"""
import glob
import os
import shutil
import sys

if __package__ in (None, ''):
    # run as a script: import the package from the repository, not this folder's siblings
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import gsdd_basicsr  # noqa: E402,F401  (global fixes + registration)
from basicsr.train import train_pipeline  # noqa: E402

from gsdd_basicsr.cli import user_errors  # noqa: E402
from gsdd_basicsr.pipeline_fixes import pipeline_fixes  # noqa: E402


def _experiment_name(argv):
    """The run's name as basicsr will derive it (``-opt``'s name, ``--force_yml name=``, ``--debug``)."""
    import yaml
    try:
        with open(argv[argv.index('-opt') + 1]) as f:
            name = yaml.safe_load(f)['name']
    except Exception:  # basicsr reports a bad -opt itself
        return None
    for i, arg in enumerate(argv):
        if arg == '--force_yml':
            for entry in argv[i + 1:]:
                if entry.startswith('name='):
                    name = entry.split('=', 1)[1].strip()
    return name if '--debug' not in argv or name.startswith('debug') else f'debug_{name}'


class _FailedStartCleanup:
    """Removes what a run created if it failed before its first checkpoint (no half-written output)."""

    def __init__(self, root, name):
        self.dirs = [] if name is None else [os.path.join(root, 'experiments', name), os.path.join(root, 'tb_logger', name)]
        self.existed = [os.path.exists(d) for d in self.dirs]
        self.archived = {d: set(glob.glob(f'{d}_archived_*')) for d in self.dirs}

    def __call__(self):
        for folder, existed in zip(self.dirs, self.existed):
            if not os.path.isdir(folder):
                continue
            saved = glob.glob(os.path.join(folder, 'models', '*')) + glob.glob(os.path.join(folder, 'training_states', '*'))
            if existed and not (set(glob.glob(f'{folder}_archived_*')) - self.archived[folder]):
                continue  # a resumed (or reused) folder: never touch it
            if saved:
                continue
            shutil.rmtree(folder, ignore_errors=True)
            # basicsr renamed an older run to <name>_archived_<time>: put it back
            new_archives = sorted(set(glob.glob(f'{folder}_archived_*')) - self.archived[folder])
            if new_archives:
                os.rename(new_archives[-1], folder)


def main():
    root = os.getcwd()
    with user_errors('train.py', cleanup=_FailedStartCleanup(root, _experiment_name(sys.argv))), pipeline_fixes():
        train_pipeline(root)


if __name__ == '__main__':
    main()
