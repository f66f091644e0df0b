# LumiNet + ReviewKD ("Ours*" in the LumiNet paper): the LumiNet logit
# loss on the RoI logits plus the ReviewKD feature loss of
# ../reviewkd/reviewkd_r50-mbv2_fpn_coco.py (kept identical to it).
_base_ = '../_base_/roi-distill_r50-mbv2_fpn_coco.py'
model = dict(
    logit_losses=dict(loss_kd_cls={{_base_.luminet_loss}}),
    feature_losses=dict(
        loss_reviewkd=dict(
            type='HCLLoss',
            loss_weight=2.0,
            connector=dict(
                type='ABFConnector',
                in_channels=256,
                out_channels=256,
                mid_channels=256,
                num_levels=5))))
