"""Statistics of a method comparison over seeds: pure functions.

Values are whatever the caller passes (AP as fractions in the comparison
tool); nothing here scales or rounds except :func:`format_summary`.

* :func:`summarize` gives mean and sample standard deviation (``n - 1`` in
  the denominator); the std of a single value is undefined and is None, so it
  can never be shown as a misleading ``0``.
* :func:`paired_deltas` pairs two methods seed by seed (same seed = same data
  order and initialisation), which removes the between-seed spread that both
  share; its mean equals the difference of the means over the common seeds.
* :func:`t_interval` is the two-sided Student-t interval of a mean
  (``n - 1`` degrees of freedom): on paired deltas it says whether the seeds
  resolve a difference (the interval excludes 0) or not.
* :func:`curve_band` gives the mean AP curve and its min-max band over seeds.
* :func:`last_fifth_gain` is the plateau criterion of a curve: what it
  gained over the last fifth of the schedule.
"""
import math
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from scipy import stats as scipy_stats

#: Shown for an undefined value (std of one seed, a missing baseline).
NA = '—'


@dataclass(frozen=True)
class Summary:
    """Mean and spread of one quantity over seeds.

    Attributes:
        n: Number of values.
        mean: Arithmetic mean.
        std: Sample standard deviation (n - 1); None when ``n == 1``.
        positive: How many values are ``> 0`` (meaningful for deltas).
    """
    n: int
    mean: float
    std: Optional[float]
    positive: int


def summarize(values: Sequence[float]) -> Summary:
    """Mean, sample std (n - 1) and count of positive values.

    Args:
        values: At least one finite number.

    Returns:
        The :class:`Summary`; ``std`` is None for a single value.

    Raises:
        ValueError: ``values`` is empty or holds a non-finite number.
    """
    values = [float(v) for v in values]
    if not values:
        raise ValueError('summarize needs at least one value (no finished '
                         'run for this method?)')
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f'summarize got a non-finite value in {values}')
    n = len(values)
    mean = math.fsum(values) / n
    std = None
    if n > 1:
        std = math.sqrt(math.fsum((v - mean)**2 for v in values) / (n - 1))
    return Summary(
        n=n, mean=mean, std=std, positive=sum(1 for v in values if v > 0))


def paired_deltas(values: Mapping[int, float],
                  baseline: Mapping[int, float]) -> Dict[int, float]:
    """Per-seed differences ``values[s] - baseline[s]`` on common seeds.

    Args:
        values: Metric of a method keyed by seed.
        baseline: Metric of the baseline keyed by seed.

    Returns:
        ``{seed: difference}`` for the seeds present in both, sorted by
        seed; empty when they share none.
    """
    common = sorted(set(values) & set(baseline))
    return {s: float(values[s]) - float(baseline[s]) for s in common}


def format_summary(summary: Optional[Summary],
                   scale: float = 100.0,
                   digits: int = 2,
                   signed: bool = False) -> str:
    """Formats ``mean ± std`` for a Markdown cell.

    Args:
        summary: The summary, or None for a missing value (shows ``—``).
        scale: Multiplies mean and std (100: fractions to percent).
        digits: Decimals shown.
        signed: Prefix the mean with its sign (for deltas).

    Returns:
        E.g. ``'25.10 ± 0.35'``, ``'+0.40 ± 0.20'``, ``'25.10 ± —'`` for one
        seed, or ``'—'``.
    """
    if summary is None:
        return NA
    # Round before formatting so a float residue never prints as "-0.00".
    mean = round(scale * summary.mean, digits) + 0.0
    text = f'{mean:+.{digits}f}' if signed else f'{mean:.{digits}f}'
    std = NA if summary.std is None else f'{scale * summary.std:.{digits}f}'
    return f'{text} ± {std}'


def t_interval(summary: Summary,
               confidence: float = 0.95) -> Optional[Tuple[float, float]]:
    """Two-sided Student-t confidence interval of the mean.

    ``mean ± t((1 + confidence) / 2, n - 1) * std / sqrt(n)``; for paired
    per-seed deltas this is the paired t interval of the mean difference.

    Args:
        summary: Mean, sample std and n of the values.
        confidence: Coverage, in (0, 1).

    Returns:
        ``(low, high)``, or None when ``n < 2`` (no spread to scale).

    Raises:
        ValueError: ``confidence`` is not in (0, 1).
    """
    if not 0 < confidence < 1:
        raise ValueError(f'confidence must be in (0, 1), got {confidence}')
    if summary.std is None:
        return None
    half = (
        scipy_stats.t.ppf((1 + confidence) / 2, summary.n - 1) * summary.std /
        math.sqrt(summary.n))
    return float(summary.mean - half), float(summary.mean + half)


def format_interval(interval: Optional[Tuple[float, float]],
                    scale: float = 100.0,
                    digits: int = 2) -> str:
    """Formats ``(low, high)`` as ``'[-0.29, +2.69]'`` (``—`` for None)."""
    if interval is None:
        return NA
    low, high = (round(scale * v, digits) + 0.0 for v in interval)
    return f'[{low:+.{digits}f}, {high:+.{digits}f}]'


def curve_band(
    curves: Sequence[Sequence[Tuple[int, float]]]
) -> Tuple[List[int], List[float], List[float], List[float]]:
    """Mean curve and min-max band over seeds at their common iterations.

    Only the iterations every curve has are used, so that each point of the
    mean averages the same seeds.

    Args:
        curves: One ``[(iteration, value), ...]`` per seed.

    Returns:
        ``(iterations, mean, minimum, maximum)``, sorted by iteration; all
        empty when there is no curve or no common iteration.
    """
    if not curves:
        return [], [], [], []
    maps = [dict(c) for c in curves]
    steps = sorted(set.intersection(*(set(m) for m in maps)))
    columns = [[m[s] for m in maps] for s in steps]
    return (steps, [math.fsum(c) / len(c) for c in columns],
            [min(c) for c in columns], [max(c) for c in columns])


def last_fifth_gain(curve: Sequence[Tuple[int, float]]) -> Optional[float]:
    """AP gained over the last fifth of a run: the plateau criterion.

    Args:
        curve: ``[(iteration, value), ...]`` of one run, any order.

    Returns:
        The value at the last iteration minus the value at the latest
        point at or before 80% of it; None without such a point.
    """
    points = sorted(curve)
    if len(points) < 2:
        return None
    last_iter, last = points[-1]
    before = [v for i, v in points if i <= 0.8 * last_iter]
    return last - before[-1] if before else None
