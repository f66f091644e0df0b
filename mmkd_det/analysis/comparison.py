"""Plan, run and collect the training runs of a method comparison.

One run is one ``tools/train.py`` process (``method``, ``seed``, ``split``)
in its own work dir ``<work_dir>/<split>/<method>/seed<k>/`` (tuning grid
points get ``<work_dir>/tune/<method>/<point>/seed<k>/``), followed by one
``tools/analysis/calibration.py`` process for its D-ECE.

A run is finished when its marker ``result.json`` exists, was written for
the same final config (:attr:`RunSpec.config_hash`) and its checkpoint is
still there. The marker is written last, after training reached
``max_iters``, the last validation was at ``max_iters`` and the calibration
ran, so it exists only for complete runs. Anything else in a run's folder
(an interrupted run, a run of another config) is deleted and the run starts
from scratch: the scalar logs of all launches in a folder are merged into one
AP curve, so a clean folder is the only way to keep the curve one run's.

The command runner is injectable (``run_command``) so tests can substitute
a stub that writes what a finished run leaves.
"""
import argparse
import copy
import functools
import hashlib
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from mmengine.config import Config, DictAction

from mmkd_det.engine.runtime import override_data_root
from mmkd_det.utils import methods as registry
from .report import load_d_ece, load_run
from .results_store import atomic_write_json

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Distillation methods, in the registry's order (mmkd_det/utils/methods.py);
#: 'student' and 'teacher' are the plain detectors of the pair.
METHODS = tuple(registry.METHODS)
BASELINES = ('teacher', 'student')
#: The pair compared by default.
DEFAULT_PAIR = 'shapes'
#: Registered pairs the tool can run: those trained on the shapes dataset,
#: whose ``val`` and ``tune`` splits it validates on.
PAIRS = tuple(name for name, pair in registry.PAIRS.items()
              if pair.dataset == 'shapes')
#: One teacher serves every student, as a published pretrained teacher does.
TEACHER_SEED = 0
MARKER = 'result.json'
SPLITS = ('val', 'tune')
#: Model keys whose values are a method's settings.
SETTING_KEYS = ('logit_losses', 'feature_losses', 'distill_warmup_iters')
#: ``run_command(cmd, log_path, env)``: runs ``cmd``, raises on failure.
RunCommand = Callable[[List[str], str, Dict[str, str]], None]


@dataclass(frozen=True)
class PairConfigs:
    """Config files of one method on one teacher/student pair.

    Attributes:
        train: What ``tools/train.py`` trains for the method.
        student: The plain student (evaluates distilled checkpoints).
        teacher: The plain teacher.
    """
    train: str
    student: str
    teacher: str


def resolve_configs(method: str, pair: str = DEFAULT_PAIR) -> PairConfigs:
    """The configs of ``method`` on ``pair``, from the method/pair registry
    (:mod:`mmkd_det.utils.methods`): the tool's only config lookup.

    Args:
        method: One of :data:`METHODS` or :data:`BASELINES`.
        pair: One of :data:`PAIRS` (a registered pair on the shapes
            dataset).

    Returns:
        Absolute config paths.

    Raises:
        ValueError: Unknown method, or a pair that is not registered or is
            not trained on the shapes dataset.
    """
    if pair not in PAIRS:
        raise ValueError(
            f'Unknown pair {pair!r} for the comparison; it runs the pairs on '
            f'the shapes dataset: {list(PAIRS)} (registry: '
            'mmkd_det/utils/methods.py)')
    student = registry.student_config(pair)
    teacher = registry.teacher_config(pair)
    if method == 'student':
        train = student
    elif method == 'teacher':
        train = teacher
    elif method in METHODS:
        train = registry.leaf_config(method, pair)
    else:
        raise ValueError(f'Unknown method {method!r}; known: '
                         f'{list(BASELINES + METHODS)}')
    return PairConfigs(train=train, student=student, teacher=teacher)


