"""``report.md``, ``ap_curves.png`` and tuning tables of a comparison.

Input is a list of ``results.json`` records (one per finished run, see
``comparison_runs.make_record``); AP and D-ECE are fractions there and percent
in the tables. Statistics come from :mod:`mmkd_det.analysis.stats`.
"""
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

from .comparison import BASELINES, METHODS
from .report import CURVES_FILE, REPORT_FILE, plot_curve_bands
from .stats import (NA, curve_band, format_summary, last_fifth_gain,
                    paired_deltas, summarize)

METRICS = (('AP', 'bbox_mAP'), ('AP50', 'bbox_mAP_50'), ('AP75',
                                                         'bbox_mAP_75'))


def by_method(records: Sequence[dict]) -> Dict[str, Dict[int, dict]]:
    """``{method: {seed: record}}``: teacher, student, then known methods.

    A later record of the same method and seed replaces an earlier one.
    """
    groups: Dict[str, Dict[int, dict]] = {}
    for record in records:
        groups.setdefault(record['method'], {})[int(record['seed'])] = record
    order = [m for m in BASELINES + METHODS if m in groups]
    order += [m for m in groups if m not in order]
    return OrderedDict((m, dict(sorted(groups[m].items()))) for m in order)


def _metric(runs: Dict[int, dict], key: str) -> Dict[int, float]:
    return {s: r[key] for s, r in runs.items() if r.get(key) is not None}


def _summary_cell(values: Dict[int, float], signed: bool = False) -> str:
    return format_summary(
        summarize(list(values.values())) if values else None, signed=signed)


def _delta_cells(runs: Dict[int, dict],
                 base: Optional[Dict[int, dict]]) -> List[str]:
    if base is None:
        return [NA, NA]
    deltas = paired_deltas(
        _metric(runs, 'bbox_mAP'), _metric(base, 'bbox_mAP'))
    if not deltas:
        return [NA, NA]
    summary = summarize(list(deltas.values()))
    return [
        format_summary(summary, signed=True), f'{summary.positive}/{summary.n}'
    ]


def render_comparison(records: Sequence[dict],
                      student: str = 'student',
                      kd: str = 'kd') -> str:
    """The per-method table: mean ± std over seeds and paired ΔAP.

    Args:
        records: Records of one split.
        student: Method name of the plain student (Δ baseline).
        kd: Method name of vanilla KD (Δ baseline).

    Returns:
        A Markdown table (no trailing newline).
    """
    groups = by_method(records)
    header = ['Method', 'n'] + [t for t, _ in METRICS] + [
        'D-ECE (%)', 'ΔAP vs student', '> student', 'ΔAP vs KD', '> KD',
        'AP gain, last 1/5'
    ]
    rows = [header, [':---'] + ['---:'] * (len(header) - 1)]
    for method, runs in groups.items():
        row = [method, str(len(runs))]
        row += [_summary_cell(_metric(runs, key)) for _, key in METRICS]
        row.append(_summary_cell(_metric(runs, 'd_ece')))
        no_delta = method in BASELINES
        row += _delta_cells(runs, None if no_delta else groups.get(student))
        row += _delta_cells(
            runs, None if no_delta or method == kd else groups.get(kd))
        gains = {
            seed: last_fifth_gain(r.get('ap_curve') or [])
            for seed, r in runs.items()
        }
        row.append(
            _summary_cell({
                s: g
                for s, g in gains.items() if g is not None
            },
                          signed=True))
        rows.append(row)
    return '\n'.join('| ' + ' | '.join(r) + ' |' for r in rows)


def curve_bands(
    records: Sequence[dict]
) -> List[Tuple[str, List[int], List[float], List[float], List[float]]]:
    """``(method, iterations, mean, min, max)`` of the AP curves per method."""
    return [(m, *curve_band([r['ap_curve'] for r in runs.values()]))
            for m, runs in by_method(records).items()]


def write_comparison_report(records: Sequence[dict], out_dir: str,
                            split: str) -> Tuple[str, str]:
    """Writes ``report.md`` and ``ap_curves.png`` of one split's records.

    Other splits than ``val`` get ``report_<split>.md`` and
    ``ap_curves_<split>.png``, so they never replace the val report.

    Args:
        records: Records of the runs compared (one split).
        out_dir: Output folder.
        split: The split, named in the text.

    Returns:
        ``(md_path, png_path)``.
    """
    os.makedirs(out_dir, exist_ok=True)
    suffix = '' if split == 'val' else f'_{split}'
    curves_file = CURVES_FILE.replace('.png', f'{suffix}.png')
    png = plot_curve_bands(
        curve_bands(records),
        osp.join(out_dir, curves_file),
        title=f'{split} bbox AP: mean over seeds, band min-max')
    commits = sorted({r['commit'] for r in records})
    seeds = sorted(
        {int(r['seed'])
         for r in records if r['method'] != 'teacher'})
    notes = (
        f'COCO bbox AP, AP50 and AP75 in percent on the `{split}` split at '
        "each run's last validation; D-ECE (%) from the same validation "
        '(`CocoMetricWithDECE`: score >= 0.3, IoU 0.5, 15 bins). `n` is the '
        'number of seeds '
        f'(here {seeds}; one teacher serves every student). Cells are '
        'mean ± sample standard deviation (n − 1) over seeds, `± —` where '
        'n = 1. ΔAP is paired per seed: the mean ± std over the common '
        'seeds of (method − baseline) AP, and `k/n` counts the seeds where '
        'the method is above the baseline. "AP gain, last 1/5" is the '
        'plateau criterion: AP at the end minus AP at the last validation '
        'at or before 80% of the schedule (flat: below +1).')
    md = osp.join(out_dir, REPORT_FILE.replace('.md', f'{suffix}.md'))
    with open(md, 'w', encoding='utf-8') as f:
        f.write(f'# Method comparison ({split})\n\n'
                f'{render_comparison(records)}\n\n{notes}\n\n'
                f'![bbox AP against iteration]({curves_file})\n\n'
                f'Code: {", ".join(f"`{c}`" for c in commits)}. Per-run '
                'records (config, settings, options, AP curve, train time): '
                '`results.json`.\n')
    return md, png


def _percent(value: Optional[float]) -> str:
    return NA if value is None else f'{100 * value:.2f}'


def render_tune_table(method: str,
                      records: Sequence[dict],
                      student: Optional[dict] = None) -> str:
    """The grid of one method as a Markdown table, best AP in bold.

    Args:
        method: The tuned method.
        records: Its tuning records (``tune_point`` set), grid order.
        student: The plain student's record on the same split, shown first
            as the reference.

    Returns:
        A Markdown table (no trailing newline).
    """
    header = [
        'Run', 'T', 'loss_weight', 'warm-up iters', 'AP', 'AP50', 'AP75',
        'D-ECE (%)'
    ]
    rows = [header, [':---'] + ['---:'] * (len(header) - 1)]
    if student is not None:
        rows.append(['student', NA, NA, NA] +
                    [_percent(student.get(k))
                     for _, k in METRICS] + [_percent(student.get('d_ece'))])
    best = max((r['bbox_mAP'] for r in records), default=None)
    for record in records:
        point = record['tune_point']
        cells = [_percent(record.get(k)) for _, k in METRICS]
        if record['bbox_mAP'] == best:
            cells[0] = f'**{cells[0]}**'
        rows.append([
            method, f"{point['temperature']:g}", f"{point['loss_weight']:g}",
            str(point['warmup_iters'])
        ] + cells + [_percent(record.get('d_ece'))])
    return '\n'.join('| ' + ' | '.join(r) + ' |' for r in rows)
