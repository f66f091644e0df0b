"""The ``DigitsDataset`` class and the names of its ten categories."""
from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

DIGITS_CLASSES = tuple(str(d) for d in range(10))

#: A distinct RGB colour per digit, for visualisation only.
DIGITS_PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200),
                  (245, 130, 48), (145, 30, 180), (70, 240, 240),
                  (240, 50, 230), (210, 245, 60), (250, 190, 212)]


@DATASETS.register_module()
class DigitsDataset(CocoDataset):
    """Handwritten digits detection dataset in COCO format.

    The annotation files are produced by
    :func:`~mmkd_det.datasets.digits.generate_digits_dataset` (or
    ``tools/make_dataset.py digits``). Loading, filtering and evaluation are
    those of mmdet's :class:`~mmdet.datasets.CocoDataset`; only the metainfo
    differs. Its pipelines must not flip images horizontally: a mirrored
    digit is not a digit.

    Args:
        *args: Positional arguments of :class:`~mmdet.datasets.CocoDataset`.
        **kwargs: Keyword arguments of :class:`~mmdet.datasets.CocoDataset`,
            typically ``data_root``, ``ann_file``, ``data_prefix`` and
            ``pipeline``.

    Attributes:
        METAINFO (dict): ``classes`` is :data:`DIGITS_CLASSES` (``'0'`` to
            ``'9'``, category ids 1..10 in the JSON).
    """

    METAINFO = {
        'classes': DIGITS_CLASSES,
        'palette': DIGITS_PALETTE,
    }
