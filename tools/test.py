"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``.

A checkpoint saved while distilling evaluates with the plain student config:
the teacher is not part of it.
"""
import argparse
import os.path as osp
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout

from mmkd_det.engine import (add_common_args, build_runner,  # noqa: E402
                             load_tool_config)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out',
        type=str,
        help='dump predictions to a pickle file for offline evaluation')
    add_common_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'Checkpoint not found: {args.checkpoint}')
    cfg = load_tool_config(args)
    cfg.load_from = args.checkpoint
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError('--out must be a .pkl or .pickle file.')
        cfg.test_evaluator = [cfg.test_evaluator] if not isinstance(
            cfg.test_evaluator, list) else cfg.test_evaluator
        cfg.test_evaluator.append(
            dict(type='DumpDetResults', out_file_path=args.out))

    runner = build_runner(cfg)
    runner.test()


if __name__ == '__main__':
    main()
