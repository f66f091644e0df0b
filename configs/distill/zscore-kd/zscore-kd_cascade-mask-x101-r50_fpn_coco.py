# KD on Z-score (logit-standardized) RoI logits;
# Cascade Mask R-CNN X101-32x4d -> Faster R50-FPN (2x) on COCO.
# The bases give the pair and the method's losses and warm-up; the model
# takes them with pop(), which leaves no copy at the top level
# (docs/distiller.md, "Configs").
_base_ = [
    '../_base_/pairs/cascade-mask-x101-r50_fpn_coco.py',
    '../_base_/losses/zscore-kd.py'
]
model = dict(
    logit_losses=_base_.pop('logit_losses'),
    distill_warmup_fraction=_base_.pop('distill_warmup_fraction'))
