"""Benchmark profiles: YAML files naming the options files every row runs, plus overrides.

A profile (``options/benchmark/{smoke,cpu,paper}.yml``, or any file of that form) holds::

    distill:  {options: <gsdd_distill_*.yml>, overrides: {...}, drop: [dotted.key, ...]}
    sr_nets:  {<net name>: {options: {distilled: <yml>, coreset: <yml>, full: <yml>} | <yml>,
                            overrides: {...}, drop: [...], curve_metrics: [...], keep_pretrain: bool}}
    test:     {options: <gsdd_test_*.yml>, overrides: {...}}
    budgets, ablation_budget, coresets, ablations, generators, generator_seeds,
    variants, variant_budget, kmeans_classes, scale, threads, description

``curve_metrics`` names validation metrics of the options file kept in the training curve (e.g. ``lpips``);
``keep_pretrain: true`` fine-tunes: every row of that network starts from the options file's
``path.pretrain_network_g`` (default: from scratch).

``variants`` maps a row name (``gsdd-<what>``) to ``{overrides: {...}, drop: [...]}`` applied to the
distillation options after the profile's own (a lever under test: another matching space, generator,
step count...), each distilled and trained at ``variant_budget``, as are the ``generators`` rows
(default: the ablation budget, or the first budget when that is ``all``). ``ablations`` names variants
of the same form defined once in ``options/benchmark/ablations.yml`` (:data:`ABLATIONS_FILE`), run at
``ablation_budget`` (an index into ``budgets`` or ``all``). A variant's or ablation's overrides say ``'{scale}'``
where the profile's ``scale`` belongs (:mod:`gsdd_basicsr.benchmark.row_options` fills it in).

``overrides`` merge recursively into the options (a dict merges key by key, anything else
replaces); ``drop`` removes dotted keys. Options paths are resolved against the current folder,
then :data:`SHIPPED_ROOT` (the checkout, or the installed package's copy of ``options/``).
"""
import copy
import os
from os import path as osp

import yaml

from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.utils.plain import to_plain

PACKAGE = osp.dirname(osp.dirname(osp.abspath(__file__)))
# the folder that holds the shipped options/: inside the package when installed from a wheel (setup.py's build_py
# copies options/ there), the checkout otherwise (a source tree or ``pip install -e .``)
SHIPPED_ROOT = PACKAGE if osp.isdir(osp.join(PACKAGE, 'options')) else osp.dirname(PACKAGE)
PROFILE_DIR = osp.join(SHIPPED_ROOT, 'options', 'benchmark')
CORESETS = ('random', 'informative', 'kcenter')
ABLATIONS_FILE = osp.join(PROFILE_DIR, 'ablations.yml')  # the shipped ablations: variant definitions
TRAIN_SET_KINDS = ('distilled', 'coreset', 'full')
REQUIRED = ('distill', 'sr_nets', 'test', 'budgets')
DEFAULTS = dict(description='', scale=4, threads=None, ablation_budget=0, coresets=list(CORESETS), ablations=[],
                generators=[], generator_seeds=None, variants={}, variant_budget=None, kmeans_classes=4)


def builtin_profiles():
    """Names of the profiles shipped in ``options/benchmark/``."""
    if not osp.isdir(PROFILE_DIR):
        return []
    return sorted(osp.splitext(n)[0] for n in os.listdir(PROFILE_DIR)
                  if n.endswith('.yml') and osp.join(PROFILE_DIR, n) != ABLATIONS_FILE)


def resolve_path(path, what):
    """An options path as given, relative to the current folder, else to :data:`SHIPPED_ROOT` (``options/...``)."""
    for candidate in (osp.abspath(path), osp.join(SHIPPED_ROOT, path)):
        if osp.isfile(candidate):
            return candidate
    raise MissingInputError(f'{what}: {path} not found (relative paths are tried against the current folder '
                            f'and the shipped options\' root {SHIPPED_ROOT})')


def read_yaml(path):
    """A YAML options file as plain dicts (BasicSR's loader: ``!!float``, ordered keys)."""
    from basicsr.utils.options import ordered_yaml
    with open(path) as f:
        try:
            data = yaml.load(f, Loader=ordered_yaml()[0])
        except yaml.YAMLError as err:
            raise GSDDError(f'{path} is not valid YAML: {err}') from None
    return to_plain(data)


def merge(base, overrides):
    """``base`` with ``overrides`` merged in recursively (a new dict; dicts merge, the rest replaces)."""
    out = copy.deepcopy(base)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def drop(opt, keys):
    """Remove dotted ``keys`` (e.g. ``datasets.val``) from ``opt`` in place; absent keys are ignored."""
    for dotted in keys or ():
        *parents, last = dotted.split('.')
        node = opt
        for p in parents:
            node = node.get(p) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return opt


def read_override(override):
    """An override (``--override``): ``None``, a dict, or a YAML file of profile settings -> dict."""
    if override is None or isinstance(override, dict):
        return override
    path = resolve_path(override, '--override')
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise GSDDError(f'--override {override}: expected a mapping of profile settings')
    return data


