# Feature-loss fragment: defines only `feature_losses_by_pair`; a leaf moves
# its pair's entry into its model (see docs/distiller.md, "Configs"). The
# adapter's channels are the pair's FPN widths, which RoIDistiller fills in
# from the student's and the teacher's necks.
# FitNet (Romero et al. 2015) on FPN outputs: a 1x1 conv per level (p2-p6,
# student FPN channels -> teacher FPN channels) and the per-level MSE, summed
# over levels. No published FitNet detection setting fits this loss. Weight =
# ReviewKD's for the pair, read from ./reviewkd.py (where each has its
# reason): HCL's per-level loss is a weighted mean of MSEs, on the same scale
# as this one, so FitNet is ReviewKD without the ABF fusion and the HCL
# pyramid. pop() keeps ReviewKD's losses out of this fragment.
_base_ = './reviewkd.py'
feature_losses_by_pair = {
    pair:
    dict(
        loss_fitnet=dict(
            type='FeatureMSELoss',
            loss_weight=reviewkd.loss_reviewkd.loss_weight,
            connector=dict(type='ConvAdapter')))
    for pair, reviewkd in _base_.pop('feature_losses_by_pair').items()
}
