# Pair base: shapes Cascade R-CNN ResNet-34/32-wide teacher -> the shapes
# Faster R-CNN ResNet-18/4-wide student, the shapes twin of the literature's
# heterogeneous pair (Cascade Mask R-CNN X101 -> Faster R-CNN R50). Everything
# about the pair and nothing about a method (docs/distiller.md, "Configs").
# Train the teacher first, from the repository root:
#   python tools/train.py configs/detectors/cascade-rcnn_r34-w32_fpn_shapes.py
# which leaves the checkpoint named below; or pass your own with
#   --cfg-options model.teacher.checkpoint=/path/to/teacher.pth
# The student (faster-rcnn_r18-w4_fpn_shapes.py), its imports and hooks and
# the teacher check: ../shapes_distill_runtime.py.
_base_ = '../shapes_distill_runtime.py'
model = dict(
    type='RoIDistiller',
    teacher=dict(
        config='{{fileDirname}}/../../../detectors/'
        'cascade-rcnn_r34-w32_fpn_shapes.py',
        checkpoint='{{fileDirname}}/../../../../work_dirs/'
        'cascade-rcnn_r34-w32_fpn_shapes/iter_3000.pth'))
optim_wrapper = dict(constructor='DistillOptimWrapperConstructor')
