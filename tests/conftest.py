"""Shared test helpers: a tiny shapes dataset, tiny configs, teacher
checkpoints (random and briefly trained), a free TCP port for process groups,
device parameters and tools loaded as modules.

Everything runs on CPU in seconds: 96x96 images, a handful of them, and the
shapes detector configs shortened to a few iterations. Markers (registered
in setup.cfg): ``slow`` for end-to-end subprocess runs of the tools,
``dist`` for multi-process gloo groups; ``make test-fast`` leaves both out.
``cuda`` marks the variants that need a CUDA device: skipped (with the
reason in the summary) where there is none, run alone with ``-m cuda``
(tools/gpu/device_check.sh on a GPU machine).
"""
import contextlib
import copy
import datetime
import functools
import gc
import importlib.util
import json
import os
import os.path as osp
import socket
import time
from typing import Callable, Iterator, Tuple

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

import mmkd_det  # noqa: F401  (registers the package's modules)
from mmkd_det.datasets import generate_shapes_dataset
from mmkd_det.engine import override_data_root
from mmkd_det.engine.distributed import close_distributed

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO_ROOT, 'configs')
TOOLS = osp.join(REPO_ROOT, 'tools')
TEACHER_CONFIG = osp.join(CONFIGS, 'detectors',
                          'faster-rcnn_r18-w16_fpn_shapes.py')
CASCADE_TEACHER_CONFIG = osp.join(CONFIGS, 'detectors',
                                  'cascade-rcnn_r34-w32_fpn_shapes.py')
STUDENT_CONFIG = osp.join(CONFIGS, 'detectors',
                          'faster-rcnn_r18-w4_fpn_shapes.py')

register_all_modules(init_default_scope=True)

#: the marks of a test or parameter that needs CUDA
CUDA_MARKS = (pytest.mark.cuda,
              pytest.mark.skipif(
                  not torch.cuda.is_available(),
                  reason='needs a CUDA device (none here); on a GPU machine '
                  'run `pytest -m cuda` or tools/gpu/device_check.sh'))


def on_cuda(*values, id: str = None):
    """A ``pytest.param`` of ``values`` that runs only where CUDA is."""
    return pytest.param(*values, marks=CUDA_MARKS, id=id)


#: ``@pytest.mark.parametrize('device', DEVICES)``: the CPU variant runs
#: everywhere, the CUDA one only with a CUDA device
DEVICES = ('cpu', on_cuda('cuda'))


def runner_device(monkeypatch, device: str) -> None:
    """Make MMEngine runners put the model on ``device``: they pick CUDA
    whenever it exists, so a CPU variant must say so on a GPU machine."""
    import mmengine.runner.runner as runner_module
    monkeypatch.setattr(runner_module, 'get_device', lambda: device)


