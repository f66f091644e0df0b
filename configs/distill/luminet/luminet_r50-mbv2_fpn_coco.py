# LumiNet: KD on perception-normalized RoI logits.
_base_ = '../_base_/roi-distill_r50-mbv2_fpn_coco.py'
model = dict(logit_losses=dict(loss_kd_cls={{_base_.luminet_loss}}))
