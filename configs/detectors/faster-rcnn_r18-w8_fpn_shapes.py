# Shapes student: ResNet-18 at 1/8 width (8 base channels), 16-ch FPN,
# 128-d RoI head: the small model the teacher is distilled into, a quarter of
# the teacher's width. 3500 iterations bring the plain student to the
# plateau at 128x128: +0.7 AP over the last fifth, 10 validation points,
# about 3 minutes on one CPU core (benchmarks/shapes/schedule_study.md,
# run L); +0.9 on the 3-seed mean of the comparison. Distilled students
# still gain 0.9-1.5 AP there (README, Results).
_base_ = '../_base_/faster-rcnn_shapes.py'
model = dict(
    backbone=dict(depth=18, base_channels=8),
    neck=dict(in_channels=[8, 16, 32, 64], out_channels=16),
    rpn_head=dict(in_channels=16, feat_channels=16),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=16),
        bbox_head=dict(in_channels=16, fc_out_channels=128)))
train_cfg = dict(max_iters=3500, val_interval=350)
default_hooks = dict(checkpoint=dict(interval=350))