def split_options(split: str, data_root: str) -> List[str]:
    """``--cfg-options`` that validate and test on ``split`` of the dataset.

    The split's files are ``annotations/instances_<split>.json`` and the
    image folder ``<split>/``. The val/test datasets get ``data_root`` too,
    so that ``--data-root`` (:func:`override_data_root`) finds the
    evaluators' absolute annotation paths under a dataset root.

    Args:
        split: One of :data:`SPLITS`.
        data_root: Dataset root.

    Returns:
        ``key=value`` strings.
    """
    if split not in SPLITS:
        raise ValueError(f'Unknown split {split!r}; choose from {SPLITS}')
    root = osp.join(osp.abspath(data_root), '')
    ann = f'annotations/instances_{split}.json'
    options = []
    for loader in ('val_dataloader', 'test_dataloader'):
        options += [
            f'{loader}.dataset.data_root={root}',
            f'{loader}.dataset.ann_file={ann}',
            f'{loader}.dataset.data_prefix.img={split}/'
        ]
    options += [
        f'{name}.ann_file={root}{ann}'
        for name in ('val_evaluator', 'test_evaluator')
    ]
    return options


def check_split(data_root: str, split: str) -> None:
    """Raises FileNotFoundError unless ``split`` exists under ``data_root``."""
    ann = osp.join(data_root, 'annotations', f'instances_{split}.json')
    images = osp.join(data_root, split)
    if not (osp.isfile(ann) and osp.isdir(images)):
        raise FileNotFoundError(
            f'The {split!r} split is missing: expected {ann} and {images}/. '
            'Generate the dataset with tools/make_shapes.py or pass '
            '--data-root.')


def parse_options(options: List[str]) -> dict:
    """Parses ``key=value`` strings exactly as ``tools/train.py`` does."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *options]).cfg_options or {}


@functools.lru_cache(maxsize=None)
def _read_config(path: str) -> Config:
    return Config.fromfile(path)


def final_config(config: str, options: List[str], data_root: str) -> Config:
    """The config a run trains with (``tools/train.py``'s edits, no work dir).

    Args:
        config: Config file.
        options: ``--cfg-options`` strings.
        data_root: ``--data-root``.

    Returns:
        A fresh copy; the parsed file is cached.
    """
    cfg = copy.deepcopy(_read_config(osp.abspath(config)))
    if options:
        cfg.merge_from_dict(parse_options(options))
    override_data_root(cfg, data_root)
    return cfg


def _plain(value):
    return value.to_dict() if hasattr(value, 'to_dict') else value


@dataclass
class RunSpec:
    """One planned run.

    Attributes:
        method: Method name (:data:`METHODS` or :data:`BASELINES`).
        seed: ``randomness.seed``.
        split: Validation split.
        config: Config trained.
        eval_config: Config that evaluates the checkpoint (D-ECE).
        work_dir: The run's own folder.
        data_root: Dataset root.
        options: All ``--cfg-options`` of the training.
        calib_options: ``--cfg-options`` of the calibration.
        tune_point: The grid point of a tuning run, else None.
        pair: The teacher/student pair (:data:`PAIRS`).
        settings: The model's :data:`SETTING_KEYS` in the final config.
        max_iters: ``train_cfg.max_iters`` of the final config.
        config_hash: SHA-256 of the final config (work dir excluded).
    """
    method: str
    seed: int
    split: str
    config: str
    eval_config: str
    work_dir: str
    data_root: str
    options: List[str]
    calib_options: List[str] = field(default_factory=list)
    tune_point: Optional[dict] = None
    pair: str = DEFAULT_PAIR
    settings: dict = field(init=False)
    max_iters: int = field(init=False)
    config_hash: str = field(init=False)

    def __post_init__(self):
        cfg = final_config(self.config, self.options, self.data_root)
        self.settings = {
            k: _plain(cfg.model[k])
            for k in SETTING_KEYS if k in cfg.model
        }
        self.max_iters = int(cfg.train_cfg.max_iters)
        text = json.dumps(cfg.to_dict(), sort_keys=True, default=str)
        self.config_hash = hashlib.sha256(text.encode()).hexdigest()

    @property
    def name(self) -> str:
        """E.g. ``val/kd/seed1`` or ``tune/kd/T1_w1_wu0/seed0``."""
        depth = 4 if self.tune_point else 3
        return '/'.join(osp.normpath(self.work_dir).split(os.sep)[-depth:])

    @property
    def checkpoint(self) -> str:
        """Path of the final checkpoint (iteration-based naming)."""
        return osp.join(self.work_dir, f'iter_{self.max_iters}.pth')


def finished_record(spec: RunSpec) -> Optional[dict]:
    """The marker's record if ``spec`` is finished, else None."""
    path = osp.join(spec.work_dir, MARKER)
    try:
        with open(path, encoding='utf-8') as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    if (record.get('config_hash') != spec.config_hash
            or not osp.isfile(record.get('checkpoint', ''))):
        return None
    return record


def run_status(spec: RunSpec) -> str:
    """``'done'``, ``'stale'`` (finished for another config or checkpoint
    gone), ``'partial'`` (interrupted) or ``'todo'``."""
    if finished_record(spec) is not None:
        return 'done'
    if osp.isfile(osp.join(spec.work_dir, MARKER)):
        return 'stale'
    return 'partial' if osp.isdir(spec.work_dir) else 'todo'


def run_logged(cmd: List[str], log_path: str, env: Dict[str, str]) -> None:
    """Default runner: ``cmd`` in the repo root, output into ``log_path``.

    Validation results and errors are echoed with the run's folder name.

    Raises:
        RuntimeError: Non-zero exit; names the log and shows its tail.
    """
    name = '/'.join(osp.normpath(osp.dirname(log_path)).split(os.sep)[-3:])
    tail = []
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
            if 'coco/bbox_mAP:' in line or 'Traceback' in line:
                print(f'  [{name}] {line.strip()[:200]}', flush=True)
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


def _calib_command(spec: RunSpec) -> List[str]:
    cmd = [
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'analysis',
                 'calibration.py'), spec.eval_config, spec.checkpoint,
        '--out-dir', spec.work_dir, '--data-root', spec.data_root
    ]
    return cmd + (['--cfg-options', *spec.calib_options]
                  if spec.calib_options else [])


