"""What every logit distillation loss of the package shares.

Input checks, the KL helpers, and :class:`BaseLogitDistillLoss`, which runs
mmdet's loss protocol once (checks, upcast to fp32, teacher detach, the
optional logit normalization, the subclass's per-RoI loss, the reduction
times ``loss_weight``) for :class:`~.kd_loss.LogitKDLoss`,
:class:`~.dkd_loss.DKDLoss` and :class:`~.ldrld_loss.LDRLDLoss`.

Conventions: logits are ``(N, C)`` with C = num_classes + 1 and the
background in the last column, as mmdet's ``Shared2FCBBoxHead`` emits them.
``loss_weight`` multiplies ``T^2 * KL`` averaged over the RoIs; the ``T^2``
factor keeps the gradient scale independent of the temperature (Hinton et
al., "Distilling the Knowledge in a Neural Network", arXiv:1503.02531,
section 2), as in the official DKD code
(https://github.com/megvii-research/mdistiller, ``mdistiller/distillers/
KD.py``), which LumiNet and logit standardization build on.
"""
import math
from typing import Callable, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.losses.utils import weight_reduce_loss
from torch import Tensor

from .logit_norm import LOGIT_NORMS, build_logit_norm, upcast

_REDUCTIONS = ('none', 'mean', 'sum')


# ----------------------------------------------------------------------------
# Shared pure helpers
# ----------------------------------------------------------------------------
def check_logit_pair(student_logits: Tensor, teacher_logits: Tensor) -> None:
    """Raise ValueError unless both logit sets are 2-D and of equal shape."""
    if student_logits.dim() != 2 or (student_logits.shape
                                     != teacher_logits.shape):
        raise ValueError(
            'student and teacher logits must both be (N, C) with the same '
            f'shape, got student {tuple(student_logits.shape)} and teacher '
            f'{tuple(teacher_logits.shape)}')


def check_labels(labels: Optional[Tensor], num_rois: int,
                 num_classes: int) -> Optional[Tensor]:
    """Validate RoI labels: shape (N,), integer values in [0, C).

    Args:
        labels (Tensor | None): Labels of shape (N,); background = C - 1.
        num_rois (int): N.
        num_classes (int): C, background included.

    Returns:
        Tensor | None: ``labels`` as int64, or None if None was given.
    """
    if labels is None:
        return None
    if labels.dim() != 1 or labels.shape[0] != num_rois:
        raise ValueError(f'labels must have shape ({num_rois},), got '
                         f'{tuple(labels.shape)}')
    if labels.is_floating_point() or labels.is_complex():
        raise ValueError(f'labels must be integers, got {labels.dtype}')
    # One host sync; a wrong label would otherwise index out of bounds.
    if num_rois > 0 and bool(((labels < 0) | (labels >= num_classes)).any()):
        raise ValueError(
            f'labels must lie in [0, {num_classes}) (background = '
            f'{num_classes - 1}), got min {int(labels.min())} and max '
            f'{int(labels.max())}')
    return labels.long()


def check_finite(student_logits: Tensor, teacher_logits: Tensor) -> None:
    """Raise FloatingPointError if either logit set holds NaN or Inf.

    A non-finite logit would silently turn the loss (and the student's
    weights) into NaN; failing here names the culprit instead.
    """
    for role, logits in (('student', student_logits), ('teacher',
                                                       teacher_logits)):
        if logits.numel() and not bool(torch.isfinite(logits).all()):
            raise FloatingPointError(
                f'The {role} RoI logits contain NaN or Inf: ' +
                ('the student diverged (lower the learning rate or the '
                 'distillation loss_weight, or enable gradient clipping)'
                 if role == 'student' else
                 'check the teacher checkpoint and its input normalization'))


def check_temperature(temperature: float) -> float:
    """Return ``temperature`` as float; ValueError unless finite and > 0."""
    temperature = float(temperature)
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(
            f'temperature must be a positive finite number, got {temperature}')
    return temperature