def load_profile(profile, override=None):
    """A profile's settings: ``profile`` is a shipped name (``smoke``) or a path to a YAML file;
    ``override`` (a dict or a YAML file of the same form, e.g. a smoke-sized version of a GPU profile)
    is merged onto it (:func:`merge`) before anything is checked.

    Returns a dict with every key of :data:`DEFAULTS` and :data:`REQUIRED`, ``name``, ``path``,
    ``override`` (the override as merged, or None) and the options paths made absolute.
    """
    path = osp.join(PROFILE_DIR, f'{profile}.yml') if profile in builtin_profiles() else profile
    if not osp.isfile(path):
        raise MissingInputError(f'--profile {profile}: neither a shipped profile ({", ".join(builtin_profiles())}) '
                                'nor a YAML file')
    prof = read_yaml(path)
    if not isinstance(prof, dict):
        raise GSDDError(f'profile {path}: expected a mapping of settings')
    extra = read_override(override)
    prof = merge(prof, extra)
    where = f'profile {path}' + (f' with --override {override}' if extra and not isinstance(override, dict) else '')
    missing = [k for k in REQUIRED if k not in prof]
    unknown = sorted(set(prof) - set(REQUIRED) - set(DEFAULTS))
    if missing or unknown:
        raise GSDDError(f'{where}: ' + '; '.join(
            ([f'missing {", ".join(missing)}'] if missing else []) + ([f'unknown keys {", ".join(unknown)}'] if unknown
                                                                      else [])))
    prof = merge(DEFAULTS, prof)
    prof['name'] = osp.splitext(osp.basename(path))[0]
    prof['path'] = osp.abspath(path)
    prof['override'] = extra
    prof['distill']['options'] = resolve_path(prof['distill']['options'], f'{where}: distill.options')
    prof['test']['options'] = resolve_path(prof['test']['options'], f'{where}: test.options')
    if not prof['sr_nets']:
        raise GSDDError(f'{where}: sr_nets is empty; name at least one SR network and its training options')
    for net, spec in prof['sr_nets'].items():
        opts = spec.get('options')
        if isinstance(opts, str):
            opts = {kind: opts for kind in TRAIN_SET_KINDS}
        if not isinstance(opts, dict) or sorted(opts) != sorted(TRAIN_SET_KINDS):
            raise GSDDError(f'{where}: sr_nets.{net}.options must be one options file or one per kind of '
                            f'training set ({", ".join(TRAIN_SET_KINDS)})')
        spec['options'] = {k: resolve_path(v, f'{where}: sr_nets.{net}.options.{k}') for k, v in opts.items()}
    bad = [m for m in prof['coresets'] if m not in CORESETS]
    if bad:
        raise GSDDError(f'{where}: unknown coresets {", ".join(bad)}; choose from {", ".join(CORESETS)}')
    shipped = shipped_ablations()
    if not isinstance(prof['ablations'], list):
        raise GSDDError(f'{where}: ablations must be a list of names defined in {ABLATIONS_FILE}, '
                        f'got {prof["ablations"]!r}')
    bad = [str(m) for m in prof['ablations'] if m not in shipped]
    if bad:
        raise GSDDError(f'{where}: unknown ablations {", ".join(bad)}; choose from {", ".join(shipped)} (defined in '
                        f'{ABLATIONS_FILE}) or make it one of the profile\'s variants')
    if not prof['budgets'] or not all(isinstance(b, (int, float)) and 0 < b <= 1 for b in prof['budgets']):
        raise GSDDError(f'{where}: budgets must be fractions in (0, 1] of the real HR pixels, got {prof["budgets"]}')
    _check_budget_index(prof, 'ablation_budget', where, allow_all=True)
    if prof['variant_budget'] is None:
        prof['variant_budget'] = 0 if prof['ablation_budget'] == 'all' else prof['ablation_budget']
    _check_budget_index(prof, 'variant_budget', where, allow_all=False)
    _check_variants(prof['variants'], f'{where}: variants')
    taken = set(shipped) | {f'gsdd-{g}' for g in prof['generators']} | {'gsdd'}
    bad = [n for n in prof['variants'] if not str(n).startswith('gsdd-') or n in taken or '__' in str(n)]
    if bad:
        raise GSDDError(f'{where}: variant names must start with "gsdd-", hold no "__" and differ from the '
                        f'ablations and generators; rename {", ".join(map(str, bad))}')
    return prof


def shipped_ablations():
    """The ablations a profile may name: row name -> ``{overrides, drop}`` from :data:`ABLATIONS_FILE`."""
    ablations = read_yaml(ABLATIONS_FILE)
    _check_variants(ablations, ABLATIONS_FILE)
    return ablations


def _check_variants(variants, where):
    if not isinstance(variants, dict) or not all(isinstance(v, dict) and set(v) <= {'overrides', 'drop'}
                                                 for v in variants.values()):
        raise GSDDError(f'{where} must map row names to {{overrides: {{...}}, drop: [...]}}, e.g. '
                        '{gsdd-teacher: {overrides: {gsdd: {feature_space: teacher}}}}')


def _check_budget_index(prof, key, where, allow_all):
    value, n = prof[key], len(prof['budgets'] or [])
    if allow_all and value == 'all':
        return
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < n:
        raise GSDDError(f'{where}: {key} must be an index into budgets (0..{n - 1})'
                        + (' or all' if allow_all else '') + f', got {value!r}')
