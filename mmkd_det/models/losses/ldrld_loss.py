"""Local Dense Relational Logit Distillation (LDRLD) of RoI logits."""
import itertools
import math
from typing import Optional, Tuple

import torch
from mmdet.registry import MODELS
from torch import Tensor

from .logit_loss_base import BaseLogitDistillLoss, binary_kl, soft_kl
from .logit_norm import upcast


def ldrld_pairs(k: int) -> Tuple[Tensor, Tensor]:
    """Index pairs of the top-k ranks and their adaptive decay weights.

    ``w(t, t') = 2 / (1.5 + |t - t'|) * exp(-0.05 * (t + t'))`` with 1-based
    ranks t < t' (inverse rank weighting times exponential rank decay).

    Args:
        k (int): Number of top classes, >= 2.

    Returns:
        tuple[Tensor, Tensor]: ``index`` (P, 2) int64 of 0-based positions
        in the rank order, and ``weight`` (P,) float32, P = C(k, 2).
    """
    k = _check_k(k)
    pairs = list(itertools.combinations(range(k), 2))
    weight = [
        2.0 / (1.5 + abs(i - j)) * math.exp(-0.05 * ((i + 1) + (j + 1)))
        for i, j in pairs
    ]
    return (torch.tensor(pairs, dtype=torch.long),
            torch.tensor(weight, dtype=torch.float32))


def _check_k(k) -> int:
    if isinstance(k, bool) or int(k) != k or k < 2:
        raise ValueError(f'LDRLD needs an integer k >= 2, got {k!r}')
    return int(k)


def _soft_kl_excluding(student: Tensor, teacher: Tensor,
                       exclude: Tensor) -> Tensor:
    """``KL(softmax(t_R) || softmax(s_R))`` over the classes R not excluded.

    Args:
        student (Tensor): (N, C) temperature-scaled student logits.
        teacher (Tensor): (N, C) temperature-scaled teacher logits.
        exclude (Tensor): (N, C) bool, True for the classes left out.

    Returns:
        Tensor: (N,) KL per row.
    """
    inf = float('inf')
    t_masked = teacher.masked_fill(exclude, -inf)
    t_lse = t_masked.logsumexp(1, keepdim=True)
    s_lse = student.masked_fill(exclude, -inf).logsumexp(1, keepdim=True)
    # exp(-inf) = 0 removes the excluded classes; the log-ratio is computed
    # from the unmasked logits so that it stays finite (no inf - inf).
    p_t = (t_masked - t_lse).exp()
    return (p_t * ((teacher - t_lse) - (student - s_lse))).sum(1)


def ldrld_loss(student_logits: Tensor,
               teacher_logits: Tensor,
               k: int = 7,
               temperature: float = 4.0,
               ldrld_weight: float = 10.5,
               rntk_weight: float = 7.0,
               pair_index: Optional[Tensor] = None,
               pair_weight: Optional[Tensor] = None) -> Tensor:
    """Per-RoI LDRLD loss ``ldrld_weight * LDRLD + rntk_weight * RNTK``.

    The classes are ranked by the STUDENT's logits. For the top-k classes,
    the groups are every pair plus the group of all k; each group's
    ``T^2 * KL(softmax(t_G / T) || softmax(s_G / T))`` over its own classes,
    pairs weighted by :func:`ldrld_pairs`, the all-k group by 1 (by the
    pair's weight at k=2, as the official code), is averaged over the
    ``C(k, 2) + 1`` groups (LDRLD). RNTK is ``T^2 * KL`` of the
    softmax restricted to the C - k remaining classes; it is 0 when fewer
    than 2 classes remain (a 1-class softmax is constant).

    Fully vectorised, no loop over RoIs or groups: ``topk`` gives the (N, k)
    group; a pair's 2-class softmax is a Bernoulli law, so the P = C(k, 2)
    pair KLs are :func:`binary_kl` of the (N, P) logit differences; RNTK
    masks the top-k columns instead of sorting the rest.

    Args:
        student_logits (Tensor): (N, C) student logits.
        teacher_logits (Tensor): (N, C) teacher logits (detached here).
        k (int): Number of top classes, 2 <= k <= C. Defaults to 7.
        temperature (float): T > 0. Defaults to 4.0.
        ldrld_weight (float): Weight of the LDRLD term. Defaults to 10.5.
        rntk_weight (float): Weight of the RNTK term. Defaults to 7.0.
        pair_index (Tensor, optional): (P, 2) precomputed rank positions.
        pair_weight (Tensor, optional): (P,) precomputed pair weights.

    Returns:
        Tensor: (N,) per-RoI losses, float32 (float64 for float64 inputs).
    """
    s = upcast(student_logits)
    t = upcast(teacher_logits.detach())
    num_classes = s.shape[1]
    if k > num_classes:
        raise ValueError(f'LDRLD k={k} exceeds the number of classes '
                         f'C={num_classes} (background included)')
    if pair_index is None or pair_weight is None:
        pair_index, pair_weight = ldrld_pairs(k)
    pair_index = pair_index.to(s.device)
    pair_weight = pair_weight.to(device=s.device, dtype=s.dtype)
    if temperature != 1.0:
        s, t = s / temperature, t / temperature

    # Top-k classes of the student, in rank order (rank 1 first); the
    # teacher is read at the same classes.
    s_top, top_idx = s.topk(k, dim=1)
    t_top = t.gather(1, top_idx)

    # Pair (a, b): softmax over 2 classes = Bernoulli with log-odds x_a - x_b.
    first, second = pair_index[:, 0], pair_index[:, 1]
    pair_kl = binary_kl(t_top[:, first] - t_top[:, second],
                        s_top[:, first] - s_top[:, second])  # (N, P)
    all_kl = soft_kl(s_top, t_top)
    # At k=2 the all-k group is the single pair; the official code then
    # gives it the pair's decay weight (0.689), not 1.
    all_weight = pair_weight[0] if k == 2 else 1.0
    ldrld = (pair_kl @ pair_weight + all_weight * all_kl) / (
        pair_index.shape[0] + 1)

    if num_classes - k >= 2:
        top_mask = torch.zeros_like(
            s, dtype=torch.bool).scatter_(1, top_idx, True)
        rntk = _soft_kl_excluding(s, t, top_mask)
    else:
        rntk = torch.zeros_like(ldrld)
    return temperature**2 * (ldrld_weight * ldrld + rntk_weight * rntk)