def free_port() -> int:
    """A TCP port that is free now, for a gloo group's ``MASTER_PORT``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gloo_group(rank: int,
               world_size: int,
               port: int,
               timeout_s: float,
               backend: str = 'gloo') -> Iterator[None]:
    """A one-thread gloo group (or ``backend``'s, e.g. ``'nccl'`` with one
    GPU per rank) on ``127.0.0.1:port`` for the body of the ``with``, inside
    a spawned rank.

    However the body ends, the group closes through the product's
    ``close_distributed()`` (barrier, then destroy), so that no rank tears
    gloo down while its peer still uses it. Before that, a garbage
    collection frees what still holds the group: the first DDP wrapper of a
    process stays in a reference cycle after its function returns (torch's
    lazy import of ``torch._dynamo`` in its constructor), and a DDP freed
    after the peer had closed gloo hung about 1 run in 4.

    Args:
        rank: This process's rank.
        world_size: Number of ranks.
        port: A free TCP port (``free_port()`` in the parent).
        timeout_s: Timeout of the group's collectives, in seconds.
        backend: ``'gloo'`` or ``'nccl'`` (rank r then uses ``cuda:r``).

    Yields:
        None, with the default process group initialized.
    """
    torch.set_num_threads(1)
    if backend == 'nccl':
        torch.cuda.set_device(rank)
    dist.init_process_group(
        backend,
        init_method=f'tcp://127.0.0.1:{port}',
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=timeout_s))
    try:
        yield
    finally:
        gc.collect()
        close_distributed()


def run_ranks(worker: Callable,
              args: tuple,
              nprocs: int = 2,
              timeout_s: float = 180.0) -> None:
    """Run ``worker(rank, *args)`` in ``nprocs`` spawned processes.

    A worker's exception fails the test (re-raised by ``join``). A rank that
    never finishes (a gloo deadlock) fails it too, after ``timeout_s``,
    instead of hanging the whole test run.
    """
    ctx = mp.start_processes(
        worker, args=args, nprocs=nprocs, join=False, start_method='spawn')
    deadline = time.monotonic() + timeout_s
    while not ctx.join(timeout=1):
        if time.monotonic() > deadline:
            alive = [r for r, p in enumerate(ctx.processes) if p.is_alive()]
            for process in ctx.processes:
                process.kill()
            pytest.fail(f'ranks {alive} of {nprocs} did not finish within '
                        f'{timeout_s:.0f} s (a gloo deadlock?)')


def max_abs_diff(a: dict, b: dict) -> float:
    """Largest |a - b| over two state dicts with the same keys."""
    assert a.keys() == b.keys()
    return max(
        (x.double() - y.double()).abs().max().item() if x.numel() else 0.0
        for x, y in zip(a.values(), (b[k] for k in a)))


def straight_vs_resumed(train: Callable[..., str],
                        root) -> Tuple[str, dict, dict, float]:
    """The resume protocol: ``train('straight')`` runs 4 iterations,
    ``train('resumed', '--resume', <straight/iter_2.pth>)`` 2 more after
    resuming (``train(work_dir, *extra)`` trains into ``root/work_dir`` and
    returns the log).

    Returns:
        tuple: the resumed run's log, both ``iter_4.pth`` checkpoints
        (straight, resumed; loaded with mmkd_det's weights_only-safe
        globals) and the largest weight difference between them.
    """
    from mmkd_det.utils import checkpoint_safe_globals
    train('straight')
    log = train('resumed', '--resume',
                osp.join(str(root), 'straight', 'iter_2.pth'))
    with checkpoint_safe_globals():
        straight, resumed = (
            torch.load(osp.join(str(root), run, 'iter_4.pth'))
            for run in ('straight', 'resumed'))
    diff = max_abs_diff(straight['state_dict'], resumed['state_dict'])
    return log, straight, resumed, diff


def load_tool(relpath: str):
    """Import a script under ``tools/`` (e.g. ``'analysis/calibration.py'``)
    as a module, to test its functions in-process."""
    name = osp.splitext(relpath.replace('/', '_'))[0] + '_tool'
    spec = importlib.util.spec_from_file_location(name,
                                                  osp.join(TOOLS, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory):
    """A tiny shapes dataset: 8 training, 4 validation and 4 tuning images
    of 96x96."""
    root = str(tmp_path_factory.mktemp('shapes'))
    generate_shapes_dataset(
        root,
        seed=0,
        num_train=8,
        num_val=4,
        num_tune=4,
        size=(96, 96),
        object_size=(10, 60))
    return root


def tree_bytes(root: str) -> dict:
    """Relative path -> bytes of every file under ``root``."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = f.read()
    return out


@functools.lru_cache(maxsize=None)
def _parsed_config(path: str) -> Config:
    return Config.fromfile(path)


def load_config(path: str) -> Config:
    """``Config.fromfile(path)``, parsed once per test session (parsing an
    ``mmdet::`` config takes ~0.3 s); each call returns an independent copy.
    """
    return copy.deepcopy(_parsed_config(osp.abspath(path)))


def tiny_config(path: str,
                data_root: str,
                work_dir: str,
                max_iters: int = 4,
                val_interval: int = None,
                **options) -> Config:
    """Load ``path`` and shrink it to a few single-process CPU iterations.

    Args:
        path (str): config file.
        data_root (str): dataset root (see :func:`override_data_root`).
        work_dir (str): where the runner writes.
        max_iters (int): training iterations.
        val_interval (int): validation interval; default: at the end only.
        **options: further ``merge_from_dict`` overrides.

    Returns:
        Config: the edited config.
    """
    cfg = Config.fromfile(path)
    override_data_root(cfg, data_root)
    cfg.work_dir = work_dir
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = val_interval or max_iters
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
        cfg[loader].batch_size = 2
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = max_iters
    # keep all (None breaks CheckpointHook)
    cfg.default_hooks.checkpoint.max_keep_ckpts = -1
    if cfg.get('teacher_check'):  # the fixture teacher is untrained (AP 0)
        cfg.teacher_check.num_images = 0
    cfg.merge_from_dict(options)
    return cfg


def save_random_detector(config: str, path: str, seed: int = 0) -> str:
    """Build ``config``'s model with random weights and save it at ``path``
    in a runner's checkpoint layout; return ``path``."""
    cfg = Config.fromfile(config)
    torch.manual_seed(seed)
    detector = MODELS.build(cfg.model)
    detector.init_weights()
    torch.save(
        {
            'meta': {
                'note': 'test teacher'
            },
            'state_dict': detector.state_dict()
        }, path)
    return path


