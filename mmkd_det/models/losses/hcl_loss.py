"""Hierarchical context loss (HCL) of ReviewKD."""
import torch.nn.functional as F
from mmdet.registry import MODELS
from torch import Tensor

from .feature_loss_base import PerLevelFeatureLoss

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
class HCLLoss(PerLevelFeatureLoss):
    """ReviewKD hierarchical context loss summed over feature levels.

    Chen et al., "Distilling Knowledge via Knowledge Review", CVPR 2021.
    The student features are expected to be the outputs of a connector
    (e.g. :class:`ABFConnector`) that already has the teacher's channels.
    ``forward(student_feats, teacher_feats)`` returns
    ``loss_weight * sum_l hcl_loss(fs_l, ft_l)`` in fp32.

    Args:
        loss_weight (float): Multiplier of the summed loss. ReviewKD's
            detection settings: 1.2 (R101->R18), 1.0 (R101->R50),
            2.0 (R50->MobileNetV2). Defaults to 1.0.
    """

    def level_loss(self, student_feat: Tensor, teacher_feat: Tensor) -> Tensor:
        return hcl_loss(student_feat, teacher_feat)
