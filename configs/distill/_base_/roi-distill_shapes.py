# Shapes pair: ResNet-34/32-wide teacher -> ResNet-18/16-wide student.
# The teacher checkpoint is where `make quickstart` leaves it, found relative
# to this file (not to the working directory); override it with
#   --cfg-options model.teacher.checkpoint=/path/to/teacher.pth
_base_ = [
    '../../detectors/faster-rcnn_r18-w16_fpn_shapes.py',
    './distill-losses.py'
]
model = dict(
    type='RoIDistiller',
    teacher=dict(
        config='{{fileDirname}}/../../detectors/'
        'faster-rcnn_r34-w32_fpn_shapes.py',
        checkpoint='{{fileDirname}}/../../../work_dirs/quickstart/'
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
