from .digits import (DIGITS_CLASSES, DIGITS_DEFAULTS, DIGITS_SPEC,
                     DigitsDataset, DigitsDefaults, generate_digits_dataset)
from .embedded import EMBEDDED_DATASETS, EmbeddedDataset, embedded_dataset
from .generation import (DatasetSpec, dataset_is_current, generate_dataset,
                         meta_mismatch, read_meta)
from .shapes import (SHAPES_CLASSES, SHAPES_DEFAULTS, ShapesDataset,
                     ShapesDefaults, generate_shapes_dataset)

__all__ = [
    'DIGITS_CLASSES', 'DIGITS_DEFAULTS', 'DIGITS_SPEC', 'DigitsDataset',
    'DigitsDefaults', 'generate_digits_dataset', 'DatasetSpec',
    'dataset_is_current', 'generate_dataset', 'meta_mismatch', 'read_meta',
    'SHAPES_CLASSES', 'SHAPES_DEFAULTS', 'ShapesDataset', 'ShapesDefaults',
    'generate_shapes_dataset', 'EMBEDDED_DATASETS', 'EmbeddedDataset',
    'embedded_dataset'
]
