"""Result tables and ``report.md`` with its AP curve plot, for every tool.

One writer (:func:`write_report`) and one plotter (:func:`plot_curves`)
serve ``tools/report.py`` (runs loaded from work dirs, :func:`run_report`)
and the method comparison of ``compare_methods.py`` and ``quickstart.py``
(``comparison_report.comparison_report``); every Markdown table is made by
:func:`markdown_table`. AP and D-ECE are fractions in, percent in the tables.

Typical use::

    runs = [load_run(d) for d in ('work_dirs/teacher', 'work_dirs/student')]
    report = run_report(runs)
    print(report.table)
    write_report(report, 'work_dirs/report')
"""
import os
import os.path as osp
from typing import Iterable, List, NamedTuple, Optional, Sequence, Tuple

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .records import METRIC_COLUMNS, VAL_KEY, RunResult

REPORT_FILE = 'report.md'
CURVES_FILE = 'ap_curves.png'
#: Shown in cells that do not apply (baseline row) or whose value is absent.
NA = '—'

#: ``(name, iterations, mean, low, high)`` of one line of the AP plot: AP as
#: fractions, equally long sequences; ``low`` and ``high`` bound a shaded
#: band (e.g. min and max over seeds), both None for a single run's curve.
Curve = Tuple[str, Sequence[int], Sequence[float], Optional[Sequence[float]],
              Optional[Sequence[float]]]


class Report(NamedTuple):
    """The parts of one ``report.md`` and its AP plot.

    Attributes:
        title: The Markdown heading.
        table: A Markdown table (:func:`markdown_table`).
        notes: The paragraph that says what the numbers are.
        curves: One :data:`Curve` per method, in legend order.
        footer: The provenance paragraph (runs or code versions).
        plot_title: Title of the plot's axes.
        split: The validation split; another than ``val`` gets
            ``report_<split>.md`` and ``ap_curves_<split>.png``, so that it
            never replaces the val report.
    """
    title: str
    table: str
    notes: str
    curves: Sequence[Curve]
    footer: str
    plot_title: str = 'Validation bbox AP'
    split: str = 'val'


def markdown_table(header: Sequence[str],
                   rows: Iterable[Sequence[str]],
                   align: Optional[str] = None) -> str:
    """A Markdown table with one space inside each cell's bars.

    Args:
        header: Column titles.
        rows: Cells of each row, as many as ``header``.
        align: ``'l'`` (left) or ``'r'`` (right) per column; default: the
            first column left, the others right (names, then numbers).

    Returns:
        The table, one line per row (no trailing newline).
    """
    align = align or 'l' + 'r' * (len(header) - 1)
    rule = [':---' if a == 'l' else '---:' for a in align]
    return '\n'.join('| ' + ' | '.join(row) + ' |'
                     for row in [list(header), rule, *rows])


def percent(value: Optional[float]) -> str:
    """A fraction as a percent cell with 2 decimals; ``—`` for None."""
    return NA if value is None else f'{100 * value:.2f}'


def order_runs(runs: Sequence[RunResult], teacher: str,
               student: str) -> List[RunResult]:
    """Puts the teacher and student rows first, others in given order."""
    first = [r for n in (teacher, student) for r in runs if r.name == n]
    return first + [r for r in runs if r.name not in (teacher, student)]


def _signed_gain(value: float, baseline: float) -> str:
    # Round before formatting so a float residue never prints as "-0.00".
    gain = round(100 * (value - baseline), 2) + 0.0
    return f'{gain:+.2f}'


def render_table(runs: Sequence[RunResult],
                 student: str = 'student',
                 kd: str = 'kd',
                 teacher: str = 'teacher') -> str:
    """Renders the result table in the layout of LumiNet's Table 3b.

    One row per method with AP, AP50 and AP75 in percent, the teacher and the
    student first. ``ΔAP`` columns give the AP gain in points over the plain
    student and over KD; each is present only when that baseline run is, and
    shows ``—`` on the baseline rows and the teacher. A ``D-ECE (%)`` column
    is added when any run has a calibration result.

    Args:
        runs: Loaded runs; names must be unique.
        student: Name of the plain student run.
        kd: Name of the vanilla KD run.
        teacher: Name of the teacher run.

    Returns:
        A Markdown table (no trailing newline).

    Raises:
        ValueError: ``runs`` is empty or names repeat.
    """
    if not runs:
        raise ValueError('render_table needs at least one run')
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise ValueError(f'Run names must be unique, got {names}; pass '
                         'distinct names (tools/report.py --names)')
    by_name = {r.name: r for r in runs}
    # (baseline run, rows whose gain over it is not reported)
    baselines = []
    if student in by_name:
        baselines.append((by_name[student], {teacher, student}))
    if kd in by_name:
        baselines.append((by_name[kd], {teacher, student, kd}))
    with_d_ece = any(r.d_ece is not None for r in runs)

    header = ['Method'] + [title for title, _ in METRIC_COLUMNS]
    header += [f'ΔAP vs {base.name}' for base, _ in baselines]
    header += ['D-ECE (%)'] if with_d_ece else []
    rows = []
    for run in order_runs(runs, teacher, student):
        row = [run.name]
        row += [percent(run.metrics.get(key)) for _, key in METRIC_COLUMNS]
        row += [
            NA if run.name in skip else _signed_gain(run.metrics[VAL_KEY],
                                                     base.metrics[VAL_KEY])
            for base, skip in baselines
        ]
        row += [percent(run.d_ece)] if with_d_ece else []
        rows.append(row)
    return markdown_table(header, rows)


