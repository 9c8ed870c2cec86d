"""The ``gsdd:`` block of a distillation options file: every key, its type, default and meaning.

This table is the single source of the GSDD-specific settings; ``GSDDModel`` reads its
settings only through :func:`parse_gsdd_options`, which refuses unknown keys and wrong types
with one message naming the key and the fix.
"""
from gsdd_basicsr.distill.acceleration import check_compile
from gsdd_basicsr.errors import GSDDError

# key: (accepted types, default, one-line meaning)
GSDD_OPTIONS = {
    'ipc': (int, 10, 'latents (distilled images) per class'),
    'latent_size': (int, 32, 'latent side p in LR pixels; the generated HR image is scale*p square'),
    'init': (str, 'inversion', 'inversion | real | noise: how latents start'),
    'inversion_iters': (int, 50, 'Adam steps of |G(z) - x|_1 for init: inversion'),
    'inversion_lr': (float, 0.01, 'learning rate of those steps'),
    'batch_real': (int, 64, 'real HR crops per class per step'),
    'batch_syn': ((int, type(None)), None, 'latents per class per step (null: all ipc)'),
    'lambda_reg': (float, 0.1, 'weight of the latent-homogeneity regulariser R'),
    'feature_space': ((str, list), 'dmconvnet', 'dmconvnet | teacher | frequency | both (= dmconvnet + teacher), or a '
                      'list of them: where distributions are matched (the losses add up)'),
    'match_groups': (int, 1, 'targets per class: 1 = one mean per class; k > 1 = k groups of latents, each matched to '
                     'the real images nearest to it (finer, subgroup-level targets)'),
    'match_residual': (bool, False, 'match the high-frequency residual x - up(down(x)) instead of the images'),
    'frequency': (dict, {}, 'FrequencyStatistics options (levels, patch) for the frequency space'),
    'embed': (dict, {}, 'DMConvNet options (num_feat, depth, norm, act, pool, return_layers)'),
    'teacher_layers': ((list, type(None)), None, 'generator module names for the teacher space (null: default)'),
    'augment': ((dict, type(None)), {}, 'SiameseAugment options (strategy, magnitudes); null disables it'),
    'val_crops': (int, 128, 'held-out real crops drawn (evenly over val images/classes) for val_dm'),
    'val_embed_draws': (int, 4, 'embedding networks averaged by the validation matching loss'),
    'grid_per_class': (int, 8, 'images per class row in the validation grid'),
    'prefetch': (bool, True, 'draw the next step\'s real crops in a background thread'),
    'amp': ((str, type(None)), 'none', 'none (or null) | bf16 | fp16: autocast for the generator, inversion and '
            'embedding passes (latents, Adam and the loss reduction stay float32)'),
    'bank_dtype': (str, 'float32', 'float32 | float16 | uint8: how latents_<iter>.pth stores the latents (training '
                   'states keep float32, so resuming is exact)'),
    'fuse_classes': (bool, False, 'render all classes\' latents in one generator call per step (faster on a '
                     'GPU; memory grows with the number of classes)'),
    'compile': ((bool, str), False, 'false | true (= generator) | generator | all: torch.compile the frozen generator '
                'the step renders with (all: and the embedding network); pays a compile time once per process'),
    'compile_backend': (str, 'inductor', 'torch.compile backend (inductor; eager / aot_eager check the wiring '
                        'cheaply)'),
    'cuda_graphs': (bool, False, 'with compile: CUDA graphs for the static-shape step (torch.compile mode '
                    'reduce-overhead; CUDA only)'),
    'channels_last': (bool, False, 'generator, embedder and their inputs in the channels-last memory format'),
}

INIT_MODES = ('inversion', 'real', 'noise')
FEATURE_SPACES = ('dmconvnet', 'teacher', 'frequency')
AMP_MODES = ('none', 'bf16', 'fp16')


def _as_tuple(types):
    return types if isinstance(types, tuple) else (types, )


