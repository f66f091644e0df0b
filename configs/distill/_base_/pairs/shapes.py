# Pair base: shapes ResNet-34/32-wide teacher -> ResNet-18/16-wide student.
# Everything about the pair and nothing about a method: the student (its
# model, data and schedule come from the plain student config), the teacher
# and the optimizer that leaves the teacher out. A leaf adds one method's
# losses (../losses/); see README, "Configs".
# The teacher checkpoint is where `make quickstart` leaves it, found relative
# to this file (not to the working directory); override it with
#   --cfg-options model.teacher.checkpoint=/path/to/teacher.pth
_base_ = '../../../detectors/faster-rcnn_r18-w16_fpn_shapes.py'

# RoIDistiller and the losses are mmkd_det's (the shapes student needs it
# too, for ShapesDataset; stated here so that every pair base says it).
custom_imports = dict(imports=['mmkd_det'], allow_failed_imports=False)
model = dict(
    type='RoIDistiller',
    teacher=dict(
        config='{{fileDirname}}/../../../detectors/'
        'faster-rcnn_r34-w32_fpn_shapes.py',
        checkpoint='{{fileDirname}}/../../../../work_dirs/quickstart/'
        'teacher/teacher.pth'))
optim_wrapper = dict(constructor='DistillOptimWrapperConstructor')
# Teacher pre-flight before the first step: class order against the dataset
# and its AP on 100 val images (a trained shapes teacher reaches ~0.45).
custom_hooks = [
    dict(type='SafeCheckpointLoadHook'),
    dict(type='RNGStateHook'),
    dict(type='TeacherCheckHook')
]
teacher_check = dict(num_images=100, min_ap=0.05)
