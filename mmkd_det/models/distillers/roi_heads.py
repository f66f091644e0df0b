"""How the distiller meets mmdet's RoI heads: students, teachers, checks.

The student keeps mmdet's own training path: its RoI head is the configured
mmdet class with a small mixin that *keeps* what ``loss`` already computes
(the FPN features, each stage's sampled RoIs, labels and class logits), so
the distiller reads them after ``TwoStageDetector.loss`` instead of
re-implementing RPN, assignment and sampling.

The teacher is asked for its class logits on the student's RoIs the way its
own inference scores a proposal: one box head for a standard RoI head; for a
cascade, mmdet's ``CascadeRoIHead._refine_roi``, i.e. the stage logits
averaged over the stages, each later stage on the RoIs refined by the one
before (Cai & Vasconcelos, Cascade R-CNN, CVPR 2018; mmdet's
``predict_bbox``).
"""
from dataclasses import dataclass, field
from functools import lru_cache
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
from mmdet.models.roi_heads import CascadeRoIHead, StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from torch import Tensor

SUPPORTED_HEADS = (
    'StandardRoIHead (Faster/Mask R-CNN and subclasses that keep its loss, '
    'bbox_loss and predict_bbox) or CascadeRoIHead (Cascade (Mask) R-CNN) '
    'with a softmax box classifier (mmdet Shared2FCBBoxHead with '
    'CrossEntropyLoss)')


@dataclass
class StageRecord:
    """What one RoI-head stage of the student computed for its loss.

    Attributes:
        stage (int): stage index (0 for a standard RoI head).
        rois (Tensor): sampled RoIs (N, 5) as ``[batch_idx, x1, y1, x2, y2]``.
        num_rois_per_img (list[int]): N split by image, in ``rois`` order.
        labels (Tensor): (N,) classification targets, background = C.
        cls_score (Tensor): (N, C+1) student logits, background last.
    """
    stage: int
    rois: Tensor
    num_rois_per_img: List[int]
    labels: Tensor
    cls_score: Tensor


@dataclass
class StudentRecord:
    """The student's FPN features and its per-stage records of one step."""
    feats: Tuple[Tensor, ...]
    stages: List[StageRecord] = field(default_factory=list)


def sampled_labels(sampling_results: List[SamplingResult],
                   num_classes: int) -> Tensor:
    """Classification targets of the sampled RoIs, in ``bbox2roi`` order.

    Args:
        sampling_results (list[SamplingResult]): one per image; each orders
            its priors positives first, then negatives.
        num_classes (int): number of foreground classes; background RoIs get
            label ``num_classes`` (the last logit column).

    Returns:
        Tensor: labels of shape (N,), N the total number of sampled RoIs.
    """
    labels = []
    for res in sampling_results:
        labels.append(res.pos_gt_labels)
        labels.append(
            res.pos_gt_labels.new_full((res.neg_priors.size(0), ),
                                       num_classes))
    return torch.cat(labels)


class _RecordingRoIHead:
    """Mixin: keep the features and each stage's RoIs, labels and logits.

    ``loss`` opens a fresh :class:`StudentRecord`; the distiller takes it
    with :meth:`pop_record` right after ``TwoStageDetector.loss``.
    """

    record = None

    def loss(self, x: Tuple[Tensor], rpn_results_list: list,
             batch_data_samples: list) -> dict:
        self.record = StudentRecord(feats=x)
        return super().loss(x, rpn_results_list, batch_data_samples)

    def pop_record(self) -> StudentRecord:
        """Return the record of the last ``loss`` call and forget it."""
        record, self.record = self.record, None
        if record is None:
            raise RuntimeError('The student RoI head has no record: call the '
                               "detector's loss() first.")
        return record

    def _keep(self, stage: int, sampling_results: List[SamplingResult],
              bbox_results: dict, num_classes: int) -> None:
        self.record.stages.append(
            StageRecord(
                stage=stage,
                rois=bbox2roi([res.priors for res in sampling_results]),
                num_rois_per_img=[len(res.priors) for res in sampling_results],
                labels=sampled_labels(sampling_results, num_classes),
                cls_score=bbox_results['cls_score']))


class _RecordingStandardRoIHead(_RecordingRoIHead):

    def bbox_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult]) -> dict:
        bbox_results = super().bbox_loss(x, sampling_results)
        self._keep(0, sampling_results, bbox_results,
                   self.bbox_head.num_classes)
        return bbox_results


class _RecordingCascadeRoIHead(_RecordingRoIHead):

    def bbox_loss(self, stage: int, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult]) -> dict:
        bbox_results = super().bbox_loss(stage, x, sampling_results)
        self._keep(stage, sampling_results, bbox_results,
                   self.bbox_head[stage].num_classes)
        return bbox_results


def _family(head_cls: type) -> type:
    """mmdet base class of a RoI head class, or None when unsupported."""
    for base in (CascadeRoIHead, StandardRoIHead):
        if issubclass(head_cls, base):
            return base
    return None


