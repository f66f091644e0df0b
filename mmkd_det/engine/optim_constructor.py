"""Optimizer construction that leaves a frozen teacher out."""
import torch.nn as nn
from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DistillOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Build the optimizer over the trainable part of a distiller only.

    MMEngine's default constructor hands every parameter of the model to the
    optimizer, the frozen teacher's too. Here the optimizer sees the model
    without its ``teacher`` child, through a :class:`~torch.nn.ModuleDict` of
    the remaining children, so parameter names (and thus ``paramwise_cfg``
    keys such as ``backbone`` or ``connectors``) are unchanged. Models without
    a teacher are passed through untouched, so the constructor is safe to use
    for plain detectors as well.
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if is_model_wrapper(model):
            model = model.module
        if isinstance(getattr(model, 'teacher', None), nn.Module):
            model = nn.ModuleDict({
                name: child
                for name, child in model.named_children() if name != 'teacher'
            })
        return super().__call__(model)