def run_report(runs: Sequence[RunResult],
               student: str = 'student',
               kd: str = 'kd',
               teacher: str = 'teacher') -> Report:
    """The report of runs loaded from work dirs (``tools/report.py``).

    Args:
        runs: Loaded runs (names unique).
        student: Name of the plain student run (see :func:`render_table`).
        kd: Name of the vanilla KD run.
        teacher: Name of the teacher run.

    Returns:
        Its :class:`Report`: the table of :func:`render_table`, one curve per
        run (no band), the work dirs as provenance.
    """
    table = render_table(runs, student=student, kd=kd, teacher=teacher)
    notes = (
        'AP, AP50 and AP75 are COCO-style bbox AP in percent (IoU 0.50:0.95, '
        '0.50 and 0.75) on the val split, computed with pycocotools through '
        "mmdet's `CocoMetric` at each run's last validation; ΔAP is the "
        'difference in AP points.')
    if any(r.d_ece is not None for r in runs):
        notes += (' D-ECE is the confidence-only detection expected '
                  'calibration error (Küppers et al., 2020) from '
                  '`tools/analysis/calibration.py`, in percent.')
    sources = '\n'.join(f'- {r.name}: `{r.work_dir}` (last validation at '
                        f'iteration {r.final_iter})' for r in runs)
    curves = [(r.name, [step for step, _ in r.curve],
               [ap for _, ap in r.curve], None, None)
              for r in order_runs(runs, teacher, student)]
    return Report(
        title='Knowledge distillation results',
        table=table,
        notes=notes,
        curves=curves,
        footer=f'Runs:\n\n{sources}')


def plot_curves(curves: Sequence[Curve],
                out_png: str,
                title: str = 'Validation bbox AP') -> str:
    """Plots bbox AP (%) against iteration, one line per curve, its band
    shaded when it has one; a curve without points is left out.

    Uses the Agg canvas directly rather than pyplot, so no global backend is
    switched and no window can open.

    Args:
        curves: One :data:`Curve` per method.
        out_png: Output PNG path; parent folders are created.
        title: Axes title.

    Returns:
        ``out_png``.
    """
    fig = Figure(figsize=(6.4, 4.2), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_xlabel('iteration')
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel('bbox AP (%)')
    ax.set_title(title)
    ax.grid(alpha=0.3)
    for name, steps, mean, low, high in curves:
        if not len(steps):
            continue
        line, = ax.plot(
            steps, [100 * v for v in mean],
            marker='o',
            markersize=3,
            label=name)
        if low is not None and high is not None:
            ax.fill_between(
                steps, [100 * v for v in low], [100 * v for v in high],
                color=line.get_color(),
                alpha=0.2,
                linewidth=0)
    ax.legend()
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_png)), exist_ok=True)
    fig.savefig(out_png)
    return out_png


def write_report(report: Report, out_dir: str) -> Tuple[str, str]:
    """Writes ``report.md`` and ``ap_curves.png`` into ``out_dir``.

    Args:
        report: What to write (:func:`run_report`,
            ``comparison_report.comparison_report``); a split other than
            ``val`` adds ``_<split>`` to both file names.
        out_dir: Output folder; created if missing.

    Returns:
        ``(md_path, png_path)``.
    """
    os.makedirs(out_dir, exist_ok=True)
    suffix = '' if report.split == 'val' else f'_{report.split}'
    curves_file = CURVES_FILE.replace('.png', f'{suffix}.png')
    png_path = plot_curves(
        report.curves, osp.join(out_dir, curves_file), title=report.plot_title)
    md_path = osp.join(out_dir, REPORT_FILE.replace('.md', f'{suffix}.md'))
    with open(md_path, 'w', encoding='utf-8') as f:
        f.write(f'# {report.title}\n\n{report.table}\n\n{report.notes}\n\n'
                f'![bbox AP against iteration]({curves_file})\n\n'
                f'{report.footer}\n')
    return md_path, png_path
