# ReviewKD (Chen et al. 2021): ABF connector on the student's FPN outputs
# (p2-p6, 32 ch) to the teacher's (64 ch), HCL between them. Weight 1.2:
# like R101->R18, this pair is a deeper/wider ResNet teaching a ResNet-18
# (same family, no architecture change as for MobileNetV2, which got 2.0).
# mid_channels = the teacher's FPN width, as ReviewKD's 256 on COCO.
_base_ = '../_base_/roi-distill_shapes.py'
model = dict(
    feature_losses=dict(
        loss_reviewkd=dict(
            type='HCLLoss',
            loss_weight=1.2,
            connector=dict(
                type='ABFConnector',
                in_channels=32,
                out_channels=64,
                mid_channels=64,
                num_levels=5))))
