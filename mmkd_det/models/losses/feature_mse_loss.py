"""FitNet feature-imitation loss (MSE per level)."""
import torch.nn.functional as F
from mmdet.registry import MODELS
from torch import Tensor

from .feature_loss_base import PerLevelFeatureLoss


@MODELS.register_module()
class FeatureMSELoss(PerLevelFeatureLoss):
    """Per-level mean squared error, summed over levels (FitNet baseline).

    Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015. The
    student features are expected to be the outputs of a connector (e.g.
    :class:`ConvAdapter`) that already has the teacher's channels.
    ``forward(student_feats, teacher_feats)`` returns
    ``loss_weight * sum_l mean((fs_l - ft_l) ** 2)`` in fp32, with the teacher
    features detached.

    Args:
        loss_weight (float): Multiplier of the summed loss. Defaults to 1.0.
    """

    def level_loss(self, student_feat: Tensor, teacher_feat: Tensor) -> Tensor:
        return F.mse_loss(student_feat, teacher_feat, reduction='mean')
