"""The teacher the repository ships for the digits pair agrees with its
record: the file's SHA-256, the dataset it was trained for, the configs that
use it, and its AP re-evaluated here on the first val images."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmkd_det.analysis.comparison import split_options
from mmkd_det.datasets.digits import DIGITS_SPEC, generate_digits_dataset
from mmkd_det.datasets.generation import meta_mismatch
from mmkd_det.models.distillers.shipped_teacher import (SLICE_IMAGES,
                                                        evaluate_checkpoint,
                                                        file_sha256,
                                                        read_record)
from mmkd_det.utils import methods as registry

PAIR = 'digits'
CHECKPOINT = registry.shipped_teacher(PAIR)
#: Inference on another CPU or torch build may move a few scores by float
#: rounding; on 50 images that is well under this (AP, fraction).
AP_TOLERANCE = 0.005


@pytest.fixture(scope='module')
def record():
    return read_record(CHECKPOINT)


def test_file_is_the_recorded_one(record):
    assert osp.isfile(CHECKPOINT)
    assert record['sha256'] == file_sha256(CHECKPOINT)
    assert record['size_bytes'] == osp.getsize(CHECKPOINT)
    assert record['config'] == osp.relpath(
        registry.teacher_config(PAIR), registry.REPO_ROOT)
    # weights only (a training checkpoint with its optimizer state is about
    # twice as large): 3.9M fp32 parameters, 15.7 MB
    assert record['size_bytes'] < 17e6


def test_trained_for_todays_default_dataset(record):
    meta = dict(
        generator=DIGITS_SPEC.generator,
        version=record['dataset']['version'],
        args=record['dataset']['args'])
    assert meta_mismatch(DIGITS_SPEC, meta) is None


def test_distillation_configs_use_it():
    for method in registry.METHODS:
        cfg = Config.fromfile(registry.leaf_config(method, PAIR))
        assert osp.realpath(cfg.model.teacher.checkpoint) == \
            osp.realpath(CHECKPOINT), method


@pytest.mark.slow
def test_ap_on_the_first_val_images_matches_the_record(record, tmp_path):
    root = str(tmp_path / 'digits')
    # image i of a split does not depend on the split's size: these are the
    # first val images of the default dataset
    generate_digits_dataset(
        root, num_train=1, num_tune=1, num_val=record['slice_images'])
    assert record['slice_images'] == SLICE_IMAGES
    metrics = evaluate_checkpoint(
        registry.teacher_config(PAIR), CHECKPOINT, split_options('val', root),
        record['slice_images'])
    expected = record['bbox'][f'val_first{SLICE_IMAGES}']
    for key in ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75'):
        assert metrics[key] == pytest.approx(
            expected[key], abs=AP_TOLERANCE), key
