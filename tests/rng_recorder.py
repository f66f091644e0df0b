"""Test helper hook: every rank writes down its own random states.

``RNGStateHook`` gathers all ranks' states into rank 0's checkpoint; to
check that entry ``r`` of the checkpoint really is rank ``r``'s, each rank
needs its own record. A training run gets this hook through a config with
``custom_imports=dict(imports=['rng_recorder'])`` (this folder on
``PYTHONPATH``; see ``test_tools.py``). It only reads the generators, so the
run trains exactly as without it.
"""
import os
import os.path as osp

import torch
from mmdet.registry import HOOKS
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmkd_det.engine.rng_state_hook import get_rng_state

#: Folder of the records under the run's work dir.
RECORD_DIR = 'rng_record'


def record_path(work_dir: str, iteration: int, rank: int) -> str:
    """The file that rank ``rank`` wrote after training ``iteration``
    (1-based, as in checkpoint names)."""
    return osp.join(work_dir, RECORD_DIR, f'iter{iteration}_rank{rank}.pth')


@HOOKS.register_module()
class RecordRNGStateHook(Hook):
    """Save this rank's :func:`get_rng_state` after each training iteration.

    Its priority is RNGStateHook's, and it is listed after it, so it runs
    right after that hook gathers the states for a checkpoint.
    """

    priority = 'LOW'

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        path = record_path(runner.work_dir, runner.iter + 1, get_rank())
        os.makedirs(osp.dirname(path), exist_ok=True)
        torch.save(get_rng_state(), path)
