"""Drawing primitives of the shapes generator: outlines, anti-aliased
painting with shading and speckle, textured backgrounds and clutter."""
import colorsys
import functools
import math
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

SUBPIXEL_SHIFT = 4  # cv2 drawing with 1/16 px precision

# --------------------------------------------------------------------------
# Drawing helpers. While drawing, images are planar float32 BGR arrays of
# shape (3, H, W) in [0, 255]: per-pixel factors then broadcast over the
# leading axis, several times faster than over an interleaved (H, W, 3).
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def pixel_grid(h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
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
    bank = np.random.default_rng(0x5EED).standard_normal((3, 2 * h, 2 * w),
                                                         dtype=np.float32)
    bank.flags.writeable = False
    return bank


def noise_field(rng: np.random.Generator, h: int, w: int,
                shape: Tuple[int, ...]) -> np.ndarray:
    """N(0, 1) noise of ``shape`` = (c, hh, ww) with hh <= H, ww <= W."""
    c, hh, ww = shape
    bank = _noise_bank(h, w)
    k = int(rng.integers(0, 4 - c)) if c < 3 else 0
    y = int(rng.integers(0, 2 * h - hh + 1))
    x = int(rng.integers(0, 2 * w - ww + 1))
    sign = np.float32(1 if rng.random() < 0.5 else -1)
    return bank[k:k + c, y:y + hh, x:x + ww] * sign


def hsv_to_bgr(h_deg: float, s: float, v: float) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb((h_deg % 360.0) / 360.0, s, v)
    return np.array([b, g, r], dtype=np.float32) * 255.0


def _rotate(pts: np.ndarray, angle_deg: float) -> np.ndarray:
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return pts @ np.array([[c, s], [-s, c]], dtype=np.float64)


def _regular_polygon(n: int, start_deg: float = -90.0) -> np.ndarray:
    t = np.radians(start_deg + 360.0 * np.arange(n) / n)
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def unit_shape(kind: str, rng: np.random.Generator) -> np.ndarray:
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


def scaled_outline(unit: np.ndarray, size: float, cx: float,
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
    scale = 1 << SUBPIXEL_SHIFT
    return np.round((pts - [x0, y0]) * scale).astype(np.int32)


def paint(img: np.ndarray,
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
                      SUBPIXEL_SHIFT)
    else:
        cv2.fillPoly(alpha, [fixed], 255, cv2.LINE_AA, SUBPIXEL_SHIFT)
    if not alpha.any():
        return None
    layer = np.empty((3, y1 - y0, x1 - x0), np.float32)
    layer[:] = color[:, None, None]
    if shading:
        # Linear shading across the object, as from a directional light.
        gy, gx = pixel_grid(h, w)
        yy, xx = gy[y0:y1, x0:x1], gx[y0:y1, x0:x1]
        cx, cy = (float(v) for v in pts.mean(0))
        extent = max(float(np.ptp(pts, 0).max()), 1.0)
        ang = rng.uniform(0, 2 * np.pi)
        dx, dy = math.cos(ang) / extent, math.sin(ang) / extent
        ramp = (xx - cx) * dx + (yy - cy) * dy
        layer *= 1.0 + shading * ramp
    if speckle:
        layer += speckle * noise_field(rng, h, w, (1, y1 - y0, x1 - x0))
    a = alpha.astype(np.float32) * np.float32(1 / 255)
    crop = img[:, y0:y1, x0:x1]
    crop *= 1.0 - a
    crop += a * layer
    mask = alpha >= 128
    if outline is not None:
        edge = np.zeros_like(alpha)
        cv2.polylines(edge, [fixed], True, 255, 1, cv2.LINE_AA, SUBPIXEL_SHIFT)
        e = edge.astype(np.float32) * np.float32(1 / 255)
        crop *= 1.0 - e
        crop += e * outline[:, None, None]
        mask |= edge >= 128
    return dict(region=region, mask=mask)


def background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Textured background: gradient + low-frequency noise + pattern."""
    c0 = hsv_to_bgr(
        rng.uniform(0, 360), rng.uniform(0, 0.3), rng.uniform(0.25, 0.8))
    c1 = hsv_to_bgr(
        rng.uniform(0, 360), rng.uniform(0, 0.3), rng.uniform(0.25, 0.8))
    yy, xx = pixel_grid(h, w)
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
        grain = rng.uniform(4, 12) * noise_field(rng, h, w, (1, h, w))[0]
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
        return hsv_to_bgr(
            rng.uniform(0, 360), rng.uniform(0, 0.12), rng.uniform(0.1, 0.95))
    if u < 0.65:  # purples / magentas
        return hsv_to_bgr(
            rng.uniform(265, 335), rng.uniform(0.3, 0.9),
            rng.uniform(0.3, 0.9))
    if u < 0.8:  # dark browns
        return hsv_to_bgr(
            rng.uniform(15, 40), rng.uniform(0.35, 0.7),
            rng.uniform(0.15, 0.35))
    return hsv_to_bgr(
        rng.uniform(0, 360), rng.uniform(0.3, 1.0), rng.uniform(0.3, 1.0))


def draw_clutter(img: np.ndarray, rng: np.random.Generator,
                 max_radius: float) -> Optional[Dict]:
    h, w = img.shape[1:]
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    kind = rng.random()
    color = _clutter_color(rng, any_hue=kind >= 0.35)
    if kind < 0.35:  # blob
        r = math.exp(rng.uniform(math.log(4), math.log(max_radius)))
        pts = _ellipse(rng, r, r * rng.uniform(0.4, 1.0), cx, cy)
        return paint(
            img,
            pts,
            color,
            rng,
            shading=rng.uniform(0, 0.3),
            speckle=rng.uniform(0, 8))
    if kind < 0.65:  # line or polyline
        n = int(rng.integers(2, 4))
        length = rng.uniform(0.2, 0.9) * max(h, w)
        ang = rng.uniform(0, 2 * np.pi)
        steps = np.cumsum(
            np.stack([
                np.cos(ang + rng.normal(0, 0.5, n - 1)),
                np.sin(ang + rng.normal(0, 0.5, n - 1))
            ], 1) * length / (n - 1),
            axis=0)
        pts = np.vstack([[cx, cy], steps + [cx, cy]])
        return paint(img, pts, color, rng, line_width=int(rng.integers(1, 4)))
    r = math.exp(rng.uniform(math.log(4), math.log(max_radius * 0.7)))
    pts = _irregular_polygon(rng, r, cx, cy)
    return paint(img, pts, color, rng, shading=rng.uniform(0, 0.3))
