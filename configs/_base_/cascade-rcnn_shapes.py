# Cascade R-CNN FPN on the shapes dataset: the shapes Faster R-CNN (backbone,
# FPN, RPN, data and schedule) with mmdet's three-stage cascade RoI head
# (cascade-rcnn_r50_fpn.py: IoU 0.5/0.6/0.7, stage weights 1/0.5/0.25), sized
# like the shapes Faster head (64-ch RoI features, 256-d FCs, 64 RoIs).
_base_ = './faster-rcnn_shapes.py'

_stage_box_stds = ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1,
                                          0.1], [0.033, 0.033, 0.067, 0.067])
_stage_ious = (0.5, 0.6, 0.7)
model = dict(
    type='CascadeRCNN',
    roi_head=dict(
        _delete_=True,
        type='CascadeRoIHead',
        num_stages=3,
        stage_loss_weights=[1, 0.5, 0.25],
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            # as the Faster head: one sample per bin (faster-rcnn_digits.py)
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=1),
            out_channels=64,
            featmap_strides=[4, 8, 16, 32]),
        bbox_head=[
            dict(
                type='Shared2FCBBoxHead',
                in_channels=64,
                fc_out_channels=256,
                roi_feat_size=7,
                num_classes={{_base_.num_classes}},
                bbox_coder=dict(
                    type='DeltaXYWHBBoxCoder',
                    target_means=[0., 0., 0., 0.],
                    target_stds=stds),
                reg_class_agnostic=True,
                loss_cls=dict(
                    type='CrossEntropyLoss',
                    use_sigmoid=False,
                    loss_weight=1.0),
                loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))
            for stds in _stage_box_stds
        ]),
    train_cfg=dict(rcnn=[
        dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=iou,
                neg_iou_thr=iou,
                min_pos_iou=iou,
                match_low_quality=False,
                ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler',
                num=64,
                pos_fraction=0.25,
                neg_pos_ub=-1,
                add_gt_as_proposals=True),
            pos_weight=-1,
            debug=False) for iou in _stage_ious
    ]))
del _stage_box_stds, _stage_ious  # helpers, not config keys
