"""Collect final COCO metrics of training runs and render a result report.

A run is an MMEngine work dir. Each launch of ``tools/train.py`` (including a
resumed one) writes ``WORK_DIR/<timestamp>/vis_data/scalars.json`` through
``LocalVisBackend``: one JSON object per line, train lines such as
``{"lr": ..., "loss": ..., "iter": 20, "step": 20}`` and validation lines such
as ``{"coco/bbox_mAP": 0.123, "coco/bbox_mAP_50": ..., "step": 200}``. For
iteration-based training ``step`` of a validation line is the iteration.

The optional ``WORK_DIR/calibration.json`` written by
``tools/analysis/calibration.py`` contributes the D-ECE column.

Typical use::

    runs = [load_run(d) for d in ('work_dirs/teacher', 'work_dirs/student')]
    print(render_table(runs))
    write_report(runs, 'work_dirs/report')
"""
import glob
import json
import os
import os.path as osp
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

#: Key whose presence marks a validation line (mmdet ``CocoMetric``, bbox).
VAL_KEY = 'coco/bbox_mAP'
#: Table columns: header and the metric key they show.
METRIC_COLUMNS = (
    ('AP', 'coco/bbox_mAP'),
    ('AP50', 'coco/bbox_mAP_50'),
    ('AP75', 'coco/bbox_mAP_75'),
)
SCALARS_PATTERN = osp.join('*', 'vis_data', 'scalars.json')
CALIBRATION_FILE = 'calibration.json'
#: D-ECE as ``CocoMetricWithDECE`` logs it at each validation.
D_ECE_KEY = 'coco/d_ece'
REPORT_FILE = 'report.md'
CURVES_FILE = 'ap_curves.png'
#: Shown in cells that do not apply (baseline row) or whose value is absent.
NA = '—'


@dataclass
class RunResult:
    """Final results of one training run.

    Attributes:
        name: Method name shown in the table and the legend.
        metrics: The run's last validation line without ``step``, e.g.
            ``{'coco/bbox_mAP': 0.123, 'coco/bbox_mAP_50': 0.25, ...}``
            (fractions, as logged).
        curve: ``(iteration, bbox_mAP)`` pairs sorted by iteration.
        d_ece: Detection expected calibration error (fraction) from
            ``calibration.json``, or None when the run has none.
        work_dir: Where the run was loaded from, for provenance.
        final_iter: ``step`` of the last validation line.
    """
    name: str
    metrics: Dict[str, float]
    curve: List[Tuple[int, float]] = field(default_factory=list)
    d_ece: Optional[float] = None
    work_dir: Optional[str] = None
    final_iter: Optional[int] = None


def find_scalar_files(work_dir: str) -> List[str]:
    """Lists the ``scalars.json`` files of a work dir in time order.

    MMEngine names the per-launch folders ``%Y%m%d_%H%M%S``, so sorting by
    folder name sorts by launch time.

    Args:
        work_dir: MMEngine work dir.

    Returns:
        Paths of ``<work_dir>/<timestamp>/vis_data/scalars.json``, oldest
        first; empty when there are none.
    """
    return sorted(glob.glob(osp.join(glob.escape(work_dir), SCALARS_PATTERN)))


def read_scalars(path: str) -> List[dict]:
    """Parses one JSON-lines scalar log.

    A process killed while writing can leave a truncated last line; it is
    skipped with a warning. A malformed line elsewhere means the file is not
    a scalar log, which is an error.

    Args:
        path: Path of a ``scalars.json``.

    Returns:
        The records in file order.

    Raises:
        ValueError: A line other than the last one is not a JSON object.
    """
    with open(path, encoding='utf-8') as f:
        lines = [(i, line) for i, line in enumerate(f, 1) if line.strip()]
    records = []
    for pos, (lineno, line) in enumerate(lines):
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError('not a JSON object')
        except ValueError as err:
            if pos == len(lines) - 1:
                warnings.warn(f'{path}:{lineno}: skipping truncated last '
                              f'line ({err})')
                continue
            raise ValueError(f'{path}:{lineno}: not a scalar log line '
                             f'({err})') from err
        records.append(record)
    return records


