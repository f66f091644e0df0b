"""COCO AP and the detection calibration error (D-ECE) in one metric.

D-ECE (Kueppers et al., "Multivariate Confidence Calibration for Object
Detection", CVPR-W 2020) is computed from the same predictions and the same
ground truth that COCO AP is, at every validation, so a run gets a D-ECE
curve beside its AP curve without a second inference pass.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmdet.evaluation.metrics import CocoMetric
from mmdet.registry import METRICS
from mmengine.logging import MMLogger

from ..analysis.calibration import evaluate_calibration

#: How the metric's warning starts when D-ECE is undefined (the comparison
#: records the rest of the line).
DECE_WARNING = 'D-ECE left out: '


@METRICS.register_module()
class CocoMetricWithDECE(CocoMetric):
    """mmdet's ``CocoMetric`` that also reports ``d_ece`` (a fraction).

    The detections with score >= ``d_ece_score_thr`` are matched greedily by
    score to the ground truth of their class at IoU >= ``d_ece_iou_thr``;
    crowd boxes are ignored as COCO ignores them
    (:func:`mmkd_det.analysis.calibration.evaluate_calibration`). When no
    detection reaches the threshold, D-ECE is undefined: ``d_ece`` is left
    out of the results and a warning says why.

    Args:
        d_ece_score_thr (float): Detections below this score are not
            calibrated. Defaults to 0.3.
        d_ece_iou_thr (float): IoU of a true positive. Defaults to 0.5.
        d_ece_bins (int): Equal-width confidence bins. Defaults to 15.
        **kwargs: The arguments of :class:`~mmdet.evaluation.CocoMetric`.
    """

    def __init__(self,
                 d_ece_score_thr: float = 0.3,
                 d_ece_iou_thr: float = 0.5,
                 d_ece_bins: int = 15,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if not 0 <= d_ece_score_thr <= 1 or not 0 < d_ece_iou_thr <= 1:
            raise ValueError('CocoMetricWithDECE needs 0 <= d_ece_score_thr '
                             f'<= 1 and 0 < d_ece_iou_thr <= 1, got '
                             f'{d_ece_score_thr} and {d_ece_iou_thr}')
        if int(d_ece_bins) < 1:
            raise ValueError(f'd_ece_bins must be >= 1, got {d_ece_bins}')
        self.d_ece_score_thr = float(d_ece_score_thr)
        self.d_ece_iou_thr = float(d_ece_iou_thr)
        self.d_ece_bins = int(d_ece_bins)

    def _ground_truth(self, img_id: int) -> Dict[str, np.ndarray]:
        """The image's boxes (xyxy), label indices and crowd flags, from the
        COCO api the AP was computed with."""
        anns = self._coco_api.load_anns(
            self._coco_api.get_ann_ids(img_ids=[img_id]))
        boxes = np.array([[
            a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
            a['bbox'][1] + a['bbox'][3]
        ] for a in anns],
                         dtype=np.float64).reshape(-1, 4)
        labels = np.array([self.cat_ids.index(a['category_id']) for a in anns],
                          dtype=np.int64)
        crowd = np.array([bool(a.get('iscrowd', 0)) for a in anns], dtype=bool)
        return dict(gt_bboxes=boxes, gt_labels=labels, gt_ignore_flags=crowd)

    def _d_ece(self, preds: Sequence[dict]) -> Optional[float]:
        images: List[dict] = [
            dict(
                pred_bboxes=p['bboxes'],
                pred_scores=p['scores'],
                pred_labels=p['labels'],
                **self._ground_truth(p['img_id'])) for p in preds
        ]
        try:
            return evaluate_calibration(
                images,
                iou_thr=self.d_ece_iou_thr,
                n_bins=self.d_ece_bins,
                score_thr=self.d_ece_score_thr)['d_ece']
        except ValueError as err:  # no detection above the threshold
            MMLogger.get_current_instance().warning(
                f'{DECE_WARNING}ValueError: {err}')
            return None

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """COCO's metrics, then ``d_ece`` over the same predictions."""
        metrics = super().compute_metrics(results)
        if self.format_only or self._coco_api is None:
            return metrics
        d_ece = self._d_ece([pred for _, pred in results])
        if d_ece is not None:
            metrics['d_ece'] = d_ece
        return metrics
