"""Hierarchical context loss (HCL) of ReviewKD."""
from typing import Sequence

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmdet.registry import MODELS
from ._feature_utils import check_feature_lists

#: Pooled sizes of the HCL pyramid, largest first (ReviewKD code).
HCL_POOL_SIZES = (4, 2, 1)


def hcl_loss(student_feat: Tensor, teacher_feat: Tensor) -> Tensor:
    """HCL for one feature level (ReviewKD, Chen et al., CVPR 2021).

    ``loss = MSE(fs, ft)`` with weight 1; then for each pooled size ``l`` in
    ``[4, 2, 1]`` with ``l < H`` the weight is halved and
    ``w * MSE(avgpool_l(fs), avgpool_l(ft))`` is added (adaptive average
    pooling to ``l x l``). The result is divided by the sum of the weights.
    All MSEs are means over every element.

    Computed in fp32 whatever the input dtype (AMP-safe); the teacher feature
    is detached.

    Args:
        student_feat (Tensor): Student feature, shape (B, C, H, W).
        teacher_feat (Tensor): Teacher feature, shape (B, C, H, W).

    Returns:
        Tensor: Scalar fp32 loss.
    """
    fs = student_feat.float()
    ft = teacher_feat.detach().float()
    h = fs.shape[-2]
    loss = F.mse_loss(fs, ft, reduction='mean')
    weight = 1.0
    total = 1.0
    for size in HCL_POOL_SIZES:
        if size >= h:
            continue
        weight /= 2.0
        loss = loss + weight * F.mse_loss(
            F.adaptive_avg_pool2d(fs, (size, size)),
            F.adaptive_avg_pool2d(ft, (size, size)),
            reduction='mean')
        total += weight
    return loss / total


@MODELS.register_module()
class HCLLoss(nn.Module):
    """ReviewKD hierarchical context loss summed over feature levels.

    Chen et al., "Distilling Knowledge via Knowledge Review", CVPR 2021.
    The student features are expected to be the outputs of a connector
    (e.g. :class:`ABFConnector`) that already has the teacher's channels.

    Args:
        loss_weight (float): Multiplier of the summed loss. ReviewKD's
            detection settings: 1.2 (R101->R18), 1.0 (R101->R50),
            2.0 (R50->MobileNetV2). Defaults to 1.0.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)

    def forward(self, student_feats: Sequence[Tensor],
                teacher_feats: Sequence[Tensor]) -> Tensor:
        """Compute the loss.

        Args:
            student_feats (Sequence[Tensor]): L student (connector output)
                features, level l of shape (B, C_l, H_l, W_l).
            teacher_feats (Sequence[Tensor]): L teacher features of the same
                shapes; detached inside.

        Returns:
            Tensor: Scalar fp32 loss, ``loss_weight * sum_l hcl_loss``.
        """
        check_feature_lists(student_feats, teacher_feats, 'HCLLoss')
        loss = sum(
            hcl_loss(fs, ft) for fs, ft in zip(student_feats, teacher_feats))
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}'
