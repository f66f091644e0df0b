"""Render one digits image: handwritten MNIST digits on a cluttered ground.

Each image holds 1-5 digits drawn from its split's pool. A digit is cropped
to its ink, scaled so its longer side is 18-64 px (log-uniform) with the
width jittered by +-20%, and composited with its own intensity as alpha in
a colour of its own whose brightness is far from the background's. The
background is a grey gradient with noise and 0-3 line strokes (never
annotated). Boxes are the tight boxes of the digit's visible ink; digits
whose boxes would overlap another's by IoU 0.05 or more are re-placed or
dropped. Images are never mirrored: a mirrored digit is not a digit.
"""
import math
from typing import Dict, List, Tuple

import cv2
import numpy as np

from .source import digit_pools, load_mnist_5k

_INK_ALPHA = 0.25  # a pixel belongs to the digit's box from this alpha on
_MAX_IOU = 0.05
_PLACEMENT_TRIES = 20
_MIN_CONTRAST = 0.35  # |digit value - background value|, values in [0, 1]


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two ``(x0, y0, x1, y1)`` boxes (exclusive ends)."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] -
                                                             b[1]) - inter
    return float(inter / union)


def _background(rng: np.random.Generator, h: int,
                w: int) -> Tuple[np.ndarray, float]:
    """A grey-level gradient with noise; returns (H, W, 3) float32 BGR in
    0..255 and its mean value in [0, 1]."""
    v0 = rng.uniform(0.15, 0.85)
    v1 = float(np.clip(v0 + rng.uniform(-0.2, 0.2), 0.05, 0.95))
    ang = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = xx * math.cos(ang) + yy * math.sin(ang)
    ramp -= ramp.min()
    ramp /= max(float(ramp.max()), 1.0)
    value = v0 + (v1 - v0) * ramp
    tint = 1.0 + rng.normal(0, 0.04, 3).astype(np.float32)  # faint cast
    img = value[..., None] * tint * 255.0
    img += rng.normal(0, rng.uniform(2, 8), (h, w, 3)).astype(np.float32)
    return img, float(value.mean())


def _strokes(img: np.ndarray, rng: np.random.Generator) -> None:
    """0-3 random grey line strokes, drawn in place."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(0, 4))):
        p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        grey = float(rng.uniform(0, 255))
        cv2.line(img, p0, p1, (grey, grey, grey), int(rng.integers(1, 4)),
                 cv2.LINE_AA)


def _digit_colour(rng: np.random.Generator, bg_value: float) -> np.ndarray:
    """A BGR colour (0..255) whose value is at least ``_MIN_CONTRAST`` from
    the background's."""
    if bg_value < 0.5:
        value = rng.uniform(min(bg_value + _MIN_CONTRAST, 1.0), 1.0)
    else:
        value = rng.uniform(0.0, max(bg_value - _MIN_CONTRAST, 0.0))
    hsv = np.array([[[rng.uniform(0, 180),
                      rng.uniform(0, 200), value * 255]]], np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def _ink(digit: np.ndarray, rng: np.random.Generator,
         size: Tuple[float, float]) -> np.ndarray:
    """The digit cropped to its ink and resized: (h, w) float32 alpha."""
    ys = np.flatnonzero(digit.any(1))
    xs = np.flatnonzero(digit.any(0))
    crop = digit[ys[0]:ys[-1] + 1, xs[0]:xs[-1] + 1].astype(np.float32)
    longer = math.exp(rng.uniform(math.log(size[0]), math.log(size[1])))
    scale = longer / max(crop.shape)
    out_h = max(2, int(round(crop.shape[0] * scale)))
    out_w = max(2, int(round(crop.shape[1] * scale * rng.uniform(0.8, 1.2))))
    alpha = cv2.resize(crop, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    return np.clip(alpha / 255.0, 0.0, 1.0)


def render_digits_image(rng: np.random.Generator, split: str,
                        params: Dict) -> Tuple[np.ndarray, List[Dict]]:
    """Draw one image of ``split`` and annotate its digits.

    Args:
        rng (np.random.Generator): The image's own generator.
        split (str): ``'train'``, ``'tune'`` or ``'val'``: which digit pool
            the digits come from.
        params (dict): Normalized generator arguments; uses ``size``,
            ``num_digits`` and ``digit_size``.

    Returns:
        tuple: The (H, W, 3) uint8 BGR image and its COCO annotations
        (without ``id``/``image_id``), each with ``digit_id``, the index of
        its source digit in the MNIST subset.
    """
    images, labels = load_mnist_5k()
    pool = digit_pools()[split]
    h, w = params['size']
    img, bg_value = _background(rng, h, w)
    _strokes(img, rng)
    boxes, anns = [], []
    lo, hi = params['num_digits']
    for _ in range(int(rng.integers(lo, hi + 1))):
        digit_id = int(pool[rng.integers(0, len(pool))])
        alpha = _ink(images[digit_id], rng, params['digit_size'])
        ah, aw = alpha.shape
        if ah > h or aw > w:
            continue
        for _ in range(_PLACEMENT_TRIES):
            x0, y0 = int(rng.integers(0, w - aw + 1)), int(
                rng.integers(0, h - ah + 1))
            ink = alpha >= _INK_ALPHA
            ys, xs = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
            box = np.array(
                [x0 + xs[0], y0 + ys[0], x0 + xs[-1] + 1, y0 + ys[-1] + 1])
            if all(_box_iou(box, b) < _MAX_IOU for b in boxes):
                break
        else:
            continue  # no free place for this digit
        colour = _digit_colour(rng, bg_value)
        region = img[y0:y0 + ah, x0:x0 + aw]
        region *= 1.0 - alpha[..., None]
        region += alpha[..., None] * colour
        boxes.append(box)
        x_min, y_min = float(box[0]), float(box[1])
        bw, bh = float(box[2] - box[0]), float(box[3] - box[1])
        anns.append(
            dict(
                category_id=int(labels[digit_id]) + 1,
                bbox=[x_min, y_min, bw, bh],
                area=bw * bh,
                iscrowd=0,
                digit_id=digit_id))
    np.clip(img, 0, 255, out=img)
    return np.rint(img).astype(np.uint8), anns