def validation_records(records: Sequence[dict]) -> List[dict]:
    """Keeps the validation lines, an empty validation counted as AP 0.

    Training lines carry ``lr``; validation lines do not, and carry
    ``coco/bbox_mAP`` unless the model detected nothing at all: mmdet's
    ``CocoMetric`` then logs no metric, only the loop's ``time`` and
    ``data_time``. Such a validation is kept with every table metric 0, so
    that a run that stops detecting (a collapse, an unstable start) shows
    AP 0 there instead of silently losing the point or keeping its last
    non-empty value as its final one.

    Args:
        records: Scalar log lines, oldest first.

    Returns:
        The validation lines, oldest first.
    """
    kept = []
    for record in records:
        if VAL_KEY in record:
            kept.append(record)
        elif 'lr' not in record and 'step' in record:
            kept.append({**{key: 0.0 for _, key in METRIC_COLUMNS}, **record})
    return kept


def ap_curve(val_records: Sequence[dict]) -> List[Tuple[int, float]]:
    """Builds the bbox AP curve from time-ordered validation lines.

    A resumed run restarts from its last checkpoint, so it may validate again
    at steps the interrupted launch already logged; the later launch wins.

    Args:
        val_records: Validation lines, oldest first.

    Returns:
        ``(step, bbox_mAP)`` pairs sorted by step, one per step.
    """
    by_step = {int(r['step']): float(r[VAL_KEY]) for r in val_records}
    return sorted(by_step.items())


def load_d_ece(work_dir: str) -> Optional[float]:
    """Reads D-ECE from ``<work_dir>/calibration.json`` if present.

    Args:
        work_dir: MMEngine work dir.

    Returns:
        The ``d_ece`` value, or None when the file does not exist.

    Raises:
        ValueError: The file exists but has no numeric ``d_ece``.
    """
    path = osp.join(work_dir, CALIBRATION_FILE)
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        d_ece = json.load(f).get('d_ece')
    if not isinstance(d_ece, (int, float)):
        raise ValueError(f'{path} has no numeric "d_ece" (got {d_ece!r}); '
                         'rerun tools/analysis/calibration.py')
    return float(d_ece)


def load_run(work_dir: str, name: Optional[str] = None) -> RunResult:
    """Loads the final validation metrics, AP curve and D-ECE of a run.

    All launches of the run (resumed ones included) are merged in time
    order; the final metrics are the last validation line.

    Args:
        work_dir: MMEngine work dir of the run.
        name: Method name; defaults to the work dir's basename.

    Returns:
        The run's :class:`RunResult`.

    Raises:
        FileNotFoundError: No ``<timestamp>/vis_data/scalars.json`` found.
        ValueError: The logs hold no validation line.
    """
    name = name or osp.basename(osp.normpath(work_dir))
    paths = find_scalar_files(work_dir)
    if not paths:
        raise FileNotFoundError(
            f'No MMEngine scalar log in {work_dir!r}: expected '
            f'{osp.join(work_dir, SCALARS_PATTERN)!r} as written by '
            'LocalVisBackend (is this a training work dir?)')
    val = validation_records([r for p in paths for r in read_scalars(p)])
    if not val:
        raise ValueError(
            f'No validation metrics in {work_dir!r}: none of {paths} has a '
            f'line with {VAL_KEY!r}; has the run reached its first '
            'validation (train_cfg.val_interval)?')
    final = val[-1]
    return RunResult(
        name=name,
        metrics={
            k: v
            for k, v in final.items() if k != 'step'
        },
        curve=ap_curve(val),
        # the metric's value at the last validation; else the standalone
        # tools/analysis/calibration.py's file
        d_ece=final.get(D_ECE_KEY, load_d_ece(work_dir)),
        work_dir=work_dir,
        final_iter=int(final['step']))


def order_runs(runs: Sequence[RunResult], teacher: str,
               student: str) -> List[RunResult]:
    """Puts the teacher and student rows first, others in given order."""
    first = [r for n in (teacher, student) for r in runs if r.name == n]
    return first + [r for r in runs if r.name not in (teacher, student)]


