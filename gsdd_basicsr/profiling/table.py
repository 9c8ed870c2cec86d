"""The profile of GSDDModel's distillation step (:mod:`gsdd_basicsr.profiling.profiler`) as the text
table ``tools/profile_distill.py`` prints."""
from gsdd_basicsr.profiling.step_regions import COMPUTE_REGIONS


def format_report(report):
    """The report as the text table ``tools/profile_distill.py`` prints."""
    cfg, cuda = report['config'], report['cuda']
    step = report['profiled_step_s']['mean']
    lines = [
        f"GSDD distillation step profile: {report['options']}",
        f"device {report['device']}, {report['torch_threads']} torch threads, {report['cpu_count']} cpus; load average "
        f"{report['loadavg_start'][0]:.2f} (start) -> {report['loadavg_end'][0]:.2f} (end)",
        f"{cfg['classes']} classes ({cfg['own_classes']} here), ipc {cfg['ipc']} (batch_syn {cfg['batch_syn']}), "
        f"batch_real {cfg['batch_real']}, latent {cfg['latent_size']} -> HR {cfg['hr_size']}, G {cfg['network_g']}, "
        f"features {cfg['feature_space']}, augment {cfg['augment']}, prefetch {'on' if cfg['prefetch'] else 'off'}, "
        f"cache {'on' if cfg['cache'] else 'off'}, {cfg['images']} real images",
        f"build (GAN inversion included) {report['build_s']:.2f} s; {report['warmup']} warm-up steps, then "
        f"{report['iters']} plain and {report['iters']} profiled steps", '',
        f"{'step wall time [s]':34s}{'median':>10s}{'mean':>10s}{'min':>10s}{'max':>10s}",
    ]
    for label, key in (('plain', 'step_s'), ('under the profiler', 'profiled_step_s')):
        s = report[key]
        lines.append(f"{'  ' + label:34s}{s['median']:10.4f}{s['mean']:10.4f}{s['min']:10.4f}{s['max']:10.4f}")
    head = f"{'region, per profiled step':34s}{'calls':>7s}{'total ms':>10s}{'self ms':>10s}{'% step':>8s}"
    lines += ['', head + (f"{'GPU ms':>10s}" if cuda else '')]
    for name, r in report['regions'].items():
        row = f"{'  ' + name:34s}{r['calls']:7.1f}{1e3 * r['total_s']:10.1f}{1e3 * r['self_s']:10.1f}"
        lines.append(row + f"{100 * r['share']:7.1f}%" + (f"{1e3 * r['self_device_s']:10.1f}" if cuda else ''))
    lines += [
        f"{'  other (between regions)':34s}{'':7s}{'':10s}{1e3 * report['other_s']:10.1f}"
        f"{100 * report['other_s'] / step:7.1f}%", '',
        f"bare compute (self {report['compute_basis']} of {', '.join(n[5:] for n in COMPUTE_REGIONS)}): "
        f"{1e3 * report['bare_compute_s']:.1f} ms per step",
        f"ratio step / bare compute: {report['ratio']:.3f}",
        f"data: the step waited {1e3 * report['data']['wait_s']:.1f} ms (gsdd.data); drawing one step's crops "
        f"takes {1e3 * report['data']['load_s']:.1f} ms" +
        (' (in the prefetch thread)' if report['data']['prefetch'] else ' (prefetch off: inside the wait)'),
    ]
    mem = report['memory']
    lines.append(f"memory: peak RSS {mem['peak_rss_mib']:.0f} MiB; RSS after build "
                 f"{mem['rss_after_build_mib']:.0f} MiB, after the steps {mem['rss_after_steps_mib']:.0f} MiB")
    if cuda:
        lines.append(f"CUDA max allocated: build + warm-up {mem['cuda_max_allocated_warmup_mib']:.0f} MiB, "
                     f"steps {mem['cuda_max_allocated_steps_mib']:.0f} MiB")
    growth = report.get('scale_data')
    if growth:
        lines += ['', 'memory against data-set size (a fresh process per K, cache: false)',
                  f"{'K':>4s}{'images':>8s}{'peak RSS MiB':>14s}{'RSS after MiB':>15s}{'step s':>9s}"
                  f"{'wait ms':>9s}{'load ms':>9s}{'ratio':>8s}"]
        for k, r in growth['runs'].items():
            lines.append(f"{k:>4}{r['images']:8d}{r['peak_rss_mib']:14.0f}{r['rss_after_steps_mib']:15.0f}"
                         f"{r['step_median_s']:9.3f}{1e3 * r['data_wait_s']:9.1f}{1e3 * r['data_load_s']:9.1f}"
                         f"{r['ratio']:8.3f}")
        lines.append(f"peak RSS growth, largest K vs K = 1: {growth['peak_rss_growth_mib']:+.0f} MiB")
    return '\n'.join(lines)
