# The paper's COCO schedule for Faster R-CNN FPN (LumiNet Appendix A.9, the
# DKD/ReviewKD detection setting): total batch 8, lr 0.01, 180k iterations,
# lr steps at 120k and 160k, multi-scale training on 640-800 short sides.
# Launch with 8 GPUs x 1 image (tools/dist_train.sh CONFIG 8); for another
# GPU count keep the total batch at 8 or pass --auto-scale-lr.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'

# Plain mmdet: nothing here needs mmkd_det (the distillation pair bases
# declare it), so a (distilled) student loads in plain mmdet.

# Every path derived from data_root is spelled out here; tools/train.py and
# tools/test.py accept --data-root to move all of them at once.
data_root = 'data/coco/'
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736),
                (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

max_iters = 180000
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=20000)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=1000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[120000, 160000],
        gamma=0.1)
]
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=8)
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=20000, max_keep_ckpts=3),
    # iteration-based: log validation metrics at their iteration (scalars.json
    # `step`), not at epoch 0 as LoggerHook does by default
    logger=dict(interval=50, log_metric_by_epoch=False))
log_processor = dict(by_epoch=False)
