"""Write the shapes dataset to disk: defaults, argument checks and its spec
on the generation framework (:mod:`mmkd_det.datasets.generation`).
"""
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

from ..generation import (DatasetSpec, dataset_is_current, generate_dataset,
                          meta_mismatch, read_meta)
from ..generation_args import check_int as _check_int
from ..generation_args import check_size as _check_size
from .dataset import SHAPES_CLASSES
from .render import CLASS_SPECS, render_image

#: Bump when the generator's output changes for the same arguments; the
#: CLI regenerates a dataset whose ``meta.json`` has another version.
SHAPES_VERSION = 1


@dataclass(frozen=True)
class ShapesDefaults:
    """The generator's default arguments, in one place.

    :func:`generate_shapes_dataset`, ``tools/make_shapes.py`` and
    ``tools/quickstart.py`` take their defaults from :data:`SHAPES_DEFAULTS`;
    see :func:`generate_shapes_dataset` for the meaning of each field.
    """
    seed: int = 0
    # 500, not more: with 2000 images every student keeps learning far past
    # any CPU budget and ends up level with its teacher; on 500 the student
    # plateaus in 7000 iterations, 3.4 AP below it
    # (benchmarks/shapes/schedule_study.md, "Round 3")
    num_train: int = 500
    num_val: int = 250
    num_tune: int = 250
    size: Tuple[int, int] = (128, 128)
    empty_fraction: float = 0.05
    max_objects: int = 8
    object_size: Tuple[float, float] = (10, 150)
    image_format: str = 'jpg'


SHAPES_DEFAULTS = ShapesDefaults()


# --------------------------------------------------------------------------
# Argument handling
# --------------------------------------------------------------------------
def _normalize_args(seed, num_train, num_val, num_tune, size, empty_fraction,
                    max_objects, object_size, image_format) -> Dict:
    seed = _check_int('seed', seed, 0)
    num_train = _check_int('num_train', num_train, 1)
    num_val = _check_int('num_val', num_val, 1)
    num_tune = _check_int('num_tune', num_tune, 1)
    h, w = _check_size(size)
    if isinstance(empty_fraction, bool) or not isinstance(
            empty_fraction, (int, float)) or not 0 <= empty_fraction <= 1:
        raise ValueError('empty_fraction must be a number in [0, 1], got '
                         f'{empty_fraction!r}')
    max_objects = _check_int('max_objects', max_objects, 1)
    if not isinstance(object_size, Sequence) or len(object_size) != 2:
        raise ValueError('object_size must be (min, max) in px, got '
                         f'{object_size!r}')
    lo, hi = (float(v) for v in object_size)
    if not 4 <= lo <= hi:
        raise ValueError('object_size must satisfy 4 <= min <= max, got '
                         f'{object_size!r}')
    if lo > 0.9 * min(h, w):
        raise ValueError(f'object_size min {lo:g} px does not fit a {h}x{w} '
                         'image; use a larger size or smaller objects')
    if image_format not in ('jpg', 'png'):
        raise ValueError(
            f"image_format must be 'jpg' or 'png', got {image_format!r}")
    return dict(
        seed=seed,
        num_train=num_train,
        num_val=num_val,
        num_tune=num_tune,
        size=[h, w],
        empty_fraction=float(empty_fraction),
        max_objects=max_objects,
        object_size=[lo, hi],
        image_format=image_format)


SHAPES_SPEC = DatasetSpec(
    name='shapes',
    description='mmkd_det synthetic shapes dataset',
    generator='mmkd_det.datasets.shapes',
    version=SHAPES_VERSION,
    classes=SHAPES_CLASSES,
    supercategories=tuple(spec[0] for spec in CLASS_SPECS),
    defaults=lambda: asdict(SHAPES_DEFAULTS),
    normalize=_normalize_args,
    render=lambda rng, split, params: render_image(rng, *params['size'], params
                                                   ))


def read_shapes_meta(out_dir: str) -> Optional[Dict]:
    """``out_dir/meta.json``, or None (see
    :func:`~mmkd_det.datasets.generation.read_meta`)."""
    return read_meta(out_dir)


def default_shapes_args() -> Dict[str, Any]:
    """The generator's default arguments as ``meta.json`` records them."""
    return SHAPES_SPEC.params()


