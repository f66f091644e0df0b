"""Decoupled Knowledge Distillation (DKD) of RoI classification logits."""
from typing import Optional, Tuple

from mmdet.registry import MODELS
from torch import Tensor

from .logit_loss_base import BaseLogitDistillLoss, binary_kl, kl_from_log_probs
from .logit_norm import upcast

# The public DKD code hides the target class from the non-target softmax by
# subtracting this constant from its (temperature-scaled) logit.
_TARGET_MASK_OFFSET = 1000.0


def dkd_parts(student_logits: Tensor,
              teacher_logits: Tensor,
              labels: Tensor,
              temperature: float = 1.0) -> Tuple[Tensor, Tensor]:
    """Per-RoI TCKD and NCKD terms of DKD, without the ``T^2`` factor.

    With ``p = softmax(z / T)`` and ``t`` the label column:

    * TCKD = KL([p_t, 1 - p_t]_teacher || [p_t, 1 - p_t]_student).
    * NCKD = KL of the softmax over the non-target classes only (target
      logit lowered by 1000 before the softmax, as in the public code).

    TCKD is evaluated from the log-odds ``log(p_t / (1 - p_t)) =
    z_t / T - logsumexp(non-target z / T)`` (see :func:`binary_kl`) rather
    than from ``log(1 - p_t)``, so a confident model (p_t -> 1) gives no
    ``log(0)``; the non-target logsumexp is shared with NCKD.

    Args:
        student_logits (Tensor): (N, C) student logits.
        teacher_logits (Tensor): (N, C) teacher logits (detached here).
        labels (Tensor): (N,) int labels in [0, C); background = C - 1 is the
            target of background RoIs.
        temperature (float): T > 0.

    Returns:
        tuple[Tensor, Tensor]: TCKD (N,) and NCKD (N,), float32 (float64
        for float64 inputs).
    """
    target = labels.long().unsqueeze(1)

    def split(logits):
        x = logits / temperature if temperature != 1.0 else logits
        offset = x.new_full(target.shape, -_TARGET_MASK_OFFSET)
        x_nt = x.scatter_add(1, target, offset)  # target hidden
        lse_nt = x_nt.logsumexp(1, keepdim=True)
        log_odds = (x.gather(1, target) - lse_nt).squeeze(1)
        return log_odds, x_nt - lse_nt  # (N,), non-target log-probs (N, C)

    s_odds, s_log_q = split(upcast(student_logits))
    t_odds, t_log_q = split(upcast(teacher_logits.detach()))
    return binary_kl(t_odds, s_odds), kl_from_log_probs(t_log_q, s_log_q)


def dkd_loss(student_logits: Tensor,
             teacher_logits: Tensor,
             labels: Tensor,
             alpha: float = 1.0,
             beta: float = 0.25,
             temperature: float = 1.0) -> Tensor:
    """Per-RoI DKD loss ``T^2 * (alpha * TCKD + beta * NCKD)``.

    Args:
        student_logits (Tensor): (N, C) student logits.
        teacher_logits (Tensor): (N, C) teacher logits (detached here).
        labels (Tensor): (N,) int labels in [0, C).
        alpha (float): TCKD weight. Defaults to 1.0.
        beta (float): NCKD weight. Defaults to 0.25.
        temperature (float): T > 0. Defaults to 1.0.

    Returns:
        Tensor: (N,) per-RoI losses, float32 (float64 for float64 inputs).
    """
    tckd, nckd = dkd_parts(student_logits, teacher_logits, labels, temperature)
    return temperature**2 * (alpha * tckd + beta * nckd)


@MODELS.register_module()
class DKDLoss(BaseLogitDistillLoss):
    """Decoupled KD (Zhao et al., CVPR 2022, "Decoupled Knowledge
    Distillation") on RoI logits, optionally with z-score standardization
    (Sun et al., CVPR 2024, "Logit Standardization in Knowledge
    Distillation"), which LS-KD applies to DKD.

    ``loss = loss_weight * mean_i T^2 * (alpha * TCKD_i + beta * NCKD_i)``;
    see :func:`dkd_parts`. Detection defaults: ``alpha=1, beta=0.25, T=1``.

    Args:
        alpha (float): TCKD weight. Defaults to 1.0.
        beta (float): NCKD weight. Defaults to 0.25.
        temperature (float): T > 0. Defaults to 1.0.
        logit_norm (str | None): None or 'zscore'. Defaults to None.
        loss_weight (float): Defaults to 1.0.
        reduction (str): 'none', 'mean' or 'sum'. Defaults to 'mean'.
    """

    def __init__(self,
                 alpha: float = 1.0,
                 beta: float = 0.25,
                 temperature: float = 1.0,
                 logit_norm: Optional[str] = None,
                 loss_weight: float = 1.0,
                 reduction: str = 'mean') -> None:
        super().__init__(
            temperature,
            logit_norm,
            loss_weight,
            reduction,
            allowed_norms=(None, 'zscore'))
        self.alpha = alpha
        self.beta = beta

    def per_roi_loss(self, student: Tensor, teacher: Tensor,
                     labels: Optional[Tensor]) -> Tensor:
        if labels is None:
            raise ValueError('DKDLoss needs the RoI labels (N,) to split '
                             'target and non-target classes; got None')
        return dkd_loss(student, teacher, labels, self.alpha, self.beta,
                        self.temperature)
