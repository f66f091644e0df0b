"""A user's runs set beside the committed multi-seed reference.

``make quickstart`` trains one seed of the teacher, the student and a few
methods with exactly the per-run configuration of the 3-seed comparison
(``compare_methods.py``). :func:`reference_table` puts each of those runs
next to the reference records of the same method (``results.json``) and
says where it falls in their spread, so a user can tell a normal run from a
broken install or a changed setting.
"""
from typing import List, Sequence

from .stats import NA, summarize

#: Record fields that must agree for a run to be compared with a reference.
COMPARABLE_KEYS = ('config', 'settings', 'final_iter', 'split', 'pair',
                   'dataset')


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
    rows = [[
        'Run', 'your AP', 'reference AP (mean ± std)', 'seeds',
        'reference range', 'your run'
    ], [':---', '---:', '---:', '---:', '---:', ':---']]
    for run in runs:
        refs = [
            r for r in reference if r['method'] == run['method']
            and r['split'] == run['split'] and r.get('pair') == run.get('pair')
        ]
        cells = _reference_cells(run, refs)
        rows.append([run['method'], f"{100 * run['bbox_mAP']:.2f}"] + cells)
    return '\n'.join('| ' + ' | '.join(r) + ' |' for r in rows)


def _reference_cells(run: dict, refs: Sequence[dict]) -> List[str]:
    if not refs:
        return [NA, '0', NA, 'no reference for this method']
    aps = [r['bbox_mAP'] for r in refs]
    summary = summarize(aps)
    std = NA if summary.std is None else f'{100 * summary.std:.2f}'
    cells = [
        f'{100 * summary.mean:.2f} ± {std}',
        str(summary.n), f'{100 * min(aps):.2f} - {100 * max(aps):.2f}'
    ]
    differ = differences(run, refs)
    if differ:
        return cells + [f'not comparable: other {", ".join(differ)}']
    return cells + [position(run['bbox_mAP'], aps)]