def meta_args_mismatch(meta: Dict) -> Optional[Dict[str, Tuple]]:
    """How a shapes ``meta.json`` record differs from the defaults (see
    :func:`~mmkd_det.datasets.generation.meta_mismatch`)."""
    return meta_mismatch(SHAPES_SPEC, meta)


def shapes_args_mismatch(out_dir: str) -> Optional[Dict[str, Tuple]]:
    """How the dataset in ``out_dir`` differs from the generator's defaults:
    None when it has no ``meta.json``, else :func:`meta_args_mismatch`."""
    meta = read_meta(out_dir)
    return None if meta is None else meta_args_mismatch(meta)


def shapes_dataset_is_current(out_dir: str, **kwargs) -> bool:
    """Whether ``out_dir`` holds the complete shapes dataset these arguments
    (over the defaults) make."""
    return dataset_is_current(SHAPES_SPEC, out_dir, **kwargs)


def generate_shapes_dataset(
        out_dir: str,
        seed: int = SHAPES_DEFAULTS.seed,
        num_train: int = SHAPES_DEFAULTS.num_train,
        num_val: int = SHAPES_DEFAULTS.num_val,
        num_tune: int = SHAPES_DEFAULTS.num_tune,
        size: Tuple[int, int] = SHAPES_DEFAULTS.size,
        empty_fraction: float = SHAPES_DEFAULTS.empty_fraction,
        max_objects: int = SHAPES_DEFAULTS.max_objects,
        object_size: Tuple[float, float] = SHAPES_DEFAULTS.object_size,
        image_format: str = SHAPES_DEFAULTS.image_format,
        skip_existing: bool = False) -> Dict[str, Any]:
    """Generate the synthetic shapes dataset in COCO format.

    Writes ``annotations/instances_{train,val,tune}.json``, the images in
    ``train/``, ``val/`` and ``tune/`` and ``meta.json`` (written last, so an
    interrupted run is never mistaken for a complete one). Images named like
    ``000000.jpg`` that an earlier run left in the split folders are removed.

    Args:
        out_dir (str): Output folder (created if missing).
        seed (int): Non-negative base seed. Image ``i`` of split ``s`` uses
            the seed ``(seed, s, i)`` with the split id ``s`` (train 0, val 1,
            tune 2). Defaults to 0.
        num_train (int): Number of training images (>= 1). Defaults to 500.
        num_val (int): Number of validation images (>= 1). Defaults to 250.
        num_tune (int): Number of tuning images (>= 1), drawn with the
            validation parameters from a seed stream of their own (split id
            2), so image ``i`` of ``tune`` is not image ``i`` of ``val``.
            Settings are chosen on ``tune``; numbers are reported on ``val``.
            Defaults to 250.
        size (tuple[int, int] | int): Image size ``(H, W)``, each side in
            32..4096. Defaults to (128, 128).
        empty_fraction (float): Probability that an image holds no object.
            Defaults to 0.05.
        max_objects (int): Objects per non-empty image are drawn uniformly
            from ``1..max_objects`` (placements that would hide another
            object too much are skipped). Defaults to 8.
        object_size (tuple[float, float]): Range of the longer side of an
            object's box in px, sampled log-uniformly; the upper end is
            capped at 80% of the shorter image side. Defaults to (10, 150).
        image_format (str): ``'jpg'`` (quality 90) or ``'png'``.
            Defaults to ``'jpg'``.
        skip_existing (bool): Return without writing anything if ``out_dir``
            already holds a complete dataset generated with the same
            arguments (see :func:`shapes_dataset_is_current`). Defaults to
            False.

    Returns:
        dict: Summary with ``out_dir``, ``meta_file``, ``skipped``,
        ``seconds`` and per split (``'train'``, ``'val'``, ``'tune'``) a
        dict with ``ann_file``, ``img_dir``, ``num_images``,
        ``num_annotations`` and ``num_empty_images`` (when skipped, the
        counts come from ``meta.json``).

    Raises:
        ValueError: On a non-positive count, a negative seed, an image side
            below 32 px or another invalid argument.
    """
    return generate_dataset(
        SHAPES_SPEC,
        out_dir,
        skip_existing,
        seed=seed,
        num_train=num_train,
        num_val=num_val,
        num_tune=num_tune,
        size=size,
        empty_fraction=empty_fraction,
        max_objects=max_objects,
        object_size=object_size,
        image_format=image_format)
