"""Train a detector or a distiller: ``python tools/train.py CONFIG [options]``.

The interface is mmdet's ``tools/train.py``; ``--data-root`` is added, and
``--launcher pytorch`` also works on machines without CUDA (gloo).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout

from mmengine.runner import find_latest_checkpoint  # noqa: E402

from mmkd_det.engine import (add_common_args, build_runner,
                             check_resume_checkpoint, close_distributed,
                             load_tool_config)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training (GPU)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate with the total batch size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or, without a path, from the '
        'latest checkpoint in the work dir')
    add_common_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_tool_config(args)

    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise RuntimeError('Cannot use --auto-scale-lr: the config has no '
                               '`auto_scale_lr = dict(base_batch_size=...)`.')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if cfg.get('resume'):
        seed_from_resume_checkpoint(cfg)

    runner = build_runner(cfg)
    runner.train()
    close_distributed()


def seed_from_resume_checkpoint(cfg) -> None:
    """Check the resume checkpoint; reuse its seed if the config has none.

    Dataloader workers are seeded when the runner builds the train loop,
    before MMEngine reads the checkpoint's seed, so a config without a seed
    would give the resumed run's workers other seeds than the interrupted
    run's.
    """
    path = cfg.get('load_from') or find_latest_checkpoint(cfg.work_dir)
    if not path or '://' in path:
        return
    seed = check_resume_checkpoint(path).get('seed')
    randomness = dict(cfg.get('randomness') or {})
    if randomness.get('seed') is None and seed is not None:
        randomness['seed'] = seed
        cfg.randomness = randomness


if __name__ == '__main__':
    main()
