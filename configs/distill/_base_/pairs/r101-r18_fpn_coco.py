# Pair base: COCO R101-FPN teacher -> R18-FPN student on the paper's
# schedule. Everything about the pair and nothing about a method: the student
# (its model, data and schedule come from the plain student config), the
# teacher and the optimizer that leaves the teacher out. A leaf adds one
# method's losses (../losses/); see README, "Configs".
# The teacher is the mmdet model-zoo R101-FPN ms-3x (41.8 AP), architecturally
# identical to our R101 config. Replace the checkpoint with your own teacher
# as needed:
#   --cfg-options model.teacher.checkpoint=/path/to/teacher.pth
_base_ = '../../../detectors/faster-rcnn_r18_fpn_ms-180k_coco.py'

# RoIDistiller and the losses are mmkd_det's; the plain student config is
# plain mmdet, so the import is declared here (mmdet's own tools/train.py
# then works with every distillation config).
custom_imports = dict(imports=['mmkd_det'], allow_failed_imports=False)
model = dict(
    type='RoIDistiller',
    teacher=dict(
        config='{{fileDirname}}/../../../detectors/'
        'faster-rcnn_r101_fpn_ms-180k_coco.py',
        checkpoint='https://download.openmmlab.com/mmdetection/v2.0/'
        'faster_rcnn/faster_rcnn_r101_fpn_mstrain_3x_coco/'
        'faster_rcnn_r101_fpn_mstrain_3x_coco_20210524_110822-4d4d2ca8.pth'))
optim_wrapper = dict(constructor='DistillOptimWrapperConstructor')
# Exact resume, weights_only-safe loading, and the teacher pre-flight: class
# order against COCO's and the teacher's AP on 300 val2017 images (the
# model-zoo teachers reach ~0.4; teacher_check.num_images=0 skips it).
custom_hooks = [
    dict(type='SafeCheckpointLoadHook'),
    dict(type='RNGStateHook'),
    dict(type='TeacherCheckHook')
]
teacher_check = dict(num_images=300, min_ap=0.05)
