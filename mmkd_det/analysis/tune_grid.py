"""Tuning grids of the logit methods and the gradient rule behind them.

The grids are what ``compare_methods.py --tune`` runs.

No detection setting was published for LumiNet, the Z-score (logit-
standardized) losses or LDRLD, so their grids are built by a rule, not
guessed (issue 9):

- **temperature**: two levels, the method's official temperature and the
  other value its public code or the DKD detection baseline uses;
- **loss_weight**: at each temperature, the two weights whose per-RoI
  gradient into the student's logits matches plain KD's (T=1, weight 1, the
  DKD detection baseline) on the same sampled RoIs, measured once at the
  start of training (random student) and once on a trained plain student.
  A normalized loss pulls much harder on a random student than on a trained
  one relative to KD, so the two anchors bracket "as hard as KD";
- **warm-up**: LumiNet's official linear ramp of the distillation term,
  20 of 240 CIFAR epochs (1/12 of the schedule), the only loss ramp in
  these methods' public code, against none. The ramp tames the
  start-of-training gradient of the trained-state weight, so that weight is
  run with and without it; the start-matching weight only with it.

That is 2 x 3 = 6 points per method (at most 9 allowed). The weights
belong to the pair they were measured on, so each dataset has its grids
(:data:`TUNE_GRIDS_BY_DATASET`). They are the "loss_weight matching the
reference" column printed by::

    python tools/analysis/gradient_scale.py \\
        configs/distill/kd/kd_<pair>.py \\
        configs/distill/{luminet,zscore-kd,zscore-dkd,ldrld}/*_<pair>.py \\
        --teacher-checkpoint TEACHER.pth [--student-checkpoint STUDENT.pth] \\
        --batches 16 --temperatures 0.7 1 2 4

(digits: the shipped teacher and the plain student of the tune split, seed
0, ``benchmarks/digits/gradient_scale.md``; shapes: that comparison's seed-0
runs, ``benchmarks/shapes/gradient_scale.md``). Weights are rounded to 2
significant digits.

The warm-up is a fraction of the run's iterations
(``model.distill_warmup_fraction``), so the grid follows the schedule.
All settings reach the
run as ``--cfg-options`` of the method's loss key (e.g. ``loss_kd_cls``,
see configs/distill/_base_/losses/).

The measure behind the weights, :func:`per_roi_grad_norm` and
:func:`gradient_table`, is plain arithmetic on RoI logits given to it; the
tool collects those logits from a model it builds.
"""
from typing import Dict, Iterable, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

#: Axes of a grid point, in table order.
AXES = ('temperature', 'loss_weight', 'warmup')

#: LumiNet's official ramp: 20 of 240 CIFAR epochs.
WARMUP = 1 / 12


def _grid(loss_key: str, weights: Dict[float, tuple]) -> dict:
    """``{temperature: (weight matching KD at init, on a trained student)}``
    -> the method's grid entry: per temperature, the start-matching weight
    with the ramp, then the trained-matching weight without and with it."""
    points = []
    for t, (w_start, w_trained) in weights.items():
        points += [
            dict(temperature=t, loss_weight=w_start, warmup=WARMUP),
            dict(temperature=t, loss_weight=w_trained, warmup=0.0),
            dict(temperature=t, loss_weight=w_trained, warmup=WARMUP),
        ]
    return dict(loss_key=loss_key, points=points)


#: The grids of the shapes pair (issue 9), measured on that pair
#: (benchmarks/shapes/gradient_scale.md): method -> loss key in
#: model.logit_losses and its grid points.
SHAPES_TUNE_GRIDS: Dict[str, dict] = {
    # T 0.7: official ImageNet (ALPHA 2); T 4: official CIFAR (lowest)
    'luminet': _grid('loss_kd_cls', {
        0.7: (0.18, 1.7),
        4.0: (0.19, 1.5)
    }),
    # T 2: LS-KD's base temperature; T 1: the DKD detection baseline's
    'zscore-kd': _grid('loss_kd_cls', {
        1.0: (0.17, 4.1),
        2.0: (0.21, 3.8)
    }),
    # T 2: LS-KD's DKD variant; T 1: the DKD detection setting's (alpha 1,
    # beta 0.25 stay, as in the official detection setting)
    'zscore-dkd': _grid('loss_dkd_cls', {
        1.0: (0.17, 5.2),
        2.0: (0.22, 6.8)
    }),
    # T 4: official CIFAR; T 1: the DKD detection baseline's (k 7, a 10.5,
    # b 7 stay: the official relative weights of its two terms)
    'ldrld': _grid('loss_ldrld_cls', {
        1.0: (0.24, 0.034),
        4.0: (0.11, 0.023)
    }),
}

