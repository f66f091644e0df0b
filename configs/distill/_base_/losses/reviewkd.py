# Feature-loss fragment: defines only `feature_losses_by_pair`; a leaf moves
# its pair's entry into its model (see README, "Configs"). The connector's
# channels and the weight depend on the pair, hence one entry per pair (a
# pair base cannot carry them: a logit-only leaf would inherit them).
# ReviewKD (Chen et al. 2021): an ABF connector on the student's FPN outputs
# (p2-p6, one block per level) and HCL against the teacher's FPN outputs.
# mid_channels = the teacher's FPN width, as ReviewKD's 256 on COCO.
feature_losses_by_pair = {
    # weight 1.2: their R101->R18 setting
    'r101-r18_fpn_coco':
    dict(
        loss_reviewkd=dict(
            type='HCLLoss',
            loss_weight=1.2,
            connector=dict(
                type='ABFConnector',
                in_channels=256,
                out_channels=256,
                mid_channels=256,
                num_levels=5))),
    # weight 2.0: their R50->MobileNetV2 setting
    'r50-mbv2_fpn_coco':
    dict(
        loss_reviewkd=dict(
            type='HCLLoss',
            loss_weight=2.0,
            connector=dict(
                type='ABFConnector',
                in_channels=256,
                out_channels=256,
                mid_channels=256,
                num_levels=5))),
    # student FPN 32 ch -> teacher FPN 64 ch. Weight 1.2: like R101->R18,
    # this pair is a deeper/wider ResNet teaching a ResNet-18 (same family,
    # no architecture change as for MobileNetV2, which got 2.0).
    'shapes':
    dict(
        loss_reviewkd=dict(
            type='HCLLoss',
            loss_weight=1.2,
            connector=dict(
                type='ABFConnector',
                in_channels=32,
                out_channels=64,
                mid_channels=64,
                num_levels=5))),
    # Faster R50 student of the Cascade Mask X101 teacher, both 256-ch FPNs.
    # ReviewKD has no setting for this pair; weight 1.0 is their R101->R50
    # one (the same student backbone).
    'cascade-mask-x101-r50_fpn_coco':
    dict(
        loss_reviewkd=dict(
            type='HCLLoss',
            loss_weight=1.0,
            connector=dict(
                type='ABFConnector',
                in_channels=256,
                out_channels=256,
                mid_channels=256,
                num_levels=5))),
    # the shapes student (32 ch) under the Cascade teacher (64 ch): the
    # weight of the shapes Faster pair, whose student and FPNs are the same
    'cascade_shapes':
    dict(
        loss_reviewkd=dict(
            type='HCLLoss',
            loss_weight=1.2,
            connector=dict(
                type='ABFConnector',
                in_channels=32,
                out_channels=64,
                mid_channels=64,
                num_levels=5))),
}
