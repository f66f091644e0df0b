"""Engine pieces: resuming under ``weights_only`` loading, the checkpoint
allow-list, ``override_data_root``, CPU distributed set-up and the
teacher-free optimizer constructor.

Everything runs in-process; the one training run is 2 + 1 iterations of the
tiny shapes student. The real multi-process path is in ``test_tools.py``.
"""
import copy
import os
import os.path as osp
import pickle
import subprocess
import sys
import uuid
from collections import OrderedDict

import pytest
import torch
import torch.distributed as torch_dist
import torch.nn as nn
from conftest import CONFIGS, REPO_ROOT, STUDENT_CONFIG, free_port, tiny_config
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.runner import Runner

import mmkd_det  # noqa: F401  (registers modules)
from mmkd_det.engine import (DistillOptimWrapperConstructor,
                             override_data_root, setup_cpu_distributed)
from mmkd_det.utils import checkpoint_safe_globals
from mmkd_det.utils.checkpoint_safety import (history_buffer_getattr,
                                              uses_torch_allow_list)

COCO_CONFIG = osp.join(CONFIGS, 'detectors',
                       'faster-rcnn_r18_fpn_ms-180k_coco.py')
DIST_ENV = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')


# --------------------------------------------------------------------------
# resume, through torch.load with torch's default weights_only=True
# --------------------------------------------------------------------------
class _CaptureResumeState(Hook):
    """Records what the runner resumed, right before the first train step."""

    priority = 'LOWEST'

    def before_train(self, runner):
        self.iter = runner.iter
        self.optim_state = copy.deepcopy(
            runner.optim_wrapper.optimizer.state_dict())
        self.model_state = {
            k: v.detach().clone()
            for k, v in runner.model.state_dict().items()
        }


def _student_cfg(shapes_root, work_dir, max_iters):
    cfg = tiny_config(
        STUDENT_CONFIG, shapes_root, work_dir, max_iters=max_iters)
    cfg.train_cfg.val_begin = 100  # no validation: not what is tested here
    # a unique name: mmengine's logger/visualizer instances are keyed by it
    cfg.experiment_name = f'test_engine_{uuid.uuid4().hex[:8]}'
    return cfg


@pytest.fixture(scope='module')
def resume_checkpoint(shapes_root, tmp_path_factory):
    """Train the student for 2 iterations; return its ``iter_2.pth``."""
    work_dir = str(tmp_path_factory.mktemp('resume_src'))
    Runner.from_cfg(_student_cfg(shapes_root, work_dir, max_iters=2)).train()
    path = osp.join(work_dir, 'iter_2.pth')
    assert osp.isfile(path)
    return path


@pytest.mark.slow
def test_resume_restores_iter_optimizer_and_weights(resume_checkpoint,
                                                    shapes_root, tmp_path,
                                                    monkeypatch):
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    with checkpoint_safe_globals():
        saved = torch.load(resume_checkpoint)  # weights_only default (True)
    assert saved['meta']['iter'] == 2
    assert saved['optimizer']['state'], 'SGD momentum buffers expected'

    load_kwargs = []
    real_load = torch.load

    def recording_load(*args, **kwargs):
        load_kwargs.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', recording_load)

    cfg = _student_cfg(shapes_root, str(tmp_path), max_iters=3)
    cfg.resume = True
    cfg.load_from = resume_checkpoint
    runner = Runner.from_cfg(cfg)
    capture = _CaptureResumeState()
    runner.register_hook(capture)
    runner.train()

    # mmengine went through torch.load without switching weights_only off
    assert load_kwargs
    assert all(
        kw.get('weights_only', True) is not False
        for kw in load_kwargs), load_kwargs

    assert capture.iter == 2
    resumed = capture.optim_state['state']
    assert resumed.keys() == saved['optimizer']['state'].keys()
    for idx, state in saved['optimizer']['state'].items():
        assert resumed[idx].keys() == state.keys()
        torch.testing.assert_close(
            resumed[idx]['momentum_buffer'],
            state['momentum_buffer'],
            rtol=0,
            atol=0)
    assert [g['lr'] for g in capture.optim_state['param_groups']
            ] == [g['lr'] for g in saved['optimizer']['param_groups']]
    assert capture.model_state.keys() == saved['state_dict'].keys()
    for name, value in saved['state_dict'].items():
        torch.testing.assert_close(
            capture.model_state[name], value, rtol=0, atol=0)

    assert runner.iter == 3
    assert osp.isfile(osp.join(str(tmp_path), 'iter_3.pth'))