#: The grids of the digits pair, by the same rule, measured on that pair
#: (benchmarks/digits/gradient_scale.md).
DIGITS_TUNE_GRIDS: Dict[str, dict] = {
    # T 0.7: official ImageNet (ALPHA 2); T 4: official CIFAR (lowest)
    'luminet': _grid('loss_kd_cls', {
        0.7: (0.21, 1.1),
        4.0: (0.23, 1.2)
    }),
    # T 2: LS-KD's base temperature; T 1: the DKD detection baseline's
    'zscore-kd': _grid('loss_kd_cls', {
        1.0: (0.15, 3.5),
        2.0: (0.2, 3.1)
    }),
    # T 2: LS-KD's DKD variant; T 1: the DKD detection setting's
    'zscore-dkd': _grid('loss_dkd_cls', {
        1.0: (0.15, 4.5),
        2.0: (0.21, 6.1)
    }),
    # T 4: official CIFAR; T 1: the DKD detection baseline's
    'ldrld': _grid('loss_ldrld_cls', {
        1.0: (0.19, 0.024),
        4.0: (0.084, 0.016)
    }),
}

#: dataset -> its pairs' grids (a grid's weights belong to the pair the
#: gradients were measured on).
TUNE_GRIDS_BY_DATASET = {
    'digits': DIGITS_TUNE_GRIDS,
    'shapes': SHAPES_TUNE_GRIDS,
}
#: The default (digits) pair's grids.
TUNE_GRIDS = DIGITS_TUNE_GRIDS

#: Tuned by default: the logit methods without a published detection
#: setting (issue 9, deliverable 5). KD and DKD keep theirs.
DEFAULT_TUNE_METHODS = tuple(TUNE_GRIDS)


def _grids(dataset: str) -> Dict[str, dict]:
    if dataset not in TUNE_GRIDS_BY_DATASET:
        raise KeyError(f'No tuning grids for the {dataset!r} dataset; grids '
                       f'exist for {sorted(TUNE_GRIDS_BY_DATASET)} '
                       '(mmkd_det/analysis/tune_grid.py)')
    return TUNE_GRIDS_BY_DATASET[dataset]


def grid_points(method: str,
                dataset: str = 'digits') -> List[Dict[str, float]]:
    """The grid points of a method, in table order.

    Args:
        method: A key of :data:`TUNE_GRIDS`.
        dataset: The pair's dataset (:data:`TUNE_GRIDS_BY_DATASET`).

    Returns:
        ``[{'temperature': T, 'loss_weight': w, 'warmup': fraction}, ...]``.

    Raises:
        KeyError: ``method`` has no grid.
    """
    grids = _grids(dataset)
    if method not in grids:
        raise KeyError(f'No tuning grid for {method!r}; --tune takes the '
                       f'logit methods {sorted(grids)}')
    return [dict(p) for p in grids[method]['points']]


def point_options(method: str, point: Dict[str, float],
                  max_iters: int) -> List[str]:
    """``--cfg-options`` that set one grid point in the method's config.

    Args:
        method: A key of :data:`TUNE_GRIDS`.
        point: One of :func:`grid_points`.
        max_iters: The run's ``train_cfg.max_iters`` (unused: the warm-up
            is set as a fraction, which the run turns into
            ``warmup_iters(point, max_iters)`` iterations).

    Returns:
        ``key=value`` strings for ``tools/train.py --cfg-options``.
    """
    key = f"model.logit_losses.{TUNE_GRIDS[method]['loss_key']}"
    return [
        f"{key}.temperature={point['temperature']}",
        f"{key}.loss_weight={point['loss_weight']}",
        f"model.distill_warmup_fraction={point['warmup']}",
    ]


