"""Config edits shared by the training and testing tools."""
from mmengine.config import Config, ConfigDict

_DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
_EVALUATORS = ('val_evaluator', 'test_evaluator')


def _datasets(loader_cfg: ConfigDict):
    """Yield the dataset configs of a dataloader, through dataset wrappers."""
    stack = [loader_cfg.get('dataset')]
    while stack:
        dataset = stack.pop()
        if dataset is None:
            continue
        if isinstance(dataset, (list, tuple)):
            stack.extend(dataset)
        elif 'datasets' in dataset:  # ConcatDataset
            stack.extend(dataset['datasets'])
        elif 'dataset' in dataset:  # RepeatDataset, ClassBalancedDataset
            stack.append(dataset['dataset'])
        else:
            yield dataset


def override_data_root(cfg: Config, data_root: str) -> None:
    """Point every dataset and COCO evaluator of ``cfg`` at ``data_root``.

    A config's evaluator ``ann_file`` is spelled out as
    ``data_root + ...`` when the config is read, so overriding ``data_root``
    alone would leave the evaluators reading the old annotations; this
    rewrites both consistently.

    Args:
        cfg (Config): config edited in place.
        data_root (str): the new dataset root, e.g. ``/datasets/coco/``.
    """
    if not data_root.endswith('/'):
        data_root += '/'
    old_roots = set()
    for loader in _DATALOADERS:
        if cfg.get(loader) is None:
            continue
        for dataset in _datasets(cfg[loader]):
            if dataset.get('data_root'):
                old_roots.add(dataset['data_root'])
            dataset['data_root'] = data_root
    for name in _EVALUATORS:
        evaluators = cfg.get(name)
        if evaluators is None:
            continue
        for evaluator in (evaluators if isinstance(evaluators,
                                                   (list,
                                                    tuple)) else [evaluators]):
            ann_file = evaluator.get('ann_file')
            if not ann_file:
                continue
            for old in sorted(old_roots, key=len, reverse=True):
                if ann_file.startswith(old):
                    evaluator['ann_file'] = data_root + ann_file[len(old):]
                    break
            else:
                raise ValueError(
                    f'Cannot move {name}.ann_file="{ann_file}" to '
                    f'--data-root {data_root}: it does not lie under the '
                    f'datasets\' data_root {sorted(old_roots)}. Set it with '
                    f'--cfg-options {name}.ann_file=...')
    cfg.data_root = data_root


def add_config_args(parser) -> None:
    """``--data-root`` and ``--cfg-options``: every tool that reads a config
    through :func:`load_tool_config` has them."""
    from mmengine.config import DictAction
    parser.add_argument(
        '--data-root',
        help='dataset root that replaces the config\'s (datasets and COCO '
        'evaluators alike)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, xxx=yyy format, e.g. '
        'model.teacher.checkpoint=/path/teacher.pth')


def add_common_args(parser) -> None:
    """Arguments that ``tools/train.py`` and ``tools/test.py`` share."""
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    add_config_args(parser)
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_tool_config(args) -> Config:
    """Read the config and apply the shared command-line overrides.

    Every tool that reads a config goes through here, so they all register
    mmdet's modules the same way and treat ``--cfg-options`` and
    ``--data-root`` alike.

    Args:
        args (argparse.Namespace): ``config`` plus any of the
            :func:`add_common_args` arguments (``cfg_options``,
            ``data_root``, ``work_dir``, ``launcher``, ``local_rank``); a
            tool without some of them (e.g. no ``--launcher``) gets their
            defaults.

    Returns:
        Config: the config, with ``launcher`` and ``work_dir`` set.
    """
    import os
    import os.path as osp

    from mmdet.utils import (register_all_modules,
                             setup_cache_size_limit_of_dynamo)
    os.environ.setdefault('LOCAL_RANK', str(getattr(args, 'local_rank', 0)))
    register_all_modules(init_default_scope=True)
    setup_cache_size_limit_of_dynamo()
    cfg = Config.fromfile(args.config)
    cfg.launcher = getattr(args, 'launcher', 'none')
    cfg_options = getattr(args, 'cfg_options', None)
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    data_root = getattr(args, 'data_root', None)
    if data_root is not None:
        override_data_root(cfg, data_root)
    work_dir = getattr(args, 'work_dir', None)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def add_mmkd_hooks(cfg: Config) -> None:
    """Add the hooks our tools rely on to ``cfg.custom_hooks`` if missing.

    ``SafeCheckpointLoadHook`` (allow-list while the runner loads, readable
    resume checkpoint) and ``RNGStateHook`` (exact resume) for every config,
    ``TeacherCheckHook`` for distillers. Plain mmdet student configs thus
    resume exactly through ``tools/train.py`` without naming our hooks.

    Args:
        cfg (Config): edited in place.
    """
    hooks = list(cfg.get('custom_hooks') or [])
    present = {
        str(hook.get('type')).split('.')[-1]
        for hook in hooks if isinstance(hook, dict)
    }
    wanted = ['SafeCheckpointLoadHook', 'RNGStateHook']
    if cfg.get('model', {}).get('type') == 'RoIDistiller':
        wanted.append('TeacherCheckHook')
    hooks += [dict(type=name) for name in wanted if name not in present]
    cfg.custom_hooks = hooks


def build_runner(cfg: Config):
    """Build the config's runner, after the CPU-only distributed set-up and
    :func:`add_mmkd_hooks`."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from .distributed import setup_cpu_distributed
    setup_cpu_distributed(cfg)
    add_mmkd_hooks(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
