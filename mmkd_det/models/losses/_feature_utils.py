"""Shared input validation for the per-level feature distillation losses."""
from typing import Sequence

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
    for name, feats in (('student_feats', student_feats),
                        ('teacher_feats', teacher_feats)):
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
