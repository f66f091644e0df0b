# Feature-loss fragment: defines only `feature_losses_by_pair`; a leaf moves
# its pair's entry into its model (see README, "Configs"). The adapter's
# channels and the weight depend on the pair, hence one entry per pair (a
# pair base cannot carry them: a logit-only leaf would inherit them).
# FitNet (Romero et al. 2015) on FPN outputs: a 1x1 conv per level (p2-p6,
# student FPN channels -> teacher FPN channels) and the per-level MSE, summed
# over levels. No published FitNet detection setting fits this loss. Weight =
# ReviewKD's for the pair (./reviewkd.py): HCL's per-level loss is a weighted
# mean of MSEs, on the same scale as this one, so FitNet is ReviewKD without
# the ABF fusion and the HCL pyramid.
feature_losses_by_pair = {
    'r101-r18_fpn_coco':
    dict(
        loss_fitnet=dict(
            type='FeatureMSELoss',
            loss_weight=1.2,
            connector=dict(
                type='ConvAdapter',
                in_channels=256,
                out_channels=256,
                num_levels=5))),
    'r50-mbv2_fpn_coco':
    dict(
        loss_fitnet=dict(
            type='FeatureMSELoss',
            loss_weight=2.0,
            connector=dict(
                type='ConvAdapter',
                in_channels=256,
                out_channels=256,
                num_levels=5))),
    # student FPN 32 ch -> teacher FPN 64 ch
    'shapes':
    dict(
        loss_fitnet=dict(
            type='FeatureMSELoss',
            loss_weight=1.2,
            connector=dict(
                type='ConvAdapter',
                in_channels=32,
                out_channels=64,
                num_levels=5))),
    # weight = ReviewKD's for the pair (1.0, see ./reviewkd.py)
    'cascade-mask-x101-r50_fpn_coco':
    dict(
        loss_fitnet=dict(
            type='FeatureMSELoss',
            loss_weight=1.0,
            connector=dict(
                type='ConvAdapter',
                in_channels=256,
                out_channels=256,
                num_levels=5))),
    # student FPN 32 ch -> Cascade teacher FPN 64 ch
    'cascade_shapes':
    dict(
        loss_fitnet=dict(
            type='FeatureMSELoss',
            loss_weight=1.2,
            connector=dict(
                type='ConvAdapter',
                in_channels=32,
                out_channels=64,
                num_levels=5))),
}
