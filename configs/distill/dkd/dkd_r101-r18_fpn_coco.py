# Decoupled KD (DKD) on the RoI classification logits;
# R101-FPN -> R18-FPN on COCO.
# The bases give the pair and the method's losses; the model takes the
# losses with pop(), which leaves no copy at the top level (docs/distiller.md,
# "Configs").
_base_ = ['../_base_/pairs/r101-r18_fpn_coco.py', '../_base_/losses/dkd.py']
model = dict(logit_losses=_base_.pop('logit_losses'))
