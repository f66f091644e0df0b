# Teacher: mmdet's Cascade Mask R-CNN ResNeXt-101 32x4d FPN, multi-scale 3x
# (model zoo: 46.3 box AP, 40.1 mask AP), the teacher FGD and MGD distil
# into a Faster R-CNN R50 student. Plain mmdet: loads without mmkd_det.
_base_ = 'mmdet::cascade_rcnn/cascade-mask-rcnn_x101-32x4d_fpn_ms-3x_coco.py'
