"""Confidence calibration of object detectors (D-ECE).

Implements the confidence-only detection expected calibration error of
Küppers et al., "Multivariate Confidence Calibration for Object Detection"
(CVPR-W 2020), which the LumiNet paper uses in its calibration discussion:
detections are matched to ground truth (TP/FP), grouped into equal-width
confidence bins, and

    D-ECE = sum_b |B_b| / N * |precision(b) - confidence(b)|

where precision(b) is the fraction of true positives in bin b and
confidence(b) the mean score. Missed ground truths do not enter the measure:
it asks whether a detection's score equals the probability that it is
correct.

Everything here is numpy only, so tests can call it on hand-built arrays.
Boxes are ``(x1, y1, x2, y2)`` in pixels with mmdet 3.x conventions
(width = x2 - x1, no +1).
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _as_boxes(boxes, what: str) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f'{what} must have shape (N, 4) in xyxy, '
                         f'got {arr.shape}')
    return arr


def _as_vector(values, length: int, what: str, dtype) -> np.ndarray:
    arr = np.asarray(values, dtype=dtype).reshape(-1)
    if arr.shape[0] != length:
        raise ValueError(f'{what} has {arr.shape[0]} entries, expected '
                         f'{length} (one per box)')
    return arr


def box_iou(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """Pairwise IoU of two sets of xyxy boxes.

    Args:
        boxes1: ``(N, 4)`` boxes.
        boxes2: ``(M, 4)`` boxes.

    Returns:
        ``(N, M)`` IoU; 0 where the union is empty (degenerate boxes).
    """
    b1 = _as_boxes(boxes1, 'boxes1')[:, None, :]
    b2 = _as_boxes(boxes2, 'boxes2')[None, :, :]
    inter_w = np.clip(
        np.minimum(b1[..., 2], b2[..., 2]) -
        np.maximum(b1[..., 0], b2[..., 0]), 0, None)
    inter_h = np.clip(
        np.minimum(b1[..., 3], b2[..., 3]) -
        np.maximum(b1[..., 1], b2[..., 1]), 0, None)
    inter = inter_w * inter_h

    def area(b):
        return (np.clip(b[..., 2] - b[..., 0], 0, None) *
                np.clip(b[..., 3] - b[..., 1], 0, None))

    union = area(b1) + area(b2) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _class_iou(det_boxes, det_labels, gt_boxes, gt_labels) -> np.ndarray:
    # -1 marks pairs of different classes: below any threshold in [0, 1], so
    # a detection can never match a ground truth of another class.
    ious = box_iou(det_boxes, gt_boxes)
    ious[det_labels[:, None] != gt_labels[None, :]] = -1.0
    return ious


def match_detections(det_boxes,
                     det_scores,
                     det_labels,
                     gt_boxes,
                     gt_labels,
                     iou_thr: float = 0.5) -> np.ndarray:
    """Marks each detection of one image as true or false positive.

    Greedy COCO/VOC-style matching: detections are visited by descending
    score; each takes the unmatched ground truth of its class with the
    highest IoU, and is a true positive if that IoU is ``>= iou_thr``. Each
    ground truth is matched at most once, so duplicates of a detected object
    are false positives.

    Args:
        det_boxes: ``(N, 4)`` detected boxes, xyxy.
        det_scores: ``(N,)`` confidences.
        det_labels: ``(N,)`` class indices.
        gt_boxes: ``(M, 4)`` ground-truth boxes, xyxy.
        gt_labels: ``(M,)`` class indices.
        iou_thr: Minimum IoU of a true positive, in ``[0, 1]``.

    Returns:
        ``(N,)`` bool array, True for true positives, in input order.

    Raises:
        ValueError: Inconsistent shapes or ``iou_thr`` outside ``[0, 1]``.
    """
    if not 0.0 <= iou_thr <= 1.0:
        raise ValueError(f'iou_thr must be in [0, 1], got {iou_thr}')
    det_boxes = _as_boxes(det_boxes, 'det_boxes')
    gt_boxes = _as_boxes(gt_boxes, 'gt_boxes')
    n = det_boxes.shape[0]
    det_scores = _as_vector(det_scores, n, 'det_scores', np.float64)
    det_labels = _as_vector(det_labels, n, 'det_labels', np.int64)
    gt_labels = _as_vector(gt_labels, gt_boxes.shape[0], 'gt_labels', np.int64)

    is_tp = np.zeros(n, dtype=bool)
    if n == 0 or gt_boxes.shape[0] == 0:
        return is_tp
    ious = _class_iou(det_boxes, det_labels, gt_boxes, gt_labels)
    taken = np.zeros(gt_boxes.shape[0], dtype=bool)
    # Stable sort: among equal scores the earlier detection matches first.
    for i in np.argsort(-det_scores, kind='stable'):
        candidates = np.where(taken, -1.0, ious[i])
        j = int(np.argmax(candidates))
        if candidates[j] >= iou_thr:
            is_tp[i] = True
            taken[j] = True
    return is_tp


def detection_ece(scores, is_tp, n_bins: int = 15) -> Tuple[float, List[Dict]]:
    """Confidence-only detection expected calibration error.

    Bins split ``[0, 1]`` into ``n_bins`` equal-width intervals
    ``[lower, upper)``, the last one closed (as ``np.histogram``). Empty bins
    do not contribute.

    Args:
        scores: ``(N,)`` detection confidences in ``[0, 1]``.
        is_tp: ``(N,)`` bool, whether each detection is a true positive.
        n_bins: Number of bins.

    Returns:
        ``(d_ece, bins)``: D-ECE as a fraction, and one dict per bin (empty
        ones included, for plotting) with ``lower``, ``upper``, ``count``,
        ``precision`` and ``confidence`` (None when the bin is empty). All
        values are plain Python types, ready for JSON.

    Raises:
        ValueError: No detections, scores outside ``[0, 1]``, mismatched
            lengths or ``n_bins < 1``.
    """
    if n_bins < 1:
        raise ValueError(f'n_bins must be >= 1, got {n_bins}')
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.size == 0:
        raise ValueError('D-ECE is undefined without detections: no scores '
                         'given (is the score threshold too high?)')
    is_tp = _as_vector(is_tp, scores.size, 'is_tp', bool)
    if np.isnan(scores).any() or scores.min() < 0 or scores.max() > 1:
        raise ValueError('scores must be confidences in [0, 1], got range '
                         f'[{scores.min()}, {scores.max()}]')

    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Inner edges only, so 1.0 falls in the last bin rather than past it.
    idx = np.digitize(scores, edges[1:-1])
    counts = np.bincount(idx, minlength=n_bins)
    sum_conf = np.bincount(idx, weights=scores, minlength=n_bins)
    sum_tp = np.bincount(
        idx, weights=is_tp.astype(np.float64), minlength=n_bins)

    d_ece = 0.0
    bins = []
    for b in range(n_bins):
        count = int(counts[b])
        precision = confidence = None
        if count:
            precision = float(sum_tp[b] / count)
            confidence = float(sum_conf[b] / count)
            d_ece += count / scores.size * abs(precision - confidence)
        bins.append(
            dict(
                lower=float(edges[b]),
                upper=float(edges[b + 1]),
                count=count,
                precision=precision,
                confidence=confidence))
    return float(d_ece), bins


def gt_from_instances(instances: Sequence[dict]) -> Dict[str, np.ndarray]:
    """Converts mmdet 3.x ``data_info['instances']`` to ground-truth arrays.

    Args:
        instances: Dicts with ``bbox`` (xyxy), ``bbox_label`` and optionally
            ``ignore_flag``, as returned by ``dataset.get_data_info(i)``.

    Returns:
        Dict with ``gt_bboxes`` ``(M, 4)``, ``gt_labels`` ``(M,)`` and
        ``gt_ignore_flags`` ``(M,)`` bool.
    """
    return dict(
        gt_bboxes=_as_boxes([inst['bbox'] for inst in instances], 'bbox'),
        gt_labels=np.array([inst['bbox_label'] for inst in instances],
                           dtype=np.int64),
        gt_ignore_flags=np.array(
            [bool(inst.get('ignore_flag', 0)) for inst in instances],
            dtype=bool))


def _image_outcomes(image: dict, iou_thr: float,
                    score_thr: float) -> Tuple[np.ndarray, np.ndarray]:
    """Scores and TP flags of one image's calibrated detections.

    Detections below ``score_thr`` are dropped before matching; since
    matching is greedy by score this does not change the remaining ones'
    outcome. Ignored ground truths (e.g. COCO crowd) are not matched; a
    false positive that hits one (IoU >= ``iou_thr``, same class) is left
    out, as COCO evaluation neither rewards nor penalises it.
    """
    scores = np.asarray(image['pred_scores'], dtype=np.float64).reshape(-1)
    boxes = _as_boxes(image['pred_bboxes'], 'pred_bboxes')
    if boxes.shape[0] != scores.size:
        raise ValueError(f'pred_bboxes has {boxes.shape[0]} boxes but '
                         f'pred_scores {scores.size} entries')
    keep = scores >= score_thr
    boxes = boxes[keep]
    labels = _as_vector(image['pred_labels'], scores.size, 'pred_labels',
                        np.int64)[keep]
    scores = scores[keep]

    gt_boxes = _as_boxes(image['gt_bboxes'], 'gt_bboxes')
    gt_labels = _as_vector(image['gt_labels'], gt_boxes.shape[0], 'gt_labels',
                           np.int64)
    ignore = image.get('gt_ignore_flags')
    ignore = (
        np.zeros(gt_boxes.shape[0], dtype=bool) if ignore is None else
        _as_vector(ignore, gt_boxes.shape[0], 'gt_ignore_flags', bool))

    is_tp = match_detections(boxes, scores, labels, gt_boxes[~ignore],
                             gt_labels[~ignore], iou_thr)
    counted = np.ones(scores.size, dtype=bool)
    if ignore.any() and scores.size:
        hits_ignored = (_class_iou(boxes, labels, gt_boxes[ignore],
                                   gt_labels[ignore]) >= iou_thr).any(axis=1)
        counted = is_tp | ~hits_ignored
    return scores[counted], is_tp[counted]


def evaluate_calibration(results: Sequence[dict],
                         iou_thr: float = 0.5,
                         n_bins: int = 15,
                         score_thr: float = 0.0) -> Dict:
    """D-ECE of a detector over a set of images.

    Args:
        results: One dict per image with numpy arrays ``pred_bboxes``
            ``(N, 4)``, ``pred_scores`` ``(N,)``, ``pred_labels`` ``(N,)``,
            ``gt_bboxes`` ``(M, 4)``, ``gt_labels`` ``(M,)`` and optionally
            ``gt_ignore_flags`` ``(M,)`` (see :func:`gt_from_instances`).
        iou_thr: IoU for a true positive.
        n_bins: Number of confidence bins.
        score_thr: Detections below this score are not evaluated.

    Returns:
        Dict with ``d_ece`` (fraction), ``num_detections`` (evaluated ones)
        and ``bins`` (see :func:`detection_ece`).

    Raises:
        ValueError: No detection reaches ``score_thr`` in any image.
    """
    per_image = [_image_outcomes(r, iou_thr, score_thr) for r in results]
    scores = np.concatenate([s for s, _ in per_image] + [np.zeros(0)])
    is_tp = np.concatenate([t
                            for _, t in per_image] + [np.zeros(0, dtype=bool)])
    if scores.size == 0:
        raise ValueError(f'No detection with score >= {score_thr} in '
                         f'{len(results)} images: D-ECE is undefined; lower '
                         'the score threshold or check the model')
    d_ece, bins = detection_ece(scores, is_tp, n_bins)
    return dict(d_ece=d_ece, num_detections=int(scores.size), bins=bins)


def reliability_diagram(bins: Sequence[dict],
                        out_png: str,
                        title: Optional[str] = None) -> str:
    """Draws a reliability diagram: precision against confidence per bin.

    The top panel shows each non-empty bin's precision as a bar, its mean
    confidence as a marker, and the diagonal of perfect calibration; the
    bottom panel shows how many detections each bin holds. Uses the Agg
    canvas directly so no pyplot backend is touched.

    Args:
        bins: Bins as returned by :func:`detection_ece`.
        out_png: Output PNG path; parent folders are created.
        title: Figure title.

    Returns:
        ``out_png``.
    """
    filled = [b for b in bins if b['count']]
    lowers = np.array([b['lower'] for b in bins])
    widths = np.array([b['upper'] - b['lower'] for b in bins])

    fig = Figure(figsize=(5.0, 6.0), dpi=120)
    FigureCanvasAgg(fig)
    ax, ax_count = fig.subplots(
        2, 1, sharex=True, gridspec_kw=dict(height_ratios=(3, 1)))
    ax.plot([0, 1], [0, 1], ls='--', color='gray', label='perfect calibration')
    ax.bar([b['lower'] for b in filled], [b['precision'] for b in filled],
           width=[b['upper'] - b['lower'] for b in filled],
           align='edge',
           edgecolor='black',
           alpha=0.7,
           label='precision')
    ax.plot([b['confidence'] for b in filled],
            [b['confidence'] for b in filled],
            'r.',
            label='mean confidence')
    ax.set(xlim=(0, 1), ylim=(0, 1), ylabel='precision')
    ax.legend(loc='upper left')
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    ax_count.bar(
        lowers, [b['count'] for b in bins],
        width=widths,
        align='edge',
        edgecolor='black',
        color='tab:gray')
    ax_count.set(xlabel='confidence', ylabel='detections')
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_png)), exist_ok=True)
    fig.savefig(out_png)
    return out_png