def kl_from_log_probs(log_p_teacher: Tensor,
                      log_p_student: Tensor,
                      dim: int = -1) -> Tensor:
    """``KL(p_teacher || p_student)`` summed over ``dim``, from log-probs.

    Working from log-probabilities (``p_t * (log p_t - log p_s)``) keeps
    underflowed probabilities finite: a ``p_t`` of 0 multiplies a finite log
    difference instead of ``log(0)``.
    """
    return (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(dim)


def binary_kl(u_teacher: Tensor, u_student: Tensor) -> Tensor:
    """Elementwise KL between two Bernoulli laws given by their log-odds.

    ``KL([p_t, 1 - p_t] || [p_s, 1 - p_s])`` with ``p = sigmoid(u)``, in the
    closed form ``logsig(u_t) - logsig(u_s) - sigmoid(-u_t) * (u_t - u_s)``
    (from ``logsig(-x) = logsig(x) - x``): finite for any finite log-odds,
    also when a probability rounds to 0 or 1, and far cheaper than a
    softmax over a size-2 dimension.
    """
    return (F.logsigmoid(u_teacher) - F.logsigmoid(u_student) -
            torch.sigmoid(-u_teacher) * (u_teacher - u_student))


def soft_kl(student_logits: Tensor,
            teacher_logits: Tensor,
            temperature: float = 1.0,
            dim: int = -1) -> Tensor:
    """``KL(softmax(t / T) || softmax(s / T))`` summed over ``dim``.

    No ``T^2`` factor. Works on any shape, e.g. (N, C) or the (N, k) top
    classes of LDRLD.
    """
    if temperature != 1.0:  # skip two full-size passes in the common T=1
        student_logits = student_logits / temperature
        teacher_logits = teacher_logits / temperature
    return kl_from_log_probs(
        F.log_softmax(teacher_logits, dim=dim),
        F.log_softmax(student_logits, dim=dim), dim)


# ----------------------------------------------------------------------------
# Shared module base
# ----------------------------------------------------------------------------
class BaseLogitDistillLoss(nn.Module):
    """Common constructor checks, preamble and reduction of logit losses.

    :meth:`forward` implements mmdet's loss protocol once for every logit
    loss: input checks, upcast to fp32, teacher detach, the optional logit
    normalization, then :meth:`per_roi_loss` (the subclass's math, a call
    of its pure function) and the reduction times ``loss_weight``.

    Args:
        temperature (float): Softmax temperature, > 0.
        logit_norm (str | None): Normalization applied to teacher and student
            logits separately before the loss.
        loss_weight (float): Multiplies the reduced loss.
        reduction (str): 'none', 'mean' or 'sum'.
        eps (float, optional): eps of the normalization; None = its default.
        sync_stats (bool): Cross-rank statistics (perception only).
        allowed_norms (tuple): Normalizations this loss accepts.
    """

    def __init__(self,
                 temperature: float = 1.0,
                 logit_norm: Optional[str] = None,
                 loss_weight: float = 1.0,
                 reduction: str = 'mean',
                 eps: Optional[float] = None,
                 sync_stats: bool = False,
                 allowed_norms: Tuple = LOGIT_NORMS) -> None:
        super().__init__()
        self.temperature = check_temperature(temperature)
        if reduction not in _REDUCTIONS:
            raise ValueError(f'reduction must be one of {_REDUCTIONS}, got '
                             f'{reduction!r}')
        if logit_norm not in allowed_norms:
            raise ValueError(
                f'Unknown logit_norm {logit_norm!r} for '
                f'{type(self).__name__}; valid options are {allowed_norms}')
        self.logit_norm = logit_norm
        self.sync_stats = sync_stats
        self.norm_fn: Optional[Callable[[Tensor], Tensor]] = \
            build_logit_norm(logit_norm, eps=eps, sync_stats=sync_stats)
        self.loss_weight = loss_weight
        self.reduction = reduction

    def _prepare(
            self, student_logits: Tensor, teacher_logits: Tensor,
            labels: Optional[Tensor]
    ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        """Check inputs, upcast to >= float32, detach and normalize.

        Returns:
            tuple: student (N, C) with grad, teacher (N, C) without grad
            (both float32, or float64 for float64 inputs), labels (N,) int64
            or None.
        """
        check_logit_pair(student_logits, teacher_logits)
        check_finite(student_logits, teacher_logits)
        labels = check_labels(labels, *student_logits.shape)
        student = upcast(student_logits)
        teacher = upcast(teacher_logits.detach())
        if self.norm_fn is not None:
            # Separate statistics for each model; the student's carry grads.
            # Teacher first on every rank keeps sync_stats collectives in the
            # same order everywhere.
            with torch.no_grad():
                teacher = self.norm_fn(teacher)
            student = self.norm_fn(student)
        return student, teacher, labels

    def _reduce(self, loss: Tensor, weight: Optional[Tensor],
                avg_factor: Optional[float],
                reduction_override: Optional[str]) -> Tensor:
        """mmdet reduction of per-RoI losses (N,), times ``loss_weight``."""
        if reduction_override not in (None, ) + _REDUCTIONS:
            raise ValueError(f'reduction_override must be None or one of '
                             f'{_REDUCTIONS}, got {reduction_override!r}')
        reduction = reduction_override or self.reduction
        if loss.numel() == 0 and reduction != 'none':
            # No RoI: a zero that stays in the graph (mean would be NaN).
            return loss.sum() * self.loss_weight
        if weight is not None:
            weight = weight.to(loss.dtype)
        return self.loss_weight * weight_reduce_loss(
            loss, weight, reduction=reduction, avg_factor=avg_factor)

    def per_roi_loss(self, student: Tensor, teacher: Tensor,
                     labels: Optional[Tensor]) -> Tensor:
        """The loss of each RoI, shape (N,), on prepared (normalized) logits.

        Args:
            student (Tensor): (N, C) student logits, with grad.
            teacher (Tensor): (N, C) teacher logits, no grad.
            labels (Tensor | None): (N,) int64 labels, background = C - 1.
        """
        raise NotImplementedError

    def forward(self,
                student_logits: Tensor,
                teacher_logits: Tensor,
                labels: Optional[Tensor] = None,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """Compute the loss.

        Args:
            student_logits (Tensor): (N, C) student RoI logits.
            teacher_logits (Tensor): (N, C) teacher logits on the same RoIs.
            labels (Tensor, optional): (N,) RoI labels in [0, C), background
                C - 1; validated whenever given, required by DKD.
            weight (Tensor, optional): (N,) per-RoI weights.
            avg_factor (float, optional): Denominator of the mean.
            reduction_override (str, optional): Overrides ``reduction``.

        Returns:
            Tensor: scalar, or (N,) with reduction 'none'; float32 for
            fp16/fp32 inputs.
        """
        student, teacher, labels = self._prepare(student_logits,
                                                 teacher_logits, labels)
        loss = self.per_roi_loss(student, teacher, labels)
        return self._reduce(loss, weight, avg_factor, reduction_override)
