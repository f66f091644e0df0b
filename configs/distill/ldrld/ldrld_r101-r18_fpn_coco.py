# LDRLD: local dense relational logit distillation on RoI logits.
_base_ = '../_base_/roi-distill_r101-r18_fpn_coco.py'
model = dict(logit_losses=dict(loss_ldrld_cls={{_base_.ldrld_loss}}))
