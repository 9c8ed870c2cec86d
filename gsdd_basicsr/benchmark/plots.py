"""The benchmark's plots, drawn with matplotlib (Agg: no display needed)."""
import math
import os
from os import path as osp

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from gsdd_basicsr.benchmark.profiles import CORESETS  # noqa: E402
from gsdd_basicsr.utils.atomic import atomic_write  # noqa: E402


def _save(fig, path):
    try:
        return atomic_write(path, lambda f: fig.savefig(f, format='png', dpi=110, bbox_inches='tight'), binary=True,
                            what='plot')
    finally:
        plt.close(fig)


def _first_net(report):
    return next(iter(report['config']['profile_settings']['sr_nets']))


def _label(method, budget=None):
    return method + (f' IPC {budget["ipc"]}' if budget else '')


def psnr_vs_budget(report, path):
    """Test PSNR against the budget (% of the real HR pixels), std error bars: a solid line for GSDD and
    each coreset, a dotted one (or a single point) for every other method (ablations, levers, other
    generators), one legend entry per method; full set and bicubic as dashed horizontal lines. With a
    single budget, one point per method along the x axis instead."""
    net = _first_net(report)
    summary = [e for e in report['summary'] if e.get('psnr', {}).get('n') and e['net'] in (net, None)]
    fig, ax = plt.subplots(figsize=(8, 5))
    lines = ['gsdd'] + list(CORESETS)
    budgeted = lines + sorted({e['method'] for e in summary if e['budget'] and e['method'] not in lines})
    one_budget = len({e['budget']['key'] for e in summary if e['budget']}) == 1
    if one_budget:  # a point per method along the x axis, not every row stacked at one x
        es = sorted((e for e in summary if e['budget']), key=lambda e: budgeted.index(e['method']))
        ax.errorbar(range(len(es)), [e['psnr']['mean'] for e in es], yerr=[e['psnr']['std'] for e in es],
                    marker='o', linestyle='none', capsize=4, color='C0', label=f'IPC {es[0]["budget"]["ipc"]}')
        ax.set_xticks(range(len(es)), [e['method'] for e in es], rotation=45, ha='right')
    else:
        for m in budgeted:
            es = sorted((e for e in summary if e['method'] == m and e['budget']),
                        key=lambda e: e['budget']['fraction'])
            if es:
                main = m in lines
                ax.errorbar([100 * e['budget']['fraction'] for e in es], [e['psnr']['mean'] for e in es],
                            yerr=[e['psnr']['std'] for e in es], marker='o' if main else 's', capsize=4, label=m,
                            linestyle='-' if main else ':', linewidth=2.5 if m == 'gsdd' else 1.5 if main else 1)
    for e in summary:
        if e['method'] in ('full', 'bicubic'):
            ax.axhline(e['psnr']['mean'], linestyle='--', color='k' if e['method'] == 'full' else 'grey',
                       label=f'{e["method"]} ({e["psnr"]["mean"]:.2f} dB)')
    ax.set(title=f'Test PSNR {"per method" if one_budget else "vs budget"} ({net}; error bars: std over seeds)',
           ylabel='PSNR, Y channel (dB)', xlabel='method' if one_budget else 'budget: % of the real HR pixels')
    ax.grid(alpha=0.3)
    ax.legend(loc='center left', bbox_to_anchor=(1.01, 0.5), fontsize=8)
    return _save(fig, path)


def val_psnr_vs_time(report, path):
    """Validation PSNR against training wall time (validation excluded): seed 0, the variant budget."""
    net, seed = _first_net(report), report['config']['seeds'][0]
    prof, budgets = report['config']['profile_settings'], report['budgets']
    abl = budgets[min(prof['variant_budget'], len(budgets) - 1)]['key'] if budgets else None
    fig, ax = plt.subplots(figsize=(8, 5))
    for r in report['rows']:
        if r['net'] == net and r['seed'] == seed and r['curve'] and (r['budget'] is None or r['budget']['key'] == abl):
            ax.plot([c[1] for c in r['curve']], [c[2] for c in r['curve']], marker='o', markersize=3,
                    label=_label(r['method'], r['budget']))
    for r in report['rows']:
        if r['method'] == 'bicubic':
            ax.axhline(r['metrics']['psnr'], linestyle='--', color='grey', label='bicubic')
    ax.set(title=f'Validation PSNR on the test set vs training time ({net}, seed {seed})',
           xlabel='training wall time, validation excluded (s)', ylabel='PSNR, Y channel (dB)')
    ax.grid(alpha=0.3)
    ax.legend(loc='center left', bbox_to_anchor=(1.01, 0.5), fontsize=8)
    return _save(fig, path)


def val_dm_vs_step(report, path):
    """Each distillation's val_dm over its steps, relative to its first validation (mean over seeds):
    the spaces differ in scale, so the curves show where each flattens, not which is lower."""
    curves = {}
    for r in report['rows']:
        c = r.get('val_dm_curve') or []
        if c and c[0][1] > 0 and r['net'] == _first_net(report):
            curves.setdefault(_label(r['method'], r['budget']), []).append({i: v / c[0][1] for i, v in c})
    fig, ax = plt.subplots(figsize=(8, 5))
    for label, runs in sorted(curves.items()):
        steps = sorted(set.intersection(*(set(run) for run in runs)))
        ax.plot(steps, [sum(run[i] for run in runs) / len(runs) for i in steps], marker='o', markersize=3,
                label=f'{label} ({len(runs)} seeds)')
    ax.set(title='Distillation: val_dm relative to its first validation (mean over seeds)',
           xlabel='distillation step', ylabel='val_dm / val_dm at the first validation')
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(loc='center left', bbox_to_anchor=(1.01, 0.5), fontsize=8)
    return _save(fig, path)


def restorations(report, path, crop=96, per_row=6):
    """The first test image's centre crop as each row (seed 0) restores it, next to the HR crop."""
    import cv2
    hr_dir = osp.join(report['config']['test_root'], 'HR')
    name = sorted(n for n in os.listdir(hr_dir) if not n.startswith('.'))[0]
    seed = report['config']['seeds'][0]
    tiles = [('HR', name, cv2.imread(osp.join(hr_dir, name), cv2.IMREAD_COLOR))]
    for r in report['rows']:
        img = cv2.imread(r['restored'], cv2.IMREAD_COLOR) if r.get('restored') and osp.isfile(r['restored']) else None
        if r['seed'] in (None, seed) and img is not None:
            tiles.append((_label(r['method'], r['budget']) + (f' ({r["net"]})' if r['net'] else ''),
                          f'test PSNR {r["metrics"]["psnr"]:.2f} dB', img))
    h, w = tiles[-1][2].shape[:2]  # the restorations' size (the HR is cropped to it by the LR's size)
    c = min(crop, h, w)
    y, x = (h - c) // 2, (w - c) // 2
    rows = math.ceil(len(tiles) / per_row)
    fig, axes = plt.subplots(rows, per_row, figsize=(2.2 * per_row, 2.5 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis('off')
    for ax, (title, sub, img) in zip(axes.flat, tiles):
        ax.imshow(img[y:y + c, x:x + c, ::-1], interpolation='nearest')
        ax.set_title(f'{title}\n{sub}', fontsize=7)
    fig.suptitle(f'{name}: centre {c} px crop (PSNR over the whole test set)', fontsize=9)
    return _save(fig, path)
