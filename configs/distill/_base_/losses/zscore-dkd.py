# Logit-loss fragment: defines only `logit_losses`, which a leaf moves into
# its model (see README, "Configs"). loss_weight multiplies T^2 * KL averaged
# over the sampled RoIs (README, "Loss conventions"). Detection settings
# follow the DKD/ReviewKD detection code, which LumiNet says it followed;
# where a paper gives no detection setting we say why.

# DKD on standardized logits (LS-KD's DKD variant) with DKD's detection
# alpha/beta/T and weight, inherited from ./dkd.py, so that the row differs
# from DKD only by the normalization.
_base_ = './dkd.py'
logit_losses = dict(loss_dkd_cls=dict(logit_norm='zscore'))
