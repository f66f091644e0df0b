"""Exact resume: straight N iterations == N/2, then resume, bit for bit.

Tiny shapes runs on CPU (96x96, 4 iterations, random flips on, validation at
iteration 2 and 4). The straight run saves ``iter_2.pth`` on its way; the
resumed run continues from it in another work dir. Every parameter and
buffer of the two final models must be equal (max |dw| == 0).
"""
import os
import os.path as osp
import subprocess
import sys
import uuid

import pytest
import torch
from conftest import (CONFIGS, DEVICES, REPO_ROOT, STUDENT_CONFIG,
                      max_abs_diff, runner_device, straight_vs_resumed,
                      tiny_config)
from mmengine.runner import Runner

from mmkd_det.engine import check_resume_checkpoint
from mmkd_det.engine.rng_state_hook import (CHECKPOINT_KEY, get_rng_state,
                                            set_rng_state)
from mmkd_det.utils import checkpoint_safe_globals

LUMINET = osp.join(CONFIGS, 'distill', 'luminet', 'luminet_shapes.py')


def _cfg(config, shapes_root, work_dir, workers, **options):
    cfg = tiny_config(
        config, shapes_root, work_dir, max_iters=4, val_interval=2, **options)
    cfg.train_dataloader.num_workers = workers
    cfg.train_dataloader.persistent_workers = workers > 0
    cfg.default_hooks.checkpoint.interval = 2
    # a unique name: mmengine's logger/visualizer instances are keyed by it
    cfg.experiment_name = f'test_resume_{uuid.uuid4().hex[:8]}'
    return cfg


def _train(cfg, resume_from=None):
    if resume_from is not None:
        cfg.resume = True
        cfg.load_from = resume_from
    runner = Runner.from_cfg(cfg)
    runner.train()
    return {
        k: v.detach().clone()
        for k, v in runner.model.state_dict().items()
    }


@pytest.fixture(scope='module')
def straight_runs(shapes_root, teacher_checkpoint, tmp_path_factory):
    """Straight 4-iteration runs (saving iter_2.pth on the way), cached."""
    runs = {}

    def run(name, workers):
        if (name, workers) not in runs:
            work_dir = str(tmp_path_factory.mktemp(f'{name}_{workers}'))
            runs[(name, workers)] = (_train(
                _config(name, shapes_root, work_dir, workers,
                        teacher_checkpoint)), work_dir)
        return runs[(name, workers)]

    return run


def _config(name, shapes_root, work_dir, workers, teacher_checkpoint):
    if name == 'student':
        return _cfg(STUDENT_CONFIG, shapes_root, work_dir, workers)
    return _cfg(LUMINET, shapes_root, work_dir, workers,
                **{'model.teacher.checkpoint': teacher_checkpoint})


@pytest.mark.parametrize('name, workers', [('student', 2), ('luminet', 1),
                                           ('student', 0)])
@pytest.mark.slow
def test_resume_is_bit_exact(name, workers, straight_runs, shapes_root,
                             teacher_checkpoint, tmp_path):
    straight, work_dir = straight_runs(name, workers)
    checkpoint = osp.join(work_dir, 'iter_2.pth')
    with checkpoint_safe_globals():
        saved = torch.load(checkpoint)
    assert saved['meta']['iter'] == 2
    assert saved[CHECKPOINT_KEY]['world_size'] == 1
    assert set(
        saved[CHECKPOINT_KEY]['states'][0]) == {'python', 'numpy',
                                                'torch'}  # no CUDA here
    resumed = _train(
        _config(name, shapes_root, str(tmp_path), workers, teacher_checkpoint),
        resume_from=checkpoint)
    diff = max_abs_diff(straight, resumed)
    print(f'\n{name} (num_workers={workers}): straight 4 iterations vs 2 + '
          f'resume: max |dw| = {diff} over {len(straight)} tensors')
    assert diff == 0.0


@pytest.mark.slow
def test_checkpoint_without_rng_states_resumes_with_warning(
        straight_runs, shapes_root, teacher_checkpoint, tmp_path, logged):
    """An older checkpoint (no random states) resumes, warns, and is not
    exact: the test above would notice a hook that restores nothing."""
    straight, work_dir = straight_runs('student', 2)
    with checkpoint_safe_globals():
        saved = torch.load(osp.join(work_dir, 'iter_2.pth'))
    del saved[CHECKPOINT_KEY]
    old = str(tmp_path / 'old' / 'iter_2.pth')
    os.makedirs(osp.dirname(old))
    torch.save(saved, old)
    resumed = _train(
        _config('student', shapes_root, str(tmp_path / 'run'), 2,
                teacher_checkpoint),
        resume_from=old)
    diff = max_abs_diff(straight, resumed)
    print(f'\nwithout random states: max |dw| = {diff}')
    assert diff > 0
    assert any('holds no random states' in m for m in logged), logged


