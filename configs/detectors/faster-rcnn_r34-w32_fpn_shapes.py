# Shapes teacher: ResNet-34 at half width (32 base channels), 64-ch FPN.
# 3000 iterations: 60.0 AP on tune, +1.6 over the last fifth, about 8 minutes
# on one CPU core (benchmarks/shapes/schedule_study.md, run H).
_base_ = '../_base_/faster-rcnn_shapes.py'
model = dict(backbone=dict(depth=34))
train_cfg = dict(max_iters=3000, val_interval=300)
default_hooks = dict(checkpoint=dict(interval=300))
