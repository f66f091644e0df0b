# DKD on Z-score (logit-standardized) RoI logits;
# shapes ResNet-18/16-wide -> ResNet-18/4-wide.
# The bases give the pair and the method's losses and warm-up; the model
# takes them with pop(), which leaves no copy at the top level
# (docs/distiller.md, "Configs").
_base_ = ['../_base_/pairs/shapes.py', '../_base_/losses/zscore-dkd.py']
model = dict(
    logit_losses=_base_.pop('logit_losses'),
    distill_warmup_fraction=_base_.pop('distill_warmup_fraction'))
