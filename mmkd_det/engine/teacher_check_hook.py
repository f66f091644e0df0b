"""Teacher pre-flight: refuse a wrong teacher before the first training step.

A distilled student whose AP stays at 0 is most often taught by a wrong
teacher: another checkpoint, another class order, another input
normalization. The normalization is checked when the teacher is built
(:func:`~mmkd_det.models.distillers.teacher.build_teacher`); this hook checks
what needs the training data, in ``before_train``: the teacher checkpoint's
class names against the training dataset's, and optionally the teacher's
COCO AP on the first ``num_images`` validation images.
"""
import copy
import logging
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmdet.registry import HOOKS, METRICS
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.structures import BaseDataElement
from torch.utils.data import DataLoader, Subset

from .rng_state_hook import get_rng_state, set_rng_state

_SETTINGS = ('num_images', 'min_ap')


def check_teacher_classes(teacher_classes: Optional[Sequence[str]],
                          dataset_classes: Sequence[str],
                          checkpoint: str) -> None:
    """Fail if the teacher was trained on other classes or another order.

    Args:
        teacher_classes (Sequence[str] | None): from the teacher checkpoint;
            None (not recorded) only warns.
        dataset_classes (Sequence[str]): the training dataset's classes.
        checkpoint (str): the teacher checkpoint, for the message.
    """
    dataset_classes = tuple(dataset_classes)
    if teacher_classes is None:
        print_log(
            f'The teacher checkpoint {checkpoint} records no class names '
            '(meta.dataset_meta.classes), so its class order cannot be '
            f'checked against the training dataset\'s {dataset_classes}. '
            'Make sure the teacher was trained on these classes in this '
            'order (checkpoints saved by the MMEngine runner record them).',
            logger='current',
            level=logging.WARNING)
        return
    teacher_classes = tuple(teacher_classes)
    if teacher_classes == dataset_classes:
        return
    only_teacher = [c for c in teacher_classes if c not in dataset_classes]
    only_dataset = [c for c in dataset_classes if c not in teacher_classes]
    if only_teacher or only_dataset:
        detail = (f'different class sets (only the teacher has '
                  f'{only_teacher}, only the dataset has {only_dataset})')
    else:
        swapped = [
            f'#{i}: teacher {t!r} vs dataset {d!r}'
            for i, (t, d) in enumerate(zip(teacher_classes, dataset_classes))
            if t != d
        ]
        detail = f'the same classes in another order ({", ".join(swapped)})'
    raise ValueError(
        f'Teacher class mismatch: the teacher checkpoint {checkpoint} was '
        f'trained on {teacher_classes}, the training dataset has '
        f'{dataset_classes}: {detail}. The teacher\'s logits would be '
        'matched to the wrong classes. Use a teacher trained on this '
        'dataset\'s classes in this order (or give the dataset '
        'metainfo=dict(classes=...) in the teacher\'s order).')


def evaluate_first_images(model: nn.Module, loader: DataLoader, evaluators,
                          num_images: int) -> dict:
    """COCO bbox metrics of ``model`` on the first ``num_images`` images.

    CocoMetric evaluates every image of its annotation file unless told
    otherwise, so its image ids are restricted to the evaluated ones.

    Args:
        model (nn.Module): A detector in eval mode (``test_step``).
        loader (DataLoader): A built validation/test dataloader.
        evaluators (dict | list[dict]): The evaluator config(s); the first
            ``CocoMetric`` is used, for ``bbox`` only.
        num_images (int): How many images, from the dataset's start (all
            when larger than the dataset).

    Returns:
        dict: CocoMetric's results (``bbox_mAP``, ``bbox_mAP_50``, ...;
        empty when nothing was detected).
    """
    evaluators = evaluators if isinstance(evaluators, list) else [evaluators]
    coco = [e for e in evaluators if 'CocoMetric' in str(e.get('type'))]
    if not coco:
        raise RuntimeError(
            'The teacher evaluation needs a CocoMetric in val_evaluator; set '
            'teacher_check.num_images=0 to skip it.')
    metric_cfg = copy.deepcopy(dict(coco[0]))
    metric_cfg.update(metric=['bbox'], format_only=False, outfile_prefix=None)
    metric = METRICS.build(metric_cfg)
    dataset = loader.dataset
    indices = range(min(num_images, len(dataset)))
    metric.dataset_meta = dataset.metainfo
    metric.img_ids = [dataset.get_data_info(i)['img_id'] for i in indices]
    subset = DataLoader(
        Subset(dataset, list(indices)),
        batch_size=loader.batch_size,
        num_workers=0,
        collate_fn=loader.collate_fn)
    with torch.no_grad():
        for batch in subset:
            # as mmengine's Evaluator.process hands them to the metrics
            outputs = [
                sample.to_dict()
                if isinstance(sample, BaseDataElement) else sample
                for sample in model.test_step(batch)
            ]
            metric.process(batch, outputs)
    return dict(metric.compute_metrics(metric.results))


