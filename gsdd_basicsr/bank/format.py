"""Latent banks, the output of distillation: the one owner of their file format.

:func:`build_latent_bank` makes one, :func:`save_latent_bank` validates and writes it atomically,
:func:`load_latent_bank` reads it safely and validates it (:mod:`gsdd_basicsr.bank.render` turns
latents into images, :mod:`gsdd_basicsr.bank.names` names them). A latent bank is a
``torch.save`` of a plain dict (loadable with ``weights_only=True``)::

    format       str                          'gsdd-latent-bank-v1'
    latents      float tensor N x 3 x p x p   the generator's inputs (LR-sized)
    labels       long tensor N                class index of each latent
    class_names  list[str]                    one name per class
    scale        int                          the generator's upscaling factor s
    network_g    dict                         BasicSR generator options, ``type`` included
    iter         int                          distillation iteration it was saved at
    latent_dtype str (optional)               how ``latents`` are stored: ``float32`` (default),
                                              ``float16``, or ``uint8`` with ``latent_range``
    latent_range float tensor 2 x 3           (uint8 only) per-channel [low; high] of the latents:
                                              stored ``q`` means ``low + q / 255 * (high - low)``
    pretrain_network_g  str (optional)        generator weights the bank was distilled with
    param_key_g         str (optional)        key of the state dict in that file

Other entries are allowed (kept by :func:`save_latent_bank` when they are plain tensors, numbers,
strings, lists or dicts).

Image ``i`` of a bank is ``HR_i = clamp(G(latents[i]), 0, 1)``, a ``3 x sp x sp`` image. Its
file name everywhere (exported folders, :class:`GANLatentDataset` paths) is
``<class>_<k:04d>.png`` where ``k`` counts the images of that class in bank order
(:func:`gsdd_basicsr.bank.names.bank_image_names`).
"""
import pickle
from os import path as osp

import numpy as np
import torch

from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.utils.atomic import atomic_torch_save
from gsdd_basicsr.utils.plain import to_plain

BANK_FORMAT = 'gsdd-latent-bank-v1'
REQUIRED_KEYS = ('format', 'latents', 'labels', 'class_names', 'scale', 'network_g', 'iter')
OPTIONAL_KEYS = ('pretrain_network_g', 'param_key_g')
LATENT_DTYPES = ('float32', 'float16', 'uint8')


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_safe(obj):
    if obj is None or isinstance(obj, (bool, int, float, str)) or torch.is_tensor(obj):
        return True
    if isinstance(obj, list):
        return all(_is_safe(v) for v in obj)
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _is_safe(v) for k, v in obj.items())
    return False


def generator_scale_option(network_g):
    """The upscaling factor written in generator options (``upscale`` or ``scale``), or None."""
    for key in ('upscale', 'scale'):
        if key in network_g and _is_int(network_g[key]):
            return int(network_g[key])
    return None


