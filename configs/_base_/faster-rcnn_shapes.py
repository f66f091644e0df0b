# Faster R-CNN FPN on the embedded synthetic "shapes" dataset
# (tools/make_dataset.py shapes): the tests' tiny fixture and the past
# reference (benchmarks/shapes). The digits detector with 8 classes and a
# horizontal flip, which suits shapes (a mirrored triangle is a triangle).
_base_ = './faster-rcnn_digits.py'

data_root = 'data/shapes/'
dataset_type = 'ShapesDataset'
num_classes = 8

# shapes are 10-102 px at 128x128 (10-150 px, capped at 80% of the side): the
# digits anchors (16 px at stride 4 to 256 px) cover them too
model = dict(roi_head=dict(bbox_head=dict(num_classes=num_classes)))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale_factor=1.0, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
