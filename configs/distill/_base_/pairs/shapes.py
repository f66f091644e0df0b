# Pair base: shapes ResNet-18/16-wide teacher -> ResNet-18/4-wide student.
# Everything about the pair and nothing about a method: the student (its
# model, data and schedule come from the plain student config), the teacher
# and the optimizer that leaves the teacher out. A leaf adds one method's
# losses (../losses/); see docs/distiller.md, "Configs".
# The teacher checkpoint is where `make quickstart` leaves it, found relative
# to this file (not to the working directory); override it with
#   --cfg-options model.teacher.checkpoint=/path/to/teacher.pth
# The student (faster-rcnn_r18-w4_fpn_shapes.py), its imports and hooks and
# the teacher check: ../shapes_distill_runtime.py.
_base_ = '../shapes_distill_runtime.py'
model = dict(
    type='RoIDistiller',
    teacher=dict(
        config='{{fileDirname}}/../../../detectors/'
        'faster-rcnn_r18-w16_fpn_shapes.py',
        checkpoint='{{fileDirname}}/../../../../work_dirs/quickstart/'
        'teacher/teacher.pth'))
optim_wrapper = dict(constructor='DistillOptimWrapperConstructor')
