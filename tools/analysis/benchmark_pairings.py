"""Time one distillation step for every student/teacher kind pairing.

``python tools/analysis/benchmark_pairings.py [--iters 5] [--size 192x192]``

Students and teachers are Faster, Mask, Cascade and Cascade Mask R-CNN at
shapes size (``mmkd_det.utils.detector_kinds``; student ResNet-18 at width
16, teacher at width 32, random weights), distilled with KD on the RoI
logits. Each pairing's full training step (``RoIDistiller.loss``, backward,
SGD step) is timed round robin with the others and reported as median ms and
as a ratio to the Faster -> Faster pair.
"""
import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout

import torch  # noqa: E402
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules

import mmkd_det  # noqa: F401  (registers the package's modules)
from mmkd_det.utils.benchmark import load_warning, summarize, time_interleaved
from mmkd_det.utils.cli import parse_size
from mmkd_det.utils.detector_kinds import KINDS, detector_kind_cfg

PAIRINGS = [('faster', 'faster')] + [
    (s, t) for s in KINDS
    for t in ('faster', 'cascade-mask') if (s, t) != ('faster', 'faster')
] + [('faster', 'mask'), ('faster', 'cascade')]


def random_teacher(kind: str, folder: str) -> dict:
    """``dict(config, checkpoint)`` of a randomly initialised teacher."""
    cfg = detector_kind_cfg(kind, width=32)
    teacher = MODELS.build(cfg)
    teacher.init_weights()
    path = f'{folder}/{kind}.pth'
    torch.save({'meta': {}, 'state_dict': teacher.state_dict()}, path)
    return dict(config=cfg.to_dict(), checkpoint=path)


def step_fn(student: str, teacher: dict, batch: int, size) -> callable:
    """A training step of ``student`` distilled from ``teacher``."""
    cfg = detector_kind_cfg(student)
    cfg.update(
        type='RoIDistiller',
        teacher=teacher,
        logit_losses=dict(loss_kd_cls=dict(type='LogitKDLoss')))
    model = MODELS.build(cfg)
    model.init_weights()
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    packed = demo_mm_inputs(
        batch, [[3, *size]] * batch,
        num_items=[3] * batch,
        num_classes=8,
        with_mask=True)
    data = model.data_preprocessor(packed, True)

    def step():
        losses = model.loss(data['inputs'], data['data_samples'])
        loss, _ = model.parse_losses(losses)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument(
        '--size',
        type=parse_size,
        default=(192, 192),
        help='HxW of the synthetic images')
    args = parser.parse_args(argv)
    register_all_modules(init_default_scope=True)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        teachers = {kind: random_teacher(kind, folder) for kind in KINDS}
        steps = {
            f'{s} <- {t}': step_fn(s, teachers[t], args.batch, args.size)
            for s, t in PAIRINGS
        }
        times = summarize(time_interleaved(steps, args.iters, args.warmup))
    base = times['faster <- faster'][0]
    print(f'batch {args.batch}, {args.size[0]}x{args.size[1]}, '
          f'{torch.get_num_threads()} threads, median of {args.iters}')
    print('| student <- teacher | step (ms) | vs Faster <- Faster |')
    print('|---|---:|---:|')
    for name, (median, _) in times.items():
        print(f'| {name} | {median:.1f} | {median / base:.2f} |')
    warning = load_warning('cpu')
    if warning:
        print(warning)


if __name__ == '__main__':
    main()
