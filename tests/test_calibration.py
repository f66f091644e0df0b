"""Tests of mmkd_det.analysis.calibration (IoU matching and D-ECE)."""
import json

import numpy as np
import pytest
from PIL import Image

from mmkd_det.analysis.calibration import (box_iou, detection_ece,
                                           evaluate_calibration,
                                           gt_from_instances, match_detections,
                                           reliability_diagram)

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def _image(pred_bboxes, pred_scores, pred_labels, gt_bboxes, gt_labels,
           **extra):
    return dict(
        pred_bboxes=np.array(pred_bboxes, dtype=float),
        pred_scores=np.array(pred_scores, dtype=float),
        pred_labels=np.array(pred_labels),
        gt_bboxes=np.array(gt_bboxes, dtype=float),
        gt_labels=np.array(gt_labels),
        **extra)


@pytest.fixture
def hand_case():
    """Two images; detections 0.95 and 0.9 hit their GTs, 0.35 and 0.3 miss.

    D-ECE by hand:
      * 15 bins (width 1/15): every score falls in its own bin
        (0.3 -> bin 4, 0.35 -> 5, 0.9 -> 13, 0.95 -> 14), so
        D-ECE = 1/4 * (|1-0.95| + |1-0.9| + |0-0.35| + |0-0.3|)
              = 1/4 * (0.05 + 0.10 + 0.35 + 0.30) = 0.2.
      * 1 bin: precision 2/4 = 0.5, confidence (0.95+0.9+0.35+0.3)/4 = 0.625,
        D-ECE = |0.5 - 0.625| = 0.125.
    """
    gt = [[10, 10, 50, 50]]
    return [
        # The 0.35 detection is far from the GT: a false positive.
        _image([[10, 10, 50, 50], [100, 100, 120, 120]], [0.95, 0.35], [0, 0],
               gt, [0]),
        # The 0.3 one overlaps the GT but is of another class.
        _image([[11, 11, 50, 50], [10, 10, 50, 50]], [0.9, 0.3], [1, 2], gt,
               [1]),
    ]


def test_hand_case_d_ece(hand_case):
    result = evaluate_calibration(hand_case)
    assert result['num_detections'] == 4
    assert result['d_ece'] == pytest.approx(0.2)
    assert evaluate_calibration(hand_case, n_bins=1)['d_ece'] == \
        pytest.approx(0.125)
    filled = {i: b for i, b in enumerate(result['bins']) if b['count']}
    assert sorted(filled) == [4, 5, 13, 14]
    assert filled[14]['precision'] == 1.0
    assert filled[14]['confidence'] == pytest.approx(0.95)
    assert len(result['bins']) == 15
    json.dumps(result)  # plain Python types only


def test_score_threshold_drops_low_detections(hand_case):
    # Only the two true positives remain: |1 - 0.95| and |1 - 0.9| -> 0.075.
    result = evaluate_calibration(hand_case, score_thr=0.5)
    assert result['num_detections'] == 2
    assert result['d_ece'] == pytest.approx(0.075)


def test_box_iou_exact():
    iou = box_iou([[0, 0, 2, 1], [5, 5, 6, 6]], [[0, 0, 1, 1], [0, 0, 2, 1]])
    np.testing.assert_array_equal(iou, [[0.5, 1.0], [0.0, 0.0]])
    assert box_iou(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)
    # A zero-area box against itself: empty union gives 0, not NaN.
    assert box_iou([[1, 1, 1, 1]], [[1, 1, 1, 1]])[0, 0] == 0.0


def test_iou_exactly_at_threshold_is_tp():
    # IoU([0,0,2,1], [0,0,1,1]) = 1 / 2 = 0.5 exactly.
    args = ([[0, 0, 2, 1]], [0.9], [0], [[0, 0, 1, 1]], [0])
    assert match_detections(*args, iou_thr=0.5).tolist() == [True]
    assert match_detections(*args, iou_thr=0.5 + 1e-9).tolist() == [False]


def test_duplicates_only_highest_score_is_tp():
    # Input order is not score order: the 0.8 box (slightly worse IoU) still
    # wins the GT because matching goes by descending score.
    is_tp = match_detections([[0, 0, 10, 10], [0, 0, 10, 9], [0, 0, 10, 10]],
                             [0.6, 0.8, 0.7], [3, 3, 3], [[0, 0, 10, 10]], [3])
    assert is_tp.tolist() == [False, True, False]


def test_each_detection_takes_best_free_gt():
    # Detection 0 overlaps GT 0 with IoU 70/130 = 0.54 and GT 1 with 1.0;
    # detection 1 overlaps only GT 0 (IoU 90/110; 60/140 with GT 1). Taking
    # the first GT above the threshold would starve detection 1; taking the
    # best one matches both.
    is_tp = match_detections([[0, 0, 10, 10], [4, 0, 14, 10]], [0.9, 0.8],
                             [0, 0], [[3, 0, 13, 10], [0, 0, 10, 10]], [0, 0])
    assert is_tp.tolist() == [True, True]


