# Logit-loss fragment: defines only `logit_losses`, which a leaf moves into
# its model (see README, "Configs"). loss_weight multiplies T^2 * KL averaged
# over the sampled RoIs (README, "Loss conventions"). Detection settings
# follow the DKD/ReviewKD detection code, which LumiNet says it followed;
# where a paper gives no detection setting we say why.

# LDRLD (Xu et al. 2025), local dense relational logit distillation: public
# CIFAR k, a and b; no detection setting exists. T=1 as every other
# detection row here (T=4 is a CIFAR choice); loss_weight 1.
logit_losses = dict(
    loss_ldrld_cls=dict(
        type='LDRLDLoss',
        k=7,
        temperature=1.0,
        ldrld_weight=10.5,
        rntk_weight=7.0,
        loss_weight=1.0))
