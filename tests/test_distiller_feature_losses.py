"""Feature distillation end to end: the ReviewKD, LumiNet+ReviewKD and FitNet
configs, connectors in training, optimizer, checkpoints and DDP."""
import copy
import functools
import glob
import os.path as osp
import sys
from unittest import mock

import pytest
import torch
import torch.distributed as dist
from conftest import (CONFIGS, STUDENT_CONFIG, free_port, gloo_group,
                      load_tool, run_ranks)
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mmkd_det.utils import methods as registry

DISTILL = osp.join(CONFIGS, 'distill')
LUMINET_REVIEWKD = registry.leaf_config('luminet-reviewkd', 'shapes')
FITNET = registry.leaf_config('fitnet', 'shapes')

PAIRS = tuple(registry.PAIRS)
# Every registered pair's feature-loss weight and FPN widths, written out
# here rather than read from the configs, so that a changed config fails
# test_config_losses_weights_and_channels. ReviewKD's detection weights
# (REFERENCE.md and the reasons in configs/distill/_base_/losses/reviewkd.py);
# FitNet and LumiNet+ReviewKD use ReviewKD's weight of the pair. A pair
# registered later fails that test until its values are added here.
PAIR_WEIGHTS = {
    'r101-r18_fpn_coco': 1.2,
    'r50-mbv2_fpn_coco': 2.0,
    'cascade-mask-x101-r50_fpn_coco': 1.0,  # ReviewKD's R101->R50 setting
    'shapes': 1.2,  # ResNet->ResNet as R101->R18
    'cascade_shapes': 1.2,  # the shapes Faster pair's
    'digits': 1.2,  # ResNet->ResNet as R101->R18
}
# (student FPN width, teacher FPN width)
PAIR_CHANNELS = {
    'r101-r18_fpn_coco': (256, 256),
    'r50-mbv2_fpn_coco': (256, 256),
    'cascade-mask-x101-r50_fpn_coco': (256, 256),
    'shapes': (8, 32),
    'cascade_shapes': (8, 64),
    'digits': (8, 64),
}
# method -> (feature loss key, loss type, connector type, has LumiNet loss);
# one entry per registered method with a feature loss (checked below)
METHODS = {
    'reviewkd': ('loss_reviewkd', 'HCLLoss', 'ABFConnector', False),
    'luminet-reviewkd': ('loss_reviewkd', 'HCLLoss', 'ABFConnector', True),
    'fitnet': ('loss_fitnet', 'FeatureMSELoss', 'ConvAdapter', False),
}
ALL_CONFIGS = [(method, pair) for method in METHODS for pair in PAIRS]


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """Each test is tiny: one intra-op thread is faster on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@functools.lru_cache(maxsize=None)
def _cached_config(path):
    return Config.fromfile(path)


def load_config(path):
    """``Config.fromfile``, parsed once per file (mmdet:: bases are slow)."""
    return copy.deepcopy(_cached_config(path))


def config_path(method, pair):
    return registry.leaf_config(method, pair)


def build_distiller(teacher_checkpoint,
                    path=LUMINET_REVIEWKD,
                    seed=0,
                    **model_overrides):
    cfg = load_config(path)
    cfg.model.teacher.checkpoint = teacher_checkpoint
    cfg.model.update(model_overrides)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model, cfg


def packed_batch(seed=None):
    """Two 96x96 images with 3 boxes each; ``seed`` changes the pixels."""
    packed = demo_mm_inputs(
        2, [[3, 96, 96]] * 2, num_items=[3, 3], num_classes=8)
    if seed is not None:
        g = torch.Generator().manual_seed(seed)
        packed['inputs'] = [
            torch.randint(0, 256, img.shape, generator=g, dtype=torch.uint8)
            for img in packed['inputs']
        ]
    return packed


def batch(model, seed=None):
    return model.data_preprocessor(packed_batch(seed), True)


def connector_state(model):
    return {
        k: v.clone()
        for k, v in model.state_dict().items() if k.startswith('connectors.')
    }


def param_ids(optim_wrapper):
    return {
        id(p)
        for group in optim_wrapper.optimizer.param_groups
        for p in group['params']
    }


# ------------------------------------------------------------------ configs
def test_config_files_are_exactly_the_pairs():
    assert set(METHODS) == {
        name
        for name, method in registry.METHODS.items()
        if 'feature' in method.kind
    }
    for method in METHODS:
        found = sorted(
            osp.basename(p)
            for p in glob.glob(osp.join(DISTILL, method, '*.py')))
        assert found == sorted(f'{method}_{pair}.py' for pair in PAIRS)


@pytest.mark.parametrize('method,pair', ALL_CONFIGS)
def test_config_losses_weights_and_channels(method, pair):
    assert set(PAIR_WEIGHTS) == set(PAIR_CHANNELS) == set(registry.PAIRS), (
        'pin the weight and FPN widths of every registered pair in '
        'PAIR_WEIGHTS and PAIR_CHANNELS')
    cfg = load_config(config_path(method, pair))
    base = load_config(registry.pair_base_config(pair))
    key, loss_type, connector_type, luminet = METHODS[method]
    model = cfg.model
    assert model.type == 'RoIDistiller'
    assert cfg.optim_wrapper.constructor == 'DistillOptimWrapperConstructor'
    # the pair's teacher and student, untouched
    assert model.teacher == base.model.teacher
    assert model.backbone == base.model.backbone

    assert list(model.feature_losses) == [key]
    loss = model.feature_losses[key]
    assert loss.type == loss_type
    assert loss.loss_weight == PAIR_WEIGHTS[pair]
    if luminet:
        # exactly the logit loss of the LumiNet leaf of the pair
        luminet_cfg = load_config(config_path('luminet', pair))
        assert model.logit_losses.to_dict() == \
            luminet_cfg.model.logit_losses.to_dict()
        assert list(model.logit_losses) == ['loss_kd_cls']
        assert model.logit_losses.loss_kd_cls.logit_norm == 'perception'
        # "Ours*" = LumiNet + exactly the ReviewKD feature loss of the pair
        reviewkd = load_config(config_path('reviewkd', pair))
        assert loss == reviewkd.model.feature_losses[key]
    else:
        assert not model.get('logit_losses')

    # connector: student FPN -> teacher FPN, one block per FPN output; the
    # config leaves the channels to RoIDistiller, which takes them from the
    # necks (test_connector_channels_come_from_the_necks)
    teacher_neck = load_config(model.teacher.config).model.neck
    connector = loss.connector
    assert connector.type == connector_type
    assert not {'in_channels', 'out_channels', 'num_levels'} & set(connector)
    assert model.neck.num_outs == teacher_neck.num_outs
    if connector_type == 'ABFConnector':
        # ReviewKD: mid = 256 on COCO, i.e. the teacher's FPN width
        assert connector.mid_channels is None
    assert (model.neck.out_channels,
            teacher_neck.out_channels) == PAIR_CHANNELS[pair]


@pytest.mark.parametrize('method', list(METHODS))
def test_shapes_configs_build_and_compute(method, teacher_checkpoint):
    key, loss_type, connector_type, luminet = METHODS[method]
    model, _ = build_distiller(teacher_checkpoint,
                               config_path(method, 'shapes'))
    assert type(model.feature_losses[key]).__name__ == loss_type
    assert type(model.connectors[key]).__name__ == connector_type
    # shapes: student FPN 8 ch -> teacher FPN 32 ch, 5 levels
    assert model.connectors[key].in_channels == [8] * 5
    assert model.connectors[key].out_channels == [32] * 5
    if connector_type == 'ABFConnector':
        assert model.connectors[key].mid_channels == 32
    assert ('loss_kd_cls' in model.logit_losses) == luminet
    data = batch(model)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert losses[key].dtype == torch.float32
    assert torch.isfinite(losses[key]) and losses[key] > 0


def test_connector_channels_come_from_the_necks(teacher_checkpoint):
    """A connector config without channels gets the necks' (shapes: student
    FPN 8 -> teacher FPN 32 at 5 levels); explicit channels that do not fit
    still fail at build time, naming both FPNs and the fix."""
    model, cfg = build_distiller(teacher_checkpoint, FITNET)
    connector = cfg.model.feature_losses.loss_fitnet.connector
    assert connector.to_dict() == dict(type='ConvAdapter')
    convs = [
        m for m in model.connectors.loss_fitnet.modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    assert [tuple(c.weight.shape[:2]) for c in convs] == [(32, 8)] * 5

    connector.update(in_channels=4, out_channels=32)
    with pytest.raises(
            ValueError,
            match=r'student FPN gives \[8, 8, 8, 8, 8\] channels per '
            r'level and the teacher FPN \[32, 32, 32, 32, 32\], but its '
            r'connector \(ConvAdapter\) maps \[4, 4, 4, 4, 4\] to '
            r'\[32, 32, 32, 32, 32\]: set its in_channels=\[8'):
        MODELS.build(cfg.model)


# ---------------------------------------------------------------- training
def test_training_step_gradients(teacher_checkpoint):
    model, _ = build_distiller(teacher_checkpoint)
    model.train()
    data = batch(model)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert {'loss_kd_cls', 'loss_reviewkd', 'loss_cls'} <= set(losses)
    for key in ('loss_kd_cls', 'loss_reviewkd'):
        assert losses[key].dim() == 0 and torch.isfinite(losses[key])
    # the feature loss alone reaches the student's FPN and backbone through
    # the connector, not the RoI head
    on_path = [
        model.neck.fpn_convs[0].conv.weight, model.backbone.conv1.weight,
        model.roi_head.bbox_head.fc_cls.weight
    ]
    fpn, conv1, fc_cls = torch.autograd.grad(
        losses['loss_reviewkd'], on_path, retain_graph=True, allow_unused=True)
    assert fpn.abs().sum() > 0 and conv1.abs().sum() > 0 and fc_cls is None
    total, _ = model.parse_losses(losses)
    total.backward()

    connector_params = list(model.connectors.named_parameters())
    assert connector_params
    for name, p in connector_params:
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    # every trainable student parameter is used (DDP needs no
    # find_unused_parameters)
    for name, p in model.named_parameters():
        if not name.startswith('teacher.'):
            assert p.requires_grad and p.grad is not None, name
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    for name, p in model.teacher.named_parameters():
        assert not p.requires_grad and p.grad is None, name


def test_optimizer_has_connectors_not_teacher(teacher_checkpoint):
    model, cfg = build_distiller(teacher_checkpoint)
    assert cfg.optim_wrapper.constructor == 'DistillOptimWrapperConstructor'
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    in_optim = param_ids(optim_wrapper)
    connectors = list(model.connectors.parameters())
    assert connectors and all(id(p) in in_optim for p in connectors)
    assert not any(id(p) in in_optim for p in model.teacher.parameters())
    trainable = [
        p for n, p in model.named_parameters() if not n.startswith('teacher.')
    ]
    assert len(in_optim) == len(trainable)
    # a step moves the connectors, never the teacher
    before = connector_state(model)
    teacher_before = {
        k: v.clone()
        for k, v in model.teacher.state_dict().items()
    }
    model.train()
    model.train_step(batch(model), optim_wrapper)
    after = connector_state(model)
    assert any(not torch.equal(before[k], after[k]) for k in before
               if 'weight' in k)
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, teacher_before[k]), k


def test_teacher_features_computed_once_and_shared(teacher_checkpoint):
    # all three losses at once: LumiNet + ReviewKD + FitNet
    fitnet = load_config(FITNET).model.feature_losses
    model, _ = build_distiller(teacher_checkpoint)
    model.feature_losses['loss_fitnet'] = MODELS.build({
        k: v
        for k, v in fitnet.loss_fitnet.items() if k != 'connector'
    })
    # the shapes FPNs' channels, which RoIDistiller fills in at build time
    model.connectors['loss_fitnet'] = MODELS.build(
        dict(fitnet.loss_fitnet.connector, in_channels=8, out_channels=32))
    data = batch(model)

    outputs = []

    def record(fn):

        def wrapped(*args, **kwargs):
            out = fn(*args, **kwargs)
            outputs.append(out)
            return out

        return wrapped

    teacher = model.teacher
    with mock.patch.object(teacher, 'extract_feat',
                           wraps=record(teacher.extract_feat)) as t_feat, \
            mock.patch.object(teacher.backbone, 'forward',
                              wraps=teacher.backbone.forward) as t_backbone, \
            mock.patch.object(teacher.rpn_head, 'forward',
                              side_effect=AssertionError('teacher RPN ran')), \
            mock.patch.object(model.feature_losses['loss_reviewkd'],
                              'forward', wraps=model.feature_losses[
                                  'loss_reviewkd'].forward) as hcl, \
            mock.patch.object(model.feature_losses['loss_fitnet'], 'forward',
                              wraps=model.feature_losses[
                                  'loss_fitnet'].forward) as mse:
        losses = model.loss(data['inputs'], data['data_samples'])
    assert t_feat.call_count == 1 and t_backbone.call_count == 1
    assert hcl.call_count == 1 and mse.call_count == 1
    teacher_feats = outputs[0]
    # both feature losses got the very tensors of the single teacher pass
    assert hcl.call_args.args[1] is teacher_feats
    assert mse.call_args.args[1] is teacher_feats
    assert len(teacher_feats) == 5 and teacher_feats[0].shape[1] == 32
    assert not any(f.requires_grad for f in teacher_feats)
    for key in ('loss_kd_cls', 'loss_reviewkd', 'loss_fitnet'):
        assert torch.isfinite(losses[key])


def test_feature_losses_amp_safe(teacher_checkpoint):
    model, _ = build_distiller(teacher_checkpoint)
    fitnet_cfg = load_config(FITNET).model.feature_losses.loss_fitnet
    # the shapes FPNs' channels, which RoIDistiller fills in at build time
    adapter = MODELS.build(
        dict(fitnet_cfg.connector, in_channels=8, out_channels=32))
    mse = MODELS.build({
        k: v
        for k, v in fitnet_cfg.items() if k != 'connector'
    })
    inputs = batch(model)['inputs']
    model.train()
    # mmcv's CPU NMS/RoIAlign reject bfloat16, so the whole detector cannot
    # run under CPU autocast; its FPN, the connectors and losses can.
    with torch.autocast('cpu', dtype=torch.bfloat16):
        student_feats = model.extract_feat(inputs)
        with torch.no_grad():
            teacher_feats = model.teacher.extract_feat(inputs)
        assert student_feats[0].dtype == torch.bfloat16
        assert teacher_feats[0].dtype == torch.bfloat16
        abf_out = model.connectors['loss_reviewkd'](student_feats)
        assert abf_out[0].dtype == torch.bfloat16
        hcl = model.feature_losses['loss_reviewkd'](abf_out, teacher_feats)
        fit = mse(adapter(student_feats), teacher_feats)
        s_logits = torch.randn(16, 9, dtype=torch.bfloat16).requires_grad_()
        t_logits = torch.randn(16, 9, dtype=torch.bfloat16)
        labels = torch.randint(0, 9, (16, ))
        distill = {
            **model.logit_distill_losses(s_logits, t_logits, labels),
            **model.feature_distill_losses(student_feats, teacher_feats)
        }
    for loss in (hcl, fit, *distill.values()):
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert torch.allclose(distill['loss_reviewkd'], hcl)
    (hcl + fit).backward()
    for p in model.connectors.parameters():
        assert p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all()

    # fp16 / bf16 features straight into the losses: fp32, close to fp32
    with torch.no_grad():
        fs32 = [f.float() for f in abf_out]
        ft32 = [f.float() for f in teacher_feats]
        for loss_fn in (model.feature_losses['loss_reviewkd'], mse):
            ref = loss_fn(fs32, ft32)
            for dtype in (torch.float16, torch.bfloat16):
                low = loss_fn([f.to(dtype) for f in fs32],
                              [f.to(dtype) for f in ft32])
                assert low.dtype == torch.float32 and torch.isfinite(low)
                assert low.item() == pytest.approx(ref.item(), rel=2e-2)


# -------------------------------------------------------------- checkpoints
def test_connector_checkpoint_round_trip_and_extract(teacher_checkpoint,
                                                     tmp_path):
    model, cfg = build_distiller(teacher_checkpoint)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    model.train_step(batch(model), optim_wrapper)
    state = model.state_dict()
    assert any(k.startswith('connectors.loss_reviewkd.') for k in state)
    assert any(
        k.endswith('running_mean') for k in state
        if k.startswith('connectors.'))
    assert not any(k.startswith('teacher.') for k in state)

    # a fresh distiller (other seed: other connector init) loads it strictly
    fresh, _ = build_distiller(teacher_checkpoint, seed=1)
    fresh_connectors = connector_state(fresh)
    assert any(not torch.equal(fresh_connectors[k], state[k])
               for k in fresh_connectors)
    teacher_before = {
        k: v.clone()
        for k, v in fresh.teacher.state_dict().items()
    }
    fresh.load_state_dict(state, strict=True)
    for k, v in connector_state(fresh).items():
        assert torch.equal(v, state[k]), k
    saved_teacher = torch.load(teacher_checkpoint)['state_dict']
    for k, v in fresh.teacher.state_dict().items():
        assert torch.equal(v, teacher_before[k]), k
        assert torch.equal(v, saved_teacher[k]), k

    # a runner-style checkpoint -> tools/extract_student.py -> plain student
    ckpt = tmp_path / 'distill.pth'
    torch.save(
        dict(
            meta=dict(iter=1),
            state_dict=state,
            optimizer=optim_wrapper.state_dict()), ckpt)
    tool = load_tool('extract_student.py')
    out = tmp_path / 'student.pth'
    with mock.patch.object(
            sys, 'argv', ['extract_student.py',
                          str(ckpt), str(out)]):
        tool.main()
    extracted = torch.load(out, weights_only=True)
    assert set(extracted) == {'meta', 'state_dict'}
    student_state = extracted['state_dict']
    assert not any(
        k.startswith(('connectors.', 'teacher.')) for k in student_state)
    num_connector_keys = sum(k.startswith('connectors.') for k in state)
    assert extracted['meta']['student_extracted']['removed_keys'] == \
        num_connector_keys
    student = MODELS.build(load_config(STUDENT_CONFIG).model)
    student.load_state_dict(student_state, strict=True)
    for k, v in student.state_dict().items():
        assert torch.equal(v, state[k]), k
    # the function itself also handles DDP-prefixed keys
    ddp_state = {f'module.{k}': v for k, v in state.items()}
    assert not any('connectors.' in k
                   for k in tool.extract_student(dict(
                       state_dict=ddp_state))['state_dict'])


# ---------------------------------------------------------------------- DDP


def _ddp_worker(rank, world_size, port, teacher_checkpoint):
    # The body is its own function so that its DDP (whose reducer holds the
    # group) is garbage once it returns; gloo_group collects it before the
    # group closes.
    with gloo_group(rank, world_size, port, timeout_s=120):
        _check_two_ddp_steps(rank, world_size, teacher_checkpoint)


def _check_two_ddp_steps(rank, world_size, teacher_checkpoint):
    from mmengine.model import MMDistributedDataParallel

    # rank-dependent init: DDP must broadcast rank 0's weights
    model, cfg = build_distiller(teacher_checkpoint, seed=rank)
    probe = model.teacher.backbone.bn1.running_mean
    if rank == 1:  # a teacher buffer that DDP must leave alone
        probe.add_(1.0)
    probe_value = probe.clone()
    ddp = MMDistributedDataParallel(model, device_ids=None)
    ignored = set(model._ddp_params_and_buffers_to_ignore)
    teacher_names = {
        f'teacher.{n}'
        for n in model.teacher.state_dict(keep_vars=True)
    }
    assert teacher_names <= ignored
    assert ddp.parameters_to_ignore == ignored
    synced = {id(p) for p in ddp._module_parameters}
    assert not any(id(p) in synced for p in model.teacher.parameters())
    assert all(id(p) in synced for p in model.connectors.parameters())
    assert not any(n.startswith('teacher.') for n in ddp.named_module_buffers)

    optim_wrapper = build_optim_wrapper(ddp, cfg.optim_wrapper)
    ddp.train()
    for step in range(2):
        # different images per rank: gradients differ before all-reduce
        log_vars = ddp.train_step(
            packed_batch(seed=10 * step + rank), optim_wrapper)
        for key in ('loss_kd_cls', 'loss_reviewkd'):
            assert torch.isfinite(log_vars[key]), (step, key)

    assert torch.equal(probe, probe_value)  # not broadcast from rank 0
    flat = torch.cat(
        [p.detach().reshape(-1) for p in model.connectors.parameters()] +
        [model.backbone.conv1.weight.detach().reshape(-1)])
    gathered = [torch.empty_like(flat) for _ in range(world_size)]
    dist.all_gather(gathered, flat)
    assert torch.equal(gathered[0], gathered[1]), \
        (gathered[0] - gathered[1]).abs().max()


@pytest.mark.dist
def test_ddp_two_cpu_processes(teacher_checkpoint):
    if not dist.is_gloo_available():
        pytest.skip('gloo backend not available')
    run_ranks(_ddp_worker, args=(2, free_port(), teacher_checkpoint))
