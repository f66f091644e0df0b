"""Forward + backward timing of every logit distillation loss.

All losses are timed in the same run on the same inputs, and reported as the
median over ``--repeats`` iterations (after ``--warmup``) with the ratio to
plain KD, e.g.::

    python tools/analysis/benchmark_losses.py --device cpu \
        --num-rois 1024 4096 16384 --num-classes 81

One row per (num_rois, loss): ``num_rois  loss  median_ms  ratio_vs_kd
min_ms  min_ratio`` (ratios to KD's median / minimum at the same size).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout

import torch  # noqa: E402

from mmkd_det.models.losses import DKDLoss, LDRLDLoss, LogitKDLoss  # noqa
from mmkd_det.utils.benchmark import summarize, time_interleaved  # noqa


def build_losses():
    """Name -> loss module, in the order they are reported."""
    return {
        'kd': LogitKDLoss(),
        'perception_kd': LogitKDLoss('perception'),
        'zscore_kd': LogitKDLoss('zscore'),
        'dkd': DKDLoss(),
        'zscore_dkd': DKDLoss(logit_norm='zscore'),
        'ldrld': LDRLDLoss(),
    }


def time_losses(losses, student, teacher, labels, repeats, warmup, device):
    """Median and minimum forward+backward time (ms) of every loss.

    The losses are interleaved (round robin, see
    :func:`~mmkd_det.utils.benchmark.time_interleaved`) so that a change in
    machine load during the run affects all of them alike; the minimum is
    the better estimate of the intrinsic cost when other processes share
    the CPU.

    Returns:
        dict: loss name -> ``(median_ms, min_ms)``.
    """

    def step(loss_fn):
        # a fresh leaf each call, so gradients never accumulate
        return lambda: loss_fn(student.detach().requires_grad_(), teacher,
                               labels).backward()

    steps = {name: step(fn) for name, fn in losses.items()}
    return summarize(time_interleaved(steps, repeats, warmup, device))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument(
        '--num-rois', type=int, nargs='+', default=[1024, 4096, 16384])
    parser.add_argument(
        '--num-classes',
        type=int,
        default=81,
        help='C, background included (COCO: 80 + 1)')
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch intra-op CPU threads; 0 keeps the torch default. The '
        'default 1 gives steady timings on a shared machine, where a '
        'multi-threaded op waits for a busy core (~70 ms steps)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda requested but CUDA is not available')
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    losses = {k: v.to(device) for k, v in build_losses().items()}
    print(f'device={device} num_classes={args.num_classes} '
          f'repeats={args.repeats} warmup={args.warmup} '
          f'threads={torch.get_num_threads()} torch={torch.__version__}')
    print('settings: KD/perception/zscore T=1; DKD alpha=1 beta=0.25 T=1; '
          'LDRLD k=7 T=4; student grads, teacher frozen')
    print(f"{'num_rois':>8}  {'loss':<14} {'median_ms':>10} "
          f"{'ratio_vs_kd':>11} {'min_ms':>10} {'min_ratio':>9}")
    for n in args.num_rois:
        student = torch.randn(n, args.num_classes, device=device) * 3
        teacher = torch.randn(n, args.num_classes, device=device) * 3
        labels = torch.randint(0, args.num_classes, (n, ), device=device)
        results = time_losses(losses, student, teacher, labels, args.repeats,
                              args.warmup, device)
        kd_med, kd_min = results['kd']
        for name, (med, low) in results.items():
            print(f'{n:>8}  {name:<14} {med:>10.3f} {med / kd_med:>11.2f} '
                  f'{low:>10.3f} {low / kd_min:>9.2f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