def test_class_mismatch_and_no_gt_are_fp():
    box = [[0, 0, 10, 10]]
    assert match_detections(box, [0.9], [1], box, [0]).tolist() == [False]
    assert match_detections(box, [0.9], [1], np.zeros((0, 4)),
                            []).tolist() == [False]
    assert match_detections(np.zeros((0, 4)), [], [], box, [0]).shape == (0, )


def test_ignored_gt():
    # Detection 0 hits an ignored (crowd) GT: neither TP nor FP, dropped.
    # Detection 1 hits the normal GT: TP. Detection 2 hits nothing: FP.
    image = _image([[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]],
                   [0.9, 0.8, 0.7], [0, 0, 0],
                   [[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0],
                   gt_ignore_flags=np.array([True, False]))
    result = evaluate_calibration([image], n_bins=1)
    assert result['num_detections'] == 2
    # precision 1/2, confidence 0.75
    assert result['d_ece'] == pytest.approx(0.25)


def test_perfectly_calibrated_exact():
    # In the 0.25 bin 1 of 4 detections is right, in the 0.75 bin 3 of 4.
    scores = [0.25] * 4 + [0.75] * 4
    is_tp = [True, False, False, False, True, True, True, False]
    d_ece, _ = detection_ece(scores, is_tp, n_bins=10)
    assert d_ece == pytest.approx(0.0, abs=1e-12)


def test_perfectly_calibrated_sampled():
    # Correct with probability equal to the score: only sampling noise and
    # the within-bin spread remain (both ~1e-2 or below for 20k samples).
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 1, 20000)
    d_ece, _ = detection_ece(scores, rng.uniform(0, 1, 20000) < scores)
    assert d_ece < 0.02
    # An overconfident detector (right half as often) is clearly worse.
    d_ece_bad, _ = detection_ece(scores, rng.uniform(0, 1, 20000) < scores / 2)
    assert d_ece_bad > 0.2


def test_bin_edges():
    _, bins = detection_ece([0.0, 0.5, 1.0], [False, True, True], n_bins=2)
    # [0, 0.5) holds 0.0; [0.5, 1] holds 0.5 and 1.0.
    assert [b['count'] for b in bins] == [1, 2]
    assert (bins[1]['lower'], bins[1]['upper']) == (0.5, 1.0)
    _, bins = detection_ece([0.9], [True], n_bins=3)
    assert bins[0]['precision'] is None and bins[0]['count'] == 0


def test_gt_from_instances():
    gt = gt_from_instances([
        dict(bbox=[1, 2, 3, 4], bbox_label=2, ignore_flag=0),
        dict(bbox=[5, 6, 7, 8], bbox_label=0, ignore_flag=1),
        dict(bbox=[0, 0, 1, 1], bbox_label=1),
    ])
    np.testing.assert_array_equal(gt['gt_bboxes'][1], [5, 6, 7, 8])
    assert gt['gt_labels'].tolist() == [2, 0, 1]
    assert gt['gt_ignore_flags'].tolist() == [False, True, False]
    empty = gt_from_instances([])
    assert empty['gt_bboxes'].shape == (0, 4)
    assert empty['gt_labels'].shape == (0, )


def test_reliability_diagram_png(hand_case, tmp_path):
    result = evaluate_calibration(hand_case)
    out = reliability_diagram(
        result['bins'], str(tmp_path / 'sub' / 'r.png'), title='D-ECE 20.00%')
    with open(out, 'rb') as f:
        assert f.read(8) == PNG_MAGIC
    with Image.open(out) as img:
        img.verify()


def test_errors(hand_case):
    with pytest.raises(ValueError, match='without detections'):
        detection_ece([], [])
    with pytest.raises(ValueError, match=r'No detection with score >= 0\.99'):
        evaluate_calibration(hand_case, score_thr=0.99)
    with pytest.raises(ValueError, match='No detection'):
        evaluate_calibration([])
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        detection_ece([1.5], [True])
    with pytest.raises(ValueError, match='n_bins'):
        detection_ece([0.5], [True], n_bins=0)
    with pytest.raises(ValueError, match='is_tp has 1 entries'):
        detection_ece([0.5, 0.6], [True])
    with pytest.raises(ValueError, match=r'shape \(N, 4\)'):
        match_detections([[0, 0, 1]], [0.5], [0], [[0, 0, 1, 1]], [0])
    with pytest.raises(ValueError, match='gt_labels has 2 entries'):
        match_detections([[0, 0, 1, 1]], [0.5], [0], [[0, 0, 1, 1]], [0, 1])
    with pytest.raises(ValueError, match='iou_thr'):
        match_detections([[0, 0, 1, 1]], [0.5], [0], [[0, 0, 1, 1]], [0],
                         iou_thr=1.5)
