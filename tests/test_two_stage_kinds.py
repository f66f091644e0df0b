"""Faster, Mask, Cascade and Cascade Mask R-CNN as student and as teacher.

Tiny randomly initialised models on 96x96 images: one training step per
pairing, the student's losses against plain mmdet's, cascade stage keys and
weights, the teacher's logits against its own predict path, build-time
errors, and a distilled cascade student evaluated with its plain config.
"""
import os.path as osp

import pytest
import torch
from conftest import CONFIGS, tiny_config
from distilled_student import check_plain_student
from mmdet.models.roi_heads import HybridTaskCascadeRoIHead, SparseRoIHead
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import ConfigDict
from mmengine.runner import Runner

from mmkd_det.models.distillers.roi_heads import (check_teacher_roi_head,
                                                  student_roi_head_class,
                                                  teacher_roi_logits)
from mmkd_det.utils.detector_kinds import KINDS, detector_kind_cfg

CASCADE_BASE = osp.join(CONFIGS, '_base_', 'cascade-rcnn_shapes.py')
NUM_CLASSES = 8


@pytest.fixture(scope='module')
def teacher_checkpoints(tmp_path_factory):
    """kind -> (model config, checkpoint) of a random 32-wide teacher."""
    out = {}
    for kind in KINDS:
        cfg = detector_kind_cfg(kind, width=32)
        torch.manual_seed(1)
        teacher = MODELS.build(cfg)
        teacher.init_weights()
        path = str(tmp_path_factory.mktemp('teachers') / f'{kind}.pth')
        torch.save({'meta': {}, 'state_dict': teacher.state_dict()}, path)
        out[kind] = (cfg.to_dict(), path)
    return out


def distiller_cfg(student: str,
                  teacher: str,
                  teacher_checkpoints,
                  loss_weight: float = 1.0,
                  **extra) -> ConfigDict:
    model = detector_kind_cfg(student)
    config, checkpoint = teacher_checkpoints[teacher]
    model.update(
        type='RoIDistiller',
        teacher=dict(config=config, checkpoint=checkpoint),
        logit_losses=dict(
            loss_kd_cls=dict(
                type='LogitKDLoss', temperature=2.0, loss_weight=loss_weight)),
        **extra)
    return model


def build(cfg: ConfigDict, seed: int = 0):
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def batch(model, seed: int = 0):
    torch.manual_seed(seed)
    packed = demo_mm_inputs(
        2, [[3, 96, 96]] * 2,
        num_items=[3, 2],
        num_classes=NUM_CLASSES,
        with_mask=True)
    return model.data_preprocessor(packed, True)


def classifiers(model) -> list:
    heads = model.roi_head.bbox_head
    return [
        h.fc_cls.weight
        for h in (heads if isinstance(heads, torch.nn.ModuleList) else [heads])
    ]


# the unit-test subset: the homogeneous pair and the most different one;
# every other pairing runs with the slow tests
FAST_PAIRINGS = {('faster', 'faster'), ('cascade-mask', 'cascade-mask')}
PAIRINGS = [
    pytest.param(
        s, t, marks=() if (s, t) in FAST_PAIRINGS else pytest.mark.slow)
    for s, t in sorted({(s, t)
                        for s in KINDS
                        for t in ('faster', 'cascade-mask')}
                       | {('faster', t)
                          for t in KINDS})
]


@pytest.mark.parametrize('student,teacher', PAIRINGS)
def test_one_step_distills_every_stage(student, teacher, teacher_checkpoints):
    model = build(distiller_cfg(student, teacher, teacher_checkpoints))
    model.train()
    data = batch(model)
    losses = model.loss(data['inputs'], data['data_samples'])
    cascade = student.startswith('cascade')
    kd_keys = [k for k in losses if k.endswith('loss_kd_cls')]
    assert kd_keys == ([f's{i}.loss_kd_cls'
                        for i in range(3)] if cascade else ['loss_kd_cls'])
    for key, value in losses.items():
        values = value if isinstance(value, list) else [value]
        assert all(torch.isfinite(v).all() for v in values), key
    mask_keys = [k for k in losses if k.endswith('loss_mask')]
    assert len(mask_keys) == ((3 if cascade else 1)
                              if student.endswith('mask') else 0)
    # the distillation terms alone reach every distilled stage's classifier
    sum(losses[k] for k in kd_keys).backward()
    for stage, weight in enumerate(classifiers(model)):
        assert weight.grad is not None and weight.grad.abs().sum() > 0, stage
    assert all(p.grad is None and not p.requires_grad
               for p in model.teacher.parameters())


@pytest.mark.parametrize('student', KINDS)
def test_zero_weight_student_losses_equal_plain_mmdet(student,
                                                      teacher_checkpoints):
    distiller = build(
        distiller_cfg(
            student, 'cascade-mask', teacher_checkpoints, loss_weight=0.0))
    plain = MODELS.build(detector_kind_cfg(student))
    plain.load_state_dict(distiller.state_dict(), strict=True)
    distiller.train()
    plain.train()
    data = batch(plain)
    torch.manual_seed(123)
    expected = plain.loss(data['inputs'], data['data_samples'])
    torch.manual_seed(123)
    got = distiller.loss(data['inputs'], data['data_samples'])
    assert set(expected) < set(got)
    for key, value in expected.items():
        values = value if isinstance(value, list) else [value]
        others = got[key] if isinstance(got[key], list) else [got[key]]
        assert all(torch.equal(a, b) for a, b in zip(values, others)), key
    assert all(got[k].item() == 0 for k in set(got) - set(expected))


