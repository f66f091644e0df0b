#!/usr/bin/env python
"""Generate the synthetic "shapes" COCO detection dataset.

Examples::

    python tools/make_shapes.py --out data/shapes
    python tools/make_shapes.py --out /tmp/tiny --num-train 50 --num-val 10 \\
        --num-tune 10 --size 128x160 --seed 3

If ``--out`` already holds a complete dataset generated with the same
arguments (recorded in ``OUT/meta.json``), nothing is written unless
``--force`` is given, so running it twice (e.g. ``make quickstart``) is cheap.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout

from mmkd_det.datasets import SHAPES_DEFAULTS as DEFAULTS  # noqa: E402
from mmkd_det.utils.cli import add_shapes_split_args  # noqa: E402
from mmkd_det.utils.cli import parse_size as parse_hw  # noqa: E402


def parse_size(text: str):
    """Parse ``HxW`` (e.g. ``192x192``) into ``(H, W)``."""
    return parse_hw(text)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the synthetic "shapes" COCO detection dataset '
        '(8 classes, CPU-friendly, deterministic).')
    parser.add_argument(
        '--out', required=True, help='output folder, e.g. data/shapes')
    parser.add_argument(
        '--seed', type=int, default=DEFAULTS.seed, help='base seed')
    add_shapes_split_args(parser, ('train', 'val', 'tune'))
    parser.add_argument(
        '--size',
        type=parse_size,
        default=DEFAULTS.size,
        metavar='HxW',
        help='image size as HEIGHTxWIDTH (default: %s)' %
        'x'.join(map(str, DEFAULTS.size)))
    parser.add_argument(
        '--force',
        action='store_true',
        help='regenerate even if OUT already holds this dataset')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmkd_det.datasets import generate_shapes_dataset
    t0 = time.perf_counter()
    try:
        summary = generate_shapes_dataset(
            args.out,
            seed=args.seed,
            num_train=args.num_train,
            num_val=args.num_val,
            num_tune=args.num_tune,
            size=args.size,
            skip_existing=not args.force)
    except ValueError as e:
        print(f'make_shapes.py: error: {e}', file=sys.stderr)
        return 2
    seconds = time.perf_counter() - t0
    h, w = args.size
    if summary['skipped']:
        print(f'{args.out} already holds the shapes dataset for these '
              f'arguments (seed={args.seed}, {args.num_train} train / '
              f'{args.num_val} val / {args.num_tune} tune, {h}x{w}); '
              'skipped. Use --force to regenerate.')
        return 0
    print(f'Wrote shapes dataset ({h}x{w}, seed={args.seed}) to {args.out}:')
    for split in ('train', 'val', 'tune'):
        s = summary[split]
        print(f'  {split}: {s["num_images"]} images '
              f'({s["num_empty_images"]} without objects), '
              f'{s["num_annotations"]} objects -> {s["ann_file"]}, '
              f'{s["img_dir"]}/')
    print(f'  meta: {summary["meta_file"]}')
    print(f'Done in {seconds:.1f} s.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
