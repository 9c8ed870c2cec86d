"""Statistics over seeds, the one owner for the benchmark's report and its instrument check.

Mean, sample std (ddof 1) and, for a difference paired by seed, a 95 % Student-t interval of the mean difference
(``scipy.stats.t``, n - 1 degrees of freedom); and their text in ``benchmark.md``.
"""
import math


def finite(x):
    """A real, finite number (not a bool, None or NaN)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def stats(values):
    """``{'mean', 'std', 'n'}`` of the finite values (std with ddof 1; 0 for one value; None for none)."""
    vals = [float(v) for v in values if finite(v)]
    if not vals:
        return {'mean': None, 'std': None, 'n': 0}
    mean = sum(vals) / len(vals)
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return {'mean': mean, 'std': std, 'n': len(vals)}


def paired_delta(a, b):
    """``a - b`` paired element-wise (e.g. by seed): stats plus the 95 % t-interval of the mean.

    Returns ``stats(diffs)`` with ``ci95`` = ``[low, high]`` (None for fewer than 2 pairs) and ``diffs``.
    """
    from scipy.stats import t
    diffs = [x - y for x, y in zip(a, b) if finite(x) and finite(y)]
    st = stats(diffs)
    st['diffs'] = diffs
    st['ci95'] = None
    if st['n'] > 1:
        half = float(t.ppf(0.975, st['n'] - 1)) * st['std'] / math.sqrt(st['n'])
        st['ci95'] = [st['mean'] - half, st['mean'] + half]
    return st


def fmt(st, digits=2):
    """``mean ± std`` of :func:`stats` (the mean alone for one value, ``–`` for none)."""
    if not st or st.get('mean') is None:
        return '–'
    return f'{st["mean"]:.{digits}f} ± {st["std"]:.{digits}f}' if st['n'] > 1 else f'{st["mean"]:.{digits}f}'


def ci(st, digits):
    """``[low, high]`` of :func:`paired_delta`'s 95 % interval (``–`` without one)."""
    return '–' if not st.get('ci95') else f'[{st["ci95"][0]:+.{digits}f}, {st["ci95"][1]:+.{digits}f}]'
