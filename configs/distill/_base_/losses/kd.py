# Logit-loss fragment: defines only `logit_losses`, which a leaf moves into
# its model (see docs/distiller.md, "Configs"). loss_weight multiplies T^2 * KL
# averaged over the sampled RoIs (docs/distiller.md, "Loss conventions").
# Detection settings follow the DKD/ReviewKD detection code, which LumiNet says
# it followed; where a paper gives no detection setting we say why.

# Hinton KD as the DKD detection baseline: T=1, weight 1.
logit_losses = dict(
    loss_kd_cls=dict(type='LogitKDLoss', temperature=1.0, loss_weight=1.0))
