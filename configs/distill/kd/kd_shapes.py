# Hinton KD on the RoI classification logits;
# shapes ResNet-18/16-wide -> ResNet-18/4-wide.
# The bases give the pair and the method's losses; the model takes the
# losses with pop(), which leaves no copy at the top level (docs/distiller.md,
# "Configs").
_base_ = ['../_base_/pairs/shapes.py', '../_base_/losses/kd.py']
model = dict(logit_losses=_base_.pop('logit_losses'))
