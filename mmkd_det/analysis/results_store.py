"""``results.json`` of a method comparison: atomic, merged, locked writes.

The file is ``{"schema": 1, "runs": [record, ...]}``. A record is one
finished run (see ``mmkd_det.analysis.comparison_runs.make_record`` for its
fields); it is identified by :func:`record_key`, ``(method, seed, split,
settings)``, so re-running a run replaces its record instead of adding a
second one, while another setting of the same method (a tuning grid point,
a changed config) gets a record of its own.

Every write goes to a temporary file in the same folder that is then
renamed over the old one (atomic on POSIX), under an exclusive ``flock`` on a
side lock file, so parallel runs of one comparison (threads) and several
comparisons writing the same file (processes) never lose a record.
"""
import contextlib
import fcntl
import json
import os
import os.path as osp
import subprocess
import tempfile
from typing import Dict, Iterator, List, Sequence, Tuple

SCHEMA = 1
RESULTS_FILE = 'results.json'


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
