# Teacher: Faster R-CNN R101-FPN on the paper's schedule.
_base_ = '../_base_/faster-rcnn_fpn_ms-180k_coco.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet101')))
