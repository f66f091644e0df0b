# Shapes Cascade R-CNN teacher: ResNet-34 at half width (32 base channels)
# and 64-ch FPN under a three-stage cascade RoI head. Distilled into the
# Faster student it is the shapes twin of the literature's heterogeneous
# pair (Cascade Mask R-CNN X101 -> Faster R-CNN R50, FGD/MGD).
_base_ = '../_base_/cascade-rcnn_shapes.py'
model = dict(backbone=dict(depth=34))
# 3000 iterations: the schedule of the earlier ResNet-34 Faster teacher (not
# re-measured on the 500-image train split; not in the comparison)
train_cfg = dict(max_iters=3000, val_interval=300)
default_hooks = dict(checkpoint=dict(interval=300))
