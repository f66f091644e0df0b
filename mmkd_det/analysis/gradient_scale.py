"""How hard each logit loss pulls on the student's RoI logits.

Where a method has no published detection setting, its ``loss_weight`` can
be set by a rule instead of a guess: match the per-RoI gradient that the
loss sends into the student's logits to plain KD's (Hinton et al. 2015, the
DKD detection baseline: T=1, weight 1) on the same RoIs. These functions
measure that gradient on RoI logits collected from real distillation steps.
"""
from typing import Dict, Iterable, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

RoILogits = Tuple[Tensor, Tensor, Tensor]


def per_roi_grad_norm(loss: nn.Module, student_logits: Tensor,
                      teacher_logits: Tensor, labels: Tensor) -> float:
    """Mean L2 norm of the loss gradient per RoI, as if N were 1.

    The package's logit losses average over the N RoIs, so each RoI's
    gradient is scaled by 1/N; multiplying by N makes batches of different
    size comparable (and equals the per-RoI gradient of a 1-RoI batch for
    losses without cross-RoI coupling).

    Args:
        loss (nn.Module): a logit loss, called as
            ``loss(student_logits, teacher_logits, labels)``.
        student_logits (Tensor): (N, C+1) student RoI logits.
        teacher_logits (Tensor): (N, C+1) teacher RoI logits.
        labels (Tensor): (N,) RoI labels, background = C.

    Returns:
        float: ``N * mean_i ||dL/dz_i||_2``.
    """
    logits = student_logits.detach().float().clone().requires_grad_()
    value = loss(logits, teacher_logits.detach().float(), labels)
    grad, = torch.autograd.grad(value, logits)
    return logits.size(0) * grad.norm(dim=1).mean().item()


def cross_entropy_grad_norm(student_logits: Tensor, labels: Tensor) -> float:
    """The same measure for the student's own classification loss (mmdet's
    softmax cross-entropy, weight 1, mean over RoIs)."""
    return per_roi_grad_norm(lambda s, t, y: F.cross_entropy(s, y),
                             student_logits, student_logits, labels)


def gradient_table(losses: Dict[str, nn.Module], batches: Iterable[RoILogits],
                   reference: str) -> List[dict]:
    """Per-RoI gradient of every loss, averaged over batches, and ratios.

    Args:
        losses (dict[str, nn.Module]): name -> logit loss.
        batches (Iterable[tuple]): ``(student_logits, teacher_logits,
            labels)`` per distillation step.
        reference (str): the name in ``losses`` the ratios refer to (KD).

    Returns:
        list[dict]: per loss ``name``, ``grad`` (mean per-RoI gradient
        norm), ``vs_reference``, ``vs_ce`` (against the student's own
        cross-entropy) and ``matching_scale`` (the factor on its
        loss_weight that would match the reference's gradient).
    """
    if reference not in losses:
        raise KeyError(f'reference {reference!r} is not among the losses '
                       f'{sorted(losses)}')
    sums = dict.fromkeys(losses, 0.0)
    ce_sum, count = 0.0, 0
    for s_logits, t_logits, labels in batches:
        for name, loss in losses.items():
            sums[name] += per_roi_grad_norm(loss, s_logits, t_logits, labels)
        ce_sum += cross_entropy_grad_norm(s_logits, labels)
        count += 1
    if count == 0:
        raise ValueError('no RoI logits to measure: batches was empty')
    ref = sums[reference] / count
    ce = ce_sum / count
    rows = []
    for name in losses:
        grad = sums[name] / count
        rows.append(
            dict(
                name=name,
                grad=grad,
                vs_reference=grad / ref,
                vs_ce=grad / ce,
                matching_scale=ref / grad if grad > 0 else float('inf')))
    return rows


@torch.no_grad()
def collect_roi_logits(model: nn.Module, data_batches: Iterable[dict],
                       num_batches: int) -> List[RoILogits]:
    """RoI logits of student and teacher from real training steps.

    Args:
        model (RoIDistiller): in train mode (the RoIs are sampled as in
            training; the teacher stays in eval mode).
        data_batches (Iterable[dict]): dataloader batches (not yet
            preprocessed).
        num_batches (int): how many batches to use.

    Returns:
        list[tuple]: ``(student_logits, teacher_logits, labels)`` per batch
        and student stage.
    """
    out = []
    for _, data in zip(range(num_batches), data_batches):
        data = model.data_preprocessor(data, True)
        inputs, samples = data['inputs'], data['data_samples']
        _, student = model.student_loss(inputs, samples)
        _, teacher_logits = model.teacher_outputs(
            inputs, student, [s.metainfo for s in samples])
        out.extend((stage.cls_score, logits, stage.labels)
                   for stage, logits in zip(student.stages, teacher_logits))
    return out
