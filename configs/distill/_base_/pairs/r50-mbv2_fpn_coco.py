# Pair base: COCO R50-FPN teacher -> MobileNetV2-FPN student on the paper's
# schedule. Everything about the pair and nothing about a method: the student
# (its model, data and schedule come from the plain student config), the
# teacher and the optimizer that leaves the teacher out. A leaf adds one
# method's losses (../losses/); see docs/distiller.md, "Configs".
# The teacher is the mmdet model-zoo R50-FPN ms-3x (40.3 AP), architecturally
# identical to our R50 config. Replace the checkpoint with your own teacher as
# needed:
#   --cfg-options model.teacher.checkpoint=/path/to/teacher.pth
# The imports, hooks and teacher check: ../coco_distill_runtime.py.
_base_ = [
    '../../../detectors/faster-rcnn_mobilenetv2_fpn_ms-180k_coco.py',
    '../coco_distill_runtime.py'
]
model = dict(
    type='RoIDistiller',
    teacher=dict(
        config='{{fileDirname}}/../../../detectors/'
        'faster-rcnn_r50_fpn_ms-180k_coco.py',
        checkpoint='https://download.openmmlab.com/mmdetection/v2.0/'
        'faster_rcnn/faster_rcnn_r50_fpn_mstrain_3x_coco/'
        'faster_rcnn_r50_fpn_mstrain_3x_coco_20210524_110822-e10bd31c.pth'))
optim_wrapper = dict(constructor='DistillOptimWrapperConstructor')
