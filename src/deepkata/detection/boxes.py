"""Box operations for detection, batched in torch: formats, area, IoU, GIoU, the SSD/Faster R-CNN box
encoding, and greedy non-maximum suppression.

Boxes are ``(x0, y0, x1, y1)`` rows ("xyxy") unless a name says otherwise: ``xywh`` is COCO's
``(x, y, width, height)`` and ``cxcywh`` the centre and size that SSD regresses. Coordinates are
continuous (a box that covers pixels 0..9 is ``(0, 0, 10, 10)``, area 100), as in COCO and
torchvision, with no ``+ 1``.

- IoU (Jaccard overlap): |A ∩ B| / |A ∪ B|.
- GIoU (Rezatofighi et al., "Generalized intersection over union", CVPR 2019, Algorithm 1):
  IoU - |C \\ (A ∪ B)| / |C|, with C the smallest box enclosing A and B; in [-1, 1], and below 0
  for boxes that do not overlap, so it still ranks them by how far apart they are.
- Encoding (Girshick et al. 2014, R-CNN appendix C; SSD eq. 2, Liu et al. 2016) of a box b against
  an anchor (default box) a, with the "variances" (σ_c, σ_s) that SSD's code divides by::

      t_x = (b_cx - a_cx) / (a_w σ_c)    t_y = (b_cy - a_cy) / (a_h σ_c)
      t_w = log(b_w / a_w) / σ_s          t_h = log(b_h / a_h) / σ_s

- Greedy NMS: take the highest-scoring box, drop every remaining box whose IoU with it exceeds the
  threshold, repeat. Equal scores keep their input order (a stable sort), so the result is
  deterministic. :func:`batched_nms` runs it per class: boxes of different classes never suppress
  each other.

Shapes: N and M boxes; ``(N, 4)`` boxes, ``(N,)`` scores and labels.
"""

from __future__ import annotations

import torch

DEFAULT_VARIANCES = (0.1, 0.2)  # SSD's (sigma_c, sigma_s)


def xywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """COCO's (x, y, w, h) to (x0, y0, x1, y1); (..., 4) -> (..., 4)."""
    x, y, w, h = boxes.unbind(-1)
    return torch.stack((x, y, x + w, y + h), dim=-1)


def xyxy_to_xywh(boxes: torch.Tensor) -> torch.Tensor:
    """(x0, y0, x1, y1) to COCO's (x, y, w, h); (..., 4) -> (..., 4)."""
    x0, y0, x1, y1 = boxes.unbind(-1)
    return torch.stack((x0, y0, x1 - x0, y1 - y0), dim=-1)


def xyxy_to_cxcywh(boxes: torch.Tensor) -> torch.Tensor:
    """(x0, y0, x1, y1) to (centre x, centre y, w, h); (..., 4) -> (..., 4)."""
    x0, y0, x1, y1 = boxes.unbind(-1)
    return torch.stack(((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0), dim=-1)


def cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """(centre x, centre y, w, h) to (x0, y0, x1, y1); (..., 4) -> (..., 4)."""
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), dim=-1)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """(x1 - x0)(y1 - y0), 0 for an empty or inverted box; (..., 4) -> (...)."""
    wh = (boxes[..., 2:] - boxes[..., :2]).clamp(min=0)
    return wh[..., 0] * wh[..., 1]


def _intersection_union(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """|A ∩ B| and |A ∪ B| of every pair; (N, 4), (M, 4) -> (N, M), (N, M)."""
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])  # (N, M, 2)
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])  # (N, M, 2)
    wh = (bottom_right - top_left).clamp(min=0)  # (N, M, 2): 0 where they do not overlap
    inter = wh[..., 0] * wh[..., 1]
    # |A ∪ B| = |A| + |B| - |A ∩ B|
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return inter, union


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of every pair: (N, 4), (M, 4) -> (N, M). Two empty boxes have IoU 0, not NaN."""
    inter, union = _intersection_union(a, b)
    return torch.where(union > 0, inter / union.clamp(min=torch.finfo(union.dtype).tiny), torch.zeros_like(inter))


def generalized_box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """GIoU of every pair, in [-1, 1]: (N, 4), (M, 4) -> (N, M). Boxes must not be inverted."""
    inter, union = _intersection_union(a, b)
    iou = inter / union
    # C: the smallest box that encloses both
    enclose_wh = (torch.maximum(a[:, None, 2:], b[None, :, 2:]) - torch.minimum(a[:, None, :2], b[None, :, :2])).clamp(min=0)
    enclose = enclose_wh[..., 0] * enclose_wh[..., 1]  # (N, M)
    # GIoU = IoU - |C \ (A ∪ B)| / |C|
    return iou - (enclose - union) / enclose


def encode(boxes: torch.Tensor, anchors: torch.Tensor, variances: tuple[float, float] = DEFAULT_VARIANCES) -> torch.Tensor:
    """Regression targets (t_x, t_y, t_w, t_h) of ``boxes`` against ``anchors``, both xyxy; (..., 4) -> (..., 4)."""
    b, a = xyxy_to_cxcywh(boxes), xyxy_to_cxcywh(anchors)
    # t_xy = (b_c - a_c) / (a_wh sigma_c)
    t_xy = (b[..., :2] - a[..., :2]) / (a[..., 2:] * variances[0])
    # t_wh = log(b_wh / a_wh) / sigma_s
    t_wh = torch.log(b[..., 2:] / a[..., 2:]) / variances[1]
    return torch.cat((t_xy, t_wh), dim=-1)


def decode(deltas: torch.Tensor, anchors: torch.Tensor, variances: tuple[float, float] = DEFAULT_VARIANCES) -> torch.Tensor:
    """The boxes (xyxy) that ``deltas`` encode against ``anchors`` (xyxy); the inverse of :func:`encode`."""
    a = xyxy_to_cxcywh(anchors)
    centre = a[..., :2] + deltas[..., :2] * variances[0] * a[..., 2:]
    size = a[..., 2:] * torch.exp(deltas[..., 2:] * variances[1])
    return cxcywh_to_xyxy(torch.cat((centre, size), dim=-1))


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Greedy NMS: the indices of the kept boxes, by decreasing score (ties in input order); (N, 4), (N,) -> (K,).

    A box is dropped when its IoU with a kept, higher-ranked box is above ``iou_threshold``. With
    ``labels`` (N,), only a box of the same label can drop it (:func:`batched_nms`).
    """
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices  # (N,)
    ranked = boxes[order]
    # only a higher-ranked box can suppress: the strict upper triangle, row i suppresses column j > i
    overlaps = torch.triu(box_iou(ranked, ranked) > iou_threshold, diagonal=1)  # (N, N)
    if labels is not None:
        ranked_labels = labels[order]
        overlaps &= ranked_labels[:, None] == ranked_labels[None, :]
    alive = torch.ones(order.numel(), dtype=torch.bool, device=boxes.device)
    for i in range(order.numel()):  # one pass in rank order; each step is a vector operation
        if alive[i]:
            alive &= ~overlaps[i]
    return order[alive]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """NMS within each class at once: boxes of different labels never suppress each other; the kept
    indices by decreasing score (ties in input order); (N, 4), (N,), (N,) -> (K,)."""
    return nms(boxes, scores, iou_threshold, labels=labels)
