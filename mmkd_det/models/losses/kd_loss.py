"""Softened-KL knowledge distillation of RoI classification logits.

Plain KD (Hinton et al., "Distilling the Knowledge in a Neural Network",
arXiv:1503.02531), LumiNet's perception KD (Hossain et al., "LumiNet:
Perception-Driven Knowledge Distillation via Statistical Logit
Calibration") and Z-score KD (Sun et al., CVPR 2024, "Logit
Standardization in Knowledge Distillation", official code
https://github.com/sunshangquan/logit-standardization-KD) share this loss;
they differ in the logit normalization applied first. The shared checks
and reduction are in :mod:`.logit_loss_base`.
"""
from typing import Optional

from mmdet.registry import MODELS
from torch import Tensor

from .logit_loss_base import BaseLogitDistillLoss, soft_kl
from .logit_norm import upcast


def kd_loss(student_logits: Tensor,
            teacher_logits: Tensor,
            temperature: float = 1.0) -> Tensor:
    """Per-RoI Hinton KD loss ``T^2 * KL(softmax(t/T) || softmax(s/T))``.

    Args:
        student_logits (Tensor): (N, C), any float dtype.
        teacher_logits (Tensor): (N, C); detached here.
        temperature (float): Softmax temperature T > 0.

    Returns:
        Tensor: (N,) per-RoI losses, float32 (float64 for float64 inputs).
    """
    return temperature**2 * soft_kl(
        upcast(student_logits), upcast(teacher_logits.detach()), temperature)


@MODELS.register_module()
class LogitKDLoss(BaseLogitDistillLoss):
    """KD on RoI logits with optional perception / z-score normalization.

    ``loss = loss_weight * mean_i T^2 * KL(softmax(h_t,i / T) ||
    softmax(h_s,i / T))`` where ``h`` are the logits after ``logit_norm``,
    computed for teacher and student separately.

    * ``logit_norm=None``: Hinton et al., "Distilling the Knowledge in a
      Neural Network", 2015.
    * ``'perception'``: LumiNet, Hossain et al., "LumiNet: Perception-Driven
      Knowledge Distillation via Statistical Logit Calibration". LumiNet's
      ``ALPHA`` (which replaces ``T^2``) maps to ``loss_weight = ALPHA^2/T^2``.
    * ``'zscore'``: Sun et al., CVPR 2024, "Logit Standardization in Knowledge
      Distillation".

    With ``sync_stats=True`` the perception statistics are taken over the RoIs
    of all ranks (see :func:`~.logit_norm.perception`); the loss itself stays
    a mean over the LOCAL RoIs, so the rank-mean of the losses (what DDP
    optimizes) equals the global batch mean when every rank holds the same
    number of RoIs (true for a fixed-size sampler, e.g. 512 RoIs per image),
    and the DDP-averaged gradients equal the single-process ones.

    Args:
        logit_norm (str | None): None, 'perception' or 'zscore'.
        temperature (float): T > 0. Defaults to 1.0.
        loss_weight (float): Defaults to 1.0.
        sync_stats (bool): Cross-rank perception statistics. Only valid with
            ``logit_norm='perception'``. Defaults to False.
        reduction (str): 'none', 'mean' or 'sum'. Defaults to 'mean'.
        eps (float, optional): Normalization eps; None = 1e-5 (perception) or
            1e-7 (zscore).
    """

    def __init__(self,
                 logit_norm: Optional[str] = None,
                 temperature: float = 1.0,
                 loss_weight: float = 1.0,
                 sync_stats: bool = False,
                 reduction: str = 'mean',
                 eps: Optional[float] = None) -> None:
        super().__init__(temperature, logit_norm, loss_weight, reduction, eps,
                         sync_stats)

    def per_roi_loss(self, student: Tensor, teacher: Tensor,
                     labels: Optional[Tensor]) -> Tensor:
        return kd_loss(student, teacher, self.temperature)
