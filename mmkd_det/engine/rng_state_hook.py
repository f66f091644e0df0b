"""Exact resume: checkpoints carry the random number generators' states.

MMEngine checkpoints hold the model, optimizer, schedulers and message hub
but no random state, so after a resume the RPN and RoI samplers (torch's
global generator) and, without dataloader workers, the augmentations (numpy
and ``random`` in the main process) draw other numbers than the run that was
interrupted. :class:`RNGStateHook` stores every rank's python ``random``,
numpy, torch CPU and (when initialised) CUDA generator states in the
checkpoint and restores this rank's states on resume, right before the first
resumed batch is fetched: after MMEngine has re-seeded (``Runner.resume``
calls ``set_randomness`` when the seeds differ) and after
``IterBasedTrainLoop`` has skipped the already trained batches, which with
``num_workers=0`` runs the augmentation pipeline in this process (on OneDL's
MMEngine 0.10.12 too: see :class:`_RestoreBeforeNextBatch`).

Validation leaves the training generators as it found them (a dataloader
iterator draws its base seed from torch's generator), so a run resumed from a
checkpoint at which the interrupted run also validated continues with the
same numbers.
"""
import logging
import random
from typing import List, Optional

import numpy as np
import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log

CHECKPOINT_KEY = 'rng_states'


def get_rng_state() -> dict:
    """This process's generator states, in ``weights_only``-loadable types.

    Returns:
        dict: ``python`` (``random.getstate()``), ``numpy`` (the legacy
        global MT19937 state, its key as an int64 tensor), ``torch`` (CPU
        ByteTensor) and, if CUDA is initialised, ``cuda`` (one ByteTensor per
        visible device).
    """
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=random.getstate(),
        numpy=dict(
            bit_generator=str(name),
            keys=torch.from_numpy(keys.astype(np.int64)),
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached_gaussian=float(cached)),
        torch=torch.get_rng_state())
    # Querying CUDA would initialise it (and fork-unsafe state) otherwise.
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore states returned by :func:`get_rng_state`.

    Args:
        state (dict): the states; tensors may lie on any device (MMEngine's
            resume maps checkpoints to the current device).
    """
    random.setstate(state['python'])
    np_state = state['numpy']
    np.random.set_state(
        (np_state['bit_generator'],
         np_state['keys'].cpu().numpy().astype(np.uint32), np_state['pos'],
         np_state['has_gauss'], np_state['cached_gaussian']))
    torch.set_rng_state(state['torch'].cpu())
    cuda_states = state.get('cuda')
    if cuda_states is None:
        return
    if not torch.cuda.is_available() or (len(cuda_states)
                                         != torch.cuda.device_count()):
        print_log(
            f'The checkpoint holds CUDA generator states of '
            f'{len(cuda_states)} device(s); this process sees '
            f'{torch.cuda.device_count() if torch.cuda.is_available() else 0}'
            '. CUDA random numbers are not restored.',
            logger='current',
            level=logging.WARNING)
        return
    torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])


def _all_rank_states() -> List[dict]:
    """Every rank's states, in rank order (one collective when distributed)."""
    if get_world_size() == 1:
        return [get_rng_state()]
    return all_gather_object(get_rng_state())


