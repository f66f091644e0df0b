# Decoupled KD (DKD) on the RoI classification logits.
_base_ = '../_base_/roi-distill_shapes.py'
model = dict(logit_losses=dict(loss_dkd_cls={{_base_.dkd_loss}}))
