# LumiNet + ReviewKD ("Ours*" in the LumiNet paper): both fragments, each
# value with its reason there. Defines `logit_losses` and
# `feature_losses_by_pair`; a leaf moves them into its model (README,
# "Configs").
_base_ = ['./luminet.py', './reviewkd.py']
