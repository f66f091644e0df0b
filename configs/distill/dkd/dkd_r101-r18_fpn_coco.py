# Decoupled KD (DKD) on the RoI classification logits.
_base_ = '../_base_/roi-distill_r101-r18_fpn_coco.py'
model = dict(logit_losses=dict(loss_dkd_cls={{_base_.dkd_loss}}))