@pytest.mark.slow
def test_resume_checkpoint_needs_the_allow_list(resume_checkpoint,
                                                loading_path):
    """The checkpoint loads with weights_only=True because of the allow-list
    alone: outside the context torch's own weights_only=True list refuses
    mmengine's message hub (on every torch; below 2.6 only explicitly)."""
    with checkpoint_safe_globals():
        checkpoint = torch.load(resume_checkpoint, weights_only=True)
    buffers = checkpoint['message_hub']['log_scalars']
    assert buffers and all(
        isinstance(b, HistoryBuffer) for b in buffers.values())
    assert 'mean' in next(iter(buffers.values()))._statistics_methods

    before = _torch_load_state()
    with pytest.raises(pickle.UnpicklingError):
        torch.load(resume_checkpoint, weights_only=True)
    with checkpoint_safe_globals():
        assert torch.load(resume_checkpoint)['meta']['iter'] == 2
    # left as found: the allow-list applies only inside the context
    assert _torch_load_state() == before
    with pytest.raises(pickle.UnpicklingError):
        torch.load(resume_checkpoint, weights_only=True)


@pytest.mark.slow
def test_import_leaves_torch_allow_list_alone():
    """``import mmkd_det`` (e.g. through custom_imports) changes nothing for
    code that does not load checkpoints."""
    # (torch registers its own DTensor classes when mmengine imports them)
    code = ('import torch, mmkd_det; '
            'from mmkd_det.utils.checkpoint_safety import '
            'safe_checkpoint_globals as ours; '
            'now = getattr(torch.serialization, "get_safe_globals", list)(); '
            'assert not [g for g in ours() if g in now], now; '
            'assert torch.load is torch.serialization.load; '
            'print("unchanged")')
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    out = subprocess.run([sys.executable, '-c', code],
                         env=env,
                         capture_output=True,
                         text=True,
                         timeout=120)
    assert out.returncode == 0 and 'unchanged' in out.stdout, out.stderr


@pytest.mark.parametrize('version, torch_list', [('2.1.2', False),
                                                 ('2.5.1', False),
                                                 ('2.6.0', True),
                                                 ('2.13.0+cpu', True)])
def test_allow_list_is_version_gated(version, torch_list, monkeypatch):
    """torch >= 2.6 extends its own allow-list for the block; older torch
    (weights_only=False by default, no (callable, name) allow-list) gets
    mmkd_det's restricted torch.load instead."""
    monkeypatch.setattr(torch, '__version__', version)
    assert uses_torch_allow_list() is torch_list


def _torch_load_state():
    """What the context may change: torch.load and torch's allow-list."""
    get_safe_globals = getattr(torch.serialization, 'get_safe_globals', list)
    return torch.load, set(map(repr, get_safe_globals()))


@pytest.fixture(params=['installed', 'torch<2.6'])
def loading_path(request, monkeypatch):
    """Run a test through the installed torch's path and through the
    restricted torch.load of torch < 2.6 (the same one on old torch)."""
    if request.param == 'torch<2.6':
        monkeypatch.setattr(torch, '__version__', '2.5.1')
    return request.param


def test_allow_list_context_restores_torch(loading_path):
    before = _torch_load_state()
    with checkpoint_safe_globals():
        assert _torch_load_state() != before
    assert _torch_load_state() == before


# --------------------------------------------------------------------------
# the allow-list does not open the door to anything else
# --------------------------------------------------------------------------
_CALLS = []


def _record_call(*args):
    _CALLS.append(args)


class _Payload:
    """Unpickling it would call ``_record_call``."""

    def __reduce__(self):
        return _record_call, ('pwned', )


class _Plain:

    def __init__(self):
        self.value = 1


class _GetattrPayload:
    """Pickles as ``builtins.getattr(obj, name)``."""

    def __init__(self, obj, name):
        self.obj, self.name = obj, name

    def __reduce__(self):
        return getattr, (self.obj, self.name)


@pytest.mark.parametrize(
    'payload', [os.system, _Payload(), _Plain()],
    ids=['os.system', 'reduce-payload', 'plain-class'])
def test_weights_only_still_refuses_other_globals(payload, tmp_path,
                                                  monkeypatch, loading_path):
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {'w': torch.zeros(2)}, 'x': payload}, path)
    _CALLS.clear()
    with checkpoint_safe_globals(), pytest.raises(
            pickle.UnpicklingError, match='Weights only load failed'):
        torch.load(path)
    assert _CALLS == []


