"""Command-line helpers shared by the tools."""
import argparse
import os
import re
from typing import Tuple

from ..datasets.shapes.writer import SHAPES_DEFAULTS

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


_SPLIT_WHAT = dict(
    train='training',
    val='validation',
    tune='tuning (settings are chosen '
    'on it, numbers reported on val)')


def add_shapes_split_args(
    parser: argparse.ArgumentParser,
    splits: Tuple[str, ...] = ('train', 'val')
) -> None:
    """``--num-<split>`` of the shapes dataset for each of ``splits``,
    defaulting to :data:`~mmkd_det.datasets.shapes.SHAPES_DEFAULTS` (for
    ``tools/make_shapes.py``, which takes all three, and
    ``tools/quickstart.py``, which leaves ``tune`` at its default)."""
    for split in splits:
        what = _SPLIT_WHAT[split]
        default = getattr(SHAPES_DEFAULTS, f'num_{split}')
        parser.add_argument(
            f'--num-{split}',
            type=int,
            default=default,
            help=f'shapes {what} images (default: {default})')


def positive_int(text: str) -> int:
    """An argparse ``type`` for counts that must be at least 1.

    Args:
        text (str): the argument.

    Returns:
        int: the count.

    Raises:
        argparse.ArgumentTypeError: if ``text`` is not an integer >= 1.
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f'invalid count {text!r}: expected an integer >= 1')
    return value


def add_parallel_run_args(parser: argparse.ArgumentParser, jobs: int,
                          jobs_help: str) -> None:
    """Add ``--jobs`` and ``--cores`` to a tool that launches training runs.

    ``--jobs`` is the number of training processes at a time, ``--cores``
    the CPU cores they share (each run gets ``max(1, cores // jobs)``
    threads); both reject a count below 1 while parsing. Used by
    ``tools/quickstart.py`` and ``tools/analysis/compare_methods.py``.

    Args:
        parser (argparse.ArgumentParser): the tool's parser.
        jobs (int): default of ``--jobs``.
        jobs_help (str): help text of ``--jobs``.
    """
    parser.add_argument(
        '--jobs', type=positive_int, default=jobs, help=jobs_help)
    parser.add_argument(
        '--cores',
        type=positive_int,
        default=os.cpu_count() or 1,
        help='CPU cores shared by the runs (default: all)')
