# Logit-loss fragment: defines only `logit_losses`, which a leaf moves into
# its model (see README, "Configs"). loss_weight multiplies T^2 * KL averaged
# over the sampled RoIs (README, "Loss conventions"). Detection settings
# follow the DKD/ReviewKD detection code, which LumiNet says it followed;
# where a paper gives no detection setting we say why.

# Logit-standardized KD (Sun et al. 2024): Hinton KD (./kd.py) on Z-score
# RoI logits with their public base temperature 2 and KD weight 9 (CIFAR and
# ImageNet alike); no detection setting exists.
_base_ = './kd.py'
logit_losses = dict(
    loss_kd_cls=dict(logit_norm='zscore', temperature=2.0, loss_weight=9.0))
