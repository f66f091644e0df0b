"""Synthetic COCO-format detection dataset ("shapes") for CPU quickstarts.

The generator draws coloured geometric shapes on textured, cluttered
backgrounds and writes a COCO-style dataset that mmdet's ``CocoDataset``
reads as is::

    out_dir/
        annotations/instances_train.json
        annotations/instances_val.json
        train/000000.jpg ...
        val/000000.jpg ...
        meta.json            # generation arguments + generator version

The eight categories come in confusable pairs so that the task rewards a
stronger model and a teacher's soft predictions carry useful "dark
knowledge": two circles that differ only in hue (red vs orange), two squares
that differ only in hue (green vs teal), and two pairs that share a colour
but differ in shape (blue triangle vs blue diamond, yellow pentagon vs
yellow hexagon). Every instance gets its own colour jitter, shading and
optional outline, and the image gets an illumination gradient, a slight
colour cast, noise and sometimes blur, so colour alone is not a trivial cue.
Background clutter (grey blobs, lines, irregular polygons mostly in colours
no category uses) is never annotated.

Objects are 10 to 150 px (log-uniform, so mostly small and medium) and may
overlap: later objects are drawn over earlier ones and boxes are the tight
boxes of the *visible* pixels. Objects that are more than 60% hidden
(occluded or outside the image) are left unannotated, like COCO's unlabelled
heavy occlusions. About 5% of the images hold no objects.

Generation is deterministic: each image uses its own
``numpy.random.Generator`` seeded from ``(seed, split, index)``, so the same
arguments give byte-identical files, train and val differ, and image ``i`` of
a split does not depend on how many images the split has.
"""
import colorsys
import functools
import json
import math
import os
import os.path as osp
import re
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

__all__ = [
    'SHAPES_CLASSES', 'SHAPES_PALETTE', 'SHAPES_VERSION', 'ShapesDataset',
    'generate_shapes_dataset', 'shapes_dataset_is_current'
]

#: Bump when the generator's output changes for the same arguments; the
#: CLI regenerates a dataset whose ``meta.json`` has another version.
SHAPES_VERSION = 1

SHAPES_CLASSES = ('red_circle', 'orange_circle', 'blue_triangle',
                  'blue_diamond', 'green_square', 'teal_square',
                  'yellow_pentagon', 'yellow_hexagon')

#: Nominal RGB colour of each class, for visualisation.
SHAPES_PALETTE = [(220, 30, 30), (245, 135, 20), (40, 90, 230),
                  (110, 70, 210), (40, 170, 50), (20, 170, 160),
                  (235, 200, 20), (190, 170, 40)]

# Per class: (shape, hue centre in degrees, hue half-range in degrees).
# Hue gaps between confusable colours are 9-14 degrees, so colour separates
# them only for a model that looks carefully (and under jitter/lighting).
_CLASS_SPECS = (
    ('circle', 2.0, 7.0),      # red:    355..9
    ('circle', 25.0, 7.0),     # orange:  18..32
    ('triangle', 225.0, 10.0),  # blue:  215..235
    ('diamond', 225.0, 10.0),   # blue
    ('square', 120.0, 12.0),   # green:  108..132
    ('square', 168.0, 9.0),    # teal:   159..177
    ('pentagon', 52.0, 6.0),   # yellow:  46..58
    ('hexagon', 52.0, 6.0),    # yellow
)

_SPLIT_IDS = {'train': 0, 'val': 1}
_IMAGE_NAME_RE = re.compile(r'^\d{6}\.(jpg|png)$')
_MAX_HIDDEN_FRACTION = 0.6  # drop annotations hidden beyond this fraction
_MIN_VISIBLE_PIXELS = 12
_MIN_IMAGE_SIDE = 32
_MAX_IMAGE_SIDE = 4096
_JPEG_QUALITY = 90
_SUBPIXEL_SHIFT = 4  # cv2 drawing with 1/16 px precision


