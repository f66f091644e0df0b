# LumiNet + ReviewKD ("Ours*" in the LumiNet paper): both fragments, each
# value with its reason there. Defines `logit_losses`,
# `distill_warmup_fraction` and `feature_losses_by_pair`; a leaf moves them
# into its model (docs/distiller.md, "Configs"). The warm-up (LumiNet's) ramps
# every distillation loss of the model, so the ReviewKD term too; ReviewKD
# itself has none.
_base_ = ['./luminet.py', './reviewkd.py']