@pytest.mark.parametrize('name', ['min', 'max', 'current', 'mean'])
def test_getattr_stand_in_resolves_statistics_methods(name, tmp_path,
                                                      loading_path):
    assert history_buffer_getattr(HistoryBuffer,
                                  name) is getattr(HistoryBuffer, name)
    # as pickle protocol 2 stores them: builtins.getattr(HistoryBuffer, name)
    path = str(tmp_path / 'stat.pth')
    torch.save({'fn': getattr(HistoryBuffer, name)}, path)
    with checkpoint_safe_globals():
        assert torch.load(path)['fn'] is getattr(HistoryBuffer, name)


class _HistoryBufferChild(HistoryBuffer):
    pass


@pytest.mark.parametrize('obj, name', [
    (HistoryBuffer, 'update'),
    (HistoryBuffer, '__init__'),
    (HistoryBuffer, '__class__'),
    (HistoryBuffer, 'register_statistics'),
    (HistoryBuffer(), 'mean'),
    (_HistoryBufferChild, 'mean'),
    (os, 'system'),
    (OrderedDict, 'mean'),
])
def test_getattr_stand_in_refuses_everything_else(obj, name):
    with pytest.raises(pickle.UnpicklingError, match='Refusing getattr'):
        history_buffer_getattr(obj, name)


@pytest.mark.parametrize('obj, name', [(OrderedDict, '__init__'),
                                       (HistoryBuffer, 'update'),
                                       (HistoryBuffer, '__reduce_ex__')])
def test_weights_only_refuses_getattr_in_checkpoint(obj, name, tmp_path,
                                                    loading_path):
    path = str(tmp_path / 'getattr.pth')
    torch.save({'x': _GetattrPayload(obj, name)}, path)
    with checkpoint_safe_globals(), pytest.raises(
            pickle.UnpicklingError, match='Refusing getattr'):
        torch.load(path)


# --------------------------------------------------------------------------
# override_data_root
# --------------------------------------------------------------------------
def _loader_roots(cfg):
    return {
        loader: cfg[loader].dataset.data_root
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    }


@pytest.mark.parametrize(
    'config, ann', [
        (STUDENT_CONFIG, 'annotations/instances_val.json'),
        (COCO_CONFIG, 'annotations/instances_val2017.json'),
    ],
    ids=['shapes', 'coco'])
def test_override_data_root(config, ann):
    cfg = Config.fromfile(config)
    train_ann = cfg.train_dataloader.dataset.ann_file
    train_prefix = dict(cfg.train_dataloader.dataset.data_prefix)
    old_root = cfg.val_dataloader.dataset.data_root
    assert cfg.test_evaluator.ann_file == old_root + ann

    override_data_root(cfg, '/datasets/new_root')  # no trailing slash

    new = '/datasets/new_root/'
    assert _loader_roots(cfg) == dict.fromkeys(_loader_roots(cfg), new)
    assert cfg.val_evaluator.ann_file == new + ann
    assert cfg.test_evaluator.ann_file == new + ann
    assert cfg.data_root == new
    # relative paths inside the root are kept
    assert cfg.train_dataloader.dataset.ann_file == train_ann
    assert dict(cfg.train_dataloader.dataset.data_prefix) == train_prefix

    # moving again (e.g. --data-root after a first override) also works
    override_data_root(cfg, '/other/')
    assert set(_loader_roots(cfg).values()) == {'/other/'}
    assert cfg.test_evaluator.ann_file == '/other/' + ann


def test_override_data_root_through_wrappers_and_evaluator_lists():
    cfg = Config(
        dict(
            train_dataloader=dict(
                dataset=dict(
                    type='ConcatDataset',
                    datasets=[
                        dict(
                            type='RepeatDataset',
                            times=2,
                            dataset=dict(data_root='data/a/')),
                        dict(data_root='data/b/'),
                    ])),
            val_dataloader=dict(dataset=dict(data_root='data/a/')),
            val_evaluator=[
                dict(type='CocoMetric', ann_file='data/a/ann.json'),
                dict(type='CocoMetric', ann_file='data/b/sub/ann.json'),
                dict(type='DumpDetResults', out_file_path='x.pkl'),
            ]))
    override_data_root(cfg, '/new')
    concat = cfg.train_dataloader.dataset.datasets
    assert concat[0].dataset.data_root == '/new/'
    assert concat[1].data_root == '/new/'
    assert cfg.val_dataloader.dataset.data_root == '/new/'
    assert [e.get('ann_file') for e in cfg.val_evaluator
            ] == ['/new/ann.json', '/new/sub/ann.json', None]


