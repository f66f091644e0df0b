# Digits teacher: ResNet-18 at 1/4 width (16 base channels), 32-ch FPN,
# 128-d RoI head, the shapes teacher's model. 9000 iterations: at 6000 (the
# shapes schedule) it was still gaining 1 AP per 600 iterations on tune.
# `make teacher` trains it (tools/ship_teacher.py) and ships it in
# checkpoints/digits/ with its record (AP on tune and val).
_base_ = '../_base_/faster-rcnn_digits.py'
model = dict(
    backbone=dict(depth=18, base_channels=16),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(in_channels=32, fc_out_channels=128)))
train_cfg = dict(max_iters=9000, val_interval=900)
default_hooks = dict(checkpoint=dict(interval=900))
