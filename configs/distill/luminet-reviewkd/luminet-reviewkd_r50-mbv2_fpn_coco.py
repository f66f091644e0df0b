# LumiNet + ReviewKD ("Ours*" in the LumiNet paper): the ReviewKD feature loss
# of ../reviewkd/reviewkd_r50-mbv2_fpn_coco.py plus the LumiNet logit loss on the RoI
# logits.
_base_ = '../reviewkd/reviewkd_r50-mbv2_fpn_coco.py'
model = dict(logit_losses=dict(loss_kd_cls={{_base_.luminet_loss}}))
