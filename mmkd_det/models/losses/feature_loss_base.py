"""What the per-level FPN feature losses (HCL, FitNet MSE) share."""
from typing import Sequence

import torch.nn as nn
from torch import Tensor


def check_feature_lists(student_feats: Sequence[Tensor],
                        teacher_feats: Sequence[Tensor],
                        loss_name: str = 'feature loss') -> None:
    """Check that student and teacher feature lists can be compared.

    Args:
        student_feats (Sequence[Tensor]): L student features (after the
            connector), each of shape (B, C_l, H_l, W_l).
        teacher_feats (Sequence[Tensor]): L teacher features, each of the
            same shape as the student feature at the same level.
        loss_name (str): Name used in the error messages.

    Raises:
        TypeError: If an argument is a single tensor instead of a sequence.
        ValueError: If a list is empty, the lengths differ, or the shapes
            differ at some level.
    """
    for name, feats in (('student_feats', student_feats), ('teacher_feats',
                                                           teacher_feats)):
        if isinstance(feats, Tensor):
            raise TypeError(
                f'{loss_name}: {name} must be a sequence of per-level '
                f'tensors, got a single Tensor of shape {tuple(feats.shape)}')
    if len(student_feats) == 0 or len(teacher_feats) == 0:
        raise ValueError(
            f'{loss_name}: got empty feature lists (student: '
            f'{len(student_feats)} levels, teacher: {len(teacher_feats)} '
            'levels); at least one level is required')
    if len(student_feats) != len(teacher_feats):
        raise ValueError(
            f'{loss_name}: the student has {len(student_feats)} feature '
            f'levels but the teacher has {len(teacher_feats)}')
    for level, (fs, ft) in enumerate(zip(student_feats, teacher_feats)):
        if fs.shape != ft.shape:
            raise ValueError(
                f'{loss_name}: shape mismatch at level {level}: student '
                f'{tuple(fs.shape)} vs teacher {tuple(ft.shape)}; a '
                'connector (e.g. ABFConnector or ConvAdapter) must map the '
                "student features to the teacher's channels (and the "
                'spatial sizes must agree)')


class PerLevelFeatureLoss(nn.Module):
    """``loss_weight * sum_l level_loss(fs_l, ft_l)`` over feature levels.

    Subclasses define :meth:`level_loss` for one level. Inputs are checked
    with :func:`check_feature_lists`, cast to fp32 (AMP-safe) and the teacher
    features detached before :meth:`level_loss` sees them.

    Args:
        loss_weight (float): Multiplier of the summed loss. Defaults to 1.0.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)

    def level_loss(self, student_feat: Tensor, teacher_feat: Tensor) -> Tensor:
        """Loss of one level; both inputs fp32 of shape (B, C, H, W)."""
        raise NotImplementedError

    def forward(self, student_feats: Sequence[Tensor],
                teacher_feats: Sequence[Tensor]) -> Tensor:
        """Compute the loss.

        Args:
            student_feats (Sequence[Tensor]): L student (connector output)
                features, level l of shape (B, C_l, H_l, W_l).
            teacher_feats (Sequence[Tensor]): L teacher features of the same
                shapes; detached inside.

        Returns:
            Tensor: Scalar fp32 loss, ``loss_weight * sum_l level_loss``.
        """
        check_feature_lists(student_feats, teacher_feats, type(self).__name__)
        loss = sum(
            self.level_loss(fs.float(),
                            ft.detach().float())
            for fs, ft in zip(student_feats, teacher_feats))
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}'