def validate_latent_bank(bank, where='latent bank'):
    """Check keys, types, shapes and finiteness of a bank dict.

    Args:
        bank (dict): the bank.
        where (str): what to call it in error messages (usually the file name).

    Returns:
        dict: a plain dict holding the validated entries (latents as float32, labels as int64).

    Raises:
        GSDDError: (a ``ValueError``) naming ``where`` and the problem.
    """

    def fail(msg):
        raise GSDDError(f'{where}: {msg}')

    if not isinstance(bank, dict):
        fail(f'wrong format: expected a dict with keys {list(REQUIRED_KEYS)}, got {type(bank).__name__}')
    missing = [k for k in REQUIRED_KEYS if k not in bank]
    if missing:
        fail(f'wrong format: missing key(s) {missing} (has {sorted(map(str, bank.keys()))})')

    if bank['format'] != BANK_FORMAT:
        fail(f"wrong format: 'format' is {bank['format']!r}, expected {BANK_FORMAT!r} (a bank written by "
             'GSDDModel or gsdd_basicsr.bank.format.save_latent_bank)')
    latents = _stored_latents(bank, fail)
    if not torch.is_tensor(latents) or not latents.is_floating_point():
        fail(f"'latents' must be a float tensor, got {type(latents).__name__}"
             f"{'' if not torch.is_tensor(latents) else ' of dtype ' + str(latents.dtype)}")
    if latents.ndim != 4 or latents.shape[1] != 3 or latents.shape[0] == 0 or min(latents.shape[2:]) < 1:
        fail(f"'latents' must have shape N x 3 x p x p with N >= 1, got {tuple(latents.shape)}")
    n = latents.shape[0]
    finite = torch.isfinite(latents.detach().float()).flatten(1).all(dim=1)
    if not bool(finite.all()):
        bad = (~finite).nonzero().flatten().tolist()
        fail(f"'latents' holds non-finite values (NaN or Inf) in {len(bad)} of {n} latents (first: index {bad[0]}); "
             'use an earlier latents_<iter>.pth of the run or distil again')

    labels = bank['labels']
    if not torch.is_tensor(labels) or labels.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        fail(f"'labels' must be a long tensor, got {type(labels).__name__}"
             f"{'' if not torch.is_tensor(labels) else ' of dtype ' + str(labels.dtype)}")
    if labels.ndim != 1 or labels.shape[0] != n:
        fail(f"'labels' must have shape ({n},) to match 'latents', got {tuple(labels.shape)}")

    class_names = bank['class_names']
    if (not isinstance(class_names, (list, tuple)) or not class_names
            or not all(isinstance(c, str) and c for c in class_names)):
        fail("'class_names' must be a non-empty list of non-empty strings")
    if len(set(class_names)) != len(class_names):
        fail(f"'class_names' has duplicates: {list(class_names)}")
    if int(labels.min()) < 0 or int(labels.max()) >= len(class_names):
        fail(f"'labels' must lie in [0, {len(class_names) - 1}] (one per class name), "
             f'got [{int(labels.min())}, {int(labels.max())}]')

    scale = bank['scale']
    if not _is_int(scale) or scale < 1:
        fail(f"'scale' must be a positive int, got {scale!r}")

    network_g = bank['network_g']
    if not isinstance(network_g, dict) or not isinstance(network_g.get('type'), str):
        fail("'network_g' must be a dict of BasicSR generator options with a 'type' string")
    opt_scale = generator_scale_option(network_g)
    if opt_scale is not None and opt_scale != scale:
        fail(f"scale mismatch: 'scale' is {scale} but network_g ({network_g['type']}) upscales by {opt_scale}")

    if not _is_int(bank['iter']):
        fail(f"'iter' must be an int, got {bank['iter']!r}")

    for key in OPTIONAL_KEYS:
        if bank.get(key) is not None and not isinstance(bank[key], str):
            fail(f"'{key}' must be a string or absent, got {type(bank[key]).__name__}")

    out = {k: v for k, v in bank.items() if k != 'latent_range'}
    out['latents'] = latents.detach().float()
    out['latent_dtype'] = bank.get('latent_dtype', 'float32')
    out['labels'] = labels.detach().long()
    out['class_names'] = list(class_names)
    out['scale'] = int(scale)
    out['iter'] = int(bank['iter'])
    out['network_g'] = to_plain(network_g)
    return out


def _stored_latents(bank, fail):
    """The float latents a bank stores, whatever ``latent_dtype`` it was saved with."""
    dtype = bank.get('latent_dtype', 'float32')
    if dtype not in LATENT_DTYPES:
        fail(f"'latent_dtype' must be one of {', '.join(LATENT_DTYPES)}, got {dtype!r}")
    latents = bank['latents']
    if not torch.is_tensor(latents) or latents.dtype != torch.uint8:
        return latents  # float latents (a loaded bank keeps its stored latent_dtype as information)
    rng = bank.get('latent_range')
    if dtype != 'uint8' or not torch.is_tensor(rng) or tuple(rng.shape) != (2, 3):
        fail("uint8 'latents' need latent_dtype 'uint8' and a 2 x 3 float 'latent_range'")
    low, high = rng.float().view(2, 1, 3, 1, 1)
    return low + latents.float() / 255 * (high - low)


def encode_latents(latents, latent_dtype):
    """Bank entries holding ``latents`` (N x 3 x p x p float) as ``latent_dtype``.

    ``float16`` halves the bytes; ``uint8`` quarters them with a per-channel affine map from the
    bank's own range (``latent_range``), so its error is at most ``(high - low) / 510`` per value.

    Returns:
        dict: ``latents``, ``latent_dtype`` and, for uint8, ``latent_range``.
    """
    if latent_dtype not in LATENT_DTYPES:
        raise GSDDError(f'latent dtype must be one of {", ".join(LATENT_DTYPES)}, got {latent_dtype!r}')
    latents = latents.detach().float().cpu()
    if latent_dtype == 'float32':
        return {'latents': latents.contiguous(), 'latent_dtype': 'float32'}
    if latent_dtype == 'float16':
        return {'latents': latents.half().contiguous(), 'latent_dtype': 'float16'}
    low = latents.amin(dim=(0, 2, 3))
    high = torch.maximum(latents.amax(dim=(0, 2, 3)), low + 1e-6)
    q = ((latents - low.view(1, 3, 1, 1)) / (high - low).view(1, 3, 1, 1) * 255).round_().clamp_(0, 255)
    return {'latents': q.to(torch.uint8).contiguous(), 'latent_dtype': 'uint8',
            'latent_range': torch.stack([low, high])}


