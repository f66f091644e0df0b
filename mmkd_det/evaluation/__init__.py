from .coco_dece_metric import CocoMetricWithDECE

__all__ = ['CocoMetricWithDECE']