class _RestoreBeforeNextBatch:
    """Wraps the loop's iterator: restores the states before the first
    resumed batch.

    ``IterBasedTrainLoop.run`` first skips the batches trained before the
    checkpoint, then fetches the next batch; the interrupted run's
    generators were in the saved state exactly then. MMEngine 0.10.7 skips
    by fetching the batches; OneDL's 0.10.12 calls ``skip_iter``, which
    advances only the sampler and so leaves dataloader workers' random
    streams where they started. :meth:`skip_iter` fetches them here too, so
    both resume alike (and exactly, with workers). Any other attribute is
    the wrapped iterator's.
    """

    def __init__(self, loop, state: dict) -> None:
        self._loop = loop
        self._iterator = loop.dataloader_iterator
        # 0.10.12's fast_forward_on_resume skips nothing
        self._skip = 0 if getattr(loop, 'fast_forward_on_resume',
                                  False) else loop.iter
        self._state = state

    def __getattr__(self, name: str):
        if name.startswith('__') or '_iterator' not in self.__dict__:
            raise AttributeError(name)  # copy/pickle probes, or no init yet
        return getattr(self._iterator, name)

    def skip_iter(self, num_iters: int) -> None:
        """MMEngine >= 0.10.12's skip: fetch ``num_iters`` batches."""
        for _ in range(num_iters):
            next(self)

    def __iter__(self):
        return self

    def __next__(self):
        if self._skip > 0:
            self._skip -= 1
            return next(self._iterator)
        self._loop.dataloader_iterator = self._iterator  # unwrap: once only
        set_rng_state(self._state)
        return next(self._iterator)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the random states with each checkpoint and restore them on resume.

    Add it with ``custom_hooks = [dict(type='RNGStateHook')]`` (the configs of
    this repository do; ``tools/train.py`` adds it to configs that lack it).
    A checkpoint without the states (written without this hook) resumes with
    a warning. Loading weights with ``load_from`` and ``resume=False`` starts
    a new random stream and does not restore anything.

    Distributed runs: ``Runner.save_checkpoint`` runs on rank 0 only, so the
    states of all ranks are gathered (one ``all_gather_object``) in
    ``after_train_iter`` / ``after_train_epoch`` when a ``CheckpointHook``
    is about to save, and at the start of each validation.
    """

    # after_train_iter must run before CheckpointHook (VERY_LOW) saves
    priority = 'LOW'

    def __init__(self) -> None:
        self._gathered: Optional[tuple] = None  # ((epoch, iter), states)
        self._val_states: Optional[List[dict]] = None
        self._resumed: Optional[dict] = None

    # ------------------------------------------------------------- saving
    @staticmethod
    def _checkpoint_due(runner) -> bool:
        """Whether a CheckpointHook saves after this training iteration
        (its own condition, ``CheckpointHook.after_train_iter``)."""
        for hook in runner.hooks:
            if not isinstance(hook, CheckpointHook) or hook.by_epoch:
                continue
            if hook.every_n_train_iters(runner, hook.interval,
                                        hook.save_begin):
                return True
            if hook.save_last and hook.is_last_train_iter(runner):
                return True
        return False

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if get_world_size() > 1 and self._checkpoint_due(runner):
            self._gathered = ((runner.epoch, runner.iter), _all_rank_states())

    def after_train_epoch(self, runner) -> None:
        if get_world_size() > 1:
            self._gathered = ((runner.epoch, runner.iter), _all_rank_states())

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        world_size = get_world_size()
        if self._val_states is not None:
            # saved during validation (e.g. save_best): training goes on
            # from the states validation started with
            states = self._val_states
        elif world_size == 1:
            states = [get_rng_state()]
        elif self._gathered and self._gathered[0] == (runner.epoch,
                                                      runner.iter):
            states = self._gathered[1]
        else:
            print_log(
                'RNGStateHook: this checkpoint was saved outside '
                'CheckpointHook\'s schedule; only rank 0\'s random states '
                'are stored, and a resume from it is not exact.',
                logger='current',
                level=logging.WARNING)
            states = [get_rng_state()]
        checkpoint[CHECKPOINT_KEY] = dict(
            world_size=world_size, states=list(states))

    # ------------------------------------------------ validation: neutral
    def before_val(self, runner) -> None:
        self._val_states = _all_rank_states()

    def after_val(self, runner) -> None:
        if self._val_states is not None:
            set_rng_state(self._val_states[get_rank()])
            self._val_states = None

    # ----------------------------------------------------------- resuming
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resume', False):
            return
        saved = checkpoint.get(CHECKPOINT_KEY)
        world_size, rank = get_world_size(), get_rank()
        if saved is None:
            print_log(
                'The resumed checkpoint holds no random states (it was '
                'written without RNGStateHook): training continues from the '
                'seeded generators, so it will not repeat the interrupted '
                'run bit for bit.',
                logger='current',
                level=logging.WARNING)
            return
        if saved['world_size'] != world_size or rank >= len(saved['states']):
            print_log(
                f'The checkpoint holds the random states of '
                f'{len(saved["states"])} of {saved["world_size"]} rank(s); '
                f'this run has {world_size}. Random states are not restored.',
                logger='current',
                level=logging.WARNING)
            return
        seed = checkpoint.get('meta', {}).get('seed')
        if seed is not None and seed != runner.seed:
            print_log(
                f'The checkpoint was trained with seed {seed}, this run '
                f'seeded its dataloader workers with {runner.seed}: set '
                f'`randomness=dict(seed={seed})` for an exact resume.',
                logger='current',
                level=logging.WARNING)
        self._resumed = saved['states'][rank]

    def before_train(self, runner) -> None:
        if self._resumed is None:
            return
        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator'):  # IterBasedTrainLoop
            loop.dataloader_iterator = _RestoreBeforeNextBatch(
                loop, self._resumed)
            self._resumed = None

    def before_train_epoch(self, runner) -> None:
        # EpochBasedTrainLoop: the epoch's iterator is created after this
        if self._resumed is not None:
            set_rng_state(self._resumed)
            self._resumed = None
