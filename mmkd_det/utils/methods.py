"""The distillation methods and teacher/student pairs this repository ships.

The one list of them: ``tools/quickstart.py``, the comparison tools and the
tests read it, and a test checks it against ``configs/distill`` both ways
(every registered leaf exists, every leaf is registered). A distillation
config ("leaf") is ``configs/distill/<method>/<method>_<pair>.py``; it
inherits the pair base ``configs/distill/_base_/pairs/<pair>.py`` and the
method's loss fragments ``configs/distill/_base_/losses/<fragment>.py``
(docs/distiller.md, "Configs").

Paths are relative to the ``configs`` folder of the checkout this package is
imported from (:data:`CONFIG_ROOT`); the configs are not installed with the
package.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_ROOT = osp.join(REPO_ROOT, 'configs')
LEAF_PATTERN = 'distill/{method}/{method}_{pair}.py'
PAIR_BASE_PATTERN = 'distill/_base_/pairs/{pair}.py'
FRAGMENT_PATTERN = 'distill/_base_/losses/{fragment}.py'
KINDS = ('logit', 'feature', 'logit+feature')


@dataclass(frozen=True)
class Method:
    """A distillation method.

    Attributes:
        name (str): the leaf folder and file prefix, e.g. ``'zscore-kd'``.
        kind (str): ``'logit'`` (RoI logit losses), ``'feature'`` (FPN
            feature losses with a connector) or ``'logit+feature'``.
        description (str): one line for tables and ``--help``.
        fragments (tuple[str]): loss fragments its leaves take as bases,
            names of files in ``configs/distill/_base_/losses`` without
            ``.py``. Defaults to ``(name, )``, the method's own fragment.
    """
    name: str
    kind: str
    description: str
    fragments: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.fragments:
            object.__setattr__(self, 'fragments', (self.name, ))


@dataclass(frozen=True)
class Pair:
    """A teacher/student pair.

    Attributes:
        name (str): the leaf file suffix and pair base name, e.g.
            ``'r101-r18_fpn_coco'``.
        dataset (str): ``'coco'``, ``'digits'`` or ``'shapes'``.
        teacher (str): the teacher's plain detector config, relative to
            ``configs``.
        student (str): the student's plain detector config, relative to
            ``configs``; a distilled checkpoint evaluates with it.
        description (str): one line for tables.
        teacher_checkpoint (str | None): the trained teacher the repository
            ships for this pair, relative to the repository root (the pair
            base config names the same file), or None.
    """
    name: str
    dataset: str
    teacher: str
    student: str
    description: str
    teacher_checkpoint: Optional[str] = None


METHODS: Dict[str, Method] = {
    m.name: m
    for m in (
        # Method(name, kind, description); fragments: the file named as it
        Method('kd', 'logit', 'Hinton KD on the RoI logits'),
        Method('dkd', 'logit', 'Decoupled KD on the RoI logits'),
        Method('luminet', 'logit',
               'LumiNet: KD on perception-normalized RoI logits'),
        Method('zscore-kd', 'logit',
               'KD on Z-score (logit-standardized) RoI logits'),
        Method('zscore-dkd', 'logit',
               'DKD on Z-score (logit-standardized) RoI logits'),
        Method('ldrld', 'logit',
               'LDRLD: local dense relational logit distillation'),
        Method('fitnet', 'feature',
               'FitNet: 1x1 adapter + MSE on each FPN level'),
        Method('reviewkd', 'feature',
               'ReviewKD: ABF connector + HCL on the FPN outputs'),
        Method('luminet-reviewkd', 'logit+feature',
               'LumiNet + ReviewKD ("Ours*" in the LumiNet paper)'),
    )
}

PAIRS: Dict[str, Pair] = {
    p.name: p
    for p in (
        Pair(
            name='r101-r18_fpn_coco',
            dataset='coco',
            teacher='detectors/faster-rcnn_r101_fpn_ms-180k_coco.py',
            student='detectors/faster-rcnn_r18_fpn_ms-180k_coco.py',
            description='Faster R-CNN R101-FPN -> R18-FPN, COCO, 180k iters'),
        Pair(
            name='r50-mbv2_fpn_coco',
            dataset='coco',
            teacher='detectors/faster-rcnn_r50_fpn_ms-180k_coco.py',
            student='detectors/faster-rcnn_mobilenetv2_fpn_ms-180k_coco.py',
            description='Faster R-CNN R50-FPN -> MobileNetV2-FPN, COCO, '
            '180k iters'),
        Pair(
            name='cascade-mask-x101-r50_fpn_coco',
            dataset='coco',
            teacher='detectors/cascade-mask-rcnn_x101-32x4d_fpn_ms-3x_coco.py',
            student='detectors/faster-rcnn_r50_fpn_2x_coco.py',
            description='Cascade Mask R-CNN X101-32x4d-FPN -> Faster R-CNN '
            'R50-FPN, COCO, 2x (the FGD/MGD pair)'),
        Pair(
            name='digits',
            dataset='digits',
            teacher='detectors/faster-rcnn_r18-w32_fpn_digits.py',
            student='detectors/faster-rcnn_r18-w4_fpn_digits.py',
            description='Faster R-CNN ResNet-18/32-wide -> ResNet-18/4-wide, '
            'handwritten digits',
            teacher_checkpoint='checkpoints/digits/'
            'faster-rcnn_r18-w32_fpn_digits.pth'),
        Pair(
            name='shapes',
            dataset='shapes',
            teacher='detectors/faster-rcnn_r18-w16_fpn_shapes.py',
            student='detectors/faster-rcnn_r18-w4_fpn_shapes.py',
            description='Faster R-CNN ResNet-18/16-wide -> ResNet-18/4-wide, '
            'shapes'),
        Pair(
            name='cascade_shapes',
            dataset='shapes',
            teacher='detectors/cascade-rcnn_r34-w32_fpn_shapes.py',
            student='detectors/faster-rcnn_r18-w4_fpn_shapes.py',
            description='Cascade R-CNN ResNet-34/32-wide -> Faster R-CNN '
            'ResNet-18/4-wide, shapes'),
    )
}


def _lookup(table: dict, name: str, what: str):
    if name not in table:
        raise KeyError(f'unknown {what} {name!r}; registered: '
                       f'{", ".join(table)} (mmkd_det/utils/methods.py)')
    return table[name]


def leaf_config(method: str, pair: str, config_root: str = CONFIG_ROOT) -> str:
    """Path of the distillation config of ``method`` on ``pair``.

    Args:
        method (str): a key of :data:`METHODS`.
        pair (str): a key of :data:`PAIRS`.
        config_root (str): the ``configs`` folder.

    Returns:
        str: ``<config_root>/distill/<method>/<method>_<pair>.py``.

    Raises:
        KeyError: the method or the pair is not registered.
    """
    _lookup(METHODS, method, 'method')
    _lookup(PAIRS, pair, 'pair')
    return osp.join(config_root, LEAF_PATTERN.format(method=method, pair=pair))


def pair_base_config(pair: str, config_root: str = CONFIG_ROOT) -> str:
    """Path of the pair base config (teacher, student, optimizer)."""
    _lookup(PAIRS, pair, 'pair')
    return osp.join(config_root, PAIR_BASE_PATTERN.format(pair=pair))


def fragment_configs(method: str,
                     config_root: str = CONFIG_ROOT) -> Tuple[str, ...]:
    """Paths of the loss fragments ``method`` combines, in leaf order."""
    return tuple(
        osp.join(config_root, FRAGMENT_PATTERN.format(fragment=f))
        for f in _lookup(METHODS, method, 'method').fragments)


def teacher_config(pair: str, config_root: str = CONFIG_ROOT) -> str:
    """Path of the pair's plain teacher detector config."""
    return osp.join(config_root, _lookup(PAIRS, pair, 'pair').teacher)


def student_config(pair: str, config_root: str = CONFIG_ROOT) -> str:
    """Path of the pair's plain student detector config."""
    return osp.join(config_root, _lookup(PAIRS, pair, 'pair').student)


def shipped_teacher(pair: str) -> Optional[str]:
    """Absolute path of the teacher checkpoint shipped for ``pair``, or None
    when the pair ships none."""
    path = _lookup(PAIRS, pair, 'pair').teacher_checkpoint
    return None if path is None else osp.join(REPO_ROOT, path)
