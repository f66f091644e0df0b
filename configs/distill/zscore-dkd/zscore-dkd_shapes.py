# DKD on Z-score (logit-standardized) RoI logits.
_base_ = '../_base_/roi-distill_shapes.py'
model = dict(logit_losses=dict(loss_dkd_cls={{_base_.zscore_dkd_loss}}))