def _percent(value: Optional[float]) -> str:
    return NA if value is None else f'{100 * value:.2f}'


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
    rows = [header, [':---'] + ['---:'] * (len(header) - 1)]
    for run in order_runs(runs, teacher, student):
        row = [run.name]
        row += [_percent(run.metrics.get(key)) for _, key in METRIC_COLUMNS]
        row += [
            NA if run.name in skip else _signed_gain(run.metrics[VAL_KEY],
                                                     base.metrics[VAL_KEY])
            for base, skip in baselines
        ]
        row += [_percent(run.d_ece)] if with_d_ece else []
        rows.append(row)
    return '\n'.join('| ' + ' | '.join(row) + ' |' for row in rows)


def _curve_axes(title: str):
    """A new Agg figure with one bbox-AP-against-iteration axes.

    Uses the Agg canvas directly rather than pyplot, so no global backend is
    switched and no window can open.
    """
    fig = Figure(figsize=(6.4, 4.2), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_xlabel('iteration')
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel('bbox AP (%)')
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig, ax


def _save_curves(fig, ax, out_png: str) -> str:
    ax.legend()
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_png)), exist_ok=True)
    fig.savefig(out_png)
    return out_png


def plot_curves(runs: Sequence[RunResult], out_png: str) -> str:
    """Plots bbox AP against iteration, one line per run.

    Args:
        runs: Loaded runs.
        out_png: Output PNG path; parent folders are created.

    Returns:
        ``out_png``.
    """
    fig, ax = _curve_axes('Validation bbox AP')
    for run in runs:
        if run.curve:
            steps, aps = zip(*run.curve)
            ax.plot(
                steps, [100 * ap for ap in aps],
                marker='o',
                markersize=3,
                label=run.name)
    return _save_curves(fig, ax, out_png)


def plot_curve_bands(bands: Sequence[Tuple[str, Sequence[int], Sequence[float],
                                           Sequence[float], Sequence[float]]],
                     out_png: str,
                     title: str = 'Validation bbox AP over seeds') -> str:
    """Plots a mean AP curve per method with a shaded band over seeds.

    Args:
        bands: ``(name, steps, mean, low, high)`` per method; the last four
            are equally long sequences, AP as fractions. ``low``/``high``
            bound the band (e.g. min and max over seeds).
        out_png: Output PNG path; parent folders are created.
        title: Axes title.

    Returns:
        ``out_png``.
    """
    fig, ax = _curve_axes(title)
    for name, steps, mean, low, high in bands:
        if not len(steps):
            continue
        line, = ax.plot(
            steps, [100 * v for v in mean],
            marker='o',
            markersize=3,
            label=name)
        ax.fill_between(
            steps, [100 * v for v in low], [100 * v for v in high],
            color=line.get_color(),
            alpha=0.2,
            linewidth=0)
    return _save_curves(fig, ax, out_png)


def write_report(runs: Sequence[RunResult],
                 out_dir: str,
                 student: str = 'student',
                 kd: str = 'kd',
                 teacher: str = 'teacher') -> Tuple[str, str]:
    """Writes ``report.md`` and ``ap_curves.png`` into ``out_dir``.

    Args:
        runs: Loaded runs.
        out_dir: Output folder; created if missing.
        student: Name of the plain student run (see :func:`render_table`).
        kd: Name of the vanilla KD run.
        teacher: Name of the teacher run.

    Returns:
        ``(md_path, png_path)``.
    """
    table = render_table(runs, student=student, kd=kd, teacher=teacher)
    os.makedirs(out_dir, exist_ok=True)
    png_path = plot_curves(
        order_runs(runs, teacher, student), osp.join(out_dir, CURVES_FILE))
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
    md_path = osp.join(out_dir, REPORT_FILE)
    with open(md_path, 'w', encoding='utf-8') as f:
        f.write(f'# Knowledge distillation results\n\n{table}\n\n{notes}\n\n'
                f'![bbox AP against iteration]({CURVES_FILE})\n\n'
                f'Runs:\n\n{sources}\n')
    return md_path, png_path
