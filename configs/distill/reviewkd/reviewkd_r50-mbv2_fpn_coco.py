# ReviewKD (Chen et al. 2021): ABF connector on the student's FPN outputs
# (p2-p6) and HCL against the teacher's, weight 2.0 (their R50->MobileNetV2
# setting).
_base_ = '../_base_/roi-distill_r50-mbv2_fpn_coco.py'
model = dict(
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