def load_latent_bank(path):
    """Load and validate a latent bank file (safely: ``weights_only=True``).

    Raises:
        MissingInputError: no such file (a ``FileNotFoundError``).
        GSDDError: (a ``ValueError``) naming the file and the problem (not a torch file, needs arbitrary
            unpickling, wrong keys / types / shapes, non-finite latents, scale mismatch).
    """
    if not osp.isfile(path):
        raise MissingInputError(f'latent bank {path} does not exist')
    try:
        bank = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise GSDDError(f'latent bank {path}: refusing to load, it needs arbitrary unpickling (objects other '
                         f'than tensors, numbers, strings, lists and dicts): {first[:300]}. Re-save it as a plain '
                         'dict with gsdd_basicsr.bank.format.save_latent_bank.') from err
    except Exception as err:  # truncated zip, not a torch file, ...
        raise GSDDError(f'latent bank {path}: not a readable torch file ({type(err).__name__}: '
                         f'{str(err).strip().splitlines()[0][:300] if str(err).strip() else ""})') from err
    return validate_latent_bank(bank, where=f'latent bank {path}')


def build_latent_bank(latents, labels, class_names, scale, network_g, iteration, **extra):
    """A bank dict in this module's format.

    Args:
        latents (Tensor): N x 3 x p x p float latents (copied to the CPU).
        labels (Tensor): N class indices.
        class_names (list[str]): one name per class.
        scale (int): the generator's upscaling factor.
        network_g (dict): BasicSR options of the generator, ``type`` included.
        iteration (int): distillation iteration.
        **extra: optional keys (``pretrain_network_g``, ``param_key_g``) and plain extra entries
            (e.g. the distillation settings).

    Returns:
        dict: a bank :func:`save_latent_bank` accepts.
    """
    return {'format': BANK_FORMAT, 'latents': latents.detach().to('cpu', copy=True), 'labels': labels.clone(),
            'class_names': list(class_names), 'scale': int(scale), 'network_g': to_plain(network_g),
            'iter': int(iteration), **extra}


def save_latent_bank(bank, path, latent_dtype=None):
    """Validate ``bank`` and write it atomically (:func:`gsdd_basicsr.utils.atomic.atomic_torch_save`:
    temporary file in the same folder, then ``os.replace``), as a plain dict that
    :func:`load_latent_bank` reads back (latents as float32 whatever they were stored as).

    Args:
        latent_dtype (str | None): ``float32`` | ``float16`` | ``uint8`` (:func:`encode_latents`);
            default the bank's own ``latent_dtype`` (float32 for a new bank).

    Raises:
        GSDDError: the bank is invalid or holds an entry that would need arbitrary unpickling.
    """
    bank = validate_latent_bank(bank, where=f'latent bank for {path}')
    plain = {
        'format': BANK_FORMAT,
        **encode_latents(bank['latents'], latent_dtype or bank['latent_dtype']),
        'labels': bank['labels'].detach().cpu().contiguous(),
        'class_names': [str(c) for c in bank['class_names']],
        'scale': int(bank['scale']),
        'network_g': to_plain(bank['network_g']),
        'iter': int(bank['iter']),
    }
    for key in OPTIONAL_KEYS:
        if bank.get(key) is not None:
            plain[key] = str(bank[key])
    for key, value in bank.items():  # extra entries (e.g. distillation settings) are kept if plain
        if key not in plain and key not in OPTIONAL_KEYS and key != 'latent_range':
            value = to_plain(value)
            if not _is_safe(value):
                raise GSDDError(f'latent bank for {path}: entry {key!r} is not a plain tensor / number / string / '
                                 'list / dict and would need arbitrary unpickling')
            plain[str(key)] = value
    atomic_torch_save(plain, path, 'latent bank')
    return path
