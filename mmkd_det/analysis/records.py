"""What a run leaves behind: its scalar logs, and its ``results.json`` record.

**A run's logs.** A run is an MMEngine work dir. Each launch of
``tools/train.py`` (including a resumed one) writes
``WORK_DIR/<timestamp>/vis_data/scalars.json`` through ``LocalVisBackend``:
one JSON object per line, train lines such as
``{"lr": ..., "loss": ..., "iter": 20, "step": 20}`` and validation lines such
as ``{"coco/bbox_mAP": 0.123, "coco/bbox_mAP_50": ..., "step": 200}``. For
iteration-based training ``step`` of a validation line is the iteration.
:func:`load_run` reads them into a :class:`RunResult`. The optional
``WORK_DIR/calibration.json`` written by ``tools/analysis/calibration.py``
gives D-ECE where the validations did not log it.

**Records.** ``results.json`` of a method comparison is
``{"schema": 1, "runs": [record, ...]}``. A record is one finished run (see
``mmkd_det.analysis.comparison_runs.make_record`` for its fields); it is
identified by :func:`record_key`, ``(method, pair, seed, split, settings)``,
so re-running a run replaces its record instead of adding a second one,
while another setting of the same method (a tuning grid point, a changed
config) gets a record of its own.

Every write goes to a temporary file in the same folder that is then
renamed over the old one (atomic on POSIX), under an exclusive ``flock`` on a
side lock file, so parallel runs of one comparison (threads) and several
comparisons writing the same file (processes) never lose a record.
"""
import contextlib
import fcntl
import glob
import json
import os
import os.path as osp
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

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
SCHEMA = 1
RESULTS_FILE = 'results.json'


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


def record_key(record: dict) -> Tuple:
    """``(method, pair, seed, split, settings as canonical JSON)`` of a
    record; records written before the pair was recorded are ``'shapes'``
    runs."""
    return (record['method'], record.get('pair', 'shapes'),
            int(record['seed']), record['split'],
            json.dumps(record.get('settings') or {}, sort_keys=True))


def atomic_write_json(path: str, obj) -> None:
    """Writes ``obj`` as JSON to ``path`` through a temp file and a rename.

    A reader sees either the old or the new file, never a partial one, and an
    interrupted write leaves the old file intact.

    Args:
        path: Destination; its folder is created.
        obj: JSON-serialisable object.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix='.tmp-', suffix=osp.basename(path))
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(obj, f, indent=1, ensure_ascii=False)
            f.write('\n')
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def load_records(path: str) -> List[dict]:
    """The records of a ``results.json``; empty when it does not exist.

    Raises:
        ValueError: The file is not a results file of this schema.
    """
    if not osp.isfile(path):
        return []
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get('runs'), list):
        raise ValueError(f'{path} is not a comparison results file (no '
                         '"runs" list); move it away or pick another --out')
    if data.get('schema', SCHEMA) != SCHEMA:
        raise ValueError(f'{path} has schema {data.get("schema")}, this '
                         f'tool writes {SCHEMA}; pick another --out')
    return data['runs']


def records_by_hash(path: str) -> Dict[str, dict]:
    """The records of a ``results.json`` by their ``config_hash`` (records
    without one are left out)."""
    return {
        r['config_hash']: r
        for r in load_records(path) if r.get('config_hash')
    }


def merge_records(old: Sequence[dict], new: Sequence[dict]) -> List[dict]:
    """``old`` with each ``new`` record replacing the one of equal key.

    Order is kept: replaced records stay where they were, others append.
    """
    merged = list(old)
    index = {record_key(r): i for i, r in enumerate(merged)}
    for record in new:
        key = record_key(record)
        if key in index:
            merged[index[key]] = record
        else:
            index[key] = len(merged)
            merged.append(record)
    return merged


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def add_records(path: str, records: Sequence[dict]) -> List[dict]:
    """Merges ``records`` into the results file at ``path`` (atomically).

    Args:
        path: ``results.json`` path.
        records: Finished-run records.

    Returns:
        All records now in the file.
    """
    with _locked(path):
        merged = merge_records(load_records(path), records)
        atomic_write_json(path, dict(schema=SCHEMA, runs=merged))
    return merged


def git_commit(repo: str, exclude: Sequence[str] = ()) -> str:
    """``git rev-parse HEAD`` of ``repo``, with ``+dirty`` for local edits.

    Untracked files do not count; ``exclude`` paths (e.g. the results folder
    this tool writes into) do not either.

    Args:
        repo: A folder inside the checkout.
        exclude: Paths whose changes do not make the tree dirty.

    Returns:
        The commit hash (``'unknown'`` outside a git checkout).
    """

    def git(*args):
        return subprocess.run(['git', '-C', repo, *args],
                              check=True,
                              capture_output=True,
                              text=True).stdout.strip()

    try:
        top = git('rev-parse', '--show-toplevel')
        commit = git('rev-parse', 'HEAD')
        inside = [osp.relpath(osp.realpath(p), top) for p in exclude]
        # git refuses pathspecs outside the checkout; those cannot be dirty
        status = git(
            '-C', top, 'status', '--porcelain', '--untracked-files=no', '--',
            '.', *(f':(exclude){p}' for p in inside if not p.startswith('..')))
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'
    return commit + ('+dirty' if status else '')
