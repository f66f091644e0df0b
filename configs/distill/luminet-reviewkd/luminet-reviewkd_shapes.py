# LumiNet + ReviewKD ("Ours*" in the LumiNet paper): the ReviewKD feature loss
# of ../reviewkd/reviewkd_shapes.py plus the LumiNet logit loss on the RoI
# logits.
_base_ = '../reviewkd/reviewkd_shapes.py'
model = dict(logit_losses=dict(loss_kd_cls={{_base_.luminet_loss}}))
