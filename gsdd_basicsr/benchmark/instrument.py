"""The instrument check: does the training data matter to this benchmark's instrument?

A benchmark judges a data method only where data matters. With ``--val-root`` every row (bicubic and every
trained model) is also tested on val photos, never the test photos: the row's test options re-pointed there
(:func:`~gsdd_basicsr.benchmark.row_options.sr_val_options`), run in the row's folder as ``val_options.yml``
(console ``val.out``, BasicSR's log in ``results/<row>_val/``), figures in ``row.json`` as ``val_metrics``. A
finished row gets this test as a job of its own (:func:`run_val_jobs`, after the rows' jobs), so a finished
benchmark gains the check without retraining, and a failed val test never costs its row.

The report's check (:func:`instrument_check`, :func:`instrument_lines`): per budget, the full set minus the best
coreset on val and minus bicubic, paired by seed (:func:`~gsdd_basicsr.benchmark.seed_stats.paired_delta`); the
instrument can tell at a budget only where the full set beats the best coreset with the 95 % interval clear of
zero in the metric's good direction.
"""
from os import path as osp

import torch

from gsdd_basicsr.benchmark import basicsr_runs, training_sets
from gsdd_basicsr.benchmark.profiles import CORESETS, read_yaml
from gsdd_basicsr.benchmark.row_options import check_test_root, sr_val_options
from gsdd_basicsr.benchmark.seed_stats import ci, finite, fmt, paired_delta, stats
from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.utils.atomic import atomic_write_json
from gsdd_basicsr.utils.progress import progress

CHECK_METRICS = ('psnr', 'ssim', 'lpips')  # full-reference metrics (NIQE judges no training set against another)
LOWER_IS_BETTER = ('lpips', )
CAN_TELL, CANNOT_TELL = 'the instrument can tell', 'the instrument cannot tell at this budget'
log = progress('benchmark')


def check_val_root(root, test_root, scale):
    """``--val-root`` as an absolute path (None without one): a folder in the test layout
    (:func:`~gsdd_basicsr.benchmark.row_options.check_test_root`) other than ``test_root`` (absolute), else one
    line naming it."""
    if root is None:
        return None
    if not osp.isdir(root):
        raise MissingInputError(f'--val-root {root} is not a folder')
    if osp.abspath(root) == test_root:
        raise GSDDError(f'--val-root {root} is the --test-root: the instrument check must not see the test photos; '
                        'pass the val split (e.g. datasets/photo/val)')
    return check_test_root(root, '--val-root', scale)


def run_val_jobs(bench, rows):
    """The val test of every finished row (``[(row id, its row.json path)]``) not yet tested on ``bench.val_root``,
    one engine job each (:func:`val_job`).

    Returns:
        dict: ``{job name: Outcome}`` of the jobs that did not finish (bad input or failed).
    """
    todo = [(row_id, path) for row_id, path in rows if bench.val_root and osp.isfile(path)
            and training_sets.read_json(path).get('val_root') != bench.val_root]
    if not todo:
        return {}
    log(f'{len(todo)} finished rows not yet tested on --val-root {bench.val_root}: their val tests')
    outcomes = bench._engine().run([(f'val {row_id}', val_job, (bench, row_id, path, f'{k}/{len(todo)}'))
                                    for k, (row_id, path) in enumerate(todo, 1)])
    failures = {name: o for name, o in outcomes.items() if o.status != 'done'}
    for name, o in failures.items():
        log(f'{name}: {"bad input" if o.status == "bad_input" else "failed"}: {o.message}')
    return failures


def val_test(bench, row_id, row_dir, gpu=None):
    """A tested row's test on ``bench.val_root``: its ``test_options.yml`` re-pointed there, run in ``row_dir`` as
    ``val_options.yml`` (console ``val.out``) on ``gpu`` (a local slot; None: the job's). Nothing is trained: the
    test's weights file is read as it is.

    Returns:
        dict: ``val_root``, ``val_metrics`` (``{metric: value}``), ``val_seconds``, ``val_options``.
    """
    topt = read_yaml(osp.join(row_dir, 'test_options.yml'))
    weights = topt['path']['pretrain_network_g']
    if not osp.isfile(weights):
        raise MissingInputError(f'row {row_id}: its network {weights} is gone, so it cannot be tested on '
                                f'--val-root; delete {row_dir} to rerun the row, or drop --val-root')
    vopt = sr_val_options(bench.prof, topt, bench.val_root, bench.scale, bench.num_gpu)
    seconds = basicsr_runs.run('test', vopt, row_dir, 'val_options.yml', bench.child_env(gpu), console='val')
    metrics = basicsr_runs.test_metrics(basicsr_runs.find_log(osp.join(row_dir, 'results', vopt['name']), 'test'))
    return dict(val_root=bench.val_root, val_metrics=metrics, val_seconds=seconds,
                val_options=osp.join(row_dir, 'val_options.yml'))


def val_job(bench, row_id, row_json, pos, gpu):
    """A finished row's val job (``pos``: ``'k/n'`` of them): :func:`val_test` added to its ``row.json``
    (rewritten atomically; nothing else of the row changes)."""
    if bench.threads:
        torch.set_num_threads(int(bench.threads))
    res = training_sets.read_json(row_json)
    res.update(val_test(bench, row_id, osp.dirname(row_json), gpu))
    atomic_write_json(res, row_json)
    log(f'({pos}) {row_id}: val PSNR {res["val_metrics"]["psnr"]:.3f} ({res["val_seconds"]:.0f} s)')


