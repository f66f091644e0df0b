# Digits teacher: ResNet-18 at half width (32 base channels), 64-ch FPN,
# 256-d RoI head (the base config's model), 8x the student's width. The
# 16-wide teacher of the shapes pair reached 56.6 AP on tune at 6000
# iterations (55.5 at 9000), only 7.3 above the plain student's 49.3
# (benchmarks/digits/README.md). `make teacher` trains this one
# (tools/ship_teacher.py) and ships it in checkpoints/digits/ with its
# record (AP on tune and val).
_base_ = '../_base_/faster-rcnn_digits.py'
train_cfg = dict(max_iters=6000, val_interval=600)
default_hooks = dict(checkpoint=dict(interval=600))
