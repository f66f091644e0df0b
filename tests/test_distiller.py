"""RoIDistiller: frozen teacher, shared RoIs, checkpoints, build errors."""
import copy
import os.path as osp
from unittest import mock

import pytest
import torch
from conftest import (CONFIGS, DEVICES, STUDENT_CONFIG, TEACHER_CONFIG,
                      runner_device, tiny_config)
from distilled_student import check_plain_student
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

LUMINET = osp.join(CONFIGS, 'distill', 'luminet', 'luminet_shapes.py')


def distill_cfg(teacher_checkpoint, path=LUMINET):
    cfg = Config.fromfile(path)
    cfg.model.teacher.checkpoint = teacher_checkpoint
    return cfg


def build_distiller(teacher_checkpoint, path=LUMINET, **model_overrides):
    cfg = distill_cfg(teacher_checkpoint, path)
    cfg.model.update(model_overrides)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model, cfg


def batch(model, num_images=2, seed=0):
    torch.manual_seed(seed)
    packed = demo_mm_inputs(
        num_images, [[3, 96, 96]] * num_images,
        num_items=[3] * num_images,
        num_classes=8)
    return model.data_preprocessor(packed, True)


def teacher_state(model):
    return {k: v.clone() for k, v in model.teacher.state_dict().items()}


def test_teacher_frozen_and_bit_identical_after_training(teacher_checkpoint):
    model, cfg = build_distiller(teacher_checkpoint)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = teacher_state(model)
    assert any('running_mean' in k for k in before)  # BN buffers are checked
    student_before = {
        name: p.detach().clone()
        for name, p in model.named_parameters() if p.requires_grad
    }
    assert student_before and not any(
        name.startswith('teacher.') for name in student_before)
    model.train()
    assert model.training and not model.teacher.training
    assert all(not m.training for m in model.teacher.modules())
    for step in range(3):
        log_vars = model.train_step(batch(model, seed=step), optim_wrapper)
        assert torch.isfinite(log_vars['loss_kd_cls'])
    after = model.teacher.state_dict()
    for key, value in before.items():
        assert torch.equal(value, after[key]), key
    # the student really trained: the optimizer moved every one of its
    # trainable weights (BatchNorm statistics would move in any forward)
    student_after = dict(model.named_parameters())
    unchanged = [
        name for name, value in student_before.items()
        if torch.equal(value, student_after[name])
    ]
    assert not unchanged, (f'{len(unchanged)} of {len(student_before)} '
                           f'student weights not updated: {unchanged[:3]}')


def test_gradients_reach_student_only(teacher_checkpoint):
    model, _ = build_distiller(teacher_checkpoint)
    data = batch(model)
    losses = model.loss(data['inputs'], data['data_samples'])
    losses['loss_kd_cls'].backward()
    assert all(p.grad is None and not p.requires_grad
               for p in model.teacher.parameters())
    fc_cls = model.roi_head.bbox_head.fc_cls.weight
    assert fc_cls.grad is not None and fc_cls.grad.abs().sum() > 0
    assert model.backbone.conv1.weight.grad.abs().sum() > 0


def test_teacher_and_student_logits_share_rois(teacher_checkpoint):
    model, _ = build_distiller(teacher_checkpoint)
    data = batch(model)
    seen = {}

    def recorder(role, fn):

        def wrapped(x, rois):
            seen[role] = rois.clone()
            return fn(x, rois)

        return wrapped

    s_forward = model.roi_head._bbox_forward
    t_forward = model.teacher.roi_head._bbox_forward
    with mock.patch.object(model.roi_head, '_bbox_forward',
                           recorder('student', s_forward)), \
            mock.patch.object(model.teacher.roi_head, '_bbox_forward',
                              recorder('teacher', t_forward)), \
            mock.patch.object(model.teacher.rpn_head, 'forward',
                              side_effect=AssertionError('teacher RPN ran')), \
            mock.patch.object(model.logit_losses['loss_kd_cls'], 'forward',
                              wraps=model.logit_losses['loss_kd_cls'].forward
                              ) as kd_forward:
        model.loss(data['inputs'], data['data_samples'])
    assert torch.equal(seen['student'], seen['teacher'])
    num_rois = seen['student'].size(0)
    s_logits, t_logits, labels = kd_forward.call_args.args
    assert s_logits.shape == t_logits.shape == (num_rois, 9)
    assert labels.shape == (num_rois, ) and labels.max() <= 8
    # positives first per image, labelled with their gt class; rest background
    assert (labels == 8).any() and (labels < 8).any()
    assert not t_logits.requires_grad


