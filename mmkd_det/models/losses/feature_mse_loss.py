"""FitNet feature-imitation loss (MSE per level)."""
from typing import Sequence

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmdet.registry import MODELS
from ._feature_utils import check_feature_lists


@MODELS.register_module()
class FeatureMSELoss(nn.Module):
    """Per-level mean squared error, summed over levels (FitNet baseline).

    Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015. The
    student features are expected to be the outputs of a connector (e.g.
    :class:`ConvAdapter`) that already has the teacher's channels.

    Computed in fp32 whatever the input dtype (AMP-safe); the teacher
    features are detached.

    Args:
        loss_weight (float): Multiplier of the summed loss. Defaults to 1.0.
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
            Tensor: Scalar fp32 loss,
            ``loss_weight * sum_l mean((fs_l - ft_l) ** 2)``.
        """
        check_feature_lists(student_feats, teacher_feats, 'FeatureMSELoss')
        loss = sum(
            F.mse_loss(fs.float(), ft.detach().float(), reduction='mean')
            for fs, ft in zip(student_feats, teacher_feats))
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}'
