"""The ``ShapesDataset`` class and the names of its eight categories."""
from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

SHAPES_CLASSES = ('red_circle', 'orange_circle', 'blue_triangle',
                  'blue_diamond', 'green_square', 'teal_square',
                  'yellow_pentagon', 'yellow_hexagon')

#: Nominal RGB colour of each class, for visualisation.
SHAPES_PALETTE = [(220, 30, 30), (245, 135, 20), (40, 90, 230), (110, 70, 210),
                  (40, 170, 50), (20, 170, 160), (235, 200, 20),
                  (190, 170, 40)]


@DATASETS.register_module()
class ShapesDataset(CocoDataset):
    """Synthetic "shapes" detection dataset in COCO format.

    The annotation files are produced by
    :func:`~.writer.generate_shapes_dataset` (or ``tools/make_shapes.py``).
    Loading, filtering and evaluation are those of
    mmdet's :class:`~mmdet.datasets.CocoDataset`; only the metainfo differs.

    Args:
        *args: Positional arguments of :class:`~mmdet.datasets.CocoDataset`.
        **kwargs: Keyword arguments of :class:`~mmdet.datasets.CocoDataset`,
            typically ``data_root``, ``ann_file`` (e.g.
            ``'annotations/instances_val.json'``), ``data_prefix`` (e.g.
            ``dict(img='val/')``), ``filter_cfg`` and ``pipeline``.

    Attributes:
        METAINFO (dict): ``classes`` is :data:`SHAPES_CLASSES` (8 classes,
            category ids 1..8 in the JSON) and ``palette`` their nominal RGB
            colours.

    Example:
        >>> from mmdet.registry import DATASETS
        >>> ds = DATASETS.build(dict(
        ...     type='ShapesDataset', data_root='data/shapes/',
        ...     ann_file='annotations/instances_val.json',
        ...     data_prefix=dict(img='val/'), pipeline=[]))
    """

    METAINFO = {
        'classes': SHAPES_CLASSES,
        'palette': SHAPES_PALETTE,
    }
