"""Execute one run of a method comparison and make its record.

A run (:class:`~mmkd_det.analysis.comparison.RunSpec`) is one
``tools/train.py`` process, started from scratch in the run's folder with a
fixed number of CPU threads; its validations log COCO AP and D-ECE
(``CocoMetricWithDECE``). The marker ``result.json`` is written last (see
:mod:`mmkd_det.analysis.comparison`).
"""
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Optional

from ..evaluation.coco_dece_metric import DECE_WARNING
from .comparison import MARKER, REPO_ROOT, RunCommand, RunSpec
from .records import D_ECE_KEY, atomic_write_json, load_run

_TRAIN_ITER = re.compile(r'Iter\(train\) \[\s*(\d+)/(\d+)\]')
_VAL_AP = re.compile(r'coco/bbox_mAP: ([0-9.]+)')


def print_line(text: str) -> None:
    """Prints ``text`` and its newline in one write, so that the lines of
    runs executing in parallel threads never share a line (``print`` writes
    the newline separately)."""
    sys.stdout.write(text + '\n')
    sys.stdout.flush()


def progress_line(name: str, line: str, state: dict) -> Optional[str]:
    """One short progress line for a validation line of mmengine's log.

    Args:
        name: The run, e.g. ``val/kd/seed0``.
        line: A line of the training log.
        state: Per-run memory (the last training iteration, the start time);
            updated in place.

    Returns:
        ``'[val/kd/seed0] 700/7000  AP 32.4  3 min, ETA 27 min'`` for a
        validation result, else None.
    """
    state.setdefault('start', time.time())
    match = _TRAIN_ITER.search(line)
    if match:
        state['iter'], state['total'] = int(match[1]), int(match[2])
        return None
    match = _VAL_AP.search(line)
    if not match or 'iter' not in state:
        return None
    done, total = state['iter'], state['total']
    elapsed = time.time() - state['start']
    eta = elapsed / max(done, 1) * (total - done)
    return (f'  [{name}] {done}/{total}  AP {100 * float(match[1]):.1f}  '
            f'{elapsed / 60:.0f} min, ETA {eta / 60:.0f} min')


def run_logged(cmd: List[str], log_path: str, env: Dict[str, str]) -> None:
    """Default runner: ``cmd`` in the repo root, output into ``log_path``.

    Each validation prints one short line (:func:`progress_line`); the rest
    of the output goes only to the log. A failure shows the log's tail.

    Raises:
        RuntimeError: Non-zero exit; names the log and shows its tail.
    """
    name = '/'.join(osp.normpath(osp.dirname(log_path)).split(os.sep)[-3:])
    tail, state = [], {}
    with open(log_path, 'w', encoding='utf-8') as log:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            bufsize=1)
        for line in proc.stdout:
            log.write(line)
            tail = (tail + [line])[-30:]
            progress = progress_line(name, line, state)
            if progress:
                print_line(progress)
        if proc.wait() != 0:
            raise RuntimeError(f'{cmd[1]} exited with {proc.returncode}; '
                               f'log {log_path}:\n{"".join(tail)}')


def thread_env(threads: int) -> Dict[str, str]:
    """The environment of a run limited to ``threads`` CPU threads."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    # the runs import this checkout, wherever the tool was started from
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
    return env


def _train_command(spec: RunSpec) -> List[str]:
    return [
        sys.executable,
        osp.join(REPO_ROOT, 'tools',
                 'train.py'), spec.config, '--work-dir', spec.work_dir,
        '--data-root', spec.data_root, '--cfg-options', *spec.options
    ]


def _d_ece_error(spec: RunSpec, final_iter: int) -> str:
    """Why the last validation logged no D-ECE: the metric's own warning
    in the training log (``CocoMetricWithDECE``), else what can cause it."""
    reason = None
    with open(osp.join(spec.work_dir, 'train.log'), encoding='utf-8') as f:
        for line in f:
            if DECE_WARNING in line:
                reason = line.split(DECE_WARNING, 1)[1].strip()
    return reason or (f'no {D_ECE_KEY} at iteration {final_iter}: the '
                      'val_evaluator has no CocoMetricWithDECE')


def execute(spec: RunSpec,
            commit: str,
            threads: int = 1,
            run_command: RunCommand = run_logged) -> dict:
    """Trains and checks one run from scratch; writes its marker.

    D-ECE is the last validation's ``coco/d_ece``. Where it is missing (no
    detection above the metric's score threshold, where D-ECE is
    undefined, or a val_evaluator without it), ``d_ece`` is None and
    ``d_ece_error`` says so; the run still counts as finished.

    Args:
        spec: The run.
        commit: Code version recorded (see ``records.git_commit``).
        threads: CPU threads of its processes.
        run_command: Runs one command (see :data:`RunCommand`).

    Returns:
        The run's record (see :func:`make_record`).

    Raises:
        RuntimeError: Training failed or stopped before ``max_iters``.
    """
    shutil.rmtree(spec.work_dir, ignore_errors=True)
    os.makedirs(spec.work_dir)
    env = thread_env(threads)
    start = time.time()
    run_command(
        _train_command(spec), osp.join(spec.work_dir, 'train.log'), env)
    train_time = time.time() - start
    result = load_run(spec.work_dir, name=spec.method)
    if result.final_iter != spec.max_iters or not osp.isfile(spec.checkpoint):
        raise RuntimeError(
            f'{spec.work_dir}: the last validation is at iteration '
            f'{result.final_iter} and the checkpoint {spec.checkpoint} '
            f'{"exists" if osp.isfile(spec.checkpoint) else "is missing"}; '
            f'a finished run has both at max_iters={spec.max_iters}.')
    record = make_record(spec, result, result.d_ece, commit, train_time)
    if result.d_ece is None:
        record['d_ece_error'] = _d_ece_error(spec, result.final_iter)
    atomic_write_json(osp.join(spec.work_dir, MARKER), record)
    return record


def make_record(spec: RunSpec, result, d_ece: Optional[float], commit: str,
                train_time: float) -> dict:
    """The ``results.json`` record of a finished run.

    Args:
        spec: The run.
        result: Its ``records.RunResult``.
        d_ece: D-ECE (fraction) or None.
        commit: Code version.
        train_time: Wall-clock seconds of the training process.

    Returns:
        Record with ``method, pair, seed, split, bbox_mAP, bbox_mAP_50,
        bbox_mAP_75, d_ece, config, settings, commit, train_time_s,
        ap_curve`` and the provenance fields ``options, tune_point,
        config_hash, dataset, checkpoint, work_dir, final_iter,
        finished_at``.
    """
    metrics = {
        k.split('/', 1)[1]: result.metrics.get(k)
        for k in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75')
    }
    return dict(
        method=spec.method,
        pair=spec.pair,
        seed=spec.seed,
        split=spec.split,
        **metrics,
        d_ece=d_ece,
        config=osp.relpath(spec.config, REPO_ROOT),
        settings=spec.settings,
        commit=commit,
        train_time_s=round(train_time, 1),
        ap_curve=[[step, ap] for step, ap in result.curve],
        options=spec.options,
        tune_point=spec.tune_point,
        config_hash=spec.config_hash,
        dataset=spec.dataset,
        checkpoint=spec.checkpoint,
        work_dir=spec.work_dir,
        final_iter=result.final_iter,
        finished_at=time.strftime('%Y-%m-%dT%H:%M:%S%z'))
