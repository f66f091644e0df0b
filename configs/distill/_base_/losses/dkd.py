# Logit-loss fragment: defines only `logit_losses`, which a leaf moves into
# its model (see docs/distiller.md, "Configs"). loss_weight multiplies T^2 * KL
# averaged over the sampled RoIs (docs/distiller.md, "Loss conventions").
# Detection settings follow the DKD/ReviewKD detection code, which LumiNet says
# it followed; where a paper gives no detection setting we say why.

# Decoupled KD (DKD), detection setting (Zhao et al. 2022): alpha=1,
# beta=0.25, T=1.
logit_losses = dict(
    loss_dkd_cls=dict(
        type='DKDLoss', alpha=1.0, beta=0.25, temperature=1.0,
        loss_weight=1.0))
