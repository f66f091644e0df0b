"""Which runs a comparison needs, and running them (optionally in parallel).

:func:`plan_comparison` lists the runs of ``--methods`` x ``--seeds`` on one
split; :func:`plan_tune` the grid runs of ``--tune`` (on ``tune`` only).
Both put the teacher apart: it is trained once (seed
:data:`~mmkd_det.analysis.comparison.TEACHER_SEED`) unless a checkpoint is
given, and every distillation run is planned with its final checkpoint.
:func:`run_all` skips finished runs, trains the teacher beside the runs that
do not need it and merges every record into ``results.json`` as soon as its
run finishes.
"""
import os.path as osp
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from functools import partial
from typing import Callable, List, Optional, Sequence, Tuple

from .comparison import (DEFAULT_PAIR, METHODS, REPO_ROOT, TEACHER_SEED,
                         RunCommand, RunSpec, final_config, finished_record,
                         pair_dataset, resolve_configs, split_options)
from .comparison_runs import execute, print_line, run_logged
from .records import RESULTS_FILE, add_records, git_commit, records_by_hash
from .tune_grid import grid_points, point_options, point_tag, warmup_iters


def _spec(method: str,
          seed: int,
          split: str,
          work_dir: str,
          data_root: str,
          options: Sequence[str],
          teacher_ckpt: Optional[str],
          extra: Sequence[str] = (),
          tune_point: Optional[dict] = None,
          pair: str = DEFAULT_PAIR,
          tag: str = '') -> RunSpec:
    """The run of ``method`` and ``seed`` in
    ``<work_dir>/<split>/<method>/[<tag>/]seed<seed>/`` (``tag``: a tuning
    grid point's)."""
    configs = resolve_configs(method, pair)
    split_opts = split_options(split, data_root)
    train_opts = split_opts + list(options) + [f'randomness.seed={seed}']
    train_opts += list(extra)
    if method in METHODS:
        train_opts.append(f'model.teacher.checkpoint={teacher_ckpt}')
    return RunSpec(
        method=method,
        seed=seed,
        split=split,
        config=configs.train,
        work_dir=osp.join(work_dir, split, method, tag, f'seed{seed}'),
        data_root=data_root,
        options=train_opts,
        tune_point=tune_point,
        pair=pair)


def _planner(needed: bool, checkpoint: Optional[str], split: str,
             work_dir: str, data_root: str, options: Sequence[str],
             pair: str) -> Tuple[Optional[RunSpec], Callable[..., RunSpec]]:
    """The teacher run (None when not needed or given) and the maker of the
    other runs: :func:`_spec` bound to the split, the folders, the options,
    the pair and the teacher's checkpoint."""
    spec = partial(
        _spec,
        split=split,
        work_dir=work_dir,
        data_root=data_root,
        options=options,
        pair=pair)
    teacher = None
    if checkpoint is None and needed:
        teacher = spec('teacher', TEACHER_SEED, teacher_ckpt=None)
        checkpoint = teacher.checkpoint
    return teacher, partial(spec, teacher_ckpt=checkpoint)


def plan_comparison(
        methods: Sequence[str],
        seeds: Sequence[int],
        split: str,
        work_dir: str,
        data_root: str,
        options: Sequence[str] = (),
        teacher_checkpoint: Optional[str] = None,
        pair: str = DEFAULT_PAIR) -> Tuple[Optional[RunSpec], List[RunSpec]]:
    """The runs of a comparison, seed by seed (a full seed finishes first).

    The plain student is always added when a distillation method is asked
    for (it is the baseline of every delta).

    Args:
        methods: Names from ``comparison.METHODS`` and ``'student'``,
            ``'teacher'``.
        seeds: Training seeds.
        split: Validation split.
        work_dir: Root of the run folders.
        data_root: Dataset root.
        options: User ``--cfg-options`` for every run.
        teacher_checkpoint: Use this teacher instead of training one.
        pair: Teacher/student pair (``comparison.PAIRS``).

    Returns:
        ``(teacher run or None, other runs)``.
    """
    distill = [m for m in METHODS if m in methods]
    teacher, spec = _planner(
        bool(distill) or 'teacher' in methods, teacher_checkpoint, split,
        work_dir, data_root, options, pair)
    students = ['student'] if distill or 'student' in methods else []
    runs = [spec(m, seed) for seed in seeds for m in students + distill]
    return teacher, runs


