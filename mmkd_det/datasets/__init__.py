from .shapes import SHAPES_CLASSES, ShapesDataset, generate_shapes_dataset

__all__ = ['SHAPES_CLASSES', 'ShapesDataset', 'generate_shapes_dataset']
