"""The tables and report of a method comparison, its tuning grid and a
user's runs beside the committed reference.

Input is a list of ``results.json`` records (one per finished run, see
``comparison_runs.make_record``); AP and D-ECE are fractions there and percent
in the tables. Statistics come from :mod:`mmkd_det.analysis.stats`; the
report is written by :func:`mmkd_det.analysis.report.write_report`.

``make quickstart`` trains one seed of the teacher, the student and a few
methods with exactly the per-run configuration of the 3-seed comparison
(``compare_methods.py``). :func:`reference_table` puts each of those runs
next to the reference records of the same method (``results.json``) and
says where it falls in their spread, so a user can tell a normal run from a
broken install or a changed setting.
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

from .comparison import BASELINES, METHODS
from .report import Curve, Report, markdown_table, percent
from .stats import (NA, curve_band, format_interval, format_summary,
                    last_fifth_gain, paired_deltas, summarize, t_interval)

METRICS = (('AP', 'bbox_mAP'), ('AP50', 'bbox_mAP_50'), ('AP75',
                                                         'bbox_mAP_75'))
#: Record fields that must agree for a run to be compared with a reference.
COMPARABLE_KEYS = ('config', 'settings', 'final_iter', 'split', 'pair',
                   'dataset')


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
        return [NA, NA, NA]
    deltas = paired_deltas(
        _metric(runs, 'bbox_mAP'), _metric(base, 'bbox_mAP'))
    if not deltas:
        return [NA, NA, NA]
    summary = summarize(list(deltas.values()))
    return [
        format_summary(summary, signed=True),
        format_interval(t_interval(summary)), f'{summary.positive}/{summary.n}'
    ]


def render_comparison(records: Sequence[dict],
                      student: str = 'student',
                      kd: str = 'kd') -> str:
    """The per-method table: mean ± std over seeds and paired ΔAP with its
    95% t interval (n - 1 degrees of freedom).

    Args:
        records: Records of one split.
        student: Method name of the plain student (Δ baseline).
        kd: Method name of vanilla KD (Δ baseline).

    Returns:
        A Markdown table (no trailing newline).
    """
    groups = by_method(records)
    header = ['Method', 'n'] + [t for t, _ in METRICS] + [
        'D-ECE (%)', 'ΔAP vs student', '95% CI', '> student', 'ΔAP vs KD',
        '95% CI', '> KD', 'AP gain, last 1/5'
    ]
    rows = []
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
    return markdown_table(header, rows)


def curve_bands(records: Sequence[dict]) -> List[Curve]:
    """``(method, iterations, mean, min, max)`` of the AP curves per method."""
    return [(m, *curve_band([r['ap_curve'] for r in runs.values()]))
            for m, runs in by_method(records).items()]


def comparison_report(records: Sequence[dict], split: str) -> Report:
    """The report of one split's records: :func:`render_comparison`, the
    mean AP curve and min-max band of each method, the code versions.

    Args:
        records: Records of the runs compared (one split).
        split: The split, named in the text and the file names.

    Returns:
        Its :class:`~mmkd_det.analysis.report.Report`.
    """
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
        'seeds of (method − baseline) AP; "95% CI" is its two-sided '
        'Student-t interval (n − 1 degrees of freedom): an interval that '
        'excludes 0 is a difference these seeds resolve. `k/n` counts the '
        'seeds where the method is above the baseline. "AP gain, last 1/5" '
        'is the plateau criterion: AP at the end minus AP at the last '
        'validation at or before 80% of the schedule (flat: below +1).')
    return Report(
        title=f'Method comparison ({split})',
        table=render_comparison(records),
        notes=notes,
        curves=curve_bands(records),
        footer=(f'Code: {", ".join(f"`{c}`" for c in commits)}. Per-run '
                'records (config, settings, options, AP curve, train time): '
                '`results.json`.'),
        plot_title=f'{split} bbox AP: mean over seeds, band min-max',
        split=split)


#: The line after which a document carries the comparison table
#: (``compare_methods.py --readme``).
TABLE_MARKER = '<!-- benchmark-table -->'


def paste_table(text: str, table: str) -> str:
    """``text`` with the block after its :data:`TABLE_MARKER` line (up to
    the first blank line) replaced by ``table``.

    Raises:
        ValueError: ``text`` has no marker line.
    """
    lines = text.split('\n')
    if TABLE_MARKER not in lines:
        raise ValueError(
            f'no line "{TABLE_MARKER}" to put the table after: add it where '
            'the table goes, followed by a blank line')
    start = lines.index(TABLE_MARKER) + 1
    end = start
    while end < len(lines) and lines[end].strip():
        end += 1
    return '\n'.join(lines[:start] + table.strip('\n').split('\n') +
                     lines[end:])


def _grid_position(record: dict) -> tuple:
    point = record['tune_point']
    return (point['temperature'], point['loss_weight'], point['warmup_iters'])


def render_tune_table(method: str,
                      records: Sequence[dict],
                      student: Optional[dict] = None) -> str:
    """The grid of one method as a Markdown table, best AP in bold.

    Rows are sorted by T, weight and warm-up, so that the table does not
    depend on the order in which the runs finished.

    Args:
        method: The tuned method.
        records: Its tuning records (``tune_point`` set), any order.
        student: The plain student's record on the same split, shown first
            as the reference.

    Returns:
        A Markdown table (no trailing newline).
    """
    header = [
        'Run', 'T', 'loss_weight', 'warm-up iters', 'AP', 'AP50', 'AP75',
        'D-ECE (%)'
    ]
    rows = []
    if student is not None:
        rows.append(['student', NA, NA, NA] +
                    [percent(student.get(k))
                     for _, k in METRICS] + [percent(student.get('d_ece'))])
    best = max((r['bbox_mAP'] for r in records), default=None)
    for record in sorted(records, key=_grid_position):
        point = record['tune_point']
        cells = [percent(record.get(k)) for _, k in METRICS]
        if record['bbox_mAP'] == best:
            cells[0] = f'**{cells[0]}**'
        rows.append([
            method, f"{point['temperature']:g}", f"{point['loss_weight']:g}",
            str(point['warmup_iters'])
        ] + cells + [percent(record.get('d_ece'))])
    return markdown_table(header, rows)


def differences(run: dict, reference: Sequence[dict]) -> List[str]:
    """Fields of :data:`COMPARABLE_KEYS` where ``run`` differs from every
    reference record (empty: comparable)."""
    return [
        key for key in COMPARABLE_KEYS if all(
            run.get(key) != ref.get(key) for ref in reference)
    ]


def position(value: float, reference: Sequence[float]) -> str:
    """Where ``value`` falls in the reference values, in words.

    Args:
        value: The user's AP (fraction).
        reference: The reference APs (fractions), one per seed.

    Returns:
        ``'inside the seed range'``, ``'within 2 std (z = +1.3)'`` or
        ``'OUTSIDE: z = -4.1'`` (z = distance from the mean in reference
        standard deviations; with one reference value, the difference).
    """
    summary = summarize(reference)
    if min(reference) <= value <= max(reference):
        return 'inside the seed range'
    if summary.std is None or summary.std == 0:
        return f'{100 * (value - summary.mean):+.2f} AP from the reference'
    z = (value - summary.mean) / summary.std
    if abs(z) <= 2:
        return f'within 2 std (z = {z:+.1f})'
    return f'OUTSIDE: z = {z:+.1f}'


def reference_table(runs: Sequence[dict], reference: Sequence[dict]) -> str:
    """Markdown table: each run's AP, the reference mean ± std and range
    over its seeds, and where the run falls.

    Args:
        runs: The user's records (``comparison_runs.make_record``).
        reference: Records of the committed comparison (any split; only
            those of the run's split and method are used).

    Returns:
        The table (no trailing newline).
    """
    header = [
        'Run', 'your AP', 'reference AP (mean ± std)', 'seeds',
        'reference range', 'your run'
    ]
    rows = []
    for run in runs:
        refs = [
            r for r in reference if r['method'] == run['method']
            and r['split'] == run['split'] and r.get('pair') == run.get('pair')
        ]
        cells = _reference_cells(run, refs)
        rows.append([run['method'], f"{100 * run['bbox_mAP']:.2f}"] + cells)
    return markdown_table(header, rows, align='lrrrrl')


def _reference_cells(run: dict, refs: Sequence[dict]) -> List[str]:
    if not refs:
        return [NA, '0', NA, 'no reference for this method']
    aps = [r['bbox_mAP'] for r in refs]
    summary = summarize(aps)
    cells = [
        format_summary(summary),
        str(summary.n), f'{100 * min(aps):.2f} - {100 * max(aps):.2f}'
    ]
    differ = differences(run, refs)
    if differ:
        return cells + [f'not comparable: other {", ".join(differ)}']
    return cells + [position(run['bbox_mAP'], aps)]
