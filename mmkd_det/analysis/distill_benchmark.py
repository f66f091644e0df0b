"""The report of ``tools/analysis/benchmark_distill.py``: phases, targets,
the text table, the teacher-precision comparison and the JSON record.

Numbers in, text or plain JSON types out: nothing here builds a model.
"""
from typing import Dict, List

import torch

from ..utils.benchmark import PeakMemory, summarize

# Targets for c / (a + b): logit-only distillation adds a loss on (N, C+1)
# logits; feature distillation (ReviewKD) also runs connectors on the FPN.
LOGIT_TARGET = 1.05
FEATURE_TARGET = 1.10

PHASES = {
    'a': 'student-only step (fwd+bwd+opt)',
    'b': 'teacher forward on student RoIs',
    'c': 'distillation step (fwd+bwd+opt)',
    'd': 'naive teacher (own RPN+sampling)',
}


def format_report(times: Dict[str, List[float]], mem: Dict[str, PeakMemory],
                  has_feature_losses: bool) -> List[str]:
    """The result table as lines of text."""
    stats = summarize(times)
    med = {k: median for k, (median, _) in stats.items()}
    lines = [
        f"{'phase':<38} {'median_ms':>10} {'min_ms':>9} "
        f"{'max_ms':>9}"
    ]
    for key, label in PHASES.items():
        ts = times[key]
        lines.append(f'({key}) {label:<34} {med[key]:>10.1f} '
                     f'{min(ts):>9.1f} {max(ts):>9.1f}')
    ratio = med['c'] / (med['a'] + med['b'])
    target = FEATURE_TARGET if has_feature_losses else LOGIT_TARGET
    kind = 'with feature losses' if has_feature_losses else 'logit losses only'
    verdict = 'PASS' if ratio <= target else 'ABOVE TARGET'
    lines.append(f'ratio c / (a + b) = {ratio:.3f}   target <= {target:.2f} '
                 f'({kind})   {verdict}')
    fastest = stats['c'][1] / (stats['a'][1] + stats['b'][1])
    lines.append(f'ratio of the fastest iterations (less sensitive to '
                 f'machine load): {fastest:.3f}')
    lines.append(f"distillation overhead over the student step: "
                 f"c / a = {med['c'] / med['a']:.2f}x")
    saving = med['d'] - med['b']
    lines.append(
        f"naive teacher (d) = {med['d']:.1f} ms vs teacher on student RoIs "
        f"(b) = {med['b']:.1f} ms: saving {saving:.1f} ms per iteration "
        f"({100 * saving / med['d']:.1f}% of d)")
    method = mem['a'].method
    lines.append(f'peak memory ({method}), one step each after timing:')
    for key in ('a', 'c'):
        m = mem[key]
        lines.append(f'  ({key}) {PHASES[key]:<34} peak {m.peak_mb:>9.1f} MB'
                     f'   increase over start {m.delta_mb:>8.1f} MB')
    return lines


def compare_precisions(runs: Dict[str, dict]) -> List[str]:
    """(b) and (c) of each teacher precision against the first one's.

    Args:
        runs (dict): precision -> ``dict(times=..., mem=...)`` as returned
            by :func:`run_benchmark`, the reference first.

    Returns:
        list[str]: one line per further precision (none for one).
    """
    (ref, first), *others = runs.items()
    ref_med = _medians(first['times'])
    lines = []
    for precision, run in others:
        med = _medians(run['times'])
        parts = [
            f'({k}) {med[k]:.1f} vs {ref_med[k]:.1f} ms '
            f'(speed-up {ref_med[k] / med[k]:.2f})' for k in ('b', 'c')
        ]
        peaks = (run['mem']['c'].peak_mb, first['mem']['c'].peak_mb)
        lines.append(f'teacher {precision} vs {ref}: ' + '; '.join(parts) +
                     f'; peak memory (c) {peaks[0]:.1f} vs {peaks[1]:.1f} MB')
    return lines


def _medians(times: Dict[str, List[float]]) -> Dict[str, float]:
    return {k: median for k, (median, _) in summarize(times).items()}


def to_json(result: dict, args) -> dict:
    """The results as plain JSON types.

    Args:
        result (dict): what ``run_benchmark`` returned.
        args (argparse.Namespace): the tool's arguments.

    Returns:
        dict: the settings, and per teacher precision the median and minimum
        ms per phase, c / (a + b), peak MB of (a) and (c) and whether the
        losses were finite.
    """
    runs = {}
    for precision, run in result['runs'].items():
        stats = summarize(run['times'])
        med = {k: m for k, (m, _) in stats.items()}
        runs[precision] = dict(
            median_ms=med,
            min_ms={
                k: mn
                for k, (_, mn) in stats.items()
            },
            ratio_c_over_a_plus_b=med['c'] / (med['a'] + med['b']),
            peak_mb={
                k: m.peak_mb
                for k, m in run['mem'].items()
            },
            memory_method=run['mem']['a'].method,
            losses_finite=run['losses_finite'])
    return dict(
        config=args.config,
        device=args.device,
        device_name=(torch.cuda.get_device_name()
                     if args.device == 'cuda' else 'cpu'),
        torch=torch.__version__,
        batch=args.batch,
        size_hw=list(args.size),
        iters=args.iters,
        warmup=args.warmup,
        random_teacher=bool(args.random_teacher),
        has_feature_losses=result['has_feature_losses'],
        phases=PHASES,
        runs=runs)