def plan_tune(
        methods: Sequence[str],
        seed: int,
        work_dir: str,
        data_root: str,
        options: Sequence[str] = (),
        teacher_checkpoint: Optional[str] = None,
        pair: str = DEFAULT_PAIR) -> Tuple[Optional[RunSpec], List[RunSpec]]:
    """The tuning runs: the plain student and each method's grid, on tune.

    Arguments as :func:`plan_comparison`, except that ``methods`` are keys
    of ``tune_grid.TUNE_GRIDS``, there is one ``seed`` and the split is
    always ``tune``. Returns ``(teacher run or None, other runs)``.
    """
    teacher, spec = _planner(True, teacher_checkpoint, 'tune', work_dir,
                             data_root, options, pair)
    runs = [spec('student', seed)]
    for method in methods:
        config = resolve_configs(method, pair).train
        max_iters = int(
            final_config(config, list(options), data_root).train_cfg.max_iters)
        for point in grid_points(method, pair_dataset(pair).name):
            tune_point = dict(
                temperature=point['temperature'],
                loss_weight=point['loss_weight'],
                warmup_iters=warmup_iters(point, max_iters))
            runs.append(
                spec(
                    method,
                    seed,
                    extra=point_options(method, point, max_iters),
                    tune_point=tune_point,
                    tag=point_tag(point, max_iters)))
    return teacher, runs


def run_all(
    teacher: Optional[RunSpec],
    runs: Sequence[RunSpec],
    out_dir: str,
    commit: Optional[str] = None,
    jobs: int = 1,
    cores: int = 1,
    run_command: Optional[RunCommand] = None,
    log: Callable[[str], None] = print_line
) -> Tuple[List[dict], List[Tuple[RunSpec, str]]]:
    """Runs what is not finished; records go into ``out_dir/results.json``.

    ``jobs`` runs at a time, each with ``max(1, cores // jobs)`` threads
    (one thread per run is what a small shared machine runs fastest,
    benchmarks/shapes/schedule_study.md). The teacher starts first, and the
    runs that do not need it (plain students) share the cores with it; each
    distillation run waits for the teacher's checkpoint. A failed run is
    reported and the others go on.

    Args:
        teacher: The teacher run, or None.
        runs: The other runs.
        out_dir: Folder of ``results.json``.
        commit: Code version recorded in new records; default: this
            checkout's :func:`~mmkd_det.analysis.records.git_commit`, changes
            under ``out_dir`` not counted.
        jobs: Runs at a time.
        cores: CPU cores to share.
        run_command: Runs one command (tests pass a stub); default
            :func:`~mmkd_det.analysis.comparison_runs.run_logged`.
        log: Progress printer.

    Returns:
        ``(records of all finished runs in plan order, [(run, error)])``.

    Raises:
        RuntimeError: The teacher failed (no distillation could run).
    """
    if commit is None:
        commit = git_commit(REPO_ROOT, exclude=[out_dir])
    run_command = run_command or run_logged
    results_path = osp.join(out_dir, RESULTS_FILE)
    committed = records_by_hash(results_path)
    records = {}
    for spec in ([teacher] if teacher else []) + list(runs):
        record = finished_record(spec, committed)
        if record is not None:
            records[spec.work_dir] = record
    if records:
        add_records(results_path, list(records.values()))
    train_teacher = teacher is not None and teacher.work_dir not in records
    todo = [s for s in runs if s.work_dir not in records]
    log(f'{len(records)} finished run(s) found, {len(todo)} to run' +
        (' and the teacher' if train_teacher else ''))
    threads = max(1, cores // max(1, jobs))
    teacher_done = threading.Event()
    teacher_error: List[str] = []

    def finish(spec: RunSpec) -> dict:
        if spec.method in METHODS and train_teacher:
            teacher_done.wait()
            if teacher_error:
                raise RuntimeError(f'the teacher failed: {teacher_error[0]}')
        log(f'start {spec.name} ({threads} thread(s))')
        try:
            record = execute(spec, commit, threads, run_command)
        except Exception as error:
            if spec is teacher:
                teacher_error.append(str(error))
            raise
        finally:
            if spec is teacher:
                teacher_done.set()
        add_records(results_path, [record])
        records[spec.work_dir] = record
        log(f'done  {spec.name}: AP {100 * record["bbox_mAP"]:.2f} in '
            f'{record["train_time_s"]:.0f} s')
        return record

    # the teacher first, then what does not need it, then the distillation
    ordered_todo = ([teacher] if train_teacher else []) + sorted(
        todo, key=lambda s: s.method in METHODS)
    failures = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(finish, s): s for s in ordered_todo}
        for future in as_completed(futures):
            if future.exception() is not None:
                spec = futures[future]
                failures.append((spec, str(future.exception())))
                log(f'FAILED {spec.name}: {future.exception()}')
    if teacher_error:
        raise RuntimeError(f'The teacher failed, so no distillation ran: '
                           f'{teacher_error[0]}')
    ordered = [
        records[s.work_dir]
        for s in ([teacher] if teacher else []) + list(runs)
        if s.work_dir in records
    ]
    return ordered, failures
