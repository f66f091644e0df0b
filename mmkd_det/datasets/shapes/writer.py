"""Write the shapes dataset to disk: defaults, argument checks, COCO files.
"""
import json
import os
import os.path as osp
import re
import time
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

from .dataset import SHAPES_CLASSES
from .render import CLASS_SPECS, render_image

#: Bump when the generator's output changes for the same arguments; the
#: CLI regenerates a dataset whose ``meta.json`` has another version.
SHAPES_VERSION = 1

# The id is part of each image's seed, so a new split gets a new id and the
# images of the existing splits stay byte-identical. ``tune`` is drawn like
# ``val`` (same parameters) from its own stream: settings are chosen on it,
# reported numbers come from ``val``.
_SPLIT_IDS = {'train': 0, 'val': 1, 'tune': 2}
_IMAGE_NAME_RE = re.compile(r'^\d{6}\.(jpg|png)$')
_MIN_IMAGE_SIDE = 32
_MAX_IMAGE_SIDE = 4096
_JPEG_QUALITY = 90


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
def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f'{name} must be an integer, got {value!r}')
    if value < minimum:
        raise ValueError(f'{name} must be >= {minimum}, got {value}')
    return int(value)


def _check_size(size: Any) -> Tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (size, size)
    if not isinstance(size, Sequence) or isinstance(size, str) or \
            len(size) != 2:
        raise ValueError(f'size must be (H, W), got {size!r}')
    h = _check_int('size[0] (height)', size[0], _MIN_IMAGE_SIDE)
    w = _check_int('size[1] (width)', size[1], _MIN_IMAGE_SIDE)
    if h > _MAX_IMAGE_SIDE or w > _MAX_IMAGE_SIDE:
        raise ValueError(f'size must be at most {_MAX_IMAGE_SIDE} px per '
                         f'side, got {h}x{w}')
    return h, w


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


# --------------------------------------------------------------------------
# Dataset writing
# --------------------------------------------------------------------------
def _image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, _SPLIT_IDS[split], index])


def _write_split(out_dir: str, split: str, num: int,
                 params: Dict) -> Dict[str, Any]:
    h, w = params['size']
    ext = params['image_format']
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    for name in os.listdir(img_dir):  # stale images of an earlier run
        if _IMAGE_NAME_RE.match(name):
            os.remove(osp.join(img_dir, name))
    encode_args = [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY] if ext == 'jpg' \
        else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    images, annotations = [], []
    for index in range(num):
        rng = _image_rng(params['seed'], split, index)
        img, anns = render_image(rng, h, w, params)
        file_name = f'{index:06d}.{ext}'
        ok, buf = cv2.imencode('.' + ext, img, encode_args)
        if not ok:  # pragma: no cover
            raise RuntimeError(f'could not encode {file_name}')
        with open(osp.join(img_dir, file_name), 'wb') as f:
            f.write(buf.tobytes())
        image_id = index + 1
        images.append(
            dict(id=image_id, file_name=file_name, width=w, height=h))
        for ann in anns:
            annotations.append(
                dict(id=len(annotations) + 1, image_id=image_id, **ann))
    coco = dict(
        info=dict(
            description='mmkd_det synthetic shapes dataset',
            version=str(SHAPES_VERSION),
            split=split,
            seed=params['seed']),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=[
            dict(id=i + 1, name=name, supercategory=CLASS_SPECS[i][0])
            for i, name in enumerate(SHAPES_CLASSES)
        ])
    ann_file = osp.join(out_dir, 'annotations', f'instances_{split}.json')
    with open(ann_file, 'w') as f:
        json.dump(coco, f, separators=(',', ':'))
    with_objects = {a['image_id'] for a in annotations}
    return dict(
        ann_file=ann_file,
        img_dir=img_dir,
        num_images=num,
        num_annotations=len(annotations),
        num_empty_images=num - len(with_objects))


def _meta(params: Dict, counts: Dict) -> Dict:
    return dict(
        generator='mmkd_det.datasets.shapes',
        version=SHAPES_VERSION,
        args=params,
        counts=counts)


def read_shapes_meta(out_dir: str) -> Optional[Dict]:
    """``out_dir/meta.json`` (generator version, arguments, counts), or None
    when it is missing or unreadable (not a complete shapes dataset)."""
    try:
        with open(osp.join(out_dir, 'meta.json')) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def default_shapes_args() -> Dict[str, Any]:
    """The generator's default arguments as ``meta.json`` records them."""
    return _normalize_args(**asdict(SHAPES_DEFAULTS))


