"""Multi-process training on machines without CUDA (gloo backend).

MMEngine's ``pytorch`` launcher calls ``torch.cuda.set_device`` before it
initialises the process group, and its DDP wrapper passes
``device_ids=[LOCAL_RANK]``; both fail when torch has no CUDA. CPU-only runs
(CI, debugging a distributed bug on a laptop) therefore initialise the gloo
process group themselves, before the runner does, and build the DDP wrapper
with ``device_ids=None``. Machines with CUDA are left untouched.
"""
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log

_ENV_VARS = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')


def setup_cpu_distributed(cfg: Config) -> bool:
    """Prepare ``cfg`` and the process group for CPU-only distributed runs.

    Call it before ``Runner.from_cfg(cfg)``. The runner skips its own
    initialisation when a process group already exists.

    Args:
        cfg (Config): the full config; ``cfg.launcher`` names the launcher.

    Returns:
        bool: True if the process group was initialised here (CPU, gloo).
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise RuntimeError(
            f'Launcher "{launcher}" needs CUDA, which this torch build lacks. '
            'Without GPUs use `--launcher pytorch` (tools/dist_train.sh), '
            'which trains on CPU with the gloo backend.')
    missing = [name for name in _ENV_VARS if name not in os.environ]
    if missing:
        raise RuntimeError(
            f'The pytorch launcher needs the environment variables {missing}; '
            'start the script with torchrun (see tools/dist_train.sh).')
    # ConfigDict.setdefault returns the plain default dict, not the copy it
    # stores, so edits through it would be lost: assign, then read back.
    if cfg.get('env_cfg') is None:
        cfg.env_cfg = dict()
    if cfg.env_cfg.get('dist_cfg') is None:
        cfg.env_cfg.dist_cfg = dict()
    dist_cfg = cfg.env_cfg.dist_cfg
    if dist_cfg.get('backend', 'gloo') != 'gloo':
        print_log(
            f'No CUDA: using the gloo backend instead of '
            f'"{dist_cfg["backend"]}".',
            logger='current')
    dist_cfg['backend'] = 'gloo'
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend='gloo', init_method='env://')

    wrapper_cfg = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    # CPU modules reject device ids; the runner's default passes LOCAL_RANK.
    wrapper_cfg['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper_cfg
    return True


def close_distributed() -> None:
    """Destroy the default process group, if any, before the process exits.

    A gloo group left to interpreter shutdown can abort a rank after a
    finished run ("terminate called without an active exception", SIGABRT;
    seen in about 1 of 3 two-process CPU runs here), which torchrun then
    reports as a failed job.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