def execute(spec: RunSpec,
            commit: str,
            threads: int = 1,
            run_command: RunCommand = run_logged) -> dict:
    """Trains, checks and calibrates one run from scratch; writes its marker.

    A failed calibration (e.g. no detection above the score threshold,
    where D-ECE is undefined) leaves ``d_ece`` None and its error in
    ``d_ece_error``; the run still counts as finished.

    Args:
        spec: The run.
        commit: Code version recorded (see ``results_store.git_commit``).
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
    d_ece_error = None
    try:
        run_command(
            _calib_command(spec), osp.join(spec.work_dir, 'calibration.log'),
            env)
        d_ece = load_d_ece(spec.work_dir)
    except (RuntimeError, ValueError) as err:
        # the last line of the log tail is the exception's message
        lines = [line for line in str(err).splitlines() if line.strip()]
        d_ece, d_ece_error = None, lines[-1]
    record = make_record(spec, result, d_ece, commit, train_time)
    if d_ece_error:
        record['d_ece_error'] = d_ece_error
    atomic_write_json(osp.join(spec.work_dir, MARKER), record)
    return record


def make_record(spec: RunSpec, result, d_ece: Optional[float], commit: str,
                train_time: float) -> dict:
    """The ``results.json`` record of a finished run.

    Args:
        spec: The run.
        result: Its ``report.RunResult``.
        d_ece: D-ECE (fraction) or None.
        commit: Code version.
        train_time: Wall-clock seconds of the training process.

    Returns:
        Record with ``method, pair, seed, split, bbox_mAP, bbox_mAP_50,
        bbox_mAP_75, d_ece, config, settings, commit, train_time_s,
        ap_curve`` and the provenance fields ``options, tune_point,
        config_hash, checkpoint, work_dir, final_iter, finished_at``.
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
        checkpoint=spec.checkpoint,
        work_dir=spec.work_dir,
        final_iter=result.final_iter,
        finished_at=time.strftime('%Y-%m-%dT%H:%M:%S%z'))
