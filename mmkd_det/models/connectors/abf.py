"""ReviewKD attention-based fusion (ABF) connector for FPN features."""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from .base_connector import MultiLevelConnector


@MODELS.register_module()
class ABFBlock(BaseModule):
    """One attention-based fusion block of ReviewKD.

    Chen et al., "Distilling Knowledge via Knowledge Review", CVPR 2021.
    ``x = BN(conv1x1(in -> mid))``; with a coarser residual ``r`` (upsampled,
    nearest, to x's size) ``a = sigmoid(conv1x1(cat[x, r] -> 2))`` and
    ``x = x * a[:, 0:1] + r * a[:, 1:2]``; output
    ``BN(conv3x3(mid -> out))(x)``.
    The fused ``x`` is returned too, as the residual of the next finer level.

    Args:
        in_channels (int): Student channels C_in.
        mid_channels (int): Channels C_mid of the fused residual.
        out_channels (int): Teacher channels C_out.
        fuse (bool): Whether this block fuses a coarser residual (False for
            the coarsest level).
        norm_cfg (dict): Norm layer config. Defaults to ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to None, which keeps ReviewKD's init (kaiming-uniform,
            ``a=1``, for the 1x1 and 3x3 convs; PyTorch default for the
            attention conv).
    """

    def __init__(self,
                 in_channels: int,
                 mid_channels: int,
                 out_channels: int,
                 fuse: bool,
                 norm_cfg: ConfigType = dict(type='BN'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.fuse = fuse
        self.conv1 = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, kernel_size=1, bias=False),
            build_norm_layer(norm_cfg, mid_channels)[1])
        self.conv2 = nn.Sequential(
            nn.Conv2d(
                mid_channels,
                out_channels,
                kernel_size=3,
                stride=1,
                padding=1,
                bias=False),
            build_norm_layer(norm_cfg, out_channels)[1])
        if fuse:
            self.att_conv = nn.Sequential(
                nn.Conv2d(mid_channels * 2, 2, kernel_size=1), nn.Sigmoid())
        else:
            self.att_conv = None
        nn.init.kaiming_uniform_(self.conv1[0].weight, a=1)
        nn.init.kaiming_uniform_(self.conv2[0].weight, a=1)

    def forward(self,
                x: Tensor,
                residual: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Transform one level and fuse the coarser residual.

        Args:
            x (Tensor): Student feature, shape (B, C_in, H, W).
            residual (Tensor, optional): Fused mid-channel tensor of the
                next coarser level, shape (B, C_mid, H', W'). Required iff
                the block was built with ``fuse=True``.

        Returns:
            tuple[Tensor, Tensor]: The output, shape (B, C_out, H, W), and
            the fused residual for the next finer level, (B, C_mid, H, W).
        """
        x = self.conv1(x)
        if self.att_conv is not None:
            if residual is None:
                raise ValueError('ABFBlock built with fuse=True needs the '
                                 'coarser residual')
            residual = F.interpolate(
                residual, size=x.shape[-2:], mode='nearest')
            att = self.att_conv(torch.cat([x, residual], dim=1))
            x = x * att[:, 0:1] + residual * att[:, 1:2]
        return self.conv2(x), x


@MODELS.register_module()
class ABFConnector(MultiLevelConnector):
    """ReviewKD's ABF connector over FPN levels (student -> teacher).

    Chen et al., "Distilling Knowledge via Knowledge Review", CVPR 2021,
    in its detection form: one :class:`ABFBlock` per FPN level, run coarse
    to fine; each level fuses, with learned spatial attention, its own
    transformed feature and the fused feature of the next coarser level.
    The coarsest level has no fusion. The outputs are compared with the
    teacher's FPN features by :class:`HCLLoss`.

    Args:
        in_channels (int | Sequence[int]): Student channels, one int for all
            levels or one per level (fine to coarse).
        out_channels (int | Sequence[int]): Teacher channels, same form.
        mid_channels (int, optional): Channels of the fused residual passed
            between levels (a single int since residuals of different
            levels are added). None means ``out_channels``, which must then
            be the same for every level. Defaults to 256 (ReviewKD).
        num_levels (int): Number of feature levels L. Defaults to 5.
        norm_cfg (dict): Norm layer config of the blocks (e.g.
            ``dict(type='SyncBN')`` for multi-GPU). Defaults to
            ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to None, which keeps ReviewKD's init (see
            :class:`ABFBlock`).
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 out_channels: Union[int, Sequence[int]],
                 mid_channels: Optional[int] = 256,
                 num_levels: int = 5,
                 norm_cfg: ConfigType = dict(type='BN'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(in_channels, out_channels, num_levels, init_cfg)
        if mid_channels is None:
            if len(set(self.out_channels)) != 1:
                raise ValueError(
                    'mid_channels=None uses out_channels, which must then be '
                    f'equal at every level; got {self.out_channels}. Pass an '
                    'explicit mid_channels.')
            mid_channels = self.out_channels[0]
        if mid_channels <= 0:
            raise ValueError(
                f'mid_channels must be positive, got {mid_channels}')
        self.mid_channels = mid_channels
        # Stored fine to coarse (index = FPN level); the coarsest has no
        # fusion.
        self.abfs = nn.ModuleList(
            ABFBlock(
                c_in,
                mid_channels,
                c_out,
                fuse=level < num_levels - 1,
                norm_cfg=norm_cfg)
            for level, (
                c_in,
                c_out) in enumerate(zip(self.in_channels, self.out_channels)))

    def forward(self, student_feats: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Apply the ABF blocks coarse to fine.

        Args:
            student_feats (Sequence[Tensor]): L student features ordered
                fine to coarse, level l of shape (B, in_channels[l], H_l,
                W_l).

        Returns:
            tuple[Tensor]: L features ordered fine to coarse, level l of
            shape (B, out_channels[l], H_l, W_l).
        """
        self.check_inputs(student_feats)
        outs = [None] * self.num_levels
        residual = None
        for level in reversed(range(self.num_levels)):
            outs[level], residual = self.abfs[level](student_feats[level],
                                                     residual)
        return tuple(outs)