@DATASETS.register_module()
class ShapesDataset(CocoDataset):
    """Synthetic "shapes" detection dataset in COCO format.

    The annotation files are produced by :func:`generate_shapes_dataset` (or
    ``tools/make_shapes.py``). Loading, filtering and evaluation are those of
    mmdet's :class:`~mmdet.datasets.CocoDataset`; only the metainfo differs.

    Args:
        *args: Positional arguments of :class:`~mmdet.datasets.CocoDataset`.
        **kwargs: Keyword arguments of :class:`~mmdet.datasets.CocoDataset`,
            typically ``data_root``, ``ann_file`` (e.g.
            ``'annotations/instances_val.json'``), ``data_prefix`` (e.g.
            ``dict(img='val/')``), ``filter_cfg`` and ``pipeline``.

    Attributes:
        METAINFO (dict): ``classes`` is :data:`SHAPES_CLASSES` (8 classes,
            category ids 1..8 in the JSON) and ``palette`` their nominal RGB
            colours.

    Example:
        >>> from mmdet.registry import DATASETS
        >>> ds = DATASETS.build(dict(
        ...     type='ShapesDataset', data_root='data/shapes/',
        ...     ann_file='annotations/instances_val.json',
        ...     data_prefix=dict(img='val/'), pipeline=[]))
    """

    METAINFO = {
        'classes': SHAPES_CLASSES,
        'palette': SHAPES_PALETTE,
    }


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


def _normalize_args(seed, num_train, num_val, size, empty_fraction,
                    max_objects, object_size, image_format) -> Dict:
    seed = _check_int('seed', seed, 0)
    num_train = _check_int('num_train', num_train, 1)
    num_val = _check_int('num_val', num_val, 1)
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
        size=[h, w],
        empty_fraction=float(empty_fraction),
        max_objects=max_objects,
        object_size=[lo, hi],
        image_format=image_format)


# --------------------------------------------------------------------------
# Drawing helpers. While drawing, images are planar float32 BGR arrays of
# shape (3, H, W) in [0, 255]: per-pixel factors then broadcast over the
# leading axis, several times faster than over an interleaved (H, W, 3).
# --------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _grid(h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
    """Read-only float32 pixel coordinate grids ``(yy, xx)``."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy.flags.writeable = False
    xx.flags.writeable = False
    return yy, xx


@functools.lru_cache(maxsize=8)
def _noise_bank(h: int, w: int) -> np.ndarray:
    """Fixed read-only N(0, 1) field of shape (3, 2H, 2W).

    Drawing fresh normals for every pixel dominates the generation time, so
    noise is taken as random crops (with random sign) of this fixed field.
    """
    bank = np.random.default_rng(0x5EED).standard_normal(
        (3, 2 * h, 2 * w), dtype=np.float32)
    bank.flags.writeable = False
    return bank


def _noise(rng: np.random.Generator, h: int, w: int, shape: Tuple[int, ...]
           ) -> np.ndarray:
    """N(0, 1) noise of ``shape`` = (c, hh, ww) with hh <= H, ww <= W."""
    c, hh, ww = shape
    bank = _noise_bank(h, w)
    k = int(rng.integers(0, 4 - c)) if c < 3 else 0
    y = int(rng.integers(0, 2 * h - hh + 1))
    x = int(rng.integers(0, 2 * w - ww + 1))
    sign = np.float32(1 if rng.random() < 0.5 else -1)
    return bank[k:k + c, y:y + hh, x:x + ww] * sign


def _hsv_to_bgr(h_deg: float, s: float, v: float) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb((h_deg % 360.0) / 360.0, s, v)
    return np.array([b, g, r], dtype=np.float32) * 255.0


def _rotate(pts: np.ndarray, angle_deg: float) -> np.ndarray:
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return pts @ np.array([[c, s], [-s, c]], dtype=np.float64)


def _regular_polygon(n: int, start_deg: float = -90.0) -> np.ndarray:
    t = np.radians(start_deg + 360.0 * np.arange(n) / n)
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def _unit_shape(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Outline of a class shape centred at 0, before scaling."""
    if kind == 'circle':
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        pts = np.stack([np.cos(t), rng.uniform(0.88, 1.0) * np.sin(t)], 1)
        pts = _rotate(pts, rng.uniform(0, 180))
    elif kind == 'triangle':
        pts = _rotate(_regular_polygon(3), rng.uniform(-180, 180))
    elif kind == 'diamond':  # tall rhombus, standing upright-ish
        a = rng.uniform(0.55, 0.72)
        pts = np.array([[0, -1], [a, 0], [0, 1], [-a, 0]], dtype=np.float64)
        pts = _rotate(pts, rng.uniform(-20, 20))
    elif kind == 'square':  # axis-aligned-ish, so never a diamond
        pts = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64)
        pts[:, 1] *= rng.uniform(0.9, 1.1)
        pts = _rotate(pts, rng.uniform(-12, 12))
    elif kind == 'pentagon':
        pts = _rotate(_regular_polygon(5), rng.uniform(0, 72))
    elif kind == 'hexagon':
        pts = _rotate(_regular_polygon(6), rng.uniform(0, 60))
    else:  # pragma: no cover - internal
        raise ValueError(kind)
    return pts


