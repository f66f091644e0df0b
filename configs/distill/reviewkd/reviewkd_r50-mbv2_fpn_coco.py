# ReviewKD: ABF connector + HCL on the FPN outputs;
# R50-FPN -> MobileNetV2-FPN on COCO.
# The bases give the pair and the method's losses; the model takes the
# losses with pop(), which leaves no copy at the top level (docs/distiller.md,
# "Configs").
_base_ = [
    '../_base_/pairs/r50-mbv2_fpn_coco.py', '../_base_/losses/reviewkd.py'
]
model = dict(
    feature_losses=_base_.pop('feature_losses_by_pair')['r50-mbv2_fpn_coco'])
