# Feature-loss fragment: defines only `feature_losses_by_pair`; a leaf moves
# its pair's entry into its model (see docs/distiller.md, "Configs"). The
# weight depends on the pair, hence one entry per pair (a pair base cannot
# carry it: a logit-only leaf would inherit it). The connector's channels are
# the pair's FPN widths, which RoIDistiller fills in from the student's and the
# teacher's necks.
# ReviewKD (Chen et al. 2021): an ABF connector on the student's FPN outputs
# (p2-p6, one block per level) and HCL against the teacher's FPN outputs.
# mid_channels=None: the teacher's FPN width, as ReviewKD's 256 on COCO.
# Names starting with '__' stay out of the config (mmengine drops them).
__weight_by_pair = {
    # their R101->R18 setting
    'r101-r18_fpn_coco': 1.2,
    # their R50->MobileNetV2 setting
    'r50-mbv2_fpn_coco': 2.0,
    # student FPN 8 ch -> teacher FPN 32 ch; like R101->R18, a deeper/wider
    # ResNet teaching a ResNet-18 (same family, no architecture change as for
    # MobileNetV2, which got 2.0)
    'shapes': 1.2,
    # Faster R50 student of the Cascade Mask X101 teacher, both 256-ch FPNs:
    # ReviewKD has no setting for this pair; 1.0 is their R101->R50 one (the
    # same student backbone)
    'cascade-mask-x101-r50_fpn_coco': 1.0,
    # the shapes student (8 ch) under the Cascade teacher (64 ch): the
    # weight of the shapes Faster pair, whose student and FPNs are the same
    'cascade_shapes': 1.2,
    # the digits pair: a wider ResNet-18 teaching a ResNet-18 (student FPN
    # 8 ch -> teacher FPN 64 ch), as R101->R18 and the shapes pairs
    'digits': 1.2,
}
feature_losses_by_pair = {
    pair:
    dict(
        loss_reviewkd=dict(
            type='HCLLoss',
            loss_weight=weight,
            connector=dict(type='ABFConnector', mid_channels=None)))
    for pair, weight in __weight_by_pair.items()
}
