"""What the FPN feature connectors (ABF, FitNet adapter) share."""
from typing import List, Sequence, Union

from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor


def per_level(value: Union[int, Sequence[int]], num_levels: int,
              name: str) -> List[int]:
    """Expand an int, or check a sequence, into one int per level.

    Args:
        value (int | Sequence[int]): One value for every level, or one per
            level (ordered fine to coarse).
        num_levels (int): Number of feature levels L.
        name (str): Argument name used in error messages.

    Returns:
        list[int]: L positive ints.
    """
    if isinstance(value, int):
        values = [value] * num_levels
    else:
        values = [int(v) for v in value]
        if len(values) != num_levels:
            raise ValueError(
                f'{name} has {len(values)} entries but num_levels is '
                f'{num_levels}')
    if any(v <= 0 for v in values):
        raise ValueError(f'{name} must be positive, got {values}')
    return values


class MultiLevelConnector(BaseModule):
    """Base of the student-side connectors: L levels, student -> teacher.

    Args:
        in_channels (int | Sequence[int]): Student channels, one int for all
            levels or one per level (fine to coarse).
        out_channels (int | Sequence[int]): Teacher channels, same form.
        num_levels (int): Number of feature levels L.
        init_cfg (dict | list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 out_channels: Union[int, Sequence[int]],
                 num_levels: int,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_levels < 1:
            raise ValueError(f'num_levels must be >= 1, got {num_levels}')
        self.num_levels = num_levels
        self.in_channels = per_level(in_channels, num_levels, 'in_channels')
        self.out_channels = per_level(out_channels, num_levels, 'out_channels')

    def check_inputs(self, student_feats: Sequence[Tensor]) -> None:
        """Raise ValueError unless there are L features of the set channels.

        Args:
            student_feats (Sequence[Tensor]): features ordered fine to
                coarse, level l of shape (B, in_channels[l], H_l, W_l).
        """
        name = type(self).__name__
        if len(student_feats) != self.num_levels:
            raise ValueError(
                f'{name} expects {self.num_levels} feature levels (fine to '
                f'coarse), got {len(student_feats)}')
        for level, (feat,
                    c_in) in enumerate(zip(student_feats, self.in_channels)):
            if feat.dim() != 4 or feat.shape[1] != c_in:
                raise ValueError(
                    f'{name}: level {level} expects shape (B, {c_in}, H, W), '
                    f'got {tuple(feat.shape)}')
