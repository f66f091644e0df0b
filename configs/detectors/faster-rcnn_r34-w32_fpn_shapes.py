# Shapes teacher: ResNet-34 at half width (32 base channels), 64-ch FPN.
_base_ = '../_base_/faster-rcnn_shapes.py'
model = dict(backbone=dict(depth=34))
train_cfg = dict(max_iters=700, val_interval=350)
