"""Synthetic COCO-format detection dataset ("shapes") for CPU quickstarts.

One concept per module: :mod:`.dataset` (the mmdet dataset class and the
class names), :mod:`.draw` (drawing primitives, backgrounds, clutter),
:mod:`.render` (one image and its annotations) and :mod:`.writer` (the
generator defaults, argument checks and the COCO files on disk).

The generator draws coloured geometric shapes on textured, cluttered
backgrounds and writes a COCO-style dataset that mmdet's ``CocoDataset``
reads as is::

    out_dir/
        annotations/instances_train.json
        annotations/instances_val.json
        train/000000.jpg ...
        val/000000.jpg ...
        meta.json            # generation arguments + generator version

The eight categories come in confusable pairs so that the task rewards a
stronger model and a teacher's soft predictions carry useful "dark
knowledge": two circles that differ only in hue (red vs orange), two squares
that differ only in hue (green vs teal), and two pairs that share a colour
but differ in shape (blue triangle vs blue diamond, yellow pentagon vs
yellow hexagon). Every instance gets its own colour jitter, shading and
optional outline, and the image gets an illumination gradient, a slight
colour cast, noise and sometimes blur, so colour alone is not a trivial cue.
Background clutter (grey blobs, lines, irregular polygons mostly in colours
no category uses) is never annotated.

Objects are 10 to 150 px (log-uniform, so mostly small and medium) and may
overlap: later objects are drawn over earlier ones and boxes are the tight
boxes of the *visible* pixels. Objects that are more than 60% hidden
(occluded or outside the image) are left unannotated, like COCO's unlabelled
heavy occlusions. About 5% of the images hold no objects.

Generation is deterministic: each image uses its own
``numpy.random.Generator`` seeded from ``(seed, split, index)``, so the same
arguments give byte-identical files, train and val differ, and image ``i`` of
a split does not depend on how many images the split has.
"""
from .dataset import SHAPES_CLASSES, SHAPES_PALETTE, ShapesDataset
from .writer import (SHAPES_DEFAULTS, SHAPES_SPEC, SHAPES_VERSION,
                     ShapesDefaults, default_shapes_args,
                     generate_shapes_dataset, meta_args_mismatch,
                     read_shapes_meta, shapes_args_mismatch,
                     shapes_dataset_is_current)

__all__ = [
    'SHAPES_CLASSES', 'SHAPES_PALETTE', 'SHAPES_SPEC', 'SHAPES_VERSION',
    'SHAPES_DEFAULTS', 'ShapesDataset', 'ShapesDefaults',
    'default_shapes_args', 'generate_shapes_dataset', 'meta_args_mismatch',
    'read_shapes_meta', 'shapes_args_mismatch', 'shapes_dataset_is_current'
]