def test_rng_state_round_trip():
    state = get_rng_state()
    expected = (torch.rand(3), torch.randint(0, 10**6, (1, )).item())
    import random

    import numpy as np
    expected += (np.random.rand(3).tolist(), random.random())
    set_rng_state(state)
    got = (torch.rand(3), torch.randint(0, 10**6, (1, )).item(),
           np.random.rand(3).tolist(), random.random())
    torch.testing.assert_close(got[0], expected[0], rtol=0, atol=0)
    assert got[1:] == expected[1:]


# --------------------------------------------------------------------------
# a corrupted resume checkpoint
# --------------------------------------------------------------------------
def _truncated_copy(src, dst_dir):
    os.makedirs(dst_dir, exist_ok=True)
    for name, size in (('iter_1.pth', None), ('iter_2.pth', 1000)):
        with open(src, 'rb') as f:
            data = f.read()
        with open(osp.join(dst_dir, name), 'wb') as f:
            f.write(data if size is None else data[:size])
    return osp.join(dst_dir, 'iter_2.pth')


@pytest.mark.slow
def test_truncated_checkpoint_is_a_clear_error(straight_runs, tmp_path):
    _, work_dir = straight_runs('student', 2)
    broken = _truncated_copy(
        osp.join(work_dir, 'iter_2.pth'), str(tmp_path / 'work'))
    before = (open(broken, 'rb').read(), os.stat(broken).st_mtime_ns)
    with pytest.raises(RuntimeError) as info:
        check_resume_checkpoint(broken)
    message = str(info.value)
    print('\n' + message)
    assert f'Cannot resume from {broken}: it is unreadable' in message
    assert 'Resume from an earlier checkpoint' in message
    assert osp.join(str(tmp_path / 'work'), 'iter_1.pth') in message
    assert (open(broken, 'rb').read(), os.stat(broken).st_mtime_ns) == before

    with pytest.raises(FileNotFoundError, match='Resume checkpoint not found'):
        check_resume_checkpoint(str(tmp_path / 'work' / 'iter_9.pth'))
    not_training = str(tmp_path / 'weights.pth')
    torch.save({'w': torch.zeros(1)}, not_training)
    with pytest.raises(RuntimeError, match='not a training checkpoint'):
        check_resume_checkpoint(not_training)


def _run_tool(cmd, cwd) -> subprocess.CompletedProcess:
    """Run a training tool in ``cwd`` (where data/shapes is linked)."""
    return subprocess.run(
        cmd,
        cwd=str(cwd),
        env=_tool_env(),
        capture_output=True,
        text=True,
        timeout=300)


def _tool_env():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR',
                     'MASTER_PORT')
    }
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
    env['PYTHONWARNINGS'] = 'ignore'
    env['OMP_NUM_THREADS'] = '1'
    return env