def meta_args_mismatch(meta: Dict) -> Optional[Dict[str, Tuple]]:
    """How the dataset that ``meta`` (a ``meta.json`` record) describes
    differs from the generator's defaults.

    Args:
        meta (dict): The dataset's ``meta.json`` contents (also kept as each
            comparison record's ``dataset``).

    Returns:
        dict | None: None when it matches the defaults; else
        ``{name: (found, default)}`` per differing argument, with
        ``'version'`` for another generator version.
    """
    expected = default_shapes_args()
    found = meta.get('args', {})
    diff = {
        k: (found.get(k), v)
        for k, v in expected.items() if found.get(k) != v
    }
    if meta.get('version') != SHAPES_VERSION:
        diff['version'] = (meta.get('version'), SHAPES_VERSION)
    return diff or None


def shapes_args_mismatch(out_dir: str) -> Optional[Dict[str, Tuple]]:
    """How the dataset in ``out_dir`` differs from the generator's defaults.

    The comparison's reference numbers and settings belong to the default
    dataset; a dataset left by an older checkout (e.g. 2000 training images)
    would silently change them.

    Args:
        out_dir (str): Dataset folder.

    Returns:
        dict | None: None when ``out_dir`` has no ``meta.json`` (not a shapes
        dataset: nothing to compare); else :func:`meta_args_mismatch` of its
        ``meta.json``.
    """
    meta = read_shapes_meta(out_dir)
    return None if meta is None else meta_args_mismatch(meta)


def shapes_dataset_is_current(out_dir: str, **kwargs) -> bool:
    """Whether ``out_dir`` holds a complete dataset made with these args.

    Args:
        out_dir (str): Dataset folder.
        **kwargs: The arguments :func:`generate_shapes_dataset` would get
            (defaults filled in the same way).

    Returns:
        bool: True if ``out_dir/meta.json`` records the same arguments and
        generator version and every split's (``train``, ``val``, ``tune``)
        annotation file and image count is present. A dataset written before
        the ``tune`` split existed records no ``num_tune`` and is not current.
    """
    params = _normalize_args(**{**asdict(SHAPES_DEFAULTS), **kwargs})
    meta = read_shapes_meta(out_dir)
    if meta is None:
        return False
    if meta.get('version') != SHAPES_VERSION or meta.get('args') != params:
        return False
    for split in _SPLIT_IDS:
        if not osp.isfile(
                osp.join(out_dir, 'annotations', f'instances_{split}.json')):
            return False
        img_dir = osp.join(out_dir, split)
        if not osp.isdir(img_dir):
            return False
        n = sum(1 for name in os.listdir(img_dir)
                if _IMAGE_NAME_RE.match(name))
        if n != params[f'num_{split}']:
            return False
    return True


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
    params = _normalize_args(seed, num_train, num_val, num_tune, size,
                             empty_fraction, max_objects, object_size,
                             image_format)
    t0 = time.perf_counter()
    meta_file = osp.join(out_dir, 'meta.json')
    summary: Dict[str, Any] = dict(out_dir=out_dir, meta_file=meta_file)
    if skip_existing and shapes_dataset_is_current(out_dir, **params):
        counts = read_shapes_meta(out_dir).get('counts', {})
        summary['skipped'] = True
        for split in _SPLIT_IDS:
            summary[split] = dict(
                ann_file=osp.join(out_dir, 'annotations',
                                  f'instances_{split}.json'),
                img_dir=osp.join(out_dir, split),
                num_images=params[f'num_{split}'],
                num_annotations=counts.get(split, {}).get('num_annotations'),
                num_empty_images=counts.get(split, {}).get('num_empty_images'))
        summary['seconds'] = time.perf_counter() - t0
        return summary

    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    if osp.exists(meta_file):
        os.remove(meta_file)
    summary['skipped'] = False
    for split in _SPLIT_IDS:
        summary[split] = _write_split(out_dir, split, params[f'num_{split}'],
                                      params)
    counts = {
        split: {
            k: summary[split][k]
            for k in ('num_images', 'num_annotations', 'num_empty_images')
        }
        for split in _SPLIT_IDS
    }
    with open(meta_file, 'w') as f:
        json.dump(_meta(params, counts), f, indent=2, sort_keys=True)
        f.write('\n')
    summary['seconds'] = time.perf_counter() - t0
    return summary
