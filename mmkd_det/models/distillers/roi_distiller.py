"""Two-stage detector distillation on the student's sampled RoIs."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmdet.models.detectors import TwoStageDetector
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor

from .roi_heads import (StudentRecord, check_softmax_classifier,
                        check_teacher_roi_head, is_cascade, stage_weights,
                        student_roi_head_cfg, teacher_roi_logits)
from .teacher import (build_teacher, drop_teacher_from_state_dict,
                      ignore_missing_teacher_keys)
from .teacher_precision import (as_fp32, check_teacher_precision,
                                teacher_autocast)
from .warmup import DistillWarmup


@MODELS.register_module()
class RoIDistiller(TwoStageDetector):
    """Distil a frozen two-stage teacher into a two-stage student.

    The student is declared exactly like an mmdet two-stage detector (Faster,
    Mask, Cascade or Cascade Mask R-CNN; the fields of
    :class:`~mmdet.models.detectors.TwoStageDetector`) and trains through
    mmdet's own ``TwoStageDetector.loss``: its RPN, assigners, samplers, RoI
    head and mask losses are mmdet's code, unchanged. Its RoI head only keeps
    what that path computes (see :mod:`.roi_heads`). The teacher runs its
    backbone and FPN, then scores the **student's sampled RoIs** of every
    student stage, under ``no_grad`` and always in eval mode; its RPN never
    runs. This is how the DKD and ReviewKD detection code (Zhao et al., CVPR
    2022; Chen et al., CVPR 2021), followed by LumiNet (Hossain et al.),
    line teacher and student up. A cascade teacher scores a RoI as its own
    inference does: the mean of its stage logits over its refinement chain.

    Distillation terms:

    - ``logit_losses``: each gets ``(student_logits, teacher_logits, labels)``
      for all sampled RoIs of a stage, logits of shape (N, C+1) with
      background last. A cascade student is distilled at every stage; the
      stage terms are logged as ``s<i>.<name>`` and weighted like mmdet's
      ``stage_loss_weights`` unless ``distill_stage_weights`` is given.
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
            and teacher FPN features already match). A connector config
            without ``in_channels``/``out_channels``/``num_levels`` gets
            them from the student's and the teacher's necks.
        distill_warmup_iters (int): linearly ramp the distillation weights
            from ~0 to 1 over this many iterations. 0 disables the warm-up.
        distill_warmup_fraction (float): or over this fraction of the run's
            iterations (:class:`~.warmup.DistillWarmup`); at most one of
            the two.
        distill_stage_weights (list[float], optional): weight of each
            cascade stage's logit losses; default: the student's mmdet
            ``stage_loss_weights`` (``[1.0]`` for a one-stage RoI head).
        teacher_precision (str): ``'fp32'`` (default), or ``'fp16'`` (CUDA
            only) / ``'bf16'`` to run the teacher under autocast; its
            features and logits reach the losses as fp32
            (:mod:`.teacher_precision`).
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
                 distill_warmup_fraction: float = 0.0,
                 distill_stage_weights: Optional[Sequence[float]] = None,
                 teacher_precision: str = 'fp32',
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        if not (logit_losses or feature_losses):
            raise ValueError(
                'RoIDistiller needs at least one of logit_losses or '
                'feature_losses; without them train the plain student config.')
        warmup = DistillWarmup(distill_warmup_iters, distill_warmup_fraction)
        precision = check_teacher_precision(teacher_precision)
        super().__init__(
            backbone=backbone,
            neck=neck,
            rpn_head=rpn_head,
            roi_head=student_roi_head_cfg(roi_head),
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.warmup = warmup
        self.teacher_precision = precision
        self.distill_stage_weights = self._stage_weights(distill_stage_weights)
        teacher = dict(teacher)
        unknown = set(teacher) - {'config', 'checkpoint'}
        if unknown or 'config' not in teacher:
            raise ValueError(
                'model.teacher must be dict(config=..., checkpoint=...), got '
                f'keys {sorted(teacher)}.')
        self.teacher = build_teacher(teacher['config'],
                                     teacher.get('checkpoint'))
        num_classes = self._check_teacher()
        self._same_normalization = self._same_input_normalization()

        self.logit_losses = nn.ModuleDict()
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
                MODELS.build(self._fill_fpn_channels(connector))
                if connector else nn.Identity())
            self._check_feature_channels(name, self.connectors[name])

        # DDP neither broadcasts nor all-reduces the frozen teacher.
        self._ddp_params_and_buffers_to_ignore = [
            f'teacher.{name}' for name, _ in self.teacher.named_parameters()
        ] + [f'teacher.{name}' for name, _ in self.teacher.named_buffers()]
        # public since torch 2.5; the private twin exists in older versions
        register_state_dict_hook = getattr(self,
                                           'register_state_dict_post_hook',
                                           self._register_state_dict_hook)
        register_state_dict_hook(drop_teacher_from_state_dict)
        self.register_load_state_dict_post_hook(ignore_missing_teacher_keys)

    @staticmethod
    def _check_loss_name(name: str) -> None:
        if 'loss' not in name:
            raise ValueError(
                f'Distillation loss name "{name}" must contain "loss" '
                '(e.g. "loss_kd_cls"): mmengine only optimises such keys.')

    def _stage_weights(self,
                       weights: Optional[Sequence[float]]) -> List[float]:
        """Per-stage logit-loss weights, checked against the student."""
        default = stage_weights(self.roi_head)
        if weights is None:
            return default
        weights = [float(w) for w in weights]
        if len(weights) != len(default):
            raise ValueError(
                f'distill_stage_weights has {len(weights)} entries but the '
                f'student RoI head has {len(default)} stage(s); give one '
                'weight per stage or leave it unset for mmdet\'s '
                f'stage_loss_weights {default}.')
        return weights

    def _check_teacher(self) -> int:
        """Fail before training when teacher and student do not fit.

        Returns:
            int: the number of foreground classes C both predict.
        """
        if not getattr(self.teacher, 'with_roi_head', False):
            raise TypeError(
                'The teacher must be a two-stage detector with a RoI head '
                f'(got {type(self.teacher).__name__}).')
        check_teacher_roi_head(self.teacher.roi_head)
        s_classes = check_softmax_classifier(self.roi_head, 'student')
        t_classes = check_softmax_classifier(self.teacher.roi_head, 'teacher')
        if s_classes != t_classes:
            raise ValueError(
                f'Teacher and student num_classes differ ({t_classes}'
                f' vs {s_classes}): both RoI heads must predict the '
                'same classes. Set model.roi_head.bbox_head.num_classes in '
                'the teacher or student config.')
        return s_classes

    def _fill_fpn_channels(self, connector: ConfigType) -> dict:
        """The connector config with what it leaves out taken from the
        FPNs: ``in_channels`` the student's, ``out_channels`` the teacher's
        (one int per level) and ``num_levels`` the student's level count, so
        that one feature-loss config fits every pair. Given values are kept
        and checked by :meth:`_check_feature_channels`."""
        connector = dict(connector)
        student = _fpn_channels(self, 'student')
        connector.setdefault('in_channels', student)
        connector.setdefault('out_channels',
                             _fpn_channels(self.teacher, 'teacher'))
        connector.setdefault('num_levels', len(student))
        return connector

    def _check_feature_channels(self, name: str, connector: nn.Module) -> None:
        """Fail at build time when a feature loss would compare FPN levels
        of different channel counts or numbers."""
        student = _fpn_channels(self, 'student')
        teacher = _fpn_channels(self.teacher, 'teacher')
        into = getattr(connector, 'in_channels', student)
        out = getattr(connector, 'out_channels', student)
        if list(into) != student or list(out) != teacher:
            kind = type(connector).__name__
            fix = ('give it connector=dict(type=\'ConvAdapter\', '
                   f'in_channels={student[0]}, out_channels={teacher[0]}, '
                   f'num_levels={len(student)}) or ABFConnector' if isinstance(
                       connector, nn.Identity) else
                   f'set its in_channels={student} and '
                   f'out_channels={teacher}')
            raise ValueError(
                f'Feature loss "{name}": the student FPN gives {student} '
                f'channels per level and the teacher FPN {teacher}, but its '
                f'connector ({kind}) maps {list(into)} to {list(out)}: '
                f'{fix}.')

    def train(self, mode: bool = True) -> 'RoIDistiller':
        """Set the student's mode; the teacher stays in eval mode."""
        super().train(mode)
        self.teacher.eval()
        return self

    def distill_weight(self) -> float:
        """Current warm-up factor of the distillation losses, in (0, 1]."""
        return self.warmup.factor()

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> dict:
        """Student detection losses plus the distillation losses.

        Args:
            batch_inputs (Tensor): images of shape (B, 3, H, W).
            batch_data_samples (list[DetDataSample]): their annotations.

        Returns:
            dict: the student's mmdet losses and one entry per distillation
            loss (per stage, ``s<i>.<name>``, for a cascade student).
        """
        losses, student = self.student_loss(batch_inputs, batch_data_samples)
        teacher_feats, stage_logits = self.teacher_outputs(
            batch_inputs, student, [s.metainfo for s in batch_data_samples])
        for stage, teacher_logits in zip(student.stages, stage_logits):
            stage_losses = self.logit_distill_losses(stage.cls_score,
                                                     teacher_logits,
                                                     stage.labels)
            losses.update(self.name_by_stage(stage_losses, stage.stage))
        losses.update(
            self.feature_distill_losses(student.feats, teacher_feats))
        return losses

    def student_loss(
            self, batch_inputs: Tensor,
            batch_data_samples: SampleList) -> Tuple[dict, StudentRecord]:
        """The student's losses from mmdet's own ``TwoStageDetector.loss``
        (RPN, sampling, RoI-head and mask losses) and what its RoI head kept
        on the way: FPN features and per-stage RoIs, labels and logits."""
        losses = super().loss(batch_inputs, batch_data_samples)
        return losses, self.roi_head.pop_record()

    @torch.no_grad()
    def teacher_outputs(
            self, batch_inputs: Tensor, student: StudentRecord,
            batch_img_metas: List[dict]) -> Tuple[Tuple[Tensor], List[Tensor]]:
        """The teacher's FPN outputs for the student's (B, 3, H, W) inputs
        and its (N_s, C+1) logits on the sampled RoIs of each student stage
        s, both fp32 whatever ``teacher_precision`` it runs at."""
        with teacher_autocast(self.teacher_precision, batch_inputs.device):
            feats = as_fp32(
                self.teacher.extract_feat(self.teacher_inputs(batch_inputs)))
            return feats, [
                as_fp32(
                    teacher_roi_logits(self.teacher.roi_head, feats,
                                       stage.rois, stage.num_rois_per_img,
                                       batch_img_metas))
                for stage in student.stages
            ]

    def _same_input_normalization(self) -> bool:
        """Whether teacher and student preprocess images identically."""
        s_pre, t_pre = self.data_preprocessor, self.teacher.data_preprocessor
        if (s_pre._enable_normalize != t_pre._enable_normalize
                or s_pre._channel_conversion != t_pre._channel_conversion):
            return False
        return not s_pre._enable_normalize or (torch.equal(
            s_pre.mean, t_pre.mean) and torch.equal(s_pre.std, t_pre.std))

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

    def logit_distill_losses(self, student_logits: Tensor,
                             teacher_logits: Tensor,
                             labels: Tensor) -> Dict[str, Tensor]:
        """Every logit loss on one set of RoIs, scaled by the warm-up.

        Args:
            student_logits (Tensor): (N, C+1) student RoI logits.
            teacher_logits (Tensor): (N, C+1) teacher RoI logits.
            labels (Tensor): (N,) RoI labels, background = C.

        Returns:
            dict: one loss per configured name.
        """
        weight = self.distill_weight()
        return {
            name: weight * loss(student_logits, teacher_logits, labels)
            for name, loss in self.logit_losses.items()
        }

    def feature_distill_losses(
            self, student_feats: Tuple[Tensor],
            teacher_feats: Tuple[Tensor]) -> Dict[str, Tensor]:
        """Every feature loss on the FPN outputs, scaled by the warm-up.

        Args:
            student_feats (tuple[Tensor]): student FPN outputs, level l of
                shape (B, C_s, H_l, W_l).
            teacher_feats (tuple[Tensor]): teacher FPN outputs, same levels.

        Returns:
            dict: one loss per configured name.
        """
        weight = self.distill_weight()
        return {
            name:
            weight * loss(self.connectors[name](student_feats), teacher_feats)
            for name, loss in self.feature_losses.items()
        }

    def name_by_stage(self, stage_losses: Dict[str, Tensor],
                      stage: int) -> Dict[str, Tensor]:
        """Log a cascade stage's terms as mmdet does (``s<i>.<name>``), with
        that stage's weight; a one-stage RoI head keeps the plain names."""
        if not is_cascade(self.roi_head):
            return stage_losses
        weight = self.distill_stage_weights[stage]
        return {
            f's{stage}.{name}': weight * value
            for name, value in stage_losses.items()
        }


def _fpn_channels(detector: nn.Module, role: str) -> List[int]:
    """Channels of each FPN output level of a detector."""
    neck = getattr(detector, 'neck', None)
    if neck is None or not hasattr(neck, 'out_channels'):
        raise ValueError(
            f'Feature losses need an FPN-like neck with out_channels; the '
            f'{role} has {type(neck).__name__}.')
    return [int(neck.out_channels)] * int(neck.num_outs)