def test_override_data_root_rejects_evaluator_outside_root():
    cfg = Config.fromfile(STUDENT_CONFIG)
    cfg.test_evaluator = dict(
        type='CocoMetric', ann_file='/elsewhere/instances_val.json')
    with pytest.raises(ValueError) as info:
        override_data_root(cfg, '/new/')
    message = str(info.value)
    assert 'test_evaluator.ann_file' in message
    assert '/elsewhere/instances_val.json' in message
    assert '--cfg-options' in message


# --------------------------------------------------------------------------
# setup_cpu_distributed
# --------------------------------------------------------------------------
@pytest.fixture
def no_dist_env(monkeypatch):
    for name in DIST_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)


def _small_cfg(launcher):
    return Config(
        dict(launcher=launcher, env_cfg=dict(dist_cfg=dict(backend='nccl'))))


def test_setup_cpu_distributed_none_is_a_no_op(no_dist_env):
    cfg = _small_cfg('none')
    before = cfg.to_dict()
    assert setup_cpu_distributed(cfg) is False
    assert cfg.to_dict() == before
    assert not torch_dist.is_initialized()
    # a config without `launcher` means 'none'
    assert setup_cpu_distributed(Config(dict())) is False


def test_setup_cpu_distributed_leaves_cuda_machines_alone(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = _small_cfg('pytorch')
    before = cfg.to_dict()
    assert setup_cpu_distributed(cfg) is False
    assert cfg.to_dict() == before
    assert not torch_dist.is_initialized()


@pytest.mark.parametrize('launcher', ['slurm', 'mpi'])
def test_setup_cpu_distributed_refuses_cuda_only_launchers(
        launcher, no_dist_env):
    cfg = _small_cfg(launcher)
    with pytest.raises(RuntimeError, match=f'"{launcher}" needs CUDA') as info:
        setup_cpu_distributed(cfg)
    assert '--launcher pytorch' in str(info.value)
    assert not torch_dist.is_initialized()


def test_setup_cpu_distributed_names_missing_env_vars(no_dist_env,
                                                      monkeypatch):
    cfg = _small_cfg('pytorch')
    before = cfg.to_dict()
    with pytest.raises(RuntimeError, match='torchrun') as info:
        setup_cpu_distributed(cfg)
    for name in DIST_ENV:
        assert name in str(info.value)

    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    monkeypatch.setenv('LOCAL_RANK', '0')
    with pytest.raises(RuntimeError) as info:
        setup_cpu_distributed(cfg)
    assert "['MASTER_ADDR', 'MASTER_PORT']" in str(info.value)
    assert cfg.to_dict() == before  # nothing edited on failure
    assert not torch_dist.is_initialized()


@pytest.mark.dist
def test_setup_cpu_distributed_single_process_gloo(no_dist_env, monkeypatch):
    """World size 1: the gloo group is set up and the config rewritten."""
    assert not torch_dist.is_initialized()
    for name, value in dict(
            RANK='0',
            WORLD_SIZE='1',
            LOCAL_RANK='0',
            MASTER_ADDR='127.0.0.1',
            MASTER_PORT=str(free_port())).items():
        monkeypatch.setenv(name, value)
    cfg = _small_cfg('pytorch')
    cfg.model_wrapper_cfg = dict(
        type='MMDistributedDataParallel',
        find_unused_parameters=True,
        device_ids=[0])
    try:
        assert setup_cpu_distributed(cfg) is True
        assert torch_dist.is_initialized()
        assert torch_dist.get_backend() == 'gloo'
        assert torch_dist.get_world_size() == 1
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'
        assert cfg.model_wrapper_cfg.device_ids is None
        assert cfg.model_wrapper_cfg.find_unused_parameters is True

        # default wrapper: the runner's, without device ids
        cfg2 = Config(dict(launcher='pytorch', find_unused_parameters=True))
        assert setup_cpu_distributed(cfg2) is True  # group reused
        assert cfg2.env_cfg.dist_cfg.backend == 'gloo'
        assert cfg2.model_wrapper_cfg == dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=True,
            device_ids=None)
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()


