# Student: Faster R-CNN R18-FPN on the paper's schedule.
_base_ = '../_base_/faster-rcnn_fpn_ms-180k_coco.py'
model = dict(
    backbone=dict(
        depth=18,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')),
    neck=dict(in_channels=[64, 128, 256, 512]))
