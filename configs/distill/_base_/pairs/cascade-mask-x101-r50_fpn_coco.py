# Pair base: COCO Cascade Mask R-CNN ResNeXt-101 32x4d FPN teacher -> Faster
# R-CNN R50-FPN student on the 2x schedule: the heterogeneous pair of FGD
# (Yang et al., CVPR 2022) and MGD (Yang et al., ECCV 2022), whose READMEs
# report student 38.4, FGD 42.0 and MGD 42.1 box AP. Everything about the
# pair and nothing about a method (docs/distiller.md, "Configs").
# The teacher is mmdet's model-zoo cascade-mask-rcnn_x101-32x4d_fpn_ms-3x_coco
# (46.3 box AP); its logits on a RoI are the mean of its three stages, as in
# its own inference (docs/distiller.md, "Any mmdet two-stage detector").
# Replace it with --cfg-options model.teacher.checkpoint=/path/to/teacher.pth
# The imports, hooks and teacher check: ../coco_distill_runtime.py.
_base_ = [
    '../../../detectors/faster-rcnn_r50_fpn_2x_coco.py',
    '../coco_distill_runtime.py'
]
model = dict(
    type='RoIDistiller',
    teacher=dict(
        config='{{fileDirname}}/../../../detectors/'
        'cascade-mask-rcnn_x101-32x4d_fpn_ms-3x_coco.py',
        checkpoint='https://download.openmmlab.com/mmdetection/v2.0/'
        'cascade_rcnn/cascade_mask_rcnn_x101_32x4d_fpn_mstrain_3x_coco/'
        'cascade_mask_rcnn_x101_32x4d_fpn_mstrain_3x_coco_20210706_225234-'
        '40773067.pth'))
optim_wrapper = dict(constructor='DistillOptimWrapperConstructor')
