"""The linear warm-up of the distillation losses.

LumiNet's official code ramps its distillation term in as
``min(epoch / WARMUP, 1)`` (20 of 240 CIFAR epochs); the tuned settings of
issue 9 take that ramp as a fraction of the schedule (1/12), so one config
line serves a 3500-iteration shapes run and a 180k-iteration or 24-epoch
COCO run alike.
"""
import logging

from mmengine.logging import MessageHub, print_log


class DistillWarmup:
    """Factor in (0, 1] on the distillation losses at the current iteration.

    Args:
        iters (int): ramp over this many iterations; 0: no ramp.
        fraction (float): or over this fraction of the run's ``max_iters``
            (rounded), read from mmengine's message hub, which the runner
            fills before training (``RuntimeInfoHook``); 0: no ramp. At most
            one of ``iters`` and ``fraction`` may be set.

    Raises:
        ValueError: a negative value, a fraction >= 1, or both set.
    """

    def __init__(self, iters: int = 0, fraction: float = 0.0) -> None:
        if iters < 0 or not 0 <= fraction < 1:
            raise ValueError(
                'distill_warmup_iters must be >= 0 and '
                f'distill_warmup_fraction in [0, 1), got {iters} and '
                f'{fraction}.')
        if iters and fraction:
            raise ValueError(
                f'Set one of distill_warmup_iters ({iters}) and '
                f'distill_warmup_fraction ({fraction}), not both: the '
                'fraction of the schedule is turned into iterations at run '
                'time.')
        self.iters = int(iters)
        self.fraction = float(fraction)
        self._warned = False

    def ramp_iters(self) -> int:
        """The ramp's length in iterations (0: none).

        Outside an mmengine runner (analysis tools, benchmarks, a loop of
        one's own) there is no ``max_iters``: the fraction is then not
        applied, with a warning, as such callers have no schedule.
        """
        if not self.fraction:
            return self.iters
        max_iters = MessageHub.get_current_instance().get_info('max_iters')
        if not max_iters:
            if not self._warned:
                self._warned = True
                print_log(
                    f'distill_warmup_fraction={self.fraction:g} is not '
                    "applied: no max_iters in mmengine's message hub (not "
                    'run by an mmengine runner). Set distill_warmup_iters '
                    'for a loop of your own.',
                    logger='current',
                    level=logging.WARNING)
            return 0
        return max(1, round(self.fraction * max_iters))

    def factor(self) -> float:
        """``min(1, (iter + 1) / ramp)``; 1 without a ramp."""
        ramp = self.ramp_iters()
        if ramp == 0:
            return 1.0
        cur_iter = MessageHub.get_current_instance().get_info('iter', 0)
        return min(1.0, (cur_iter + 1) / ramp)
