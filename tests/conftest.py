"""Shared fixtures: a tiny shapes dataset, tiny configs and a teacher checkpoint.

Everything runs on CPU in seconds: 96x96 images, a handful of them, and the
shapes detector configs shortened to a few iterations.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

import mmkd_det  # noqa: F401  (registers the package's modules)
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmkd_det.datasets import generate_shapes_dataset
from mmkd_det.engine import override_data_root

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO_ROOT, 'configs')
TEACHER_CONFIG = osp.join(CONFIGS, 'detectors', 'faster-rcnn_r34-w32_fpn_shapes.py')
STUDENT_CONFIG = osp.join(CONFIGS, 'detectors', 'faster-rcnn_r18-w16_fpn_shapes.py')

register_all_modules(init_default_scope=True)


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory):
    """A tiny shapes dataset: 8 training and 4 validation images of 96x96."""
    root = str(tmp_path_factory.mktemp('shapes'))
    generate_shapes_dataset(
        root, seed=0, num_train=8, num_val=4, size=(96, 96),
        object_size=(10, 60))
    return root


def tiny_config(path: str, data_root: str, work_dir: str, max_iters: int = 4,
                val_interval: int = None, **options) -> Config:
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
    cfg.default_hooks.checkpoint.max_keep_ckpts = -1  # keep all (None breaks CheckpointHook)
    if cfg.get('teacher_check'):  # the fixture teacher is untrained (AP 0)
        cfg.teacher_check.num_images = 0
    cfg.merge_from_dict(options)
    return cfg


@pytest.fixture(scope='session')
def teacher_checkpoint(tmp_path_factory):
    """A randomly initialised shapes teacher saved as a runner would save it."""
    cfg = Config.fromfile(TEACHER_CONFIG)
    torch.manual_seed(0)
    teacher = MODELS.build(cfg.model)
    teacher.init_weights()
    path = str(tmp_path_factory.mktemp('teacher') / 'teacher.pth')
    torch.save({'meta': {'note': 'test teacher'},
                'state_dict': teacher.state_dict()}, path)
    return path


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