def warmup_iters(point: Dict[str, float], max_iters: int) -> int:
    """The warm-up of a grid point in iterations (rounded)."""
    return int(round(point['warmup'] * max_iters))


def point_tag(point: Dict[str, float], max_iters: int) -> str:
    """A folder name for a grid point, e.g. ``T0.7_w8.2_wu42``."""
    return (f"T{point['temperature']:g}_w{point['loss_weight']:g}_"
            f'wu{warmup_iters(point, max_iters)}')


#: ``(student_logits, teacher_logits, labels)`` of one batch's RoIs:
#: (N, C+1), (N, C+1) and (N,) with background = C.
RoILogits = Tuple[Tensor, Tensor, Tensor]


def per_roi_grad_norm(loss: nn.Module, student_logits: Tensor,
                      teacher_logits: Tensor, labels: Tensor) -> float:
    """Mean L2 norm of the loss gradient per RoI, as if N were 1.

    The package's logit losses average over the N RoIs, so each RoI's
    gradient is scaled by 1/N; multiplying by N makes batches of different
    size comparable (and equals the per-RoI gradient of a 1-RoI batch for
    losses without cross-RoI coupling).

    Args:
        loss (nn.Module): a logit loss, called as
            ``loss(student_logits, teacher_logits, labels)``.
        student_logits (Tensor): (N, C+1) student RoI logits.
        teacher_logits (Tensor): (N, C+1) teacher RoI logits.
        labels (Tensor): (N,) RoI labels, background = C.

    Returns:
        float: ``N * mean_i ||dL/dz_i||_2``.
    """
    logits = student_logits.detach().float().clone().requires_grad_()
    value = loss(logits, teacher_logits.detach().float(), labels)
    grad, = torch.autograd.grad(value, logits)
    return logits.size(0) * grad.norm(dim=1).mean().item()


def cross_entropy_grad_norm(student_logits: Tensor, labels: Tensor) -> float:
    """The same measure for the student's own classification loss (mmdet's
    softmax cross-entropy, weight 1, mean over RoIs)."""
    return per_roi_grad_norm(lambda s, t, y: F.cross_entropy(s, y),
                             student_logits, student_logits, labels)


def gradient_table(losses: Dict[str, nn.Module], batches: Iterable[RoILogits],
                   reference: str) -> List[dict]:
    """Per-RoI gradient of every loss, averaged over batches, and ratios.

    Args:
        losses (dict[str, nn.Module]): name -> logit loss.
        batches (Iterable[tuple]): ``(student_logits, teacher_logits,
            labels)`` per distillation step.
        reference (str): the name in ``losses`` the ratios refer to (KD).

    Returns:
        list[dict]: per loss ``name``, ``grad`` (mean per-RoI gradient
        norm), ``vs_reference``, ``vs_ce`` (against the student's own
        cross-entropy) and ``matching_scale`` (the factor on its
        loss_weight that would match the reference's gradient).
    """
    if reference not in losses:
        raise KeyError(f'reference {reference!r} is not among the losses '
                       f'{sorted(losses)}')
    sums = dict.fromkeys(losses, 0.0)
    ce_sum, count = 0.0, 0
    for s_logits, t_logits, labels in batches:
        for name, loss in losses.items():
            sums[name] += per_roi_grad_norm(loss, s_logits, t_logits, labels)
        ce_sum += cross_entropy_grad_norm(s_logits, labels)
        count += 1
    if count == 0:
        raise ValueError('no RoI logits to measure: batches was empty')
    ref = sums[reference] / count
    ce = ce_sum / count
    rows = []
    for name in losses:
        grad = sums[name] / count
        rows.append(
            dict(
                name=name,
                grad=grad,
                vs_reference=grad / ref,
                vs_ce=grad / ce,
                matching_scale=ref / grad if grad > 0 else float('inf')))
    return rows
