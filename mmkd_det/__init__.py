"""mmkd_det: knowledge distillation of two-stage detectors for MMDetection 3.x.

Importing the package registers its datasets, models, losses, connectors and
engine components into mmdet's registries, and allow-lists mmengine's own
checkpoint objects for ``torch.load(weights_only=True)``.
"""
from .version import __version__
from .utils.checkpoint_safety import register_safe_checkpoint_globals
from . import datasets, engine, models  # noqa: F401  (registration)

register_safe_checkpoint_globals()

__all__ = ['__version__', 'register_safe_checkpoint_globals']