# --------------------------------------------------------------------------
# DistillOptimWrapperConstructor
# --------------------------------------------------------------------------
class _Student(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        self.head = nn.Linear(4, 2)


class _Distiller(_Student):

    def __init__(self):
        super().__init__()
        self.teacher = _Student()
        self.teacher.requires_grad_(False)
        self.connector = nn.Linear(4, 4)


OPTIM_CFG = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))


def _group_params(optim_wrapper):
    return [
        p for g in optim_wrapper.optimizer.param_groups for p in g['params']
    ]


def _lr_by_param(optim_wrapper):
    return {
        id(p): (g['lr'], g['weight_decay'])
        for g in optim_wrapper.optimizer.param_groups
        for p in g['params']
    }


def test_distill_constructor_is_registered():
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(
            type='DistillOptimWrapperConstructor',
            optim_wrapper_cfg=OPTIM_CFG))
    assert isinstance(constructor, DistillOptimWrapperConstructor)


def test_distill_constructor_leaves_the_teacher_out():
    model = _Distiller()
    optim_wrapper = DistillOptimWrapperConstructor(OPTIM_CFG)(model)
    params = {id(p) for p in _group_params(optim_wrapper)}
    teacher = {id(p) for p in model.teacher.parameters()}
    student = {
        id(p)
        for name, p in model.named_parameters()
        if not name.startswith('teacher.')
    }
    assert len(params) == len(_group_params(optim_wrapper))  # no duplicates
    assert params == student
    assert not params & teacher
    # the teacher's parameters are left out by name, not by requires_grad
    model.teacher.requires_grad_(True)
    params = {
        id(p)
        for p in _group_params(
            DistillOptimWrapperConstructor(OPTIM_CFG)(model))
    }
    assert params == student
    # the model itself is not altered
    assert isinstance(model.teacher, _Student)


def test_distill_constructor_paramwise_cfg_by_name():
    model = _Distiller()
    paramwise_cfg = dict(
        bias_decay_mult=0.,
        custom_keys={
            'backbone.0': dict(lr_mult=0.5),
            'connector': dict(lr_mult=10., decay_mult=0.),
            'teacher': dict(lr_mult=123.),
        })
    optim_wrapper = DistillOptimWrapperConstructor(OPTIM_CFG, paramwise_cfg)(
        model)
    settings = _lr_by_param(optim_wrapper)
    student = [(n, p) for n, p in model.named_parameters()
               if not n.startswith('teacher.')]
    assert {id(p) for _, p in student} == set(settings)
    expected = {
        'backbone.0.weight': (0.05, 1e-4),
        'backbone.0.bias': (0.05, 1e-4),  # custom key wins over bias_decay
        'backbone.1.weight': (0.1, 1e-4),
        'backbone.1.bias': (0.1, 0.),
        'head.weight': (0.1, 1e-4),
        'head.bias': (0.1, 0.),
        'connector.weight': (1.0, 0.),
        'connector.bias': (1.0, 0.),
    }
    got = {n: settings[id(p)] for n, p in student}
    assert got.keys() == expected.keys()
    for name, (lr, decay) in expected.items():
        assert got[name] == pytest.approx((lr, decay)), name
    assert all(lr != pytest.approx(12.3) for lr, _ in settings.values())


@pytest.mark.parametrize('paramwise_cfg', [
    None,
    dict(norm_decay_mult=0., custom_keys={'head': dict(lr_mult=2.)}),
])
def test_distill_constructor_without_teacher_matches_default(paramwise_cfg):
    model = _Student()
    ours = DistillOptimWrapperConstructor(OPTIM_CFG, paramwise_cfg)(model)
    default = DefaultOptimWrapperConstructor(OPTIM_CFG, paramwise_cfg)(model)
    assert ours.__class__ is default.__class__
    assert ours.optimizer.__class__ is default.optimizer.__class__
    ours_groups = ours.optimizer.param_groups
    default_groups = default.optimizer.param_groups
    assert len(ours_groups) == len(default_groups)
    for mine, ref in zip(ours_groups, default_groups):
        assert [id(p)
                for p in mine['params']] == [id(p) for p in ref['params']]
        assert {
            k: v
            for k, v in mine.items() if k != 'params'
        } == {
            k: v
            for k, v in ref.items() if k != 'params'
        }
    # a `teacher` attribute that is not a module is not special
    model.teacher = None
    ours = DistillOptimWrapperConstructor(OPTIM_CFG, paramwise_cfg)(model)
    assert {id(p)
            for p in _group_params(ours)
            } == {id(p)
                  for p in model.parameters()}