def test_state_dict_excludes_teacher_and_loads_back(teacher_checkpoint):
    model, _ = build_distiller(teacher_checkpoint)
    state = model.state_dict()
    assert state and not any(k.startswith('teacher.') for k in state)
    # strict loading into a distiller works: the teacher keeps its weights
    other, _ = build_distiller(teacher_checkpoint)
    teacher_before = teacher_state(other)
    with torch.no_grad():
        for p in model.roi_head.parameters():
            p.add_(1.0)
    other.load_state_dict(model.state_dict(), strict=True)
    assert torch.equal(other.roi_head.bbox_head.fc_cls.weight,
                       model.roi_head.bbox_head.fc_cls.weight)
    for k, v in other.teacher.state_dict().items():
        assert torch.equal(v, teacher_before[k])
    # ... and into the plain student, strictly
    student = MODELS.build(Config.fromfile(STUDENT_CONFIG).model)
    student.load_state_dict(model.state_dict(), strict=True)


def test_init_weights_keeps_loaded_teacher(teacher_checkpoint):
    model, _ = build_distiller(teacher_checkpoint)
    saved = torch.load(teacher_checkpoint)['state_dict']
    model.init_weights()
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, saved[k]), k


def test_teacher_moves_with_model(teacher_checkpoint):
    model, _ = build_distiller(teacher_checkpoint)
    model.to(torch.float64)
    assert all(p.dtype == torch.float64 for p in model.teacher.parameters())
    assert 'teacher.backbone.conv1.weight' in \
        model._ddp_params_and_buffers_to_ignore


def test_optimizer_excludes_teacher(teacher_checkpoint):
    model, cfg = build_distiller(teacher_checkpoint)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    in_optim = {
        id(p)
        for group in optim_wrapper.optimizer.param_groups
        for p in group['params']
    }
    assert not any(id(p) in in_optim for p in model.teacher.parameters())
    student = [
        p for n, p in model.named_parameters() if not n.startswith('teacher.')
    ]
    assert all(id(p) in in_optim for p in student)


def test_distill_warmup_scales_losses(teacher_checkpoint):
    model, _ = build_distiller(
        teacher_checkpoint,
        distill_warmup_iters=10,
        distill_warmup_fraction=0.0)
    hub = MessageHub.get_current_instance()
    logits = torch.randn(6, 9)
    labels = torch.tensor([0, 1, 8, 8, 2, 8])

    def kd_at(cur_iter):
        hub.update_info('iter', cur_iter)
        return model.logit_distill_losses(logits, logits.flip(0),
                                          labels)['loss_kd_cls']

    try:
        full = kd_at(100)
        assert full.item() > 0
        assert kd_at(4).item() == pytest.approx(0.5 * full.item())
        assert kd_at(0).item() == pytest.approx(0.1 * full.item())
        assert kd_at(9).item() == pytest.approx(full.item())
    finally:
        hub.update_info('iter', 0)


def test_distill_warmup_as_a_fraction_of_the_run(teacher_checkpoint,
                                                 monkeypatch):
    # 1/12 of 120 iterations = 10, the same ramp as distill_warmup_iters=10
    model, _ = build_distiller(
        teacher_checkpoint, distill_warmup_fraction=1 / 12)
    hub = MessageHub.get_current_instance()
    saved = dict(hub.runtime_info)
    try:
        hub.update_info('max_iters', 120)
        for cur_iter, factor in ((0, 0.1), (4, 0.5), (9, 1.0), (500, 1.0)):
            hub.update_info('iter', cur_iter)
            assert model.distill_weight() == pytest.approx(factor)
        hub.update_info('max_iters', 3500)  # the shapes schedule: 292
        hub.update_info('iter', 145)
        assert model.distill_weight() == pytest.approx(146 / 292)
        hub.update_info('max_iters', None)  # no runner: no schedule
        hub.update_info('iter', 0)
        from mmkd_det.models.distillers import warmup
        messages = []
        monkeypatch.setattr(warmup, 'print_log',
                            lambda msg, **kwargs: messages.append(msg))
        assert model.distill_weight() == 1.0
        assert model.distill_weight() == 1.0
        assert len(messages) == 1 and 'is not applied' in messages[0]
    finally:  # the hub is global: leave it as it was
        hub.update_info('iter', saved.get('iter', 0))
        if 'max_iters' in saved:
            hub.update_info('max_iters', saved['max_iters'])
        else:
            hub._runtime_info.pop('max_iters', None)  # no public remover
    for bad, match in ((dict(distill_warmup_fraction=1.0), r'\[0, 1\)'),
                       (dict(distill_warmup_iters=-1), '>= 0'), (dict(
                           distill_warmup_iters=5,
                           distill_warmup_fraction=0.1), 'not both')):
        with pytest.raises(ValueError, match=match):
            build_distiller(teacher_checkpoint, **bad)


def test_teacher_inputs_renormalised_when_preprocessors_differ(
        teacher_checkpoint):
    model, _ = build_distiller(teacher_checkpoint)
    images = torch.rand(1, 3, 8, 8) * 255
    student_in = (images.flip(1) - model.data_preprocessor.mean) / \
        model.data_preprocessor.std
    assert model.teacher_inputs(student_in) is student_in  # same preprocessing
    # a teacher trained on BGR images scaled to [0, 1]
    teacher_model = Config.fromfile(TEACHER_CONFIG).model
    teacher_model.data_preprocessor.update(
        mean=[0, 0, 0], std=[255, 255, 255], bgr_to_rgb=False)
    other, _ = build_distiller(
        teacher_checkpoint,
        teacher=dict(
            config=teacher_model.to_dict(), checkpoint=teacher_checkpoint))
    assert torch.allclose(
        other.teacher_inputs(student_in), images / 255, atol=1e-5)


