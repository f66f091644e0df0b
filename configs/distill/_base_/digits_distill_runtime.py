# The digits student with the distillation runtime, the base of the digits
# pair base. The student config already imports mmkd_det (for
# DigitsDataset) and has the exact-resume and weights_only-safe loading
# hooks; the teacher pre-flight comes after them: class order against the
# dataset and the teacher's AP on 100 validation images
# (teacher_check.num_images=0 skips it).
_base_ = '../../detectors/faster-rcnn_r18-w4_fpn_digits.py'
custom_hooks = _base_.custom_hooks + [dict(type='TeacherCheckHook')]
teacher_check = dict(num_images=100, min_ap=0.05)