def _scaled(unit: np.ndarray, size: float, cx: float,
            cy: float) -> np.ndarray:
    """Scale a unit outline so its bounding box's longer side is ``size``."""
    lo, hi = unit.min(0), unit.max(0)
    pts = (unit - (lo + hi) / 2) * (size / float((hi - lo).max()))
    return pts + np.array([cx, cy])


def _irregular_polygon(rng: np.random.Generator, radius: float, cx: float,
                       cy: float) -> np.ndarray:
    n = int(rng.integers(7, 13))
    t = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = radius * rng.uniform(0.3, 1.0, n)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def _ellipse(rng: np.random.Generator, rx: float, ry: float, cx: float,
             cy: float) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 32, endpoint=False)
    pts = np.stack([rx * np.cos(t), ry * np.sin(t)], 1)
    return _rotate(pts, rng.uniform(0, 180)) + np.array([cx, cy])


def _region(pts: np.ndarray, pad: float, h: int,
            w: int) -> Optional[Tuple[int, int, int, int]]:
    x0 = max(int(math.floor(pts[:, 0].min() - pad)), 0)
    y0 = max(int(math.floor(pts[:, 1].min() - pad)), 0)
    x1 = min(int(math.ceil(pts[:, 0].max() + pad)) + 1, w)
    y1 = min(int(math.ceil(pts[:, 1].max() + pad)) + 1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _fixed(pts: np.ndarray, x0: int, y0: int) -> np.ndarray:
    scale = 1 << _SUBPIXEL_SHIFT
    return np.round((pts - [x0, y0]) * scale).astype(np.int32)


def _paint(img: np.ndarray,
           pts: np.ndarray,
           color: np.ndarray,
           rng: np.random.Generator,
           line_width: int = 0,
           shading: float = 0.0,
           speckle: float = 0.0,
           outline: Optional[np.ndarray] = None) -> Optional[Dict]:
    """Alpha-blend a filled polygon (or a polyline) into ``img``.

    Returns the drawn region and its binary coverage mask, or None when the
    item lies completely outside the image.
    """
    h, w = img.shape[1:]
    region = _region(pts, 1.0 + line_width, h, w)
    if region is None:
        return None
    x0, y0, x1, y1 = region
    alpha = np.zeros((y1 - y0, x1 - x0), np.uint8)
    fixed = _fixed(pts, x0, y0)
    if line_width > 0:
        cv2.polylines(alpha, [fixed], False, 255, line_width, cv2.LINE_AA,
                      _SUBPIXEL_SHIFT)
    else:
        cv2.fillPoly(alpha, [fixed], 255, cv2.LINE_AA, _SUBPIXEL_SHIFT)
    if not alpha.any():
        return None
    layer = np.empty((3, y1 - y0, x1 - x0), np.float32)
    layer[:] = color[:, None, None]
    if shading:
        # Linear shading across the object, as from a directional light.
        gy, gx = _grid(h, w)
        yy, xx = gy[y0:y1, x0:x1], gx[y0:y1, x0:x1]
        cx, cy = (float(v) for v in pts.mean(0))
        extent = max(float(np.ptp(pts, 0).max()), 1.0)
        ang = rng.uniform(0, 2 * np.pi)
        dx, dy = math.cos(ang) / extent, math.sin(ang) / extent
        ramp = (xx - cx) * dx + (yy - cy) * dy
        layer *= 1.0 + shading * ramp
    if speckle:
        layer += speckle * _noise(rng, h, w, (1, y1 - y0, x1 - x0))
    a = alpha.astype(np.float32) * np.float32(1 / 255)
    crop = img[:, y0:y1, x0:x1]
    crop *= 1.0 - a
    crop += a * layer
    mask = alpha >= 128
    if outline is not None:
        edge = np.zeros_like(alpha)
        cv2.polylines(edge, [fixed], True, 255, 1, cv2.LINE_AA,
                      _SUBPIXEL_SHIFT)
        e = edge.astype(np.float32) * np.float32(1 / 255)
        crop *= 1.0 - e
        crop += e * outline[:, None, None]
        mask |= edge >= 128
    return dict(region=region, mask=mask)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Textured background: gradient + low-frequency noise + pattern."""
    c0 = _hsv_to_bgr(rng.uniform(0, 360), rng.uniform(0, 0.3),
                     rng.uniform(0.25, 0.8))
    c1 = _hsv_to_bgr(rng.uniform(0, 360), rng.uniform(0, 0.3),
                     rng.uniform(0.25, 0.8))
    yy, xx = _grid(h, w)
    ang = rng.uniform(0, 2 * np.pi)
    ramp = xx * math.cos(ang) + yy * math.sin(ang)
    ramp -= ramp.min()
    ramp /= max(float(ramp.max()), 1.0)
    img = c0[:, None, None] + (c1 - c0)[:, None, None] * ramp
    # Low-frequency blotches.
    g = int(rng.integers(3, 10))
    blot = rng.normal(0, rng.uniform(5, 25), (g, g, 3)).astype(np.float32)
    blot = cv2.resize(blot, (w, h), interpolation=cv2.INTER_LINEAR)
    img += blot.transpose(2, 0, 1)
    kind = rng.integers(0, 4)
    if kind == 1:  # stripes at a random angle
        period = rng.uniform(5, 30)
        ang = rng.uniform(0, np.pi)
        phase = (xx * math.cos(ang) + yy * math.sin(ang)) * (2 * np.pi /
                                                             period)
        wave = np.sin(phase)
        if rng.random() < 0.5:
            wave = np.sign(wave)
        img += rng.uniform(6, 30) * wave
    elif kind == 2:  # checkerboard
        cell = int(rng.integers(6, 33))
        board = ((xx // cell + yy // cell) % 2) * 2 - 1
        img += rng.uniform(6, 25) * board
    elif kind == 3:  # fine grain texture
        grain = rng.uniform(4, 12) * _noise(rng, h, w, (1, h, w))[0]
        grain = cv2.GaussianBlur(grain, (0, 0), rng.uniform(0.7, 1.5))
        img += grain
    return img


def _clutter_color(rng: np.random.Generator,
                   any_hue: bool = True) -> np.ndarray:
    """Colours no category uses: greys, purples/magentas, dark browns.

    With ``any_hue``, one in five clutter items gets an arbitrary hue, so
    colour alone never identifies an object (used for lines and irregular
    polygons only: an ellipse in a class colour could pass for a circle).
    """
    u = rng.random() if any_hue else 0.8 * rng.random()
    if u < 0.45:  # greys
        return _hsv_to_bgr(rng.uniform(0, 360), rng.uniform(0, 0.12),
                           rng.uniform(0.1, 0.95))
    if u < 0.65:  # purples / magentas
        return _hsv_to_bgr(rng.uniform(265, 335), rng.uniform(0.3, 0.9),
                           rng.uniform(0.3, 0.9))
    if u < 0.8:  # dark browns
        return _hsv_to_bgr(rng.uniform(15, 40), rng.uniform(0.35, 0.7),
                           rng.uniform(0.15, 0.35))
    return _hsv_to_bgr(rng.uniform(0, 360), rng.uniform(0.3, 1.0),
                       rng.uniform(0.3, 1.0))


def _draw_clutter(img: np.ndarray, rng: np.random.Generator,
                  max_radius: float) -> Optional[Dict]:
    h, w = img.shape[1:]
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    kind = rng.random()
    color = _clutter_color(rng, any_hue=kind >= 0.35)
    if kind < 0.35:  # blob
        r = math.exp(rng.uniform(math.log(4), math.log(max_radius)))
        pts = _ellipse(rng, r, r * rng.uniform(0.4, 1.0), cx, cy)
        return _paint(img, pts, color, rng, shading=rng.uniform(0, 0.3),
                      speckle=rng.uniform(0, 8))
    if kind < 0.65:  # line or polyline
        n = int(rng.integers(2, 4))
        length = rng.uniform(0.2, 0.9) * max(h, w)
        ang = rng.uniform(0, 2 * np.pi)
        steps = np.cumsum(
            np.stack([np.cos(ang + rng.normal(0, 0.5, n - 1)),
                      np.sin(ang + rng.normal(0, 0.5, n - 1))], 1) *
            length / (n - 1), axis=0)
        pts = np.vstack([[cx, cy], steps + [cx, cy]])
        return _paint(img, pts, color, rng,
                      line_width=int(rng.integers(1, 4)))
    r = math.exp(rng.uniform(math.log(4), math.log(max_radius * 0.7)))
    pts = _irregular_polygon(rng, r, cx, cy)
    return _paint(img, pts, color, rng, shading=rng.uniform(0, 0.3))


def _overlap_ok(box: np.ndarray, boxes: List[np.ndarray]) -> bool:
    """Allow partial occlusion; reject overlaps over 60% of the smaller box."""
    for b in boxes:
        iw = min(box[2], b[2]) - max(box[0], b[0])
        ih = min(box[3], b[3]) - max(box[1], b[1])
        if iw <= 0 or ih <= 0:
            continue
        a0 = (box[2] - box[0]) * (box[3] - box[1])
        a1 = (b[2] - b[0]) * (b[3] - b[1])
        if iw * ih / min(a0, a1) > 0.6:
            return False
    return True


def _render_image(rng: np.random.Generator, h: int, w: int, params: Dict
                  ) -> Tuple[np.ndarray, List[Dict]]:
    """Draw one image; returns ((H, W, 3) uint8 BGR image, annotations
    without ids)."""
    img = _background(rng, h, w)
    max_clutter_r = max(6.0, 0.18 * min(h, w))
    for _ in range(int(rng.integers(3, 11))):
        _draw_clutter(img, rng, max_clutter_r)

    lo, hi = params['object_size']
    hi = min(hi, 0.8 * min(h, w))
    lo = min(lo, hi)
    empty = rng.random() < params['empty_fraction']
    n_obj = 0 if empty else int(rng.integers(1, params['max_objects'] + 1))
    n_fg = int(rng.integers(0, 4)) if n_obj else 0

    # Foreground layers in drawing order: objects, with a few clutter items
    # (lines, blobs, polygons) interleaved so they can occlude objects too.
    order = ['obj'] * n_obj + ['clutter'] * n_fg
    order = [order[i] for i in rng.permutation(len(order))] if order else []
    drawn, placed = [], []
    for kind in order:
        if kind == 'clutter':
            item = _draw_clutter(img, rng, max_clutter_r)
            if item is not None:
                drawn.append(item)
            continue
        label = int(rng.integers(len(SHAPES_CLASSES)))
        shape, hue, dhue = _CLASS_SPECS[label]
        size = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        unit = _unit_shape(shape, rng)
        pts = None
        for _ in range(15):
            m = 0.25 * size  # at most ~25% of the extent per side outside
            cx = rng.uniform(m, w - m) if w > 2 * m else w / 2
            cy = rng.uniform(m, h - m) if h > 2 * m else h / 2
            cand = _scaled(unit, size, cx, cy)
            box = np.concatenate([cand.min(0), cand.max(0)])
            if _overlap_ok(box, placed):
                pts = cand
                break
        if pts is None:
            continue
        placed.append(box)
        color = _hsv_to_bgr(hue + rng.uniform(-dhue, dhue),
                            rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0))
        outline = None
        if size > 20 and rng.random() < 0.25:
            outline = color * rng.uniform(0.35, 0.6)
        item = _paint(
            img, pts, color, rng,
            shading=rng.uniform(0.0, 0.35),
            speckle=rng.uniform(0, 6) if rng.random() < 0.3 else 0.0,
            outline=outline)
        if item is None:
            continue
        item['label'] = label
        item['full_area'] = abs(float(cv2.contourArea(
            pts.astype(np.float32))))
        drawn.append(item)

    # Visibility: walk the layers front to back accumulating coverage.
    covered = np.zeros((h, w), bool)
    anns = []
    for item in reversed(drawn):
        x0, y0, x1, y1 = item['region']
        cov = covered[y0:y1, x0:x1]
        if 'label' in item:
            vis = item['mask'] & ~cov
            n_vis = int(vis.sum())
            if n_vis >= _MIN_VISIBLE_PIXELS and n_vis >= (
                    1 - _MAX_HIDDEN_FRACTION) * item['full_area']:
                ann = _make_annotation(vis, x0, y0, item['label'])
                if ann is not None:
                    anns.append(ann)
        cov |= item['mask']
    anns.reverse()  # drawing order

    # Global photometric effects: illumination gradient, colour cast,
    # sensor noise, occasional blur.
    yy, xx = _grid(h, w)
    ang = rng.uniform(0, 2 * np.pi)
    ramp = (xx - w / 2) * math.cos(ang) + (yy - h / 2) * math.sin(ang)
    ramp = ramp / max(h, w)
    img *= 1.0 + rng.uniform(0, 0.4) * ramp
    img *= (1.0 + rng.normal(0, 0.03, 3)).astype(np.float32)[:, None, None]
    img += rng.uniform(1, 7) * _noise(rng, h, w, (3, h, w))
    out = cv2.merge(list(img))  # (H, W, 3)
    if rng.random() < 0.25:
        out = cv2.GaussianBlur(out, (3, 3), rng.uniform(0.5, 0.9))
    np.clip(out, 0, 255, out=out)
    return np.rint(out).astype(np.uint8), anns


def _make_annotation(vis: np.ndarray, x0: int, y0: int,
                     label: int) -> Optional[Dict]:
    ys = np.flatnonzero(vis.any(1))
    xs = np.flatnonzero(vis.any(0))
    bw = float(xs[-1] - xs[0] + 1)
    bh = float(ys[-1] - ys[0] + 1)
    if bw < 2 or bh < 2:
        return None
    contours, _ = cv2.findContours(
        vis.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    seg = []
    for c in contours:
        c = cv2.approxPolyDP(c, 0.5, True)
        if len(c) >= 3:
            c = c.reshape(-1, 2) + [x0, y0]
            seg.append([float(v) for v in c.reshape(-1)])
    bx, by = float(x0 + xs[0]), float(y0 + ys[0])
    if not seg:
        seg = [[bx, by, bx + bw - 1, by, bx + bw - 1, by + bh - 1, bx,
                by + bh - 1]]
    return dict(
        category_id=label + 1,
        bbox=[bx, by, bw, bh],
        area=float(vis.sum()),
        segmentation=seg,
        iscrowd=0)


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
        img, anns = _render_image(rng, h, w, params)
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
            dict(id=i + 1, name=name, supercategory=_CLASS_SPECS[i][0])
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
    return dict(generator='mmkd_det.datasets.shapes', version=SHAPES_VERSION,
                args=params, counts=counts)


def shapes_dataset_is_current(out_dir: str, **kwargs) -> bool:
    """Whether ``out_dir`` holds a complete dataset made with these args.

    Args:
        out_dir (str): Dataset folder.
        **kwargs: The arguments :func:`generate_shapes_dataset` would get
            (defaults filled in the same way).

    Returns:
        bool: True if ``out_dir/meta.json`` records the same arguments and
        generator version and both splits' annotation files and image counts
        are present.
    """
    params = _normalize_args(**{**_DEFAULTS, **kwargs})
    meta_file = osp.join(out_dir, 'meta.json')
    try:
        with open(meta_file) as f:
            meta = json.load(f)
    except (OSError, ValueError):
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


_DEFAULTS = dict(
    seed=0,
    num_train=2000,
    num_val=250,
    size=(192, 192),
    empty_fraction=0.05,
    max_objects=8,
    object_size=(10, 150),
    image_format='jpg')


def generate_shapes_dataset(out_dir: str,
                            seed: int = 0,
                            num_train: int = 2000,
                            num_val: int = 250,
                            size: Tuple[int, int] = (192, 192),
                            empty_fraction: float = 0.05,
                            max_objects: int = 8,
                            object_size: Tuple[float, float] = (10, 150),
                            image_format: str = 'jpg',
                            skip_existing: bool = False) -> Dict[str, Any]:
    """Generate the synthetic shapes dataset in COCO format.

    Writes ``annotations/instances_{train,val}.json``, the images in
    ``train/`` and ``val/`` and ``meta.json`` (written last, so an
    interrupted run is never mistaken for a complete one). Images named like
    ``000000.jpg`` that an earlier run left in the split folders are removed.

    Args:
        out_dir (str): Output folder (created if missing).
        seed (int): Non-negative base seed. Image ``i`` of split ``s`` uses
            the seed ``(seed, s, i)``. Defaults to 0.
        num_train (int): Number of training images (>= 1). Defaults to 2000.
        num_val (int): Number of validation images (>= 1). Defaults to 250.
        size (tuple[int, int] | int): Image size ``(H, W)``, each side in
            32..4096. Defaults to (192, 192).
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
        ``seconds`` and per split (``'train'``, ``'val'``) a dict with
        ``ann_file``, ``img_dir``, ``num_images``, ``num_annotations`` and
        ``num_empty_images`` (when skipped, the counts come from
        ``meta.json``).

    Raises:
        ValueError: On a non-positive count, a negative seed, an image side
            below 32 px or another invalid argument.
    """
    params = _normalize_args(seed, num_train, num_val, size, empty_fraction,
                             max_objects, object_size, image_format)
    t0 = time.perf_counter()
    meta_file = osp.join(out_dir, 'meta.json')
    summary: Dict[str, Any] = dict(out_dir=out_dir, meta_file=meta_file)
    if skip_existing and shapes_dataset_is_current(out_dir, **params):
        with open(meta_file) as f:
            counts = json.load(f).get('counts', {})
        summary['skipped'] = True
        for split in _SPLIT_IDS:
            summary[split] = dict(
                ann_file=osp.join(out_dir, 'annotations',
                                  f'instances_{split}.json'),
                img_dir=osp.join(out_dir, split),
                num_images=params[f'num_{split}'],
                num_annotations=counts.get(split, {}).get('num_annotations'),
                num_empty_images=counts.get(split,
                                            {}).get('num_empty_images'))
        summary['seconds'] = time.perf_counter() - t0
        return summary

    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    if osp.exists(meta_file):
        os.remove(meta_file)
    summary['skipped'] = False
    for split in _SPLIT_IDS:
        summary[split] = _write_split(out_dir, split,
                                      params[f'num_{split}'], params)
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
