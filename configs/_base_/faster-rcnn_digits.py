# Faster R-CNN FPN on the embedded handwritten digits dataset
# (tools/make_dataset.py digits), sized to train from scratch on a laptop CPU:
# 128x128 images, narrow backbones and FPN, few proposals and RoIs per image
# (300/150 proposals, 64 RoIs: measured on the shapes dataset,
# benchmarks/shapes/schedule_study.md; 32 RoIs cost 2 AP there).
# The shapes base (tests' tiny fixture) derives from this one.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['mmkd_det'], allow_failed_imports=False)
# exact resume (random states in checkpoints) and weights_only-safe loading,
# also under mmdet's own tools/train.py
custom_hooks = [dict(type='SafeCheckpointLoadHook'), dict(type='RNGStateHook')]

# Relative to the working directory, as mmdet's data/coco/; `make quickstart`
# runs from the repository root. Use --data-root to point elsewhere.
data_root = 'data/digits/'
dataset_type = 'DigitsDataset'
num_classes = 10
backend_args = None

model = dict(
    backbone=dict(
        depth=18,
        base_channels=32,
        frozen_stages=-1,
        # trained from scratch: BatchNorm statistics must be learned
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64),
    rpn_head=dict(
        in_channels=64,
        feat_channels=64,
        # digits are 18-64 px (longer side) at 128x128: anchors from 16 px
        # (stride 4) to 256 px
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        # one bilinear sample per RoIAlign bin instead of the adaptive
        # ceil(roi/7)^2: mmcv's CPU RoIAlign is ~30% of a step, and this makes
        # whole steps 1.25-1.3x cheaper at equal AP (58.6 vs 58.5 on tune;
        # benchmarks/shapes/probes/roi_align_sampling.py)
        bbox_roi_extractor=dict(
            out_channels=64, roi_layer=dict(sampling_ratio=1)),
        bbox_head=dict(
            in_channels=64, fc_out_channels=256, num_classes=num_classes)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=300, max_per_img=150),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=150), rcnn=dict(max_per_img=50)))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    # native resolution; Resize records the scale_factor that mmdet's
    # prediction rescaling expects
    dict(type='Resize', scale_factor=1.0, keep_ratio=True),
    # no RandomFlip: a mirrored digit is not a digit
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale_factor=1.0, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
# what the train and val datasets share (mmengine drops '__' names from the
# config)
__dataset = dict(
    _delete_=True,
    type=dataset_type,
    data_root=data_root,
    backend_args=backend_args)
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        __dataset,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    dataset=dict(
        __dataset,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# COCO AP and, from the same predictions, D-ECE (coco/d_ece) at every
# validation
val_evaluator = dict(
    type='CocoMetricWithDECE',
    ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

# Leaf configs set train_cfg.max_iters; the schedule follows it at run time:
# the cosine decay ends at max_iters (the runner fills in its `end`), and the
# warm-up overlaps its start (both factors apply), so any max_iters works.
train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=1000, val_interval=250)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, eta_min=1e-4)
]
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=10, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=4)
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=250, max_keep_ckpts=1),
    # iteration-based: log validation metrics at their iteration (scalars.json
    # `step`), not at epoch 0 as LoggerHook does by default
    logger=dict(interval=25, log_metric_by_epoch=False),
    visualization=dict(draw=False))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