def test_error_missing_teacher_checkpoint(tmp_path):
    cfg = distill_cfg(str(tmp_path / 'nope.pth'))
    with pytest.raises(
            FileNotFoundError, match='Teacher checkpoint not found'):
        MODELS.build(cfg.model)
    cfg.model.teacher.checkpoint = None
    with pytest.raises(ValueError, match='checkpoint is not set'):
        MODELS.build(cfg.model)


def test_error_unreadable_teacher_checkpoint(tmp_path):
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(b'not a checkpoint')
    with pytest.raises(RuntimeError, match='Could not read the teacher'):
        MODELS.build(distill_cfg(str(bad)).model)


def test_error_checkpoint_keys_do_not_fit(teacher_checkpoint, tmp_path):
    state = torch.load(teacher_checkpoint)['state_dict']
    state.pop('backbone.conv1.weight')
    state['extra.weight'] = torch.zeros(1)
    path = tmp_path / 'partial.pth'
    torch.save({'state_dict': state}, path)
    with pytest.raises(ValueError, match='does not fit the teacher config'):
        MODELS.build(distill_cfg(str(path)).model)


def test_error_num_classes_differ(teacher_checkpoint):
    cfg = distill_cfg(teacher_checkpoint)
    cfg.model.roi_head.bbox_head.num_classes = 5
    with pytest.raises(ValueError, match='num_classes differ'):
        MODELS.build(cfg.model)


def test_error_teacher_config_and_loss_names(teacher_checkpoint, tmp_path):
    cfg = distill_cfg(teacher_checkpoint)
    cfg.model.teacher.config = str(tmp_path / 'missing.py')
    with pytest.raises(FileNotFoundError, match='Teacher config not found'):
        MODELS.build(cfg.model)
    cfg = distill_cfg(teacher_checkpoint)
    cfg.model.teacher.ckpt = 'typo'
    with pytest.raises(
            ValueError, match='dict\\(config=..., checkpoint=...\\)'):
        MODELS.build(cfg.model)
    cfg = distill_cfg(teacher_checkpoint)
    cfg.model.logit_losses = dict(kd=cfg.model.logit_losses.loss_kd_cls)
    with pytest.raises(ValueError, match='must contain "loss"'):
        MODELS.build(cfg.model)
    cfg = distill_cfg(teacher_checkpoint)
    cfg.model.logit_losses = None
    with pytest.raises(ValueError, match='at least one of'):
        MODELS.build(cfg.model)


def test_inline_teacher_config(teacher_checkpoint):
    cfg = distill_cfg(teacher_checkpoint)
    cfg.model.teacher.config = copy.deepcopy(
        Config.fromfile(TEACHER_CONFIG).model.to_dict())
    model = MODELS.build(cfg.model)
    assert model.teacher.backbone.base_channels == 16  # the w16 teacher


@pytest.mark.slow  # a runner trains and evaluates
@pytest.mark.parametrize('device', DEVICES)
def test_distill_checkpoint_evaluates_with_student_config(
        device, teacher_checkpoint, shapes_root, tmp_path, monkeypatch):
    """Train the distiller 2 iterations on ``device``, then test with the
    plain student: the checkpoint loads strictly and predicts as the
    distiller's student."""
    runner_device(monkeypatch, device)
    cfg = tiny_config(
        LUMINET, shapes_root, str(tmp_path / 'distill'), max_iters=2)
    cfg.model.teacher.checkpoint = teacher_checkpoint
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert next(runner.model.parameters()).device.type == device
    test_cfg = tiny_config(STUDENT_CONFIG, shapes_root, str(tmp_path / 'test'))
    metrics = check_plain_student(runner.model, test_cfg,
                                  str(tmp_path / 'distill' / 'iter_2.pth'))
    assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0
    assert 'coco/bbox_mAP_75' in metrics


def test_error_ldrld_k_exceeds_classes_at_build(teacher_checkpoint):
    cfg = distill_cfg(teacher_checkpoint,
                      osp.join(CONFIGS, 'distill', 'ldrld', 'ldrld_shapes.py'))
    cfg.model.logit_losses.loss_ldrld_cls.k = 10  # 8 classes + background
    with pytest.raises(ValueError, match='k=10 exceeds the 9 logit columns'):
        MODELS.build(cfg.model)


def test_teacher_config_from_mmdet_scope():
    from mmkd_det.models.distillers.teacher import load_model_config
    model_cfg = load_model_config(
        'mmdet::faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py')
    assert model_cfg.type == 'FasterRCNN'
    assert model_cfg.backbone.depth == 101
