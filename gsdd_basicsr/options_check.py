"""A run's options checked before BasicSR creates anything: bad input is one line, exit 2, nothing left.

BasicSR's train / test pipelines create ``experiments/<name>/`` (``results/<name>/``), ``tb_logger/<name>/``
and the log before they build a dataset, so a missing data folder used to end in BasicSR's traceback with
those folders left behind. :func:`check_options` reads only the parsed options and the file system:

- every data path of every dataset (``datasets.<phase>``, nested blocks such as ``DistillationStepDataset``'s
  ``real:`` included): keys starting with ``dataroot`` or ``meta_info`` (BasicSR's ``PairedImageDataset``,
  ``SingleImageDataset``, Real-ESRGAN's ``RealESRGANDataset``, ours) and ``latents`` / ``pretrain_network_g``
  (``GANLatentDataset``) must exist;
- an LMDB (``io_backend: {type: lmdb}`` or a ``*.lmdb`` path) must be whole (:mod:`gsdd_basicsr.utils.lmdb_check`);
- a ``ClassImageDataset``'s class folders (``class_mode: folder`` on disk) must be readable
  (:func:`gsdd_basicsr.utils.image_io.list_class_folders`);
- ``path.pretrain_network_*``, when set, must be files;
- ``model_type``, ``network_*.type``, ``datasets.<phase>.type``, ``train.*_opt.type`` (losses) and
  ``val.metrics.*.type`` must be registered in BasicSR's registries (BasicSR's and the plugin's classes);
- ``GSDDModel``'s ``gsdd:`` block must parse (:func:`gsdd_basicsr.distill.options.parse_gsdd_options`);
- a ``calculate_lpips`` metric in ``val.metrics`` of a run that validates or tests (a dataset other than
  ``train``) must have its converted weights (its ``weights`` key, else
  :func:`gsdd_basicsr.weights.lpips.default_path`; :func:`check_lpips_weights`): the metric loads them only at
  the first image.

:func:`parse_command_line` gives ``train.py`` / ``test.py`` the options BasicSR will parse from the command
line, without creating anything. What only building a dataset or a network shows (a corrupt image, weights that
do not fit ``network_g``) is found once the run started; it is still bad input (exit 2), and the run's folder
and log are kept.
"""
import contextlib
import difflib
import io
import sys
from os import path as osp

import yaml

from gsdd_basicsr.errors import GSDDError, MissingInputError


def parse_command_line(root, is_train):
    """The options BasicSR's train (``is_train``) or test pipeline will parse from ``sys.argv`` in ``root``.

    BasicSR's own ``parse_options`` (call it inside :func:`gsdd_basicsr.pipeline_fixes.pipeline_fixes` to get
    the same options as the run), with ``--launcher none``: the distributed setup is left to the run itself.
    Nothing is created or printed.

    Returns:
        dict: the parsed options (``path.log``, ``name`` as BasicSR derives them, ``--debug`` included).

    Raises:
        GSDDError: the ``-opt`` file is missing or not a valid options file, or a ``--force_yml`` entry fails.
    """
    from basicsr.utils import options
    argv = list(sys.argv)
    if '--launcher' in argv[:-1]:
        argv[argv.index('--launcher') + 1] = 'none'
    opt_path = argv[argv.index('-opt') + 1] if '-opt' in argv[:-1] else None
    if opt_path is not None and not osp.isfile(opt_path):
        raise MissingInputError(f'options file {opt_path} does not exist; pass a BasicSR options file with -opt.')
    before = sys.argv
    sys.argv = argv
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # basicsr prints "Disable distributed."
            opt, _ = options.parse_options(root, is_train=is_train)
    except (KeyError, TypeError, ValueError, NameError, SyntaxError, AttributeError, yaml.YAMLError) as err:
        if isinstance(err, GSDDError):
            raise
        raise GSDDError(f'{opt_path} is not a valid BasicSR {"training" if is_train else "test"} options file with '
                        f'these --force_yml entries ({type(err).__name__}: {err}); fix the file or the entries '
                        '(block:key=value).') from err
    finally:
        sys.argv = before
    return opt


def check_options(opt, root=None):
    """Raise the first bad input the options name (see the module docstring); relative paths from ``root``.

    Args:
        opt (dict): parsed options (BasicSR's ``parse_options``).
        root (str | None): the folder the run starts in (default: the current folder).

    Raises:
        MissingInputError: a data path, ``path.pretrain_network_*`` or an LPIPS metric's weights file does not
            exist (the message names the options key, the path, and the ``--force_yml`` or command that fixes it).
        GSDDError: an LMDB is cut short, a class folder cannot be read, the ``gsdd:`` block is invalid.
    """
    for phase, dataset in (opt.get('datasets') or {}).items():
        if isinstance(dataset, dict):
            _check_dataset(dataset, ['datasets', phase], root, optional=not phase.startswith('train'))
    for key, value in (opt.get('path') or {}).items():
        if key.startswith('pretrain_network_') and value and not osp.isfile(_resolve(value, root)):
            raise MissingInputError(f'path.{key} {value!r} does not exist; set it with --force_yml '
                                    f'path:{key}=<weights.pth> (or ~ to start from random weights).')
    _check_registered(opt)
    if any(isinstance(block, dict) and not phase.startswith('train')
           for phase, block in (opt.get('datasets') or {}).items()):
        check_lpips_weights((opt.get('val') or {}).get('metrics'), root)  # else no metric is ever computed
    if opt.get('model_type') == 'GSDDModel':
        from gsdd_basicsr.distill.options import parse_gsdd_options
        parse_gsdd_options(opt.get('gsdd'))


