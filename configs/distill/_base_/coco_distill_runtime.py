# The distillation runtime shared by the COCO pair bases, their second base
# (the plain COCO student configs define none of these keys; mmengine refuses
# a key that two bases of a file both define).
# RoIDistiller and the losses are mmkd_det's; the plain student config is
# plain mmdet, so the import is declared here (mmdet's own tools/train.py
# then works with every distillation config).
custom_imports = dict(imports=['mmkd_det'], allow_failed_imports=False)
# Exact resume, weights_only-safe loading, and the teacher pre-flight: class
# order against COCO's and the teacher's AP on 300 val2017 images (the
# model-zoo teachers reach ~0.4; teacher_check.num_images=0 skips it).
custom_hooks = [
    dict(type='SafeCheckpointLoadHook'),
    dict(type='RNGStateHook'),
    dict(type='TeacherCheckHook')
]
teacher_check = dict(num_images=300, min_ap=0.05)
