"""Checkpoint loading inside the runner: the allow-list and a readable file.

The runner loads its checkpoint (``load_from`` / resume) in
``load_or_resume``, between the ``before_run`` hooks and the first
``before_train`` / ``before_val`` / ``before_test`` hook. This hook applies
the ``weights_only`` allow-list (:func:`checkpoint_safe_globals`) exactly in
that window, so mmdet's own ``tools/train.py`` resumes on torch >= 2.6 too,
and checks a resume checkpoint before MMEngine touches it.
"""
import glob
import os.path as osp
import re
import zipfile
from typing import List, Optional

import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import find_latest_checkpoint

from ..utils.checkpoint_safety import checkpoint_safe_globals


def _checkpoint_number(path: str) -> int:
    match = re.search(r'(\d+)\.pth$', osp.basename(path))
    return int(match.group(1)) if match else -1


def other_checkpoints(path: str) -> List[str]:
    """The ``iter_*.pth`` / ``epoch_*.pth`` files next to ``path``, newest
    first, without ``path`` itself."""
    folder = osp.dirname(osp.abspath(path))
    found = glob.glob(osp.join(folder, 'iter_*.pth')) + glob.glob(
        osp.join(folder, 'epoch_*.pth'))
    found = [p for p in found if osp.abspath(p) != osp.abspath(path)]
    return sorted(found, key=_checkpoint_number, reverse=True)


def check_resume_checkpoint(path: str) -> dict:
    """Raise a clear error if ``path`` cannot be resumed from.

    The file is only read (memory-mapped when it is a zip archive, so the
    tensors are not copied); it is never modified.

    Args:
        path (str): the checkpoint to resume from.

    Returns:
        dict: the checkpoint's ``meta``.

    Raises:
        FileNotFoundError: the file does not exist.
        RuntimeError: the file is unreadable (e.g. truncated by a job killed
            while saving) or not a training checkpoint.
    """
    others = other_checkpoints(path)
    fix = ('Resume from an earlier checkpoint: tools/train.py CONFIG '
           '--resume PATH (mmdet\'s train.py: --resume PATH). ' +
           (f'Checkpoints next to it, newest first: {others}.' if others else
            'There is no other checkpoint next to it; train without '
            '--resume.'))
    if not osp.isfile(path):
        raise FileNotFoundError(f'Resume checkpoint not found: {path}. {fix}')
    try:
        with checkpoint_safe_globals():
            checkpoint = torch.load(
                path, map_location='cpu', mmap=zipfile.is_zipfile(path))
    except Exception as err:  # truncated, corrupted, or not a checkpoint
        raise RuntimeError(
            f'Cannot resume from {path}: it is unreadable '
            f'({type(err).__name__}: {str(err).split(". ")[0][:200]}), e.g. '
            'truncated by a job killed while saving. The file was left as it '
            f'is. {fix}') from err
    missing = [
        key for key in ('meta', 'state_dict')
        if not isinstance(checkpoint, dict) or key not in checkpoint
    ]
    if missing:
        raise RuntimeError(
            f'Cannot resume from {path}: it is not a training checkpoint '
            f'(no {missing}). {fix}')
    return checkpoint['meta']


@HOOKS.register_module()
class SafeCheckpointLoadHook(Hook):
    """Allow-list MMEngine's checkpoint objects while the runner loads.

    Enters :func:`checkpoint_safe_globals` in ``before_run`` and leaves it
    once the checkpoint is loaded (``after_load_checkpoint``) or, when there
    is none, at the first ``before_train`` / ``before_val`` /
    ``before_test`` (and in ``after_run`` at the latest). Before a resume it
    runs :func:`check_resume_checkpoint`.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._context = None

    def _enter(self) -> None:
        if self._context is None:
            self._context = checkpoint_safe_globals()
            self._context.__enter__()

    def _leave(self) -> None:
        if self._context is not None:
            context, self._context = self._context, None
            context.__exit__(None, None, None)

    @staticmethod
    def resume_path(runner) -> Optional[str]:
        """The checkpoint the runner will resume from, if it resumes."""
        if not getattr(runner, '_resume', False) or runner._has_loaded:
            return None
        if runner._load_from is not None:
            return runner._load_from
        return find_latest_checkpoint(runner.work_dir)

    def before_run(self, runner) -> None:
        path = self.resume_path(runner)
        if path is not None and '://' not in path:
            check_resume_checkpoint(path)
        self._enter()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._leave()

    def before_train(self, runner) -> None:
        self._leave()

    def before_val(self, runner) -> None:
        self._leave()

    def before_test(self, runner) -> None:
        self._leave()

    def after_run(self, runner) -> None:
        self._leave()
