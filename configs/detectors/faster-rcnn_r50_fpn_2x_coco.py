# Student of the heterogeneous COCO pair: mmdet's Faster R-CNN R50-FPN on the
# 2x schedule (24 epochs, 8 GPUs x 2 images), as in the FGD/MGD papers
# (student 38.4 AP there). Plain mmdet: loads without mmkd_det.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_2x_coco.py'
