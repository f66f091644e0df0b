#!/usr/bin/env python
"""Generate an embedded COCO-format detection dataset (digits, shapes).

Examples::

    python tools/make_dataset.py digits                 # -> data/digits
    python tools/make_dataset.py digits --out /tmp/tiny --num-train 50 \\
        --num-val 10 --num-tune 10 --seed 3

If ``--out`` already holds the dataset these arguments make (recorded in
``OUT/meta.json``), nothing is written unless ``--force`` is given, so
running it twice (e.g. ``make quickstart``) is cheap.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout

from mmkd_det.datasets.embedded import EMBEDDED_DATASETS  # noqa: E402
from mmkd_det.datasets.embedded import embedded_dataset
from mmkd_det.datasets.generation import SPLIT_IDS  # noqa: E402
from mmkd_det.utils.cli import parse_size  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate an embedded COCO detection dataset '
        '(deterministic; train, tune and val splits).')
    parser.add_argument('dataset', choices=list(EMBEDDED_DATASETS))
    parser.add_argument(
        '--out', help='output folder (default: data/<dataset>)')
    parser.add_argument('--seed', type=int, help='base seed')
    for split in SPLIT_IDS:
        parser.add_argument(f'--num-{split}', type=int, help=f'{split} images')
    parser.add_argument(
        '--size', type=parse_size, metavar='HxW', help='image size')
    parser.add_argument(
        '--force',
        action='store_true',
        help='regenerate even if OUT already holds this dataset')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    dataset = embedded_dataset(args.dataset)
    out = args.out or dataset.root()
    given = {
        k: v
        for k, v in dict(
            seed=args.seed,
            size=args.size,
            **{
                f'num_{s}': getattr(args, f'num_{s}')
                for s in SPLIT_IDS
            }).items() if v is not None
    }
    try:
        summary = dataset.generate(out, skip_existing=not args.force, **given)
    except (ValueError, ImportError) as e:
        print(f'make_dataset.py: error: {e}', file=sys.stderr)
        return 2
    if summary['skipped']:
        print(f'{out} already holds the {dataset.name} dataset for these '
              'arguments (--force regenerates it)')
        return 0
    print(f'Wrote the {dataset.name} dataset to {out} in '
          f"{summary['seconds']:.1f} s:")
    for split in SPLIT_IDS:
        s = summary[split]
        print(f"  {split:5s}: {s['num_images']} images, "
              f"{s['num_annotations']} objects -> {s['ann_file']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