@pytest.mark.parametrize('tool', ['ours', 'mmdet'])
@pytest.mark.slow
def test_truncated_checkpoint_through_train_tools(tool, straight_runs,
                                                  shapes_root, tmp_path):
    """``--resume`` of a truncated file stops before training, in our
    tools/train.py and in mmdet's own (through the config's hooks)."""
    _, work_dir = straight_runs('student', 2)
    broken = _truncated_copy(
        osp.join(work_dir, 'iter_2.pth'), str(tmp_path / 'work'))
    before = (open(broken, 'rb').read(), os.stat(broken).st_mtime_ns)
    script = _tool_script(tool)
    # the configs' data_root is data/shapes/, relative to the working dir
    os.makedirs(str(tmp_path / 'data'))
    os.symlink(shapes_root, str(tmp_path / 'data' / 'shapes'))
    cmd = [
        sys.executable, script, STUDENT_CONFIG, '--work-dir',
        str(tmp_path / 'work'), '--resume', broken
    ]
    proc = _run_tool(cmd, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert f'Cannot resume from {broken}: it is unreadable' in out, out[-3000:]
    assert (open(broken, 'rb').read(), os.stat(broken).st_mtime_ns) == before


def _tool_script(tool):
    if tool == 'ours':
        return osp.join(REPO_ROOT, 'tools', 'train.py')
    import mmdet
    script = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', 'train.py')
    if not osp.isfile(script):
        pytest.skip('mmdet was installed without its tools')
    return script


# ours: a config without our hooks (like a plain mmdet student config);
# tools/train.py adds them. mmdet: its train.py with the shapes config,
# which imports mmkd_det (custom_imports) and lists the hooks itself.
@pytest.mark.parametrize('tool, options', [
    ('mmdet', []),
    ('ours', ['custom_hooks=[]']),
])
@pytest.mark.slow
def test_resume_is_bit_exact_through_train_tools(tool, options, shapes_root,
                                                 tmp_path):
    script = _tool_script(tool)
    os.makedirs(str(tmp_path / 'data'))
    os.symlink(shapes_root, str(tmp_path / 'data' / 'shapes'))
    options = options + [
        'train_cfg.max_iters=4', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=1',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False'
    ]

    def train(work_dir, *extra):
        cmd = [
            sys.executable, script, STUDENT_CONFIG, '--work-dir',
            str(tmp_path / work_dir), *extra, '--cfg-options', *options
        ]
        proc = _run_tool(cmd, tmp_path)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
        return proc.stdout + proc.stderr

    log, straight, resumed, diff = straight_vs_resumed(train, tmp_path)
    assert 'resumed epoch: 0, iter: 2' in log
    assert 'holds no random states' not in log
    assert CHECKPOINT_KEY in resumed
    print(f'\n{tool} tools/train.py, student (num_workers=1): straight 4 '
          f'iterations vs 2 + --resume: max |dw| = {diff} over '
          f'{len(straight["state_dict"])} tensors')
    assert diff == 0.0


def test_rng_hook_does_not_restore_foreign_states(logged):
    """States from another world size, a load without resume and CUDA states
    on a machine without CUDA are not restored, each with a warning."""
    from types import SimpleNamespace

    from mmkd_det.engine import RNGStateHook
    state = get_rng_state()
    runner = SimpleNamespace(_resume=True, seed=0)

    hook = RNGStateHook()
    hook.after_load_checkpoint(
        runner, {
            'meta': {
                'seed': 0
            },
            CHECKPOINT_KEY: dict(world_size=2, states=[state, state])
        })
    assert hook._resumed is None
    assert 'this run has 1. Random states are not restored' in logged[-1]

    hook.after_load_checkpoint(
        SimpleNamespace(_resume=False, seed=0), {
            'meta': {},
            CHECKPOINT_KEY: dict(world_size=1, states=[state])
        })
    assert hook._resumed is None  # load_from without resume: a new stream

    hook.after_load_checkpoint(
        runner, {
            'meta': {
                'seed': 7
            },
            CHECKPOINT_KEY: dict(world_size=1, states=[state])
        })
    assert hook._resumed is state
    assert 'trained with seed 7' in logged[-1]
    assert 'randomness=dict(seed=7)' in logged[-1]

    if not torch.cuda.is_available():
        torch.rand(5)  # move the CPU generator on
        set_rng_state(dict(state, cuda=[torch.zeros(16, dtype=torch.uint8)]))
        assert 'CUDA random numbers are not restored' in logged[-1]
        assert torch.equal(torch.get_rng_state(), state['torch'])


# Resume within a tolerance: with deterministic=True the torch ops are
# deterministic (or raise), but mmcv's CUDA RoIAlign backward accumulates
# with atomicAdd, so two CUDA runs of the same iterations may differ in the
# last bits of a gradient. After 2 SGD steps that is far below 1e-5 on
# weights of order 0.01-1; a lost random state changes them by much more
# (the student checkpoint without random states above: 1.8e-4 on CPU). On
# CPU the runs are bit-exact.
RESUME_ATOL = {'cpu': 0.0, 'cuda': 1e-5}


@pytest.fixture
def deterministic_algorithms():
    """Put back torch's process-wide switches that ``deterministic=True``
    turns on (``torch.use_deterministic_algorithms``, cuDNN's flags)."""
    cudnn = torch.backends.cudnn
    before = (torch.are_deterministic_algorithms_enabled(),
              cudnn.deterministic, cudnn.benchmark)
    yield
    torch.use_deterministic_algorithms(before[0])
    cudnn.deterministic, cudnn.benchmark = before[1:]


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.slow
def test_distill_resume_deterministic(device, shapes_root, teacher_checkpoint,
                                      tmp_path, monkeypatch,
                                      deterministic_algorithms):
    """LumiNet distillation with ``randomness.deterministic=True``: 2
    iterations, resume, 2 more vs 4 straight, on each device."""
    runner_device(monkeypatch, device)
    # cuBLAS is deterministic only with this workspace setting
    monkeypatch.setenv('CUBLAS_WORKSPACE_CONFIG', ':4096:8')

    def config(work_dir):
        return _cfg(
            LUMINET, shapes_root, str(tmp_path / work_dir), 0, **{
                'model.teacher.checkpoint': teacher_checkpoint,
                'randomness.deterministic': True
            })

    straight = _train(config('straight'))
    checkpoint = str(tmp_path / 'straight' / 'iter_2.pth')
    resumed = _train(config('resumed'), resume_from=checkpoint)
    with checkpoint_safe_globals():
        states = torch.load(checkpoint)[CHECKPOINT_KEY]['states'][0]
    assert ('cuda' in states) == (device == 'cuda'), sorted(states)
    assert torch.are_deterministic_algorithms_enabled()
    diff = max_abs_diff(straight, resumed)
    print(f'\n{device}, deterministic: straight 4 iterations vs 2 + resume: '
          f'max |dw| = {diff} (tolerance {RESUME_ATOL[device]})')
    assert diff <= RESUME_ATOL[device]
