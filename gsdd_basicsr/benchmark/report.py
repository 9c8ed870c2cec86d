"""The benchmark's figures: per-method summaries over seeds, paired GSDD deltas, ``benchmark.md`` (with the
instrument check of :mod:`.instrument`); the statistics themselves are :mod:`.seed_stats`'s.
"""
import os
import platform
import subprocess
import sys
from os import path as osp

from gsdd_basicsr.benchmark.profiles import CORESETS, PACKAGE
from gsdd_basicsr.benchmark.seed_stats import ci, finite, fmt, paired_delta, stats
from gsdd_basicsr.utils.atomic import atomic_write_json, atomic_write_text


def _first_reaching(curve, target):
    """The first ``[iter, seconds, psnr]`` validation with PSNR >= ``target`` (None if never or no target)."""
    if not finite(target):
        return None
    return next((c for c in curve if finite(c[2]) and c[2] >= target - 1e-9), None)


def time_to_reach(curve, target):
    """Training seconds at the first validation with PSNR >= ``target`` (None if never or no target)."""
    hit = _first_reaching(curve, target)
    return hit[1] if hit else None


def machine_info(threads):
    import basicsr
    import torch
    from gsdd_basicsr.version import __version__
    try:
        commit = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=PACKAGE, capture_output=True, text=True,
                                timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {'platform': platform.platform(), 'python': sys.version.split()[0], 'cpu_count': os.cpu_count(),
            'processor': platform.processor(), 'torch': torch.__version__, 'torch_threads': torch.get_num_threads(),
            'threads_setting': threads,
            'basicsr': getattr(basicsr, '__version__', None), 'gsdd_basicsr': __version__, 'git_commit': commit,
            'cuda': torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def _gsdd_reference(by_id, r, largest):
    bkey = r['budget']['key'] if r['budget'] else largest
    return by_id.get(f'gsdd__{bkey}__{r["net"]}__s{r["seed"]}')


def _val_dm_curve(distill_options):
    from gsdd_basicsr.benchmark.basicsr_runs import find_log, val_dm_curve
    if not distill_options or not osp.isdir(osp.dirname(distill_options)):
        return []
    try:
        return val_dm_curve(find_log(osp.dirname(distill_options), 'train'))
    except RuntimeError:  # no log kept
        return []


def build_report(rows, config, budgets, real_stats, num_classes, layout):
    """Every figure of the run as one JSON-able dict (rows, summary per method, paired deltas, instrument check)."""
    from gsdd_basicsr.benchmark import instrument
    by_id = {r['id']: r for r in rows}
    largest = budgets[-1]['key'] if budgets else None
    for r in rows:  # the distillation's val_dm curve, from its BasicSR log
        r['val_dm_curve'] = _val_dm_curve(r.get('distill_options'))
    for r in rows:  # when each row reaches the final PSNR of the GSDD row of its budget, net and seed
        g = None if r['method'] == 'bicubic' else _gsdd_reference(by_id, r, largest)
        r['gsdd_reference'] = g['id'] if g else None
        r['time_to_gsdd_psnr'] = time_to_reach(r['curve'], g['metrics']['psnr']) if g else None
    groups = {}
    for r in rows:
        groups.setdefault((r['method'], r['budget']['key'] if r['budget'] else None, r['net']), []).append(r)
    summary = []
    for (method, _, net), rs in groups.items():
        st = rs[0]['storage'] or {}
        metric_names = sorted({k for r in rs for k in r['metrics']})
        entry = {'method': method, 'budget': rs[0]['budget'], 'net': net, 'seeds': [r['seed'] for r in rs],
                 'train_seconds': stats([r['train_seconds'] for r in rs]),
                 'distill_seconds': stats([r['distill_seconds'] for r in rs]),
                 'time_to_gsdd_psnr': stats([r['time_to_gsdd_psnr'] for r in rs]),
                 'reached_gsdd_psnr': sum(r['time_to_gsdd_psnr'] is not None for r in rs),
                 'num_images': st.get('num_images'), 'hr_png_bytes': st.get('hr_png_bytes'),
                 'latent_bank_bytes': st.get('latent_bank_bytes'),
                 'bank_plus_generator_bytes': st.get('bank_plus_generator_bytes')}
        entry.update({m: stats([r['metrics'].get(m) for r in rs]) for m in metric_names})
        stored = entry['latent_bank_bytes'] if entry['latent_bank_bytes'] is not None else entry['hr_png_bytes']
        entry['stored_bytes'] = stored
        entry['stored_to_real_bytes'] = stored / real_stats['bytes'] if stored is not None else None
        entry['hr_png_to_real_bytes'] = (entry['hr_png_bytes'] / real_stats['bytes']
                                         if entry['hr_png_bytes'] is not None else None)
        entry['bank_plus_generator_to_real_bytes'] = {k: v / real_stats['bytes'] for k, v in
                                                      (entry['bank_plus_generator_bytes'] or {}).items()} or None
        summary.append(entry)
    deltas = _paired_deltas(by_id, rows, config, budgets)
    speedup = _training_speedup(by_id, rows, config, budgets)
    return {'config': config, 'machine': machine_info(config.get('threads')), 'real_set': real_stats,
            'num_classes': num_classes, 'class_mode': layout[0], 'class_names': layout[1], 'budgets': budgets,
            'summary': summary, 'gsdd_minus': deltas, 'speedup': speedup,
            'instrument_check': instrument.instrument_check(by_id, rows, config, budgets), 'rows': rows}


def _distilled_methods(rows):
    """The GSDD configurations under test: every distilled row's method except the bare initialisation."""
    found = {r['method'] for r in rows if r['method'].startswith('gsdd') and r['method'] != 'gsdd-real-init'}
    return ['gsdd'] * ('gsdd' in found) + sorted(found - {'gsdd'})


def _paired_deltas(by_id, rows, config, budgets):
    """Each GSDD configuration minus each baseline of its budget (coresets, the full set, the bank before
    distillation, and for the variants the default ``gsdd``), paired by seed."""
    deltas = []
    for b in budgets:
        for net in sorted({r['net'] for r in rows if r['net']}):
            for method in _distilled_methods(rows):
                versus = CORESETS + ('full', 'gsdd-real-init') + (('gsdd', ) if method != 'gsdd' else ())
                for m in versus:
                    pairs = []
                    for seed in config['seeds']:
                        g = by_id.get(f'{method}__{b["key"]}__{net}__s{seed}')
                        c = by_id.get(f'full__{net}__s{seed}' if m == 'full' else f'{m}__{b["key"]}__{net}__s{seed}')
                        if g and c:
                            pairs.append((g['metrics'], c['metrics']))
                    if pairs:
                        d = {'budget': b['key'], 'ipc': b['ipc'], 'net': net, 'method': method, 'versus': m}
                        for k in ('psnr', 'ssim', 'lpips'):
                            d[k] = paired_delta([p[0].get(k) for p in pairs], [p[1].get(k) for p in pairs])
                        d['gsdd_wins'] = sum(x > 0 for x in d['psnr']['diffs'])
                        d['gsdd_wins_lpips'] = sum(x < 0 for x in d['lpips']['diffs'])  # lower is better
                        deltas.append(d)
    return deltas


def _training_speedup(by_id, rows, config, budgets):
    """The paper's training-time claim per budget, paired by seed: the full set's training until its
    validation PSNR reaches the GSDD row's final PSNR, over the GSDD row's own training, in wall seconds
    (``ratio``) and in iterations (``iteration_ratio``: the same network, batch and crop cost the same per
    iteration, and rows run side by side share the CPU unevenly). A full row that never gets there gives
    only lower bounds: its whole training over GSDD's."""
    out = []
    for b in budgets:
        for net in sorted({r['net'] for r in rows if r['net']}):
            ratios, iter_ratios, bounds, iter_bounds = [], [], [], []
            for seed in config['seeds']:
                g, f = by_id.get(f'gsdd__{b["key"]}__{net}__s{seed}'), by_id.get(f'full__{net}__s{seed}')
                if not (g and f and g['train_seconds'] and g['curve'] and f['curve']):
                    continue
                target, g_iters = g['metrics']['psnr'], g['curve'][-1][0]
                hit = _first_reaching(f['curve'], target)
                if hit is None:
                    bounds.append(f['train_seconds'] / g['train_seconds'])
                    iter_bounds.append(f['curve'][-1][0] / g_iters)
                else:
                    ratios.append(hit[1] / g['train_seconds'])
                    iter_ratios.append(hit[0] / g_iters)
            if ratios or bounds:
                out.append({'budget': b['key'], 'ipc': b['ipc'], 'net': net, 'ratio': stats(ratios),
                            'iteration_ratio': stats(iter_ratios), 'reached': len(ratios),
                            'never_reached_lower_bounds': bounds, 'never_reached_iteration_bounds': iter_bounds})
    return out


def ipc_label(report, ipc):
    """``'IPC 5 per class'`` where the classes are folders (every row, coresets included, holds 5 images of
    each class), ``'IPC 5'`` for k-means pseudo-classes (the coresets then choose IPC x K over the whole set)."""
    return f'IPC {ipc} per class' if report.get('class_mode') == 'folder' else f'IPC {ipc}'


def budget_legend(report):
    """The line under ``benchmark.md``'s header that says what IPC means for every row."""
    k = report.get('num_classes')
    if report.get('class_mode') == 'folder':
        return (f'- budget: IPC n = n images per class for every row ({k} class folders, so {k} x n images): GSDD '
                'distils n latents per class, each coreset chooses n crops within each class')
    return (f'- budget: IPC n = n images per k-means pseudo-class for the GSDD rows ({k} pseudo-classes); the '
            f'coresets, which know no classes here, choose {k} x n crops over the whole set')


def _budget_label(entry, report):
    b, images = entry['budget'], entry.get('num_images')
    if b:
        return f'{ipc_label(report, b["ipc"])} ({b["images"]} img, {100 * b["fraction"]:.1f}%)'
    return f'all ({images} img)' if images else '–'


def _header(report):
    cfg, mach, real = report['config'], report['machine'], report['real_set']
    L = [f'# GSDD benchmark ({cfg["profile"]})', '']
    if not report['complete']:
        L += [f'**Partial report**: {len(report["rows_missing"])} rows not computed: '
              + ', '.join(report['rows_missing']), '']
    if cfg.get('first_command') and cfg['first_command'] != cfg.get('command'):
        L += [f'- command that computed the rows: `{cfg["first_command"]}`',
              f'- this report written by: `{cfg.get("command") or ""}`']
    else:
        L.append(f'- command: `{cfg.get("command") or ""}`')
    L.append(f'- profile: `{cfg["profile_path"]}`; every row\'s resolved options: `rows/<row>/train_options.yml`, '
             '`test_options.yml` (rerun: `cd rows/<row> && python -m gsdd_basicsr.train -opt train_options.yml`)')
    L.append(f'- real set: `{cfg["train_root"]}`: {real["num_images"]} images, {real["num_pixels"]:,} HR pixels, '
             f'{real["bytes"]:,} bytes; {report["num_classes"]} classes ({report["class_mode"]})')
    L.append(budget_legend(report))
    L.append(f'- test set: `{cfg["test_root"]}`; x{cfg["scale"]}; seeds {cfg["seeds"]}; device {cfg["device"]}')
    L.append(f'- machine: {mach["platform"]}, {mach["cpu_count"]} CPUs, torch {mach["torch"]}, basicsr '
             f'{mach["basicsr"]}, {mach["torch_threads"]} torch thread(s); load average at start '
             f'{report["loadavg_start"]}, end {report["loadavg_end"]}; this invocation {report["run_seconds"]:.0f} s; '
             f'all rows {report["rows_seconds_total"]:.0f} s')
    if report.get('previous_run'):
        prev = report['previous_run']
        L.append(f'- report rewritten from stored rows; the run that computed them: {prev.get("run_seconds") or 0:.0f} '
                 f's, load average at start {prev.get("loadavg_start")}, end {prev.get("loadavg_end")}')
    L.append('- PSNR / SSIM: as the test options define them (Y channel, crop = scale); LPIPS (AlexNet, where the '
             'test options list it) and NIQE: lower is better; '
             'train s: the training loop without validation; "to GSDD PSNR": training seconds until the row\'s '
             'validation PSNR first reaches the final PSNR of the GSDD row of its budget and seed (– never)')
    return L + ['']


def summary_table(report, net):
    """The lines of the markdown table of ``net``'s rows (and bicubic's): per method and budget, the images,
    PSNR / SSIM / LPIPS / NIQE, training and distillation seconds, stored bytes (``benchmark.md``, the demo)."""
    order = {'bicubic': 0, 'full': 1}
    entries = [e for e in report['summary'] if e['net'] in (net, None)]
    lines = ['| method | budget | PSNR (dB) | SSIM | LPIPS | NIQE | train s | to GSDD PSNR (s) | distill s '
             '| stored bytes | stored / real | bank + generator / real (fp32; fp16) | HR PNG / real |',
             '| --- ' * 13 + '|']
    for e in sorted(entries, key=lambda e: (e['budget']['ipc'] if e['budget'] else -1, order.get(e['method'], 2),
                                            e['method'] not in ('gsdd', ) + CORESETS, e['method'])):
        reached = '' if e['method'] == 'bicubic' else f' ({e["reached_gsdd_psnr"]}/{len(e["seeds"])})'
        tt = fmt(e['time_to_gsdd_psnr'], 0) + reached
        bg = e.get('bank_plus_generator_to_real_bytes')
        bg = f'{100 * bg["float32"]:.1f}%; {100 * bg["float16"]:.1f}%' if bg else '–'
        store = ('– | – | – | –' if e['stored_bytes'] is None else f'{e["stored_bytes"]:,} | '
                 f'{100 * e["stored_to_real_bytes"]:.1f}% | {bg} | {100 * e["hr_png_to_real_bytes"]:.1f}%')
        lines.append(f'| {e["method"]} | {_budget_label(e, report)} | {fmt(e.get("psnr"), 2)} '
                     f'| {fmt(e.get("ssim"), 4)} | {fmt(e.get("lpips"), 4)} | {fmt(e.get("niqe"), 2)} '
                     f'| {fmt(e["train_seconds"], 0)} | {tt} | {fmt(e["distill_seconds"], 0)} | {store} |')
    return lines


def write_markdown(report, path):
    """``benchmark.md``: the instrument check (with val figures), one table per SR network, then GSDD minus each
    baseline, then the plots (when a row has finished)."""
    from gsdd_basicsr.benchmark.instrument import instrument_lines
    L = _header(report) + instrument_lines(report, ipc_label)
    for net in report['config']['profile_settings']['sr_nets']:
        L += [f'## {net}', ''] + summary_table(report, net) + ['']
        ds = [d for d in report['gsdd_minus'] if d['net'] == net]
        if ds:
            L += [f'### GSDD minus baseline ({net}; paired by seed: mean ± std, 95 % t-interval of the mean)', '',
                  '| budget | GSDD row | versus | ΔPSNR (dB) | 95 % CI | ΔSSIM | 95 % CI '
                  '| ΔLPIPS (lower: GSDD better) | 95 % CI | GSDD better (seeds: PSNR; LPIPS) |', '| --- ' * 10 + '|']
            for d in ds:
                lp = d.get('lpips') or {'n': 0}
                L.append(f'| {ipc_label(report, d["ipc"])} | {d.get("method", "gsdd")} | {d["versus"]} '
                         f'| {fmt(d["psnr"], 3)} '
                         f'| {ci(d["psnr"], 3)} | {fmt(d["ssim"], 4)} | {ci(d["ssim"], 4)} | {fmt(lp, 4)} '
                         f'| {ci(lp, 4)} | {d["gsdd_wins"]}/{d["psnr"]["n"]}; '
                         f'{d.get("gsdd_wins_lpips", 0)}/{lp["n"]} |')
            L.append('')
        sp = [d for d in report.get('speedup', []) if d['net'] == net]
        if sp:
            L += [f'### Training time ({net}): the full set\'s training to reach GSDD\'s final PSNR / GSDD\'s '
                  'training (paired by seed)', '',
                  '| budget | wall-time ratio | iteration ratio | seeds that reached it | lower bounds where the full '
                  'set never did (wall time; iterations) |', '| --- | --- | --- | --- | --- |']
            for d in sp:
                bounds = ', '.join(f'≥ {x:.2f}' for x in d['never_reached_lower_bounds']) or '–'
                ib = ', '.join(f'≥ {x:.2f}' for x in d.get('never_reached_iteration_bounds', [])) or '–'
                L.append(f'| {ipc_label(report, d["ipc"])} | {fmt(d["ratio"], 2)} '
                         f'| {fmt(d.get("iteration_ratio"), 2)} '
                         f'| {d["reached"]} | {bounds}; {ib} |')
            L.append('')
    if report['rows']:
        L += ['## Plots', '', '![PSNR vs budget](psnr_vs_budget.png)', '',
              '![validation PSNR vs time](val_psnr_vs_time.png)', '', '![val_dm vs distillation step](val_dm.png)',
              '', '![restorations](restorations.png)', '']
    atomic_write_text('\n'.join(L), path, 'report')


def write_outputs(out, report):
    """Plots, ``benchmark.md``, then ``benchmark.json`` last (its presence marks a finished report). A report with
    no finished row (``--report-only`` before any run: the plan) has nothing to plot and gets no plots."""
    from gsdd_basicsr.benchmark import plots
    if report['rows']:
        plots.psnr_vs_budget(report, osp.join(out, 'psnr_vs_budget.png'))
        plots.val_psnr_vs_time(report, osp.join(out, 'val_psnr_vs_time.png'))
        plots.val_dm_vs_step(report, osp.join(out, 'val_dm.png'))
        plots.restorations(report, osp.join(out, 'restorations.png'))
    write_markdown(report, osp.join(out, 'benchmark.md'))
    atomic_write_json(report, osp.join(out, 'benchmark.json'))
