# Student: Faster R-CNN MobileNetV2-FPN on the paper's schedule.
_base_ = '../_base_/faster-rcnn_fpn_ms-180k_coco.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        # strides 4, 8, 16, 32: 24, 32, 96 and 1280 channels
        out_indices=(1, 2, 4, 7),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://mmdet/mobilenet_v2')),
    neck=dict(in_channels=[24, 32, 96, 1280]))