def _type_name(types):
    return ' or '.join('null' if t is type(None) else t.__name__ for t in _as_tuple(types))


def parse_gsdd_options(block):
    """Validate a ``gsdd:`` block and fill in defaults.

    Args:
        block (dict | None): the block as read from YAML.

    Returns:
        dict: every key of ``GSDD_OPTIONS``.

    Raises:
        GSDDError: an unknown key, a wrong type or an out-of-range value.
    """
    block = dict(block or {})
    unknown = sorted(set(block) - set(GSDD_OPTIONS))
    if unknown:
        raise GSDDError(f'unknown key(s) gsdd.{", gsdd.".join(unknown)} in the options; valid keys: '
                        f'{", ".join(GSDD_OPTIONS)}.')
    out = {}
    for key, (types, default, _) in GSDD_OPTIONS.items():
        value = block.get(key, default)
        if isinstance(value, int) and float in _as_tuple(types):
            value = float(value)  # YAML writes 1 for 1.0
        # bool is an int subclass: refuse `ipc: true`
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
            raise GSDDError(f'gsdd.{key} must be {_type_name(types)}, got {value!r} ({type(value).__name__}); '
                            f'fix it in the options file.')
        out[key] = value
    for key in ('ipc', 'latent_size', 'batch_real', 'val_crops', 'val_embed_draws', 'grid_per_class',
                'match_groups'):
        if out[key] < 1:
            raise GSDDError(f'gsdd.{key} must be >= 1, got {out[key]}.')
    if out['inversion_iters'] < 0 or out['lambda_reg'] < 0:
        raise GSDDError('gsdd.inversion_iters and gsdd.lambda_reg must be >= 0.')
    if out['match_groups'] > (out['batch_syn'] or out['ipc']):
        raise GSDDError(f'gsdd.match_groups ({out["match_groups"]}) must not exceed the latents per class and step '
                        f'(batch_syn or ipc: {out["batch_syn"] or out["ipc"]}).')
    if out['batch_syn'] is not None and not 1 <= out['batch_syn'] <= out['ipc']:
        raise GSDDError(f'gsdd.batch_syn must be between 1 and ipc ({out["ipc"]}) or null, got {out["batch_syn"]}.')
    if out['init'] not in INIT_MODES:
        raise GSDDError(f'gsdd.init must be one of {", ".join(INIT_MODES)}, got {out["init"]!r}.')
    if out['amp'] is None:  # YAML and --force_yml read `none` as null
        out['amp'] = 'none'
    if out['amp'] not in AMP_MODES:
        raise GSDDError(f'gsdd.amp must be one of {", ".join(AMP_MODES)}, got {out["amp"]!r}.')
    if out['bank_dtype'] not in ('float32', 'float16', 'uint8'):
        raise GSDDError(f'gsdd.bank_dtype must be float32, float16 or uint8, got {out["bank_dtype"]!r}.')
    spaces = out['feature_space']
    spaces = ['dmconvnet', 'teacher'] if spaces == 'both' else [spaces] if isinstance(spaces, str) else spaces
    if not spaces or any(space not in FEATURE_SPACES for space in spaces) or len(set(spaces)) != len(spaces):
        raise GSDDError(f'gsdd.feature_space must be one of {", ".join(FEATURE_SPACES)}, both, or a list of distinct '
                        f'ones, got {out["feature_space"]!r}.')
    out['feature_space'] = tuple(spaces)
    out['compile'] = check_compile(out['compile'])
    if out['cuda_graphs'] and out['compile'] is None:
        raise GSDDError('gsdd.cuda_graphs: true needs gsdd.compile (true, generator or all): the graphs are captured '
                        'by torch.compile; set both or neither.')
    if out['cuda_graphs'] and out['compile_backend'] != 'inductor':
        raise GSDDError(f"gsdd.cuda_graphs: true needs gsdd.compile_backend: inductor (its reduce-overhead mode), got "
                        f"{out['compile_backend']!r}.")
    return out
