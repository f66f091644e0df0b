"""Two-stage detector distillation on the student's sampled RoIs."""
import copy
from typing import Dict, List, Tuple

import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.detectors import TwoStageDetector
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.utils import unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from .teacher import build_teacher


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
        labels.append(res.pos_gt_labels.new_full((res.neg_priors.size(0), ),
                                                 num_classes))
    return torch.cat(labels)


@MODELS.register_module()
class RoIDistiller(TwoStageDetector):
    """Distil a frozen two-stage teacher into a two-stage student.

    The student is declared exactly like mmdet's Faster R-CNN (same fields as
    :class:`~mmdet.models.detectors.TwoStageDetector`) and trains as one: its
    RPN, proposals, assigner and sampler, RoI head and losses are unchanged.
    The teacher runs its backbone and FPN, then its RoI extractor and box head
    on the **student's sampled RoIs**, under ``no_grad`` and always in eval
    mode; its RPN never runs. This is how the DKD and ReviewKD detection code
    (Zhao et al., CVPR 2022; Chen et al., CVPR 2021), followed by LumiNet
    (Hossain et al.), line teacher and student up.

    Distillation terms:

    - ``logit_losses``: each gets ``(student_logits, teacher_logits, labels)``
      for all sampled RoIs, logits of shape (N, C+1) with background last.
    - ``feature_losses``: each gets the student's FPN outputs, passed through
      its trainable ``connector`` (e.g. ``ABFConnector``), and the teacher's
      FPN outputs computed for the logits above (no second teacher pass).

    The teacher is a registered submodule, so ``.to()``, ``.cuda()`` and
    autocast apply to it, but it is frozen (``requires_grad=False``), left out
    of the optimizer (:class:`DistillOptimWrapperConstructor`), ignored by DDP
    and dropped from ``state_dict()``: a checkpoint saved while distilling
    loads into the plain student config. Loading one back into a distiller
    keeps the teacher's own weights.

    Args:
        backbone, neck, rpn_head, roi_head, train_cfg, test_cfg,
        data_preprocessor, init_cfg: the student, as for ``TwoStageDetector``.
        teacher (dict): ``dict(config=..., checkpoint=...)``; ``config`` is a
            config file path, an ``mmdet::`` path or an inline model dict.
        logit_losses (dict, optional): name -> loss config. Names are the
            log keys and must contain ``'loss'`` to be optimised.
        feature_losses (dict, optional): name -> loss config with an extra
            ``connector`` entry (a ``MODELS`` config, or None when student
            and teacher FPN features already match).
        distill_warmup_iters (int): linearly ramp the distillation weights
            from ~0 to 1 over this many iterations. 0 disables the warm-up.
    """

    # state_dict prefixes of the parts that exist only for distillation
    DISTILLATION_PREFIXES = ('teacher.', 'connectors.')

    def __init__(self,
                 backbone: ConfigType,
                 rpn_head: ConfigType,
                 roi_head: ConfigType,
                 train_cfg: ConfigType,
                 test_cfg: ConfigType,
                 teacher: ConfigType,
                 neck: OptConfigType = None,
                 logit_losses: OptConfigType = None,
                 feature_losses: OptConfigType = None,
                 distill_warmup_iters: int = 0,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            rpn_head=rpn_head,
            roi_head=roi_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if not (logit_losses or feature_losses):
            raise ValueError(
                'RoIDistiller needs at least one of logit_losses or '
                'feature_losses; without them train the plain student config.')
        if distill_warmup_iters < 0:
            raise ValueError('distill_warmup_iters must be >= 0, got '
                             f'{distill_warmup_iters}.')
        self.distill_warmup_iters = distill_warmup_iters
        teacher = dict(teacher)
        unknown = set(teacher) - {'config', 'checkpoint'}
        if unknown or 'config' not in teacher:
            raise ValueError(
                'model.teacher must be dict(config=..., checkpoint=...), got '
                f'keys {sorted(teacher)}.')
        self.teacher = build_teacher(teacher['config'],
                                     teacher.get('checkpoint'))
        self._check_teacher()
        self._same_normalization = self._same_input_normalization()

        self.logit_losses = nn.ModuleDict()
        num_classes = self.roi_head.bbox_head.num_classes
        for name, cfg in (logit_losses or {}).items():
            self._check_loss_name(name)
            self.logit_losses[name] = MODELS.build(cfg)
            # losses with class-count constraints (e.g. LDRLD's k) fail here
            if hasattr(self.logit_losses[name], 'check_num_classes'):
                self.logit_losses[name].check_num_classes(num_classes)
        self.connectors = nn.ModuleDict()
        self.feature_losses = nn.ModuleDict()
        for name, cfg in (feature_losses or {}).items():
            self._check_loss_name(name)
            cfg = copy.deepcopy(dict(cfg))
            connector = cfg.pop('connector', None)
            self.feature_losses[name] = MODELS.build(cfg)
            self.connectors[name] = (
                MODELS.build(connector) if connector else nn.Identity())

        # DDP neither broadcasts nor all-reduces the frozen teacher.
        self._ddp_params_and_buffers_to_ignore = [
            f'teacher.{name}' for name, _ in self.teacher.named_parameters()
        ] + [f'teacher.{name}' for name, _ in self.teacher.named_buffers()]
        # public since torch 2.5; the private twin exists in older versions
        register_state_dict_hook = getattr(self, 'register_state_dict_post_hook',
                                           self._register_state_dict_hook)
        register_state_dict_hook(_drop_teacher_from_state_dict)
        self.register_load_state_dict_post_hook(_ignore_missing_teacher_keys)

    @staticmethod
    def _check_loss_name(name: str) -> None:
        if 'loss' not in name:
            raise ValueError(
                f'Distillation loss name "{name}" must contain "loss" '
                '(e.g. "loss_kd_cls"): mmengine only optimises such keys.')

    def _check_teacher(self) -> None:
        """Fail before training when teacher and student do not fit."""
        if not getattr(self.teacher, 'with_roi_head', False):
            raise TypeError(
                'The teacher must be a two-stage detector with a RoI head '
                f'(got {type(self.teacher).__name__}).')
        s_head, t_head = self.roi_head.bbox_head, self.teacher.roi_head.bbox_head
        if s_head.num_classes != t_head.num_classes:
            raise ValueError(
                f'Teacher and student num_classes differ ({t_head.num_classes}'
                f' vs {s_head.num_classes}): both RoI heads must predict the '
                'same classes. Set model.roi_head.bbox_head.num_classes in '
                'the teacher or student config.')
        for role, head in (('student', s_head), ('teacher', t_head)):
            if getattr(head, 'custom_cls_channels', False) or getattr(
                    head.loss_cls, 'use_sigmoid', False):
                raise ValueError(
                    f'The {role} box head uses sigmoid classification; the '
                    'logit losses need softmax logits with a background '
                    'column (mmdet Shared2FCBBoxHead with CrossEntropyLoss).')

    def train(self, mode: bool = True) -> 'RoIDistiller':
        """Set the student's mode; the teacher stays in eval mode."""
        super().train(mode)
        self.teacher.eval()
        return self

    def distill_weight(self) -> float:
        """Current warm-up factor of the distillation losses, in (0, 1]."""
        if self.distill_warmup_iters == 0:
            return 1.0
        cur_iter = MessageHub.get_current_instance().get_info('iter', 0)
        return min(1.0, (cur_iter + 1) / self.distill_warmup_iters)

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> dict:
        """Student detection losses plus the distillation losses.

        Args:
            batch_inputs (Tensor): images of shape (B, 3, H, W).
            batch_data_samples (list[DetDataSample]): their annotations.

        Returns:
            dict: the student's losses and one entry per distillation loss.
        """
        x = self.extract_feat(batch_inputs)
        losses, rpn_results_list = self.rpn_loss_and_proposals(
            x, batch_data_samples)
        sampling_results = self.sample_rois(x, rpn_results_list,
                                            batch_data_samples)
        bbox_results = self.roi_head.bbox_loss(x, sampling_results)
        losses.update(bbox_results['loss_bbox'])
        if self.roi_head.with_mask:
            batch_gt_instances = unpack_gt_instances(batch_data_samples)[0]
            mask_results = self.roi_head.mask_loss(x, sampling_results,
                                                   bbox_results['bbox_feats'],
                                                   batch_gt_instances)
            losses.update(mask_results['loss_mask'])

        rois = bbox2roi([res.priors for res in sampling_results])
        teacher_feats, teacher_logits = self.teacher_forward(
            batch_inputs, rois)
        labels = sampled_labels(sampling_results,
                                self.roi_head.bbox_head.num_classes)
        losses.update(
            self.distill_losses(x, teacher_feats, bbox_results['cls_score'],
                                teacher_logits, labels))
        return losses

    def rpn_loss_and_proposals(
            self, x: Tuple[Tensor],
            batch_data_samples: SampleList) -> Tuple[dict, List]:
        """The student's RPN losses and proposals, as in TwoStageDetector."""
        losses = dict()
        if not self.with_rpn:
            # pre-computed proposals (e.g. Fast R-CNN style)
            return losses, [
                data_sample.proposals for data_sample in batch_data_samples
            ]
        proposal_cfg = self.train_cfg.get('rpn_proposal', self.test_cfg.rpn)
        rpn_data_samples = copy.deepcopy(batch_data_samples)
        # the RPN is class-agnostic
        for data_sample in rpn_data_samples:
            data_sample.gt_instances.labels = torch.zeros_like(
                data_sample.gt_instances.labels)
        rpn_losses, rpn_results_list = self.rpn_head.loss_and_predict(
            x, rpn_data_samples, proposal_cfg=proposal_cfg)
        for key in list(rpn_losses):
            if 'loss' in key and 'rpn' not in key:
                rpn_losses[f'rpn_{key}'] = rpn_losses.pop(key)
        losses.update(rpn_losses)
        return losses, rpn_results_list

    def sample_rois(self, x: Tuple[Tensor], rpn_results_list: List[InstanceData],
                    batch_data_samples: SampleList) -> List[SamplingResult]:
        """Assign and sample the student's proposals (StandardRoIHead.loss)."""
        batch_gt_instances, batch_gt_instances_ignore, _ = unpack_gt_instances(
            batch_data_samples)
        sampling_results = []
        for i, rpn_results in enumerate(rpn_results_list):
            rpn_results.priors = rpn_results.pop('bboxes')
            assign_result = self.roi_head.bbox_assigner.assign(
                rpn_results, batch_gt_instances[i],
                batch_gt_instances_ignore[i])
            sampling_results.append(
                self.roi_head.bbox_sampler.sample(
                    assign_result,
                    rpn_results,
                    batch_gt_instances[i],
                    feats=[lvl_feat[i][None] for lvl_feat in x]))
        return sampling_results

    @torch.no_grad()
    def teacher_forward(self, batch_inputs: Tensor,
                        rois: Tensor) -> Tuple[Tuple[Tensor], Tensor]:
        """Teacher FPN features and RoI logits on the student's RoIs.

        Args:
            batch_inputs (Tensor): student-preprocessed images (B, 3, H, W).
            rois (Tensor): sampled RoIs (N, 5) as ``[batch_idx, x1, y1, x2,
                y2]`` in input-image coordinates.

        Returns:
            tuple: the teacher's FPN outputs and its logits of shape (N, C+1).
        """
        feats = self.teacher.extract_feat(self.teacher_inputs(batch_inputs))
        logits = self.teacher.roi_head._bbox_forward(feats, rois)['cls_score']
        return feats, logits

    def _same_input_normalization(self) -> bool:
        """Whether teacher and student preprocess images identically."""
        s_pre, t_pre = self.data_preprocessor, self.teacher.data_preprocessor
        if (s_pre._enable_normalize != t_pre._enable_normalize
                or s_pre._channel_conversion != t_pre._channel_conversion):
            return False
        return not s_pre._enable_normalize or (
            torch.equal(s_pre.mean, t_pre.mean)
            and torch.equal(s_pre.std, t_pre.std))

    def teacher_inputs(self, batch_inputs: Tensor) -> Tensor:
        """Re-normalise the student's inputs when the teacher's differ.

        Both detectors see the same augmented, padded images; only the
        mean/std/channel order of their data preprocessors may differ
        (decided once at build time, so no per-step device sync).
        """
        if self._same_normalization:
            return batch_inputs
        s_pre, t_pre = self.data_preprocessor, self.teacher.data_preprocessor
        images = batch_inputs
        if s_pre._enable_normalize:
            images = images * s_pre.std + s_pre.mean
        if s_pre._channel_conversion != t_pre._channel_conversion:
            images = images.flip(1)
        if t_pre._enable_normalize:
            images = (images - t_pre.mean) / t_pre.std
        return images

    def distill_losses(self, student_feats: Tuple[Tensor],
                       teacher_feats: Tuple[Tensor], student_logits: Tensor,
                       teacher_logits: Tensor, labels: Tensor) -> dict:
        """Evaluate every distillation loss, scaled by the warm-up factor.

        Args:
            student_feats (tuple[Tensor]): student FPN outputs.
            teacher_feats (tuple[Tensor]): teacher FPN outputs.
            student_logits (Tensor): (N, C+1) student RoI logits.
            teacher_logits (Tensor): (N, C+1) teacher RoI logits.
            labels (Tensor): (N,) RoI labels, background = C.

        Returns:
            dict: one loss per configured name.
        """
        weight = self.distill_weight()
        losses: Dict[str, Tensor] = {}
        for name, loss in self.logit_losses.items():
            losses[name] = weight * loss(student_logits, teacher_logits,
                                         labels)
        for name, loss in self.feature_losses.items():
            adapted = self.connectors[name](student_feats)
            losses[name] = weight * loss(adapted, teacher_feats)
        return losses


def _drop_teacher_from_state_dict(module: nn.Module, state_dict: dict,
                                  prefix: str, local_metadata: dict) -> None:
    """``state_dict`` hook: checkpoints never carry the frozen teacher."""
    teacher_prefix = prefix + 'teacher.'
    for key in [k for k in state_dict if k.startswith(teacher_prefix)]:
        del state_dict[key]


def _ignore_missing_teacher_keys(module: nn.Module,
                                 incompatible_keys) -> None:
    """Load hook: the teacher keeps the weights it was built with."""
    missing = incompatible_keys.missing_keys
    # keys are relative to the loaded root, which may wrap the distiller
    missing[:] = [k for k in missing if '.teacher.' not in f'.{k}']