@pytest.fixture(scope='session')
def teacher_checkpoint(tmp_path_factory):
    """A randomly initialised shapes teacher, saved as a runner saves it."""
    return save_random_detector(
        TEACHER_CONFIG,
        str(tmp_path_factory.mktemp('teacher') / 'teacher.pth'))


#: iterations of :func:`trained_teacher_checkpoint` (about 25 s on one core)
TRAINED_TEACHER_ITERS = 200


@pytest.fixture(scope='session')
def trained_teacher_checkpoint(shapes_root, tmp_path_factory):
    """The shapes teacher trained for :data:`TRAINED_TEACHER_ITERS`
    iterations on the 8 tiny training images (loss from 3.1 to about 1.0).

    Precision tests need it: a randomly initialised box head gives logits
    near 0 (fc_cls ~ N(0, 0.01)), where any precision looks exact; trained
    logits span several units, like a real teacher's.
    """
    from mmengine.runner import Runner
    work_dir = str(tmp_path_factory.mktemp('trained_teacher'))
    cfg = tiny_config(
        TEACHER_CONFIG,
        shapes_root,
        work_dir,
        max_iters=TRAINED_TEACHER_ITERS,
        experiment_name='trained_teacher')
    cfg.default_hooks.logger.interval = 50
    Runner.from_cfg(cfg).train()
    return osp.join(work_dir, f'iter_{TRAINED_TEACHER_ITERS}.pth')


@pytest.fixture(scope='session')
def cascade_teacher_checkpoint(tmp_path_factory):
    """A randomly initialised shapes Cascade R-CNN teacher."""
    return save_random_detector(
        CASCADE_TEACHER_CONFIG,
        str(tmp_path_factory.mktemp('teacher') / 'cascade_teacher.pth'))


@pytest.fixture
def logged(monkeypatch):
    """Messages passed to ``print_log`` by mmkd_det's engine modules.

    MMEngine's logger writes to the stream that was ``sys.stdout`` when it
    was created, which pytest's capture may not see; this records the
    messages themselves (and still logs them).
    """
    from mmkd_det.engine import rng_state_hook, teacher_check_hook
    messages = []
    for module in (rng_state_hook, teacher_check_hook):
        real = module.print_log

        def record(msg, *args, _real=real, **kwargs):
            messages.append(str(msg))
            return _real(msg, *args, **kwargs)

        monkeypatch.setattr(module, 'print_log', record)
    return messages


# ------------------------------------ comparison runs without training
def _option(cmd, key):
    opts = cmd[cmd.index('--cfg-options') + 1:]
    return next(o.split('=', 1)[1] for o in opts if o.startswith(key + '='))


class FakeTrainer:
    """Writes what a finished train.py run leaves."""

    def __init__(self):
        self.calls = []
        self.commands = []  # every command it was given
        self.threads = {}
        self.teacher_ready = {}  # distillation run -> teacher file existed

    def __call__(self, cmd, log_path, env):
        self.commands.append(list(cmd))
        tool = osp.basename(cmd[1])
        if tool == 'train.py':
            work_dir = cmd[cmd.index('--work-dir') + 1]
            # a local name: parallel jobs call this from several threads
            name = osp.relpath(work_dir,
                               osp.dirname(osp.dirname(osp.dirname(work_dir))))
            self.calls.append(name)
            self.threads[name] = env['OMP_NUM_THREADS']
            if any(o.startswith('model.teacher.checkpoint=') for o in cmd):
                self.teacher_ready[name] = osp.isfile(
                    _option(cmd, 'model.teacher.checkpoint'))
            iters = int(_option(cmd, 'train_cfg.max_iters'))
            seed = int(_option(cmd, 'randomness.seed'))
            method = osp.basename(osp.dirname(work_dir))
            ap = 0.2 + 0.01 * seed + 0.03 * (method != 'student')
            vis = osp.join(work_dir, '20260101_000000', 'vis_data')
            os.makedirs(vis)
            with open(osp.join(vis, 'scalars.json'), 'w') as f:
                for step in (iters // 2, iters):
                    f.write(
                        json.dumps({
                            'coco/bbox_mAP': ap * step / iters,
                            'coco/bbox_mAP_50': 0.5,
                            'coco/bbox_mAP_75': 0.2,
                            'coco/d_ece': 0.05,
                            'step': step
                        }) + '\n')
            open(osp.join(work_dir, f'iter_{iters}.pth'), 'wb').close()
        else:
            raise AssertionError(f'a comparison run started {tool}')


@pytest.fixture
def fake_root(tmp_path):
    """Split files only: the stub never reads them."""
    root = tmp_path / 'data'
    for split in ('val', 'tune'):
        (root / split).mkdir(parents=True)
    (root / 'annotations').mkdir()
    for split in ('val', 'tune'):
        (root / 'annotations' / f'instances_{split}.json').write_text('{}')
    return str(root)
