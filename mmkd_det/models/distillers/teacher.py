"""Build a frozen teacher detector from a config and a checkpoint."""
import os.path as osp
from typing import Union

import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.runner.checkpoint import _load_checkpoint

from ...utils.checkpoint_safety import checkpoint_safe_globals
from .teacher_meta import Normalization, read_checkpoint_info

_SCOPE_SEP = '::'


def load_model_config(config: Union[str, dict]) -> ConfigDict:
    """Return the ``model`` config named by ``config``.

    Args:
        config (str | dict): a config file path (absolute; in config files
            write ``'{{fileDirname}}/...'`` so that it does not depend on the
            working directory), an ``mmdet::`` path such as
            ``'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'``, or an
            inline model dict.

    Returns:
        ConfigDict: the model config.
    """
    if isinstance(config, dict):
        return ConfigDict(config)
    if not isinstance(config, str):
        raise TypeError('teacher.config must be a config path or a model '
                        f'dict, got {type(config).__name__}.')
    if _SCOPE_SEP in config:
        from mmengine.hub import get_config
        return get_config(config).model
    if not osp.isfile(config):
        raise FileNotFoundError(
            f'Teacher config not found: {config}. Give an existing file (in '
            'a config, `{{fileDirname}}/...` resolves relative to that '
            'config), an `mmdet::` path, or an inline model dict.')
    return Config.fromfile(config).model


def _state_dict_of(checkpoint: dict) -> dict:
    state_dict = checkpoint.get('state_dict', checkpoint)
    # checkpoints written from a DDP-wrapped model carry a `module.` prefix
    return {
        (k[len('module.'):] if k.startswith('module.') else k): v
        for k, v in state_dict.items()
    }


def check_teacher_normalization(model_cfg: dict, info,
                                config: Union[str, dict]) -> None:
    """Fail if the teacher config normalizes inputs unlike its training.

    Args:
        model_cfg (dict): the teacher's model config.
        info (TeacherCheckpointInfo): what the checkpoint records.
        config (str | dict): ``model.teacher.config``, for the message.
    """
    if info.normalization is None:
        return
    ours = Normalization.from_preprocessor(
        dict(model_cfg.get('data_preprocessor') or {}))
    if ours.matches(info.normalization):
        return
    name = config if isinstance(config, str) else 'the inline teacher config'
    raise ValueError(
        f'Teacher input normalization mismatch: the teacher config ({name}) '
        f'normalizes with {ours}, but the teacher checkpoint '
        f'{info.checkpoint} was trained with {info.normalization} (recorded '
        'in its meta). The teacher would see differently scaled images. Set '
        'model.data_preprocessor in the teacher config to the checkpoint\'s '
        'values, or use the checkpoint trained with this config.')


def build_teacher(config: Union[str, dict], checkpoint: str) -> nn.Module:
    """Build the teacher, load its weights strictly and freeze it.

    What the checkpoint's ``meta`` records about the training data is kept
    as ``teacher.checkpoint_info`` (:class:`TeacherCheckpointInfo`, used by
    ``TeacherCheckHook`` for the class order); a recorded input
    normalization that differs from the teacher config's is an error here.

    Args:
        config (str | dict): see :func:`load_model_config`.
        checkpoint (str): path or URL of the trained teacher's checkpoint.

    Returns:
        nn.Module: the teacher in eval mode with ``requires_grad=False``,
        marked as initialised so that ``init_weights`` leaves it alone.
    """
    model_cfg = load_model_config(config)
    if not checkpoint:
        raise ValueError(
            'model.teacher.checkpoint is not set: a distiller needs a trained '
            'teacher. Train one (tools/train.py TEACHER_CONFIG) and pass '
            '--cfg-options model.teacher.checkpoint=/path/to/teacher.pth')
    is_url = checkpoint.startswith(('http://', 'https://', 's3://'))
    if not is_url and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'Teacher checkpoint not found: {checkpoint}. Train the teacher '
            'first (for the shapes pair: `make quickstart` or tools/train.py '
            'configs/detectors/faster-rcnn_r18-w16_fpn_shapes.py) or set '
            'model.teacher.checkpoint=/path/to/teacher.pth')
    teacher = MODELS.build(model_cfg)
    try:
        with checkpoint_safe_globals():
            state = _load_checkpoint(checkpoint, map_location='cpu')
    except Exception as err:  # any unreadable or corrupt file
        raise RuntimeError(
            f'Could not read the teacher checkpoint {checkpoint}: {err}. '
            'Check that it is a complete torch checkpoint of the teacher.'
        ) from err
    info = read_checkpoint_info(
        checkpoint,
        state.get('meta') if isinstance(state, dict) else None)
    check_teacher_normalization(model_cfg, info, config)
    state_dict = _state_dict_of(state)
    result = teacher.load_state_dict(state_dict, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f'The teacher checkpoint {checkpoint} does not fit the teacher '
            f'config: {len(result.missing_keys)} missing keys (e.g. '
            f'{result.missing_keys[:3]}) and {len(result.unexpected_keys)} '
            f'unexpected keys (e.g. {result.unexpected_keys[:3]}). Use the '
            'config the teacher was trained with.')
    teacher.requires_grad_(False)
    teacher.eval()
    # The weights are loaded: the runner's init_weights() must not reset them
    # (nor fetch the ImageNet weights named in the teacher's init_cfg).
    teacher._is_init = True
    teacher.checkpoint_info = info
    print_log(f'Loaded teacher from {checkpoint}', logger='current')
    return teacher


def drop_teacher_from_state_dict(module: nn.Module, state_dict: dict,
                                 prefix: str, local_metadata: dict) -> None:
    """``state_dict`` hook: checkpoints never carry the frozen teacher."""
    teacher_prefix = prefix + 'teacher.'
    for key in [k for k in state_dict if k.startswith(teacher_prefix)]:
        del state_dict[key]


def ignore_missing_teacher_keys(module: nn.Module, incompatible_keys) -> None:
    """Load hook: the teacher keeps the weights it was built with."""
    missing = incompatible_keys.missing_keys
    # keys are relative to the loaded root, which may wrap the distiller
    missing[:] = [k for k in missing if '.teacher.' not in f'.{k}']
