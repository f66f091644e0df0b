"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``.

A checkpoint saved while distilling evaluates with the plain student config:
the teacher is not part of it.
"""
import argparse
import os.path as osp
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout

from mmkd_det.engine import (add_common_args, build_runner, close_distributed,
                             load_tool_config)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out',
        type=str,
        help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument(
        '--show-dir',
        help='save every test image with its predictions drawn into '
        'WORK_DIR/TIMESTAMP/SHOW_DIR (as mmdet\'s tools/test.py)')
    add_common_args(parser)
    return parser.parse_args(argv)


def enable_show_dir(cfg, show_dir: str) -> None:
    """Make the config's visualization hook draw the test predictions.

    The semantics of mmdet's ``--show-dir``: mmdet's ``DetVisualizationHook``
    (``default_hooks.visualization``) draws each test image with its
    predictions (score >= its ``score_thr``) and writes it, under the image's
    file name, into ``show_dir`` relative to ``WORK_DIR/TIMESTAMP``.

    Args:
        cfg (Config): edited in place.
        show_dir (str): folder name, relative to the run's log folder.

    Raises:
        ValueError: if the config has no ``default_hooks.visualization``.
    """
    hook = cfg.get('default_hooks', {}).get('visualization')
    if hook is None:
        raise ValueError(
            '--show-dir needs a visualization hook; add default_hooks = '
            "dict(visualization=dict(type='DetVisualizationHook')) to the "
            'config')
    hook.draw = True
    hook.test_out_dir = show_dir


def main():
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'Checkpoint not found: {args.checkpoint}')
    cfg = load_tool_config(args)
    cfg.load_from = args.checkpoint
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError('--out must be a .pkl or .pickle file.')
        cfg.test_evaluator = [
            cfg.test_evaluator
        ] if not isinstance(cfg.test_evaluator, list) else cfg.test_evaluator
        cfg.test_evaluator.append(
            dict(type='DumpDetResults', out_file_path=args.out))
    if args.show_dir:
        enable_show_dir(cfg, args.show_dir)

    runner = build_runner(cfg)
    runner.test()
    close_distributed()


if __name__ == '__main__':
    main()
