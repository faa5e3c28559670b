"""Detection and segmentation (Day 4, notes 000–002, section 6): box operations, the detection
metrics (IoU, precision and recall, AP, mAP and COCO's mAP@[.5:.95]), a generated shapes data set,
SSD, and the up-sampling layers of FCN and SegNet with dilated convolution.

- :mod:`~deepkata.detection.boxes`: IoU, GIoU, box encoding and NMS, batched in torch.
- :mod:`~deepkata.detection.coco`: COCO JSON and COCO-style evaluation, equal to pycocotools.
- :mod:`~deepkata.detection.shapes`: circles, squares and triangles with exact boxes and masks.
- :mod:`~deepkata.detection.upsampling`: transposed convolution, max-unpooling with switches and
  the receptive field of dilated convolutions, proven equal to PyTorch's.
"""