def evaluate_teacher(teacher: nn.Module, runner, num_images: int) -> float:
    """COCO bbox AP of ``teacher`` on the first ``num_images`` val images.

    Uses the runner's validation dataset and the ``CocoMetric`` of its
    ``val_evaluator`` config (:func:`evaluate_first_images`). Every rank
    evaluates the same images.

    Returns:
        float: bbox mAP in [0, 1] (0 if the teacher detects nothing).
    """
    val_loop = runner._val_loop
    evaluators = runner.cfg.get('val_evaluator')
    if val_loop is None or evaluators is None:
        raise RuntimeError(
            'teacher_check.num_images > 0 needs val_dataloader and '
            'val_evaluator in the config; set teacher_check.num_images=0 to '
            'skip the teacher evaluation.')
    if isinstance(val_loop, dict):  # not built yet
        val_loop = runner.build_val_loop(val_loop)
        runner._val_loop = val_loop
    metrics = evaluate_first_images(teacher, val_loop.dataloader, evaluators,
                                    num_images)
    return float(metrics.get('bbox_mAP', 0.0))


@HOOKS.register_module()
class TeacherCheckHook(Hook):
    """Check the teacher against the training data before the first step.

    Settings come from the config's top-level ``teacher_check`` dict (so
    ``--cfg-options teacher_check.num_images=0`` works); arguments given to
    the hook take precedence.

    Args:
        num_images (int, optional): evaluate the teacher (COCO bbox AP) on
            the first this many validation images; 0 skips the evaluation.
            Default from ``teacher_check``, else 0.
        min_ap (float, optional): stop the run when the teacher's AP (in
            [0, 1]) is below this. Default from ``teacher_check``, else 0.01.

    The class check always runs. The hook raises ``TypeError`` on a model
    without a teacher: it belongs in distillation configs only.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 num_images: Optional[int] = None,
                 min_ap: Optional[float] = None) -> None:
        self.num_images = num_images
        self.min_ap = min_ap

    def _settings(self, runner) -> dict:
        settings = dict(num_images=0, min_ap=0.01)
        configured = dict(runner.cfg.get('teacher_check') or {})
        unknown = set(configured) - set(_SETTINGS)
        if unknown:
            raise ValueError(
                f'Unknown teacher_check keys {sorted(unknown)}; known: '
                f'{list(_SETTINGS)}.')
        settings.update(configured)
        for name in _SETTINGS:
            if getattr(self, name) is not None:
                settings[name] = getattr(self, name)
        if int(settings['num_images']) < 0 or not 0 <= float(
                settings['min_ap']) <= 1:
            raise ValueError(
                'teacher_check needs num_images >= 0 and 0 <= min_ap <= 1 '
                f'(AP as mmdet reports it), got {settings}.')
        return settings

    def before_train(self, runner) -> None:
        # the pre-flight must not change the training's random stream
        state = get_rng_state()
        try:
            self._check(runner)
        finally:
            set_rng_state(state)

    def _check(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        teacher = getattr(model, 'teacher', None)
        if not isinstance(teacher, nn.Module):
            raise TypeError(
                f'TeacherCheckHook needs a distiller with a teacher; '
                f'{type(model).__name__} has none. Remove the hook from '
                'custom_hooks for plain detectors.')
        settings = self._settings(runner)
        info = getattr(teacher, 'checkpoint_info', None)
        checkpoint = info.checkpoint if info else 'the teacher checkpoint'
        check_teacher_classes(
            info.classes if info else None,
            runner.train_dataloader.dataset.metainfo['classes'], checkpoint)
        if settings['num_images'] == 0:
            return
        ap = evaluate_teacher(teacher, runner, int(settings['num_images']))
        print_log(
            f'Teacher pre-flight: bbox AP {ap:.3f} on the first '
            f'{settings["num_images"]} validation images ({checkpoint}).',
            logger='current')
        if ap < settings['min_ap']:
            raise RuntimeError(
                f'Teacher pre-flight failed: the teacher ({checkpoint}) '
                f'reaches bbox AP {ap:.3f} on the first '
                f'{settings["num_images"]} validation images, below '
                f'teacher_check.min_ap={settings["min_ap"]}: it would teach '
                'nothing useful. Check model.teacher.checkpoint (a trained '
                'teacher for this dataset), its class order and input '
                'normalization; or lower teacher_check.min_ap / set '
                'teacher_check.num_images=0 to skip this check.')