def test_cascade_stage_weights_default_to_mmdet_and_can_be_set(
        teacher_checkpoints):
    cfg = distiller_cfg('cascade', 'faster', teacher_checkpoints)
    default = build(cfg)
    assert default.distill_stage_weights == [1.0, 0.5, 0.25]
    flat = build(dict(cfg, distill_stage_weights=[1, 1, 1]))
    data = batch(default)
    torch.manual_seed(5)
    weighted = default.loss(data['inputs'], data['data_samples'])
    torch.manual_seed(5)
    unweighted = flat.loss(data['inputs'], data['data_samples'])
    for stage, weight in enumerate((1.0, 0.5, 0.25)):
        key = f's{stage}.loss_kd_cls'
        assert torch.allclose(weighted[key], weight * unweighted[key])
    with pytest.raises(ValueError, match='one weight per stage'):
        build(dict(cfg, distill_stage_weights=[1, 1]))


@pytest.mark.parametrize('teacher', KINDS)
def test_teacher_logits_match_its_own_predict_path(teacher,
                                                   teacher_checkpoints):
    config, checkpoint = teacher_checkpoints[teacher]
    detector = MODELS.build(ConfigDict(config))
    detector.load_state_dict(torch.load(checkpoint)['state_dict'])
    detector.eval()
    data = batch(detector)
    metas = [s.metainfo for s in data['data_samples']]
    torch.manual_seed(0)
    boxes = [
        torch.rand(n, 4) * 40 + torch.tensor([0, 0, 40, 40]) for n in (7, 5)
    ]
    rois = torch.cat([
        torch.cat([b.new_full((len(b), 1), i), b], 1)
        for i, b in enumerate(boxes)
    ])
    from mmengine.structures import InstanceData
    proposals = [InstanceData(bboxes=b) for b in boxes]
    with torch.no_grad():
        feats = detector.extract_feat(data['inputs'])
        logits = teacher_roi_logits(detector.roi_head, feats, rois, [7, 5],
                                    metas)
        predicted = detector.roi_head.predict_bbox(
            feats, metas, proposals, rcnn_test_cfg=None, rescale=False)
    scores = torch.cat([p.scores for p in predicted])
    assert logits.shape == (12, NUM_CLASSES + 1)
    assert torch.allclose(logits.softmax(-1), scores, atol=1e-6)


def test_unsupported_heads_fail_naming_the_supported_ones():
    for head_cls in (HybridTaskCascadeRoIHead, SparseRoIHead):
        with pytest.raises(TypeError, match='Supported: StandardRoIHead'):
            student_roi_head_class(head_cls)
    with pytest.raises(TypeError, match='not a StandardRoIHead'):
        student_roi_head_class(torch.nn.Linear)

    class OwnPredict(HybridTaskCascadeRoIHead):
        pass

    with pytest.raises(TypeError, match='teacher RoI head OwnPredict'):
        check_teacher_roi_head(OwnPredict.__new__(OwnPredict))


def test_sigmoid_stage_fails_at_build(teacher_checkpoints):
    cfg = distiller_cfg('cascade', 'faster', teacher_checkpoints)
    cfg.roi_head.bbox_head[1].loss_cls.use_sigmoid = True
    with pytest.raises(ValueError, match=r'student box head \(stage 1'):
        MODELS.build(cfg)


def test_feature_loss_without_connector_names_the_channels(
        teacher_checkpoints):
    cfg = distiller_cfg('faster', 'cascade', teacher_checkpoints)
    cfg.feature_losses = dict(
        loss_fitnet=dict(type='FeatureMSELoss', connector=None))
    with pytest.raises(
            ValueError,
            match=r'student FPN gives \[32, 32, 32, '
            r'32, 32\] channels .* teacher FPN \[64,.*ConvAdapter'):
        MODELS.build(cfg)
    cfg.feature_losses.loss_fitnet.connector = dict(
        type='ConvAdapter', in_channels=32, out_channels=64)
    model = build(cfg)
    model.train()
    data = batch(model)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert torch.isfinite(losses['loss_fitnet'])


@pytest.mark.slow
def test_distilled_cascade_student_evaluates_with_plain_config(
        teacher_checkpoints, shapes_root, tmp_path):
    """Train a cascade student 2 iterations under a Faster teacher, then
    test its checkpoint with the plain cascade config: it loads strictly and
    predicts as the distiller's student."""
    cfg = tiny_config(
        CASCADE_BASE, shapes_root, str(tmp_path / 'distill'), max_iters=2)
    cfg.model = distiller_cfg('cascade', 'faster', teacher_checkpoints)
    cfg.optim_wrapper.constructor = 'DistillOptimWrapperConstructor'
    runner = Runner.from_cfg(cfg)
    runner.train()
    test_cfg = tiny_config(CASCADE_BASE, shapes_root, str(tmp_path / 'test'))
    test_cfg.model = detector_kind_cfg('cascade')
    metrics = check_plain_student(runner.model, test_cfg,
                                  str(tmp_path / 'distill' / 'iter_2.pth'))
    assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0
