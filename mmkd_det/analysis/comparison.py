"""Plan, run and collect the training runs of a method comparison.

One run is one ``tools/train.py`` process (``method``, ``seed``, ``split``)
in its own work dir ``<work_dir>/<split>/<method>/seed<k>/`` (tuning grid
points get ``<work_dir>/tune/<method>/<point>/seed<k>/``); its validations
log COCO AP and D-ECE.

A run is finished when its marker ``result.json`` exists, was written for
the same final config (:attr:`RunSpec.config_hash`) and its checkpoint is
still there. The marker is written last, after training reached
``max_iters`` and the last validation was at ``max_iters``, so it exists
only for complete runs. Anything else in a run's folder
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
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from mmengine.config import Config, DictAction

from mmkd_det.datasets.embedded import (EMBEDDED_DATASETS, EmbeddedDataset,
                                        embedded_dataset)
from mmkd_det.datasets.generation import read_meta
from mmkd_det.engine.runtime import override_data_root
from mmkd_det.utils import methods as registry

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Distillation methods, in the registry's order (mmkd_det/utils/methods.py);
#: 'student' and 'teacher' are the plain detectors of the pair.
METHODS = tuple(registry.METHODS)
BASELINES = ('teacher', 'student')
#: The pair compared by default.
DEFAULT_PAIR = 'digits'
#: Registered pairs the tool can run: those trained on an embedded dataset
#: (:mod:`mmkd_det.datasets.embedded`), whose ``val`` and ``tune`` splits it
#: validates on.
PAIRS = tuple(name for name, pair in registry.PAIRS.items()
              if pair.dataset in EMBEDDED_DATASETS)
#: One teacher serves every student, as a published pretrained teacher does.
TEACHER_SEED = 0
MARKER = 'result.json'
SPLITS = ('val', 'tune')
#: Model keys whose values are a method's settings.
SETTING_KEYS = ('logit_losses', 'feature_losses', 'distill_warmup_iters',
                'distill_warmup_fraction')
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
        pair: One of :data:`PAIRS` (a registered pair on an embedded
            dataset).

    Returns:
        Absolute config paths.

    Raises:
        ValueError: Unknown method, or a pair that is not registered or is
            not trained on an embedded dataset.
    """
    if pair not in PAIRS:
        raise ValueError(
            f'Unknown pair {pair!r} for the comparison; it runs the pairs on '
            f'an embedded dataset: {list(PAIRS)} (registry: '
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


def pair_dataset(pair: str) -> EmbeddedDataset:
    """The embedded dataset ``pair`` (one of :data:`PAIRS`) trains on."""
    return embedded_dataset(registry.PAIRS[pair].dataset)


def check_split(data_root: str,
                split: str,
                custom_data: bool = False,
                pair: str = DEFAULT_PAIR) -> None:
    """Raises FileNotFoundError unless ``split`` exists under ``data_root``
    and, for a generated dataset (one with ``meta.json``), it was made with
    the defaults of the pair's dataset (unless ``custom_data``)."""
    dataset = pair_dataset(pair)
    ann = osp.join(data_root, 'annotations', f'instances_{split}.json')
    images = osp.join(data_root, split)
    if not (osp.isfile(ann) and osp.isdir(images)):
        raise FileNotFoundError(
            f'The {split!r} split is missing: expected {ann} and {images}/. '
            f'Generate the dataset with `{dataset.make_command(data_root)}` '
            'or pass --data-root.')
    mismatch = None if custom_data else dataset.mismatch(data_root)
    if mismatch:
        found = ', '.join(f'{k}={a!r} (expected {b!r})'
                          for k, (a, b) in sorted(mismatch.items()))
        raise FileNotFoundError(
            f'The dataset in {data_root} is not the {dataset.name} dataset '
            f"the comparison's configs and reference numbers belong to: "
            f'{found}. Regenerate it with '
            f'`{dataset.make_command(data_root)} --force`, or pass '
            '--custom-data to compare methods on it anyway.')


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
        work_dir: The run's own folder.
        data_root: Dataset root.
        options: All ``--cfg-options`` of the training.
        tune_point: The grid point of a tuning run, else None.
        pair: The teacher/student pair (:data:`PAIRS`).
        settings: The model's :data:`SETTING_KEYS` in the final config.
        max_iters: ``train_cfg.max_iters`` of the final config.
        dataset: A generated dataset's generator ``version`` and ``args``
            (``meta.json``), else None.
        config_hash: SHA-256 of the final config (work dir excluded) and,
            for a generated dataset, its generator version and arguments.
    """
    method: str
    seed: int
    split: str
    config: str
    work_dir: str
    data_root: str
    options: List[str]
    tune_point: Optional[dict] = None
    pair: str = DEFAULT_PAIR
    settings: dict = field(init=False)
    max_iters: int = field(init=False)
    dataset: Optional[dict] = field(init=False)
    config_hash: str = field(init=False)

    def __post_init__(self):
        cfg = final_config(self.config, self.options, self.data_root)
        self.settings = {
            k: _plain(cfg.model[k])
            for k in SETTING_KEYS if k in cfg.model
        }
        self.max_iters = int(cfg.train_cfg.max_iters)
        # a dataset regenerated with other arguments makes the run
        # stale too, not only another config
        meta = read_meta(self.data_root)
        self.dataset = None if meta is None else dict(
            version=meta.get('version'), args=meta.get('args'))
        text = json.dumps(
            cfg.to_dict() if self.dataset is None else dict(
                config=cfg.to_dict(), dataset=self.dataset),
            sort_keys=True,
            default=str)
        # the checkout's own path (data root, shipped teacher) does not make
        # another run: a record committed from one clone is found in another
        text = text.replace(REPO_ROOT, '<repo>')
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


def finished_record(
        spec: RunSpec,
        committed: Optional[Dict[str, dict]] = None) -> Optional[dict]:
    """The record of ``spec`` if it is finished, else None.

    A run is finished when its folder's marker has the same config hash and
    its checkpoint is there, or when ``committed`` (records of a
    ``results.json`` by config hash, e.g. from an earlier sitting in
    another clone) holds a record of the same config hash: a run whose
    checkpoint nothing needs is not trained again. The teacher's checkpoint
    is needed, so a teacher counts as finished only by its marker.
    """
    record = (committed or {}).get(spec.config_hash)
    if record is not None and spec.method != 'teacher':
        return record
    path = osp.join(spec.work_dir, MARKER)
    try:
        with open(path, encoding='utf-8') as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    if (record.get('config_hash') != spec.config_hash
            or not osp.isfile(record.get('checkpoint', ''))):
        return None
    # markers written before records carried the dataset: the hash covers
    # it, so a matching marker was made on this very dataset
    record.setdefault('dataset', spec.dataset)
    return record


def run_status(spec: RunSpec,
               committed: Optional[Dict[str, dict]] = None) -> str:
    """``'done'``, ``'stale'`` (finished for another config or checkpoint
    gone), ``'partial'`` (interrupted) or ``'todo'``; ``committed`` as for
    :func:`finished_record`."""
    if finished_record(spec, committed) is not None:
        return 'done'
    if osp.isfile(osp.join(spec.work_dir, MARKER)):
        return 'stale'
    return 'partial' if osp.isdir(spec.work_dir) else 'todo'