@MODELS.register_module()
class LDRLDLoss(BaseLogitDistillLoss):
    """Local Dense Relational Logit Distillation (Xu et al. 2025, "Local
    Dense Logit Relations for Enhanced Knowledge Distillation") on RoI logits.

    ``loss = loss_weight * mean_i [ldrld_weight * LDRLD_i +
    rntk_weight * RNTK_i]``; see :func:`ldrld_loss`. Public CIFAR defaults:
    ``k=7, T=4, ldrld_weight=10.5, rntk_weight=7``.

    With a ``logit_norm`` the top-k classes are ranked on the student's
    NORMALIZED logits (the ones being distilled). z-score keeps each row's
    order, so only 'perception' can change the ranking.

    Args:
        k (int): Number of top classes, >= 2 (and <= C, checked per call).
            Defaults to 7.
        temperature (float): T > 0. Defaults to 4.0.
        ldrld_weight (float): Defaults to 10.5.
        rntk_weight (float): Defaults to 7.0.
        logit_norm (str | None): None, 'perception' or 'zscore'.
        loss_weight (float): Defaults to 1.0.
        reduction (str): 'none', 'mean' or 'sum'. Defaults to 'mean'.
    """

    def __init__(self,
                 k: int = 7,
                 temperature: float = 4.0,
                 ldrld_weight: float = 10.5,
                 rntk_weight: float = 7.0,
                 logit_norm: Optional[str] = None,
                 loss_weight: float = 1.0,
                 reduction: str = 'mean') -> None:
        super().__init__(temperature, logit_norm, loss_weight, reduction)
        self.k = _check_k(k)
        self.ldrld_weight = ldrld_weight
        self.rntk_weight = rntk_weight
        pair_index, pair_weight = ldrld_pairs(self.k)
        # Non-persistent: derived from k, follows .to(device), not saved.
        self.register_buffer('pair_index', pair_index, persistent=False)
        self.register_buffer('pair_weight', pair_weight, persistent=False)

    def check_num_classes(self, num_classes: int) -> None:
        """Build-time check by the distiller: C = num_classes + 1 >= k."""
        if self.k > num_classes + 1:
            raise ValueError(
                f'LDRLDLoss k={self.k} exceeds the {num_classes + 1} logit '
                f'columns ({num_classes} classes + background); set k <= '
                f'{num_classes + 1}.')

    def per_roi_loss(self, student: Tensor, teacher: Tensor,
                     labels: Optional[Tensor]) -> Tensor:
        """Per-RoI LDRLD; raises ValueError if ``k`` exceeds the classes C."""
        return ldrld_loss(student, teacher, self.k, self.temperature,
                          self.ldrld_weight, self.rntk_weight, self.pair_index,
                          self.pair_weight)
