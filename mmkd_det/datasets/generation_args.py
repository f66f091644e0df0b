"""Argument checks shared by the embedded datasets' generators."""
from typing import Any, Sequence, Tuple

import numpy as np

MIN_IMAGE_SIDE = 32
MAX_IMAGE_SIDE = 4096


def check_int(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int, or a ValueError naming ``name`` if it is not an
    integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f'{name} must be an integer, got {value!r}')
    if value < minimum:
        raise ValueError(f'{name} must be >= {minimum}, got {value}')
    return int(value)


def check_size(size: Any) -> Tuple[int, int]:
    """An image size ``(H, W)`` (or one int for both), each side in
    ``MIN_IMAGE_SIDE..MAX_IMAGE_SIDE``."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (size, size)
    if not isinstance(size, Sequence) or isinstance(size, str) or \
            len(size) != 2:
        raise ValueError(f'size must be (H, W), got {size!r}')
    h = check_int('size[0] (height)', size[0], MIN_IMAGE_SIDE)
    w = check_int('size[1] (width)', size[1], MIN_IMAGE_SIDE)
    if h > MAX_IMAGE_SIDE or w > MAX_IMAGE_SIDE:
        raise ValueError(f'size must be at most {MAX_IMAGE_SIDE} px per '
                         f'side, got {h}x{w}')
    return h, w
