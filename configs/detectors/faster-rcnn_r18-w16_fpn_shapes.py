# Shapes student: ResNet-18 at quarter width (16 base channels), 32-ch FPN,
# 128-d RoI head: the small model the teacher is distilled into.
_base_ = '../_base_/faster-rcnn_shapes.py'
model = dict(
    backbone=dict(depth=18, base_channels=16),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(in_channels=32, fc_out_channels=128)))
train_cfg = dict(max_iters=500, val_interval=250)
