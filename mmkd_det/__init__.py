"""mmkd_det: knowledge distillation of two-stage detectors for MMDetection 3.x.

Importing the package registers its datasets, models, losses, connectors,
engine components and hooks into mmdet's registries. It does not touch
torch's process-wide state: mmengine's checkpoint objects are allow-listed
for ``torch.load(weights_only=True)`` only inside
:func:`~mmkd_det.utils.checkpoint_safe_globals` (used by the tools, the
teacher build and the ``SafeCheckpointLoadHook``). Before registering
anything it checks the installed torch/mmcv/mmdet combination
(:func:`~mmkd_det.utils.compat.check_stack`).
"""
from .utils.compat import check_stack

check_stack()  # a known-bad torch/mmcv/mmdet combination fails here

from . import datasets, engine, evaluation, models  # noqa: E402,F401
from .utils.checkpoint_safety import checkpoint_safe_globals  # noqa: E402
from .version import __version__  # noqa: E402

__all__ = ['__version__', 'checkpoint_safe_globals']
