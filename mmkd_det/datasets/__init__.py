from .shapes import (SHAPES_CLASSES, SHAPES_DEFAULTS, ShapesDataset,
                     ShapesDefaults, generate_shapes_dataset)

__all__ = [
    'SHAPES_CLASSES', 'SHAPES_DEFAULTS', 'ShapesDataset', 'ShapesDefaults',
    'generate_shapes_dataset'
]