def instrument_check(by_id, rows, config, budgets):
    """Does the training data matter to this instrument? On the val photos (each row's ``val_metrics``), per
    budget and network: the full set minus the best coreset of the budget (best: the highest mean on val, the
    lowest for LPIPS; chosen per metric) and the full set minus bicubic, paired by seed (:func:`paired_delta`).

    Returns:
        list[dict]: per budget and network with val figures: ``budget``, ``ipc``, ``net``, ``val_roots``,
        ``metrics`` = ``{metric: {best_coreset, full, coresets: {method: stats}, bicubic, full_minus_best_coreset,
        full_minus_bicubic, can_tell}}`` and ``verdict`` (one line: per metric, :data:`CAN_TELL` where the full
        set beats the best coreset with its 95 % interval clear of zero in the metric's good direction, else
        :data:`CANNOT_TELL`).
    """
    out, bicubic = [], (by_id.get('bicubic') or {}).get('val_metrics') or {}
    for b in budgets:
        for net in sorted({r['net'] for r in rows if r['net']}):
            full = [by_id.get(f'full__{net}__s{seed}') for seed in config['seeds']]
            coresets = {m: [by_id.get(f'{m}__{b["key"]}__{net}__s{seed}') for seed in config['seeds']]
                        for m in CORESETS}
            val = {m: [(r or {}).get('val_metrics') or {} for r in rs] for m, rs in coresets.items()}
            val['full'] = [(r or {}).get('val_metrics') or {} for r in full]
            entry = {'budget': b['key'], 'ipc': b['ipc'], 'net': net, 'metrics': {},
                     'val_roots': sorted({r['val_root'] for r in full + sum(coresets.values(), [])
                                          if r and r.get('val_root')})}
            for k in CHECK_METRICS:
                per = {m: stats([v.get(k) for v in vs]) for m, vs in val.items() if m != 'full'}
                per = {m: st for m, st in per.items() if st['n']}
                if not per or not stats([v.get(k) for v in val['full']])['n']:
                    continue
                sign = -1 if k in LOWER_IS_BETTER else 1
                best = max(per, key=lambda m: sign * per[m]['mean'])
                # paired by seed: a seed lacking either side drops out (paired_delta skips non-finite pairs)
                vs_best = paired_delta([v.get(k) for v in val['full']], [v.get(k) for v in val[best]])
                vs_bicubic = paired_delta([v.get(k) for v in val['full']], [bicubic.get(k)] * len(val['full']))
                interval = vs_best['ci95']
                entry['metrics'][k] = {'best_coreset': best, 'full': stats([v.get(k) for v in val['full']]),
                                       'coresets': per, 'bicubic': bicubic.get(k),
                                       'full_minus_best_coreset': vs_best, 'full_minus_bicubic': vs_bicubic,
                                       'can_tell': bool(interval) and min(sign * interval[0], sign * interval[1]) > 0}
            if entry['metrics']:
                entry['verdict'] = '; '.join(f'{k.upper()}: {CAN_TELL if m["can_tell"] else CANNOT_TELL}'
                                             for k, m in entry['metrics'].items())
                out.append(entry)
    return out


def instrument_lines(report, ipc_label):
    """``benchmark.md``'s "Instrument check (val photos)" section (empty without val figures); ``ipc_label(report,
    ipc)`` names a budget as the report's other tables do."""
    checks = report.get('instrument_check') or []
    if not checks:
        return []
    roots = sorted({root for c in checks for root in c['val_roots']})
    L = ['## Instrument check (val photos)', '',
         f'Does the training data matter to this instrument? Every row also tested on the val photos '
         f'({", ".join(f"`{r}`" for r in roots)}; never the test photos): the full set minus the best coreset of '
         'each budget (best: the highest mean on val, the lowest for LPIPS) and minus bicubic, paired by seed: '
         'mean ± std, 95 % t-interval of the mean. Where the full set does not beat the best coreset with the '
         'interval clear of zero, the instrument cannot tell training sets apart at that budget, and the test '
         'figures below cannot judge a data method there.', '',
         '| budget | net | metric | full (val) | best coreset (val) | full − best coreset | 95 % CI '
         '| bicubic (val) | full − bicubic | 95 % CI |', '| --- ' * 10 + '|']
    for c in checks:
        for k, m in c['metrics'].items():
            digits = 2 if k == 'psnr' else 4
            bic = f'{m["bicubic"]:.{digits}f}' if finite(m['bicubic']) else '–'
            best, vs_bic = m['full_minus_best_coreset'], m['full_minus_bicubic']
            L.append(f'| {ipc_label(report, c["ipc"])} | {c["net"]} | {k.upper()} | {fmt(m["full"], digits)} '
                     f'| {m["best_coreset"]} {fmt(m["coresets"][m["best_coreset"]], digits)} '
                     f'| {fmt(best, digits + 1)} | {ci(best, digits + 1)} '
                     f'| {bic} | {fmt(vs_bic, digits + 1)} | {ci(vs_bic, digits + 1)} |')
    L.append('')
    L += [f'- {ipc_label(report, c["ipc"])} ({c["net"]}): {c["verdict"]}' for c in checks]
    return L + ['']
