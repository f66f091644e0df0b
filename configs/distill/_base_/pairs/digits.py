# Pair base: digits ResNet-18/32-wide teacher -> ResNet-18/4-wide student.
# Everything about the pair and nothing about a method: the student (its
# model, data and schedule come from the plain student config), the teacher
# and the optimizer that leaves the teacher out. A leaf adds one method's
# losses (../losses/); see docs/distiller.md, "Configs".
# The teacher is the one the repository ships (`make teacher` retrains it;
# its record: checkpoints/digits/faster-rcnn_r18-w32_fpn_digits.json), found
# relative to this file, not to the working directory; override it with
#   --cfg-options model.teacher.checkpoint=/path/to/teacher.pth
_base_ = '../digits_distill_runtime.py'
model = dict(
    type='RoIDistiller',
    teacher=dict(
        config='{{fileDirname}}/../../../detectors/'
        'faster-rcnn_r18-w32_fpn_digits.py',
        checkpoint='{{fileDirname}}/../../../../checkpoints/digits/'
        'faster-rcnn_r18-w32_fpn_digits.pth'))
optim_wrapper = dict(constructor='DistillOptimWrapperConstructor')