def _check_registered(opt):
    import basicsr.archs  # noqa: F401  (each fills its registry on import)
    import basicsr.data  # noqa: F401
    import basicsr.losses  # noqa: F401
    import basicsr.metrics  # noqa: F401
    import basicsr.models  # noqa: F401
    from basicsr.utils import registry
    named = [('model_type', opt.get('model_type'), registry.MODEL_REGISTRY)]
    named += [(f'{key}.type', block.get('type'), registry.ARCH_REGISTRY)
              for key, block in opt.items() if key.startswith('network_') and isinstance(block, dict)]
    named += [(f'datasets.{phase}.type', block.get('type'), registry.DATASET_REGISTRY)
              for phase, block in (opt.get('datasets') or {}).items() if isinstance(block, dict)]
    named += [(f'train.{key}.type', block.get('type'), registry.LOSS_REGISTRY)
              for key, block in (opt.get('train') or {}).items() if key.endswith('_opt') and isinstance(block, dict)]
    named += [(f'val.metrics.{key}.type', block.get('type'), registry.METRIC_REGISTRY)
              for key, block in ((opt.get('val') or {}).get('metrics') or {}).items() if isinstance(block, dict)]
    for key, name, reg in named:
        if name is not None and name not in reg and f'{name}_basicsr' not in reg:
            close = difflib.get_close_matches(str(name), list(reg.keys()), n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ''
            raise GSDDError(f'{key} {name!r} is not registered in BasicSR ({reg._name} registry); {hint}fix the '
                            'name, or import the package that registers it.')


def check_lpips_weights(metrics, root=None):
    """Every ``calculate_lpips`` entry of ``metrics`` (a ``val.metrics`` dict, or None) names an LPIPS network
    and finds its converted weights (its ``weights`` key, else :func:`gsdd_basicsr.weights.lpips.default_path`;
    relative paths from ``root``), else one line naming the key, the file and the commands that make it."""
    from gsdd_basicsr.weights import lpips as lpips_weights
    for name, block in (metrics or {}).items():
        if not isinstance(block, dict) or block.get('type') != 'calculate_lpips':
            continue
        net, weights = block.get('net', 'alex'), block.get('weights')
        lpips_weights.check_net(net, f'val.metrics.{name}.net',
                                f"set it with --force_yml val:metrics:{name}:net=<{'|'.join(lpips_weights.NETS)}>")
        lpips_weights.check_weights(net, weights and osp.expanduser(str(weights)), root,
                                    f'val.metrics.{name}' + ('.weights' if weights else ''),
                                    f', set --force_yml val:metrics:{name}:weights=<file>, or drop the metric with '
                                    f'--force_yml val:metrics:{name}=~')


def _resolve(path, root):
    return path if root is None or osp.isabs(path) else osp.join(root, path)


def _is_path_key(key):
    return key.startswith(('dataroot', 'meta_info')) or key in ('latents', 'pretrain_network_g')


def _check_dataset(block, keys, root, optional):
    lmdb = (block.get('io_backend') or {}).get('type') == 'lmdb'
    for key, value in block.items():
        if isinstance(value, dict):
            _check_dataset(value, keys + [key], root, optional)
            continue
        if not _is_path_key(key) or not value:
            continue
        for path in value if isinstance(value, (list, tuple)) else [value]:
            _check_path(str(path), keys + [key], root, optional, lmdb and key.startswith('dataroot'))
    if block.get('type') == 'ClassImageDataset' and not lmdb and block.get('class_mode', 'folder') == 'folder':
        from gsdd_basicsr.utils.image_io import list_class_folders
        list_class_folders(_resolve(str(block['dataroot_gt']), root))


def _check_path(path, keys, root, optional, lmdb):
    name = '.'.join(keys)
    full = _resolve(osp.expanduser(path), root)
    if not osp.exists(full):
        kind = 'folder' if keys[-1].startswith('dataroot') else 'file'
        drop = f", or drop the block with --force_yml {':'.join(keys[:2])}=~" if optional else ''
        raise MissingInputError(f"{name} '{path}' does not exist; set it with --force_yml "
                                f"{':'.join(keys)}=<{kind}>{drop}.")
    if lmdb or (osp.isdir(full) and full.rstrip('/').endswith('.lmdb')):
        from gsdd_basicsr.utils.lmdb_check import check_lmdb
        check_lmdb(full, name)
