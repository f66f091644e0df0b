# FitNet (Romero et al. 2015) on FPN outputs: a 1x1 conv per level (p2-p6,
# student 256 ch -> teacher 256 ch) and the per-level MSE, summed over levels.
# No published FitNet detection setting fits this loss. Weight 2.0 =
# ReviewKD's for this pair (../reviewkd): HCL's per-level loss is a
# weighted mean of MSEs, on the same scale as this one, so FitNet is
# ReviewKD without the ABF fusion and the HCL pyramid.
_base_ = '../_base_/roi-distill_r50-mbv2_fpn_coco.py'
model = dict(
    feature_losses=dict(
        loss_fitnet=dict(
            type='FeatureMSELoss',
            loss_weight=2.0,
            connector=dict(
                type='ConvAdapter',
                in_channels=256,
                out_channels=256,
                num_levels=5))))