def _check_kind(head_cls: type, role: str, methods: Sequence[str]) -> type:
    """Raise unless ``head_cls`` keeps mmdet's ``methods`` of its family."""
    base = _family(head_cls)
    replaced = [
        m for m in methods
        if base is not None and getattr(head_cls, m) is not getattr(base, m)
    ]
    if base is None or replaced:
        why = (f'replaces {", ".join(replaced)}'
               if replaced else 'is not a StandardRoIHead or CascadeRoIHead')
        raise TypeError(
            f'The {role} RoI head {head_cls.__name__} is not supported: it '
            f'{why}. Supported: {SUPPORTED_HEADS}. Heads such as HTC, SCNet, '
            'Sparse R-CNN or Grid R-CNN compute their boxes differently.')
    return base


@lru_cache(maxsize=None)
def student_roi_head_class(head_cls: type) -> type:
    """The recording variant of a student RoI head class.

    It subclasses ``head_cls`` (so checkpoints keep mmdet's keys and load
    into the plain student) and only observes ``loss``/``bbox_loss``.

    Args:
        head_cls (type): the configured mmdet RoI head class.

    Returns:
        type: ``Distill<head_cls>``, a subclass of ``head_cls``.
    """
    base = _check_kind(head_cls, 'student', ('loss', 'bbox_loss'))
    mixin = (
        _RecordingCascadeRoIHead
        if base is CascadeRoIHead else _RecordingStandardRoIHead)
    return type(f'Distill{head_cls.__name__}', (mixin, head_cls),
                {'__module__': __name__})


def student_roi_head_cfg(roi_head: dict) -> dict:
    """The student RoI head config with its recording class as ``type``.

    Args:
        roi_head (dict): the configured mmdet RoI head (``type`` a registry
            name or a class).

    Returns:
        dict: a shallow copy whose ``type`` is
        :func:`student_roi_head_class` of the configured class.
    """
    roi_head = dict(roi_head)
    head_type = roi_head['type']
    head_cls = MODELS.get(head_type) if isinstance(head_type,
                                                   str) else head_type
    if head_cls is None:
        raise KeyError(f'Unknown student RoI head type {head_type!r}.')
    roi_head['type'] = student_roi_head_class(head_cls)
    return roi_head


def check_teacher_roi_head(roi_head: nn.Module) -> None:
    """Raise unless the teacher scores RoIs the way :func:`teacher_roi_logits`
    reproduces (mmdet's own ``predict_bbox`` path)."""
    methods = ['predict_bbox']
    if isinstance(roi_head, CascadeRoIHead):
        methods += ['_refine_roi', '_bbox_forward']
    _check_kind(type(roi_head), 'teacher', methods)


def bbox_heads(roi_head: nn.Module) -> List[nn.Module]:
    """The box head of every stage (one for a standard RoI head)."""
    heads = roi_head.bbox_head
    return list(heads) if isinstance(heads, nn.ModuleList) else [heads]


def check_softmax_classifier(roi_head: nn.Module, role: str) -> int:
    """Raise unless every stage has a softmax classifier; return its C.

    Args:
        roi_head (nn.Module): a student or teacher RoI head.
        role (str): 'student' or 'teacher', for the error message.

    Returns:
        int: the number of foreground classes C (equal at every stage).
    """
    heads = bbox_heads(roi_head)
    for stage, head in enumerate(heads):
        if not getattr(head, 'with_cls', True) or getattr(
                head, 'custom_cls_channels', False) or getattr(
                    head.loss_cls, 'use_sigmoid', False):
            raise ValueError(
                f'The {role} box head (stage {stage}, '
                f'{type(head).__name__}) does not give softmax logits with a '
                'background column; the logit losses need them. Supported: '
                f'{SUPPORTED_HEADS}.')
    classes = {head.num_classes for head in heads}
    if len(classes) != 1:
        raise ValueError(f'The {role} cascade stages predict different '
                         f'num_classes {sorted(classes)}.')
    return classes.pop()


def teacher_roi_logits(roi_head: nn.Module, feats: Tuple[Tensor], rois: Tensor,
                       num_rois_per_img: List[int],
                       batch_img_metas: List[dict]) -> Tensor:
    """Teacher class logits on given RoIs, as its own inference scores them.

    Args:
        roi_head (nn.Module): the teacher's RoI head.
        feats (tuple[Tensor]): the teacher's FPN outputs.
        rois (Tensor): (N, 5) RoIs ``[batch_idx, x1, y1, x2, y2]``, grouped
            by image.
        num_rois_per_img (list[int]): N split by image.
        batch_img_metas (list[dict]): image metas (a cascade clips its
            refined boxes to ``img_shape``).

    Returns:
        Tensor: (N, C+1) logits; for a cascade the mean over its stages.
    """
    if isinstance(roi_head, CascadeRoIHead):
        _, cls_scores, _ = roi_head._refine_roi(feats, rois, batch_img_metas,
                                                num_rois_per_img)
        return torch.cat(cls_scores)
    return roi_head._bbox_forward(feats, rois)['cls_score']


def stage_weights(roi_head: nn.Module) -> List[float]:
    """mmdet's per-stage loss weights (``[1.0]`` for a standard head)."""
    if isinstance(roi_head, CascadeRoIHead):
        return [float(w) for w in roi_head.stage_loss_weights]
    return [1.0]


def is_cascade(roi_head: nn.Module) -> bool:
    """Whether the head is a cascade, whose losses mmdet logs as ``s<i>.``."""
    return isinstance(roi_head, CascadeRoIHead)
