# Teacher: Faster R-CNN R50-FPN on the paper's schedule.
_base_ = '../_base_/faster-rcnn_fpn_ms-180k_coco.py'
