# LumiNet + ReviewKD ("Ours*" in the LumiNet paper);
# R50-FPN -> MobileNetV2-FPN on COCO.
# The bases give the pair and the method's losses and warm-up; the model
# takes them with pop(), which leaves no copy at the top level
# (docs/distiller.md, "Configs").
_base_ = [
    '../_base_/pairs/r50-mbv2_fpn_coco.py',
    '../_base_/losses/luminet-reviewkd.py'
]
model = dict(
    logit_losses=_base_.pop('logit_losses'),
    distill_warmup_fraction=_base_.pop('distill_warmup_fraction'),
    feature_losses=_base_.pop('feature_losses_by_pair')['r50-mbv2_fpn_coco'])
