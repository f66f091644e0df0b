# Shapes student: ResNet-18 at 1/16 width (4 base channels), 8-ch FPN,
# 128-d RoI head: the small model the teacher is distilled into, a quarter of
# the teacher's width. Twice the teacher's learning rate (0.04: +2.5 AP at
# equal iterations, 0.08 is unstable) and 7000 iterations bring the plain
# student to the plateau on the 500 training images: 55.6 AP on tune, +0.5
# over the last fifth, 10 validation points, about 5 minutes on one CPU core
# (benchmarks/shapes/schedule_study.md, "Round 3"; a doubled schedule still
# adds 2.4 AP there).
_base_ = '../_base_/faster-rcnn_digits.py'
model = dict(
    backbone=dict(depth=18, base_channels=4),
    neck=dict(in_channels=[4, 8, 16, 32], out_channels=8),
    rpn_head=dict(in_channels=8, feat_channels=8),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=8),
        bbox_head=dict(in_channels=8, fc_out_channels=128)))
optim_wrapper = dict(optimizer=dict(lr=0.04))
train_cfg = dict(max_iters=7000, val_interval=700)
default_hooks = dict(checkpoint=dict(interval=700))
