"""Per-RoI gradient of each logit loss against plain KD, on real RoIs.

``python tools/analysis/gradient_scale.py CONFIG [CONFIG ...]
--teacher-checkpoint T.pth [--student-checkpoint S.pth] [--batches 8]``

The first config (a distillation config, e.g. KD's) supplies the student,
the teacher and the training data; the logit losses of every config are
measured on the same sampled RoIs. Prints, per loss, the mean per-RoI
gradient norm it sends into the student's logits, its ratio to the first
config's first loss (the reference), to the student's own cross-entropy, and
the ``loss_weight`` that would match the reference. Without
``--student-checkpoint`` this is the start of training (random student);
with one, the student at that point. ``--temperatures 0.7 4`` also measures
every other config's losses at those temperatures (the rule behind the
tuning grid, ``mmkd_det/analysis/tune_grid.py``).
"""
import argparse
import os.path as osp
import sys
from pathlib import Path
from typing import Iterable, List

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout

import torch  # noqa: E402
import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.runner import Runner, load_checkpoint

import mmkd_det  # noqa: F401  (registers the package's modules)
from mmkd_det.analysis.tune_grid import RoILogits, gradient_table
from mmkd_det.engine import add_config_args, load_tool_config
from mmkd_det.utils import checkpoint_safe_globals


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='reference distillation config')
    parser.add_argument('others', nargs='*', help='configs to compare')
    parser.add_argument('--teacher-checkpoint', required=True)
    parser.add_argument('--student-checkpoint')
    parser.add_argument('--batches', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--temperatures',
        type=float,
        nargs='*',
        default=[],
        help='also measure the other configs\' losses at these T')
    add_config_args(parser)
    return parser.parse_args(argv)


@torch.no_grad()
def collect_roi_logits(model: nn.Module, data_batches: Iterable[dict],
                       num_batches: int) -> List[RoILogits]:
    """RoI logits of student and teacher from real training steps.

    Args:
        model (RoIDistiller): in train mode (the RoIs are sampled as in
            training; the teacher stays in eval mode).
        data_batches (Iterable[dict]): dataloader batches (not yet
            preprocessed).
        num_batches (int): how many batches to use.

    Returns:
        list[tuple]: ``(student_logits, teacher_logits, labels)`` per batch
        and student stage.
    """
    out = []
    for _, data in zip(range(num_batches), data_batches):
        data = model.data_preprocessor(data, True)
        inputs, samples = data['inputs'], data['data_samples']
        _, student = model.student_loss(inputs, samples)
        _, teacher_logits = model.teacher_outputs(
            inputs, student, [s.metainfo for s in samples])
        out.extend((stage.cls_score, logits, stage.labels)
                   for stage, logits in zip(student.stages, teacher_logits))
    return out


def method_name(path: str) -> str:
    return osp.basename(osp.dirname(osp.abspath(path)))


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = load_tool_config(args)
    cfg.model.teacher.checkpoint = args.teacher_checkpoint
    torch.manual_seed(args.seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    if args.student_checkpoint:
        with checkpoint_safe_globals():  # a training checkpoint's meta
            load_checkpoint(model, args.student_checkpoint, map_location='cpu')
    model.train()
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=args.seed)
    batches = collect_roi_logits(model, loader, args.batches)

    losses, settings = {}, {}
    for path in [args.config] + args.others:
        logit_losses = Config.fromfile(path).model.get('logit_losses') or {}
        for key, loss_cfg in logit_losses.items():
            name = f'{method_name(path)}:{key}'
            variants = {name: loss_cfg}
            if path != args.config:
                variants.update({
                    f'{name}@T{t:g}': dict(loss_cfg, temperature=t)
                    for t in args.temperatures
                })
            for variant, cfg_ in variants.items():
                losses[variant] = MODELS.build(cfg_)
                settings[variant] = {
                    k: v
                    for k, v in cfg_.items() if k != 'type'
                }
    reference = next(iter(losses))
    rows = gradient_table(losses, batches, reference)
    num_rois = sum(b[0].size(0) for b in batches)
    state = args.student_checkpoint or 'random student (start of training)'
    print(f'{len(batches)} batches, {num_rois} RoIs; {state}; reference '
          f'{reference}')
    print('| loss | settings | per-RoI grad | vs reference | vs CE | '
          'loss_weight matching the reference |')
    print('|---|---|---:|---:|---:|---:|')
    for row in rows:
        weight = settings[row['name']].get('loss_weight', 1.0)
        print(f"| {row['name']} | {settings[row['name']]} | "
              f"{row['grad']:.4g} | {row['vs_reference']:.3g} | "
              f"{row['vs_ce']:.3g} | {weight * row['matching_scale']:.3g} |")


if __name__ == '__main__':
    main()
