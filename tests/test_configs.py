"""Every config parses; plain detectors build offline; distillation configs
name an existing teacher config with the student's classes."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmdet.registry import MODELS
from conftest import CONFIGS, REPO_ROOT

ALL_CONFIGS = sorted(glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True))
DETECTORS = sorted(glob.glob(osp.join(CONFIGS, 'detectors', '*.py')))
DISTILL = sorted(
    p for p in glob.glob(osp.join(CONFIGS, 'distill', '*', '*.py'))
    if '_base_' not in p)
METHODS = ('kd', 'dkd', 'luminet', 'zscore-kd', 'zscore-dkd', 'ldrld',
           'fitnet', 'reviewkd', 'luminet-reviewkd')
PAIRS = ('r101-r18_fpn_coco', 'r50-mbv2_fpn_coco', 'shapes')


def rel(path):
    return osp.relpath(path, REPO_ROOT)


@pytest.mark.parametrize('path', ALL_CONFIGS, ids=rel)
def test_config_parses(path):
    cfg = Config.fromfile(path)
    assert cfg.filename == path


def test_every_method_has_every_pair():
    expected = {
        osp.join(CONFIGS, 'distill', m, f'{m}_{p}.py')
        for m in METHODS for p in PAIRS
    }
    assert expected <= set(DISTILL)


@pytest.mark.slow  # COCO-size backbones take seconds each to build
@pytest.mark.parametrize('path', DETECTORS, ids=rel)
def test_plain_detector_builds_offline(path):
    cfg = Config.fromfile(path)
    assert cfg.model.type == 'FasterRCNN'
    assert cfg.custom_imports.imports == ['mmkd_det']
    init_cfg = cfg.model.backbone.get('init_cfg')
    if 'coco' in osp.basename(path):
        # real training starts from ImageNet weights ...
        assert init_cfg and init_cfg['type'] == 'Pretrained'
        assert cfg.train_cfg.max_iters == 180000
        assert cfg.train_dataloader.batch_size == 1  # x 8 GPUs = batch 8
        assert cfg.optim_wrapper.optimizer.lr == 0.01
        assert cfg.param_scheduler[1].milestones == [120000, 160000]
        assert cfg.val_evaluator.ann_file == \
            cfg.data_root + 'annotations/instances_val2017.json'
    # ... and the override keeps this build offline
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    model.init_weights()  # would try to download if init_cfg still pointed
    assert model.roi_head.bbox_head.num_classes == \
        cfg.model.roi_head.bbox_head.num_classes


@pytest.mark.parametrize('path', DISTILL, ids=rel)
def test_distill_config_fits_its_teacher(path):
    cfg = Config.fromfile(path)
    assert cfg.model.type == 'RoIDistiller'
    assert cfg.optim_wrapper.constructor == 'DistillOptimWrapperConstructor'
    teacher_path = cfg.model.teacher.config
    assert osp.isabs(teacher_path) and osp.isfile(teacher_path)
    teacher = Config.fromfile(teacher_path).model
    assert teacher.roi_head.bbox_head.num_classes == \
        cfg.model.roi_head.bbox_head.num_classes
    losses = dict(cfg.model.get('logit_losses') or {},
                  **(cfg.model.get('feature_losses') or {}))
    assert losses and all('loss' in name for name in losses)
    checkpoint = cfg.model.teacher.checkpoint
    if path.endswith('_shapes.py'):
        # found next to the repository, not relative to the working dir
        assert osp.normpath(checkpoint) == osp.join(
            REPO_ROOT, 'work_dirs', 'quickstart', 'teacher', 'teacher.pth')
    else:
        assert checkpoint.startswith('https://download.openmmlab.com/')
