# FitNet: 1x1 adapter + MSE on each FPN level;
# shapes Cascade R-CNN ResNet-34/32-wide -> Faster ResNet-18/4-wide.
# The bases give the pair and the method's losses; the model takes the
# losses with pop(), which leaves no copy at the top level (docs/distiller.md,
# "Configs").
_base_ = ['../_base_/pairs/cascade_shapes.py', '../_base_/losses/fitnet.py']
model = dict(
    feature_losses=_base_.pop('feature_losses_by_pair')['cascade_shapes'])
