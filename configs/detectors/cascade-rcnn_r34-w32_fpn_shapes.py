# Shapes Cascade R-CNN teacher: the Faster teacher's ResNet-34 at half width
# and 64-ch FPN under a three-stage cascade RoI head. Distilled into the
# Faster student it is the shapes twin of the literature's heterogeneous
# pair (Cascade Mask R-CNN X101 -> Faster R-CNN R50, FGD/MGD).
_base_ = '../_base_/cascade-rcnn_shapes.py'
model = dict(backbone=dict(depth=34))
# the Faster teacher's schedule (faster-rcnn_r34-w32_fpn_shapes.py)
train_cfg = dict(max_iters=3000, val_interval=300)
default_hooks = dict(checkpoint=dict(interval=300))
