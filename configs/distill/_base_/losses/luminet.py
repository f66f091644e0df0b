# Logit-loss fragment: defines only `logit_losses`, which a leaf moves into
# its model (see README, "Configs"). loss_weight multiplies T^2 * KL averaged
# over the sampled RoIs (README, "Loss conventions"). Detection settings
# follow the DKD/ReviewKD detection code, which LumiNet says it followed;
# where a paper gives no detection setting we say why.

# LumiNet (perception KD): Hinton KD (./kd.py) on perception-normalized RoI
# logits. The paper gives no detection T or weight. T=1 as in the DKD
# detection setting it follows (kd.py's; LumiNet reports little sensitivity
# to T in [1, 8]); ALPHA=2 from its ImageNet (large-scale) setting, i.e.
# loss_weight = ALPHA^2 / T^2 = 4. ALPHA > T^2 as its appendix requires.
_base_ = './kd.py'
logit_losses = dict(loss_kd_cls=dict(logit_norm='perception', loss_weight=4.0))
