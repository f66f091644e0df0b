# KD on Z-score (logit-standardized) RoI logits.
_base_ = '../_base_/roi-distill_r50-mbv2_fpn_coco.py'
model = dict(logit_losses=dict(loss_kd_cls={{_base_.zscore_kd_loss}}))
