"""FitNet-style 1x1 convolution adapters for FPN features."""
from typing import Sequence, Tuple, Union

import torch.nn as nn
from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig
from torch import Tensor

from .base_connector import MultiLevelConnector


@MODELS.register_module()
class ConvAdapter(MultiLevelConnector):
    """One 1x1 convolution (with bias) per level, student -> teacher channels.

    The regressor ("hint") of FitNets: Romero et al., "FitNets: Hints for
    Thin Deep Nets", ICLR 2015, applied independently to every FPN level.

    Args:
        in_channels (int | Sequence[int]): Student channels, one int for all
            levels or one per level (fine to coarse).
        out_channels (int | Sequence[int]): Teacher channels, same form.
        num_levels (int): Number of feature levels L. Defaults to 5.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to None (PyTorch's default conv init).
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 out_channels: Union[int, Sequence[int]],
                 num_levels: int = 5,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(in_channels, out_channels, num_levels, init_cfg)
        self.adapters = nn.ModuleList(
            nn.Conv2d(c_in, c_out, kernel_size=1, bias=True)
            for c_in, c_out in zip(self.in_channels, self.out_channels))

    def forward(self, student_feats: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Map each student level to the teacher's channel count.

        Args:
            student_feats (Sequence[Tensor]): L features ordered fine to
                coarse, level l of shape (B, in_channels[l], H_l, W_l).

        Returns:
            tuple[Tensor]: L features, level l of shape
            (B, out_channels[l], H_l, W_l).
        """
        self.check_inputs(student_feats)
        return tuple(
            adapter(feat)
            for adapter, feat in zip(self.adapters, student_feats))
