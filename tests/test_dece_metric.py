"""CocoMetricWithDECE: COCO AP unchanged, D-ECE equal to the reference
function on the same detections and ground truth."""
import json

import numpy as np
import pytest
import torch
from mmdet.evaluation.metrics import CocoMetric

from mmkd_det.analysis.calibration import evaluate_calibration
from mmkd_det.evaluation import CocoMetricWithDECE

CLASSES = ('a', 'b')


def _box(ann_id, image_id, category_id, bbox, iscrowd=0):
    """A COCO annotation; ``bbox`` is xywh, its area w * h."""
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=category_id,
        bbox=bbox,
        area=bbox[2] * bbox[3],
        iscrowd=iscrowd)


@pytest.fixture
def ann_file(tmp_path):
    coco = dict(
        images=[
            dict(id=1, file_name='1.jpg', width=64, height=64),
            dict(id=2, file_name='2.jpg', width=64, height=64)
        ],
        annotations=[
            _box(1, image_id=1, category_id=1, bbox=[4, 4, 20, 20]),
            _box(2, image_id=1, category_id=2, bbox=[30, 30, 20, 10]),
            _box(3, image_id=2, category_id=1, bbox=[10, 10, 30, 30]),
            # a crowd box: neither rewarded nor penalised
            _box(
                4, image_id=2, category_id=2, bbox=[40, 0, 20, 20], iscrowd=1),
        ],
        categories=[dict(id=1, name='a'),
                    dict(id=2, name='b')])
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(coco))
    return str(path)


# per image: boxes (xyxy), scores, labels (indices into CLASSES)
DETECTIONS = {
    1: ([[4, 4, 24, 24], [30, 30, 50, 40], [0, 40, 10, 60],
         [5, 5, 23, 25]], [0.9, 0.6, 0.5, 0.4], [0, 1, 0, 0]),
    2: ([[10, 10, 40, 40], [41, 1, 60, 20], [0, 0, 8, 8]], [0.8, 0.7,
                                                            0.35], [0, 1, 1]),
}


def _samples():
    return [
        dict(
            img_id=img_id,
            ori_shape=(64, 64),
            pred_instances=dict(
                bboxes=torch.tensor(b, dtype=torch.float32),
                scores=torch.tensor(s),
                labels=torch.tensor(lab)))
        for img_id, (b, s, lab) in DETECTIONS.items()
    ]


def _evaluate(metric):
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, _samples())
    return metric.evaluate(len(DETECTIONS))


def test_ap_unchanged_and_d_ece_matches_reference(ann_file):
    plain = _evaluate(CocoMetric(ann_file=ann_file, metric='bbox'))
    ours = _evaluate(CocoMetricWithDECE(ann_file=ann_file, metric='bbox'))
    assert {k: v for k, v in ours.items() if k != 'coco/d_ece'} == plain
    gt = {
        1: ([[4, 4, 24, 24], [30, 30, 50, 40]], [0, 1], [False, False]),
        2: ([[10, 10, 40, 40], [40, 0, 60, 20]], [0, 1], [False, True]),
    }
    images = [
        dict(
            pred_bboxes=np.array(DETECTIONS[i][0], dtype=np.float64),
            pred_scores=np.array(DETECTIONS[i][1]),
            pred_labels=np.array(DETECTIONS[i][2]),
            gt_bboxes=np.array(gt[i][0], dtype=np.float64),
            gt_labels=np.array(gt[i][1]),
            gt_ignore_flags=np.array(gt[i][2])) for i in (1, 2)
    ]
    expected = evaluate_calibration(images, score_thr=0.3)['d_ece']
    assert ours['coco/d_ece'] == pytest.approx(expected, abs=1e-6)
    # the crowd hit (image 2, label b) is left out: 6 detections >= 0.3
    assert evaluate_calibration(images, score_thr=0.3)['num_detections'] == 6
    assert 0 < expected < 1


def test_undefined_d_ece_is_left_out(ann_file):
    metric = CocoMetricWithDECE(
        ann_file=ann_file, metric='bbox', d_ece_score_thr=0.95)
    results = _evaluate(metric)
    assert 'coco/d_ece' not in results and 'coco/bbox_mAP' in results


@pytest.mark.parametrize('kwargs', [
    dict(d_ece_score_thr=1.5),
    dict(d_ece_iou_thr=0),
    dict(d_ece_bins=0),
])
def test_bad_settings_are_refused(ann_file, kwargs):
    with pytest.raises(ValueError, match='d_ece'):
        CocoMetricWithDECE(ann_file=ann_file, **kwargs)
