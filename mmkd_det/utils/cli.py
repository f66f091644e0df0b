"""Command-line helpers shared by the tools."""
import argparse
import re
from typing import Tuple

_SIZE = re.compile(r'\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?')


def parse_size(text: str,
               allow_square: bool = False,
               min_side: int = 1) -> Tuple[int, int]:
    """Parse an image size ``HxW`` (e.g. ``192x160``) into ``(H, W)``.

    Args:
        text (str): the argument.
        allow_square (bool): also accept a single ``N`` meaning ``NxN``.
        min_side (int): smallest accepted height or width.

    Raises:
        argparse.ArgumentTypeError: if ``text`` is not of that form.
    """
    m = _SIZE.fullmatch(text)
    if m is None or (m.group(2) is None and not allow_square):
        raise argparse.ArgumentTypeError(
            f'invalid size {text!r}: expected HxW with positive integers, '
            'e.g. 192x192 (height x width)')
    h = int(m.group(1))
    w = h if m.group(2) is None else int(m.group(2))
    if h < min_side or w < min_side:
        raise argparse.ArgumentTypeError(
            f'invalid size {text!r}: height and width must be positive and '
            f'at least {min_side}')
    return h, w
