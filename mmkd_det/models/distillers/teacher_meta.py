"""What a teacher checkpoint records about its training: classes, inputs.

MMEngine's runner writes ``meta.dataset_meta.classes`` and the run's config
text (``meta.cfg``); mmdet 2.x model-zoo checkpoints write ``meta.CLASSES``
and ``meta.config`` (with ``img_norm_cfg``). The config text is read with
:mod:`ast` and never executed: a checkpoint loaded with ``weights_only``
must not run code through its metadata.
"""
import ast
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np


@dataclass(frozen=True)
class Normalization:
    """Input normalization of a detector's data preprocessor."""

    mean: Optional[Tuple[float, ...]]
    std: Optional[Tuple[float, ...]]
    bgr_to_rgb: bool

    @classmethod
    def from_preprocessor(cls, cfg: dict) -> 'Normalization':
        """From a ``DetDataPreprocessor`` config (mmdet 3.x)."""
        mean, std = cfg.get('mean'), cfg.get('std')
        return cls(
            tuple(float(v) for v in mean) if mean is not None else None,
            tuple(float(v) for v in std) if std is not None else None,
            bool(cfg.get('bgr_to_rgb', False) or cfg.get('rgb_to_bgr', False)))

    def matches(self, other: 'Normalization') -> bool:
        """Equal up to float rounding."""
        if self.bgr_to_rgb != other.bgr_to_rgb:
            return False
        for mine, theirs in ((self.mean, other.mean), (self.std, other.std)):
            if (mine is None) != (theirs is None):
                return False
            if mine is not None and not (
                    len(mine) == len(theirs)
                    and np.allclose(mine, theirs, rtol=1e-6, atol=1e-6)):
                return False
        return True

    def __str__(self) -> str:
        return (f'mean={list(self.mean) if self.mean else None}, '
                f'std={list(self.std) if self.std else None}, '
                f'bgr_to_rgb={self.bgr_to_rgb}')


@dataclass(frozen=True)
class TeacherCheckpointInfo:
    """What the teacher checkpoint says about the data it was trained on.

    Attributes:
        checkpoint (str): the checkpoint's path or URL.
        classes (tuple | None): class names in label order, if recorded.
        normalization (Normalization | None): the training input
            normalization, if the recorded config text holds it.
    """

    checkpoint: str
    classes: Optional[Tuple[str, ...]] = None
    normalization: Optional[Normalization] = None


def _literal(node: ast.AST):
    """Evaluate literals and ``dict(key=literal, ...)`` calls, nothing else."""
    if isinstance(node, ast.Call):
        if (isinstance(node.func, ast.Name) and node.func.id == 'dict'
                and not node.args):
            return {
                kw.arg: _literal(kw.value)
                for kw in node.keywords if kw.arg is not None
            }
        raise ValueError('not a literal')
    if isinstance(node, ast.Dict):
        return {
            _literal(k): _literal(v)
            for k, v in zip(node.keys, node.values)
        }
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [_literal(v) for v in node.elts]
        return values if isinstance(node, ast.List) else tuple(values)
    return ast.literal_eval(node)


def _assignments(text: str) -> dict:
    """Top-level ``name = <expression node>`` of a config text."""
    found = {}
    for stmt in ast.parse(text).body:
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)):
            found[stmt.targets[0].id] = stmt.value
    return found


def normalization_from_config_text(text: str) -> Optional[Normalization]:
    """The training normalization recorded in a config text, if any.

    Args:
        text (str): ``meta['cfg']`` (MMEngine) or ``meta['config']`` (mmdet
            2.x) of a checkpoint.

    Returns:
        Normalization | None: ``model.data_preprocessor``'s mean, std and
        channel conversion, or mmdet 2.x's ``img_norm_cfg``; None when the
        text holds neither or cannot be parsed.
    """
    try:
        names = _assignments(text)
        model = names.get('model')
        if isinstance(model, ast.Call):
            for kw in model.keywords:
                if kw.arg == 'data_preprocessor':
                    return Normalization.from_preprocessor(_literal(kw.value))
        if 'img_norm_cfg' in names:  # mmdet 2.x
            cfg = _literal(names['img_norm_cfg'])
            return Normalization.from_preprocessor(
                dict(
                    mean=cfg.get('mean'),
                    std=cfg.get('std'),
                    bgr_to_rgb=cfg.get('to_rgb', False)))
    except (SyntaxError, ValueError, TypeError, AttributeError):
        return None
    return None


def read_checkpoint_info(checkpoint: str, meta: dict) -> TeacherCheckpointInfo:
    """Collect class names and normalization from a checkpoint's ``meta``.

    Args:
        checkpoint (str): path or URL, for messages.
        meta (dict): the checkpoint's ``meta`` (may be empty).

    Returns:
        TeacherCheckpointInfo: what could be read.
    """
    meta = meta if isinstance(meta, dict) else {}
    dataset_meta = meta.get('dataset_meta') or {}
    classes: Optional[Sequence[str]] = dataset_meta.get(
        'classes') if isinstance(dataset_meta, dict) else None
    if classes is None:
        classes = meta.get('CLASSES')  # mmdet 2.x
    text = meta.get('cfg') or meta.get('config')
    return TeacherCheckpointInfo(
        checkpoint=checkpoint,
        classes=tuple(classes) if classes is not None else None,
        normalization=normalization_from_config_text(text) if isinstance(
            text, str) else None)
