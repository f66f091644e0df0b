"""The precision the frozen teacher runs at: fp32, or fp16/bf16 autocast.

The teacher only runs forward, under ``no_grad``: nothing of it is trained,
so half precision costs no gradient scaling and saves most of its time on a
GPU. Under ``torch.autocast`` of the input's device type, its backbone, FPN
and box-head layers run in half precision where autocast allows it. Two
places stay fp32, on purpose:

- the FPN outputs are cast back to fp32 before the RoI head: the feature
  losses compare them with the student's fp32 features, and mmcv's RoIAlign
  (not an autocast op; its CPU kernel has no bf16) then pools fp32 maps;
- the RoI logits are cast back to fp32 for the logit losses.

``'fp32'`` turns autocast *off* for the teacher, so its logits are the same
whether or not the student trains with ``AmpOptimWrapper``.
"""
import contextlib
from typing import Iterator, Sequence, Tuple, Union

import torch
from torch import Tensor

#: ``teacher_precision`` value -> autocast dtype (None: fp32, no autocast)
TEACHER_PRECISIONS = {
    'fp32': None,
    'fp16': torch.float16,
    'bf16': torch.bfloat16,
}


def _fp16_needs_cuda(where: str) -> str:
    return (f"teacher_precision='fp16' needs a CUDA device, but {where}. "
            "Use teacher_precision='bf16' (CPU autocast supports bfloat16) "
            "or 'fp32' on CPU.")


def check_teacher_precision(precision: str) -> str:
    """Validate ``teacher_precision`` at build time.

    The model is always built on the CPU and moved later, so the build can
    only tell whether a CUDA device exists; fp16 on a machine without one is
    refused here. A model built on a CUDA machine but run on CPU tensors is
    refused at its first teacher forward (:func:`teacher_autocast`).

    Args:
        precision (str): ``'fp32'``, ``'fp16'`` or ``'bf16'``.

    Returns:
        str: ``precision``, valid.

    Raises:
        ValueError: an unknown value, or fp16 without a CUDA device.
    """
    if precision not in TEACHER_PRECISIONS:
        raise ValueError(
            f'Unknown teacher_precision {precision!r}: use one of '
            f'{", ".join(repr(p) for p in TEACHER_PRECISIONS)} (default '
            "'fp32').")
    if precision == 'fp16' and not torch.cuda.is_available():
        raise ValueError(_fp16_needs_cuda('this machine has none'))
    return precision


@contextlib.contextmanager
def teacher_autocast(precision: str, device: torch.device) -> Iterator[None]:
    """Autocast for the teacher's forward on ``device``.

    Args:
        precision (str): a key of :data:`TEACHER_PRECISIONS`.
        device (torch.device): where the inputs are.

    Yields:
        None, inside ``torch.autocast(device.type, dtype)`` for fp16/bf16
        and with autocast disabled for fp32.
    """
    dtype = TEACHER_PRECISIONS[precision]
    if dtype is torch.float16 and device.type != 'cuda':
        raise RuntimeError(_fp16_needs_cuda(f'the inputs are on {device}'))
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        yield


def as_fp32(
    tensors: Union[Tensor,
                   Sequence[Tensor]]) -> Union[Tensor, Tuple[Tensor, ...]]:
    """A tensor, or a tuple of them (FPN levels), in float32 (a no-op when
    already float32)."""
    if isinstance(tensors, Tensor):
        return tensors.float()
    if all(t.dtype == torch.float32 for t in tensors):
        return tensors  # the fp32 teacher's own tuple, not a copy of it
    return tuple(t.float() for t in tensors)
