"""Render one shapes image and the COCO annotations of its visible objects.
"""
import math
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from .dataset import SHAPES_CLASSES
from .draw import (background, draw_clutter, hsv_to_bgr, noise_field, paint,
                   pixel_grid, scaled_outline, unit_shape)

# Per class: (shape, hue centre in degrees, hue half-range in degrees).
# Hue gaps between confusable colours are 9-14 degrees, so colour separates
# them only for a model that looks carefully (and under jitter/lighting).
CLASS_SPECS = (
    ('circle', 2.0, 7.0),  # red:    355..9
    ('circle', 25.0, 7.0),  # orange:  18..32
    ('triangle', 225.0, 10.0),  # blue:  215..235
    ('diamond', 225.0, 10.0),  # blue
    ('square', 120.0, 12.0),  # green:  108..132
    ('square', 168.0, 9.0),  # teal:   159..177
    ('pentagon', 52.0, 6.0),  # yellow:  46..58
    ('hexagon', 52.0, 6.0),  # yellow
)

_MAX_HIDDEN_FRACTION = 0.6  # drop annotations hidden beyond this fraction
_MIN_VISIBLE_PIXELS = 12


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


def render_image(rng: np.random.Generator, h: int, w: int,
                 params: Dict) -> Tuple[np.ndarray, List[Dict]]:
    """Draw one image and annotate its visible objects.

    Args:
        rng (np.random.Generator): The image's own generator.
        h (int): Image height.
        w (int): Image width.
        params (dict): Normalized generator arguments; uses
            ``object_size``, ``empty_fraction`` and ``max_objects``.

    Returns:
        tuple: The (H, W, 3) uint8 BGR image and its COCO annotations
        (without ``id``/``image_id``), in drawing order.
    """
    img = background(rng, h, w)
    max_clutter_r = max(6.0, 0.18 * min(h, w))
    for _ in range(int(rng.integers(3, 11))):
        draw_clutter(img, rng, max_clutter_r)

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
            item = draw_clutter(img, rng, max_clutter_r)
            if item is not None:
                drawn.append(item)
            continue
        label = int(rng.integers(len(SHAPES_CLASSES)))
        shape, hue, dhue = CLASS_SPECS[label]
        size = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        unit = unit_shape(shape, rng)
        pts = None
        for _ in range(15):
            m = 0.25 * size  # at most ~25% of the extent per side outside
            cx = rng.uniform(m, w - m) if w > 2 * m else w / 2
            cy = rng.uniform(m, h - m) if h > 2 * m else h / 2
            cand = scaled_outline(unit, size, cx, cy)
            box = np.concatenate([cand.min(0), cand.max(0)])
            if _overlap_ok(box, placed):
                pts = cand
                break
        if pts is None:
            continue
        placed.append(box)
        color = hsv_to_bgr(hue + rng.uniform(-dhue, dhue),
                           rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0))
        outline = None
        if size > 20 and rng.random() < 0.25:
            outline = color * rng.uniform(0.35, 0.6)
        item = paint(
            img,
            pts,
            color,
            rng,
            shading=rng.uniform(0.0, 0.35),
            speckle=rng.uniform(0, 6) if rng.random() < 0.3 else 0.0,
            outline=outline)
        if item is None:
            continue
        item['label'] = label
        item['full_area'] = abs(float(cv2.contourArea(pts.astype(np.float32))))
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
    yy, xx = pixel_grid(h, w)
    ang = rng.uniform(0, 2 * np.pi)
    ramp = (xx - w / 2) * math.cos(ang) + (yy - h / 2) * math.sin(ang)
    ramp = ramp / max(h, w)
    img *= 1.0 + rng.uniform(0, 0.4) * ramp
    img *= (1.0 + rng.normal(0, 0.03, 3)).astype(np.float32)[:, None, None]
    img += rng.uniform(1, 7) * noise_field(rng, h, w, (3, h, w))
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
        seg = [[
            bx, by, bx + bw - 1, by, bx + bw - 1, by + bh - 1, bx, by + bh - 1
        ]]
    return dict(
        category_id=label + 1,
        bbox=[bx, by, bw, bh],
        area=float(vis.sum()),
        segmentation=seg,
        iscrowd=0)
