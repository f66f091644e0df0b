"""Shapes-sized Faster, Mask, Cascade and Cascade Mask R-CNN model configs.

One builder for the tests and ``tools/analysis/benchmark_pairings.py``: the
shapes Faster R-CNN (``configs/_base_/faster-rcnn_shapes.py``) or its
cascade twin (``cascade-rcnn_shapes.py``) at a chosen width, optionally with
mmdet's FCN mask head, so every supported student/teacher kind can be built
with random weights in seconds.
"""
import copy
import os.path as osp

from mmengine.config import Config, ConfigDict

KINDS = ('faster', 'mask', 'cascade', 'cascade-mask')
_CONFIGS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    '_base_')


def _as_list(cfg):
    return cfg if isinstance(cfg, list) else [cfg]


def detector_kind_cfg(kind: str, width: int = 16) -> ConfigDict:
    """Model config of a shapes detector of ``kind``.

    Args:
        kind (str): one of :data:`KINDS`.
        width (int): ResNet-18 base channels; the FPN and RoI features use
            ``2 * width`` channels, the box head's FCs ``8 * width``.

    Returns:
        ConfigDict: a plain mmdet model config (no distillation).
    """
    if kind not in KINDS:
        raise ValueError(f'Unknown detector kind {kind!r}; choose from '
                         f'{KINDS}.')
    base = 'cascade-rcnn_shapes.py' if kind.startswith(
        'cascade') else 'faster-rcnn_shapes.py'
    model = copy.deepcopy(Config.fromfile(osp.join(_CONFIGS, base)).model)
    fpn = 2 * width
    model.backbone.update(depth=18, base_channels=width)
    model.neck.update(
        in_channels=[width * 2**i for i in range(4)], out_channels=fpn)
    model.rpn_head.update(in_channels=fpn, feat_channels=fpn)
    model.roi_head.bbox_roi_extractor.out_channels = fpn
    for head in _as_list(model.roi_head.bbox_head):
        head.update(in_channels=fpn, fc_out_channels=4 * fpn)
    if kind.endswith('mask'):
        num_classes = _as_list(model.roi_head.bbox_head)[0].num_classes
        model.type = 'CascadeRCNN' if kind == 'cascade-mask' else 'MaskRCNN'
        model.roi_head.mask_roi_extractor = dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=fpn,
            featmap_strides=[4, 8, 16, 32])
        model.roi_head.mask_head = dict(
            type='FCNMaskHead',
            num_convs=1,
            in_channels=fpn,
            conv_out_channels=fpn,
            num_classes=num_classes,
            loss_mask=dict(
                type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))
        for stage_cfg in _as_list(model.train_cfg.rcnn):
            stage_cfg.mask_size = 28
        model.test_cfg.rcnn.mask_thr_binary = 0.5
    return model
