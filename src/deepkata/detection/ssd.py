"""SSD, the single-shot detector (Liu et al., "SSD: Single Shot MultiBox Detector", ECCV 2016), small.

One network looks once at the image and, from several feature maps of decreasing resolution,
predicts for every *default box* (anchor) a class (background included) and four offsets that move
the box onto an object. Small objects are found on the fine maps, large ones on the coarse maps.

- **Backbone.** A MobileNet of the model registry (``mobilenet-v2`` at width alpha, as SSDLite,
  Sandler et al. 2018 §6.2), run up to its last layer at stride 16; the maps at strides 8 and 16
  are tapped. **Extra layers** (§2.1): 1x1 conv to half the channels, 3x3 conv of stride 2 back,
  each halving the map again (strides 32, 64).
- **Default boxes** (§2.2, eq. 4): the k-th of m maps has scale
  s_k = s_min + (s_max - s_min)(k - 1)/(m - 1) of the image side; at every cell centre a box of
  width s_k sqrt(a) and height s_k / sqrt(a) for each aspect ratio a, and one more of ratio 1 and
  scale sqrt(s_k s_{k+1}).
- **Heads**: a 3x3 conv per map gives (classes + 1) scores and 4 offsets per default box.
- **Matching** (§2.2): each ground truth takes the default box it overlaps most (so none is left
  unmatched), and every default box whose IoU with some ground truth is above 0.5 takes the one
  it overlaps most; the rest are background. Offsets are encoded as in
  :func:`deepkata.detection.boxes.encode` (SSD's variances 0.1, 0.2).
- **Loss** (eq. 1): L = (L_conf + alpha L_loc) / N over the N matched boxes: smooth-L1 on the
  offsets of matched boxes, cross-entropy on the classes. **Hard negative mining** (§2.2): of the
  background boxes only the highest-loss ones count, at most 3 per matched box of the image.
- **Decoding**: softmax scores, offsets applied, per class the boxes above a score threshold,
  then NMS per class (:func:`deepkata.detection.boxes.batched_nms`), the top 100 kept.

Shapes: B images, P default boxes, C classes (+1 background at index 0), G ground truths.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deepkata.core.config import Config, ConfigError, param
from deepkata.detection.boxes import batched_nms, box_iou, decode, encode
from deepkata.models import build_model
from deepkata.models.registry import register_model


@dataclass(frozen=True, kw_only=True)
class SsdConfig(Config):
    """A small SSD for square images, by default SSDLite-like on MobileNet v2 at width 0.5."""

    classes: int = param(3, "object classes (the background is one more, index 0)", ge=1)
    image_size: int = param(128, "side of the square input images", ge=32, le=2048)
    backbone: str = param("mobilenet-v2", "a MobileNet of the model registry (mobilenet-v1 or mobilenet-v2) whose features are tapped")
    width: float = param(0.5, "the backbone's width multiplier alpha", gt=0, le=2)
    strides: tuple[int, ...] = param((8, 16, 32, 64), "strides of the maps that predict: 8 and 16 from the backbone, more from extra layers")
    min_scale: float = param(0.1, "s_min: default-box side on the finest map, as a share of the image side", gt=0, lt=1)
    max_scale: float = param(0.6, "s_max: on the coarsest map", gt=0, le=1)
    aspect_ratios: tuple[float, ...] = param((1.0, 2.0, 0.5), "width / height of the default boxes at each cell (plus one of ratio 1 between scales)", gt=0)
    extra_channels: int = param(128, "channels of each extra layer's output", ge=8, le=2048)

    def validate(self) -> None:
        if self.backbone not in ("mobilenet-v1", "mobilenet-v2"):
            raise ConfigError(f"backbone: {self.backbone!r}; expected mobilenet-v1 or mobilenet-v2")
        if list(self.strides) != sorted(set(self.strides)) or self.strides[0] < 8 or any(s & (s - 1) for s in self.strides):
            raise ConfigError(f"strides: {self.strides}; expected increasing powers of two from 8, such as 8,16,32,64")
        if self.min_scale >= self.max_scale:
            raise ConfigError(f"min_scale {self.min_scale} must be below max_scale {self.max_scale}")
        if self.image_size % self.strides[-1]:
            raise ConfigError(f"image_size {self.image_size} is not a multiple of the largest stride {self.strides[-1]}")


def scales(cfg: SsdConfig) -> list[float]:
    """s_k = s_min + (s_max - s_min)(k - 1)/(m - 1), k = 1..m, and one more (s_{m+1}) for the last map's extra box."""
    m = len(cfg.strides)
    step = (cfg.max_scale - cfg.min_scale) / max(m - 1, 1)
    return [cfg.min_scale + step * k for k in range(m + 1)]


def default_boxes(cfg: SsdConfig) -> torch.Tensor:
    """Every default box, map by map, row by row, cell by cell, box by box, in pixels (xyxy); (P, 4).

    The order is the heads' output order: map k's (H_k, W_k, boxes per cell) flattened.
    """
    s = scales(cfg)
    out = []
    for k, stride in enumerate(cfg.strides):
        n = cfg.image_size // stride  # cells per side
        centres = (torch.arange(n, dtype=torch.float64, device="cpu") + 0.5) * stride  # (n,)
        cy, cx = torch.meshgrid(centres, centres, indexing="ij")  # (n, n)
        # w = s_k sqrt(a), h = s_k / sqrt(a); and the extra box of side sqrt(s_k s_{k+1})
        sizes = [(s[k] * math.sqrt(a), s[k] / math.sqrt(a)) for a in cfg.aspect_ratios]
        sizes.append((math.sqrt(s[k] * s[k + 1]),) * 2)
        wh = torch.tensor(sizes, dtype=torch.float64, device="cpu") * cfg.image_size  # (A, 2)
        centre = torch.stack((cx, cy), dim=-1)[:, :, None, :].expand(n, n, len(sizes), 2)  # (n, n, A, 2)
        boxes = torch.cat((centre - wh / 2, centre + wh / 2), dim=-1)  # (n, n, A, 4)
        out.append(boxes.reshape(-1, 4))
    return torch.cat(out).float()


def boxes_per_cell(cfg: SsdConfig) -> int:
    return len(cfg.aspect_ratios) + 1


def match(anchors: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor, threshold: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """SSD's matching of one image: each default box's class (0: background) and its ground truth's box.

    (P, 4), (G, 4), (G,) in 1..C -> labels (P,), boxes (P, 4) (the anchor itself where background).
    """
    labels = torch.zeros(len(anchors), dtype=torch.long, device=anchors.device)
    boxes = anchors.clone()
    if len(gt_boxes) == 0:
        return labels, boxes
    iou = box_iou(gt_boxes.to(anchors.dtype), anchors)  # (G, P)
    best_iou, best_gt = iou.max(dim=0)  # each default box's best ground truth
    # every ground truth keeps the default box it overlaps most, whatever the IoU
    forced = iou.argmax(dim=1)  # (G,)
    best_gt[forced] = torch.arange(len(gt_boxes), device=anchors.device)
    best_iou[forced] = 2.0
    positive = best_iou > threshold
    labels[positive] = gt_labels[best_gt[positive]]
    boxes[positive] = gt_boxes[best_gt[positive]].to(anchors.dtype)
    return labels, boxes


def extra_layer(channels_in: int, channels_out: int) -> nn.Sequential:
    """SSD's extra feature layer: 1x1 conv to half, 3x3 conv of stride 2 (BN and ReLU after each)."""
    mid = max(channels_out // 2, 8)
    return nn.Sequential(
        nn.Conv2d(channels_in, mid, 1, bias=False),
        nn.BatchNorm2d(mid),
        nn.ReLU(inplace=True),
        nn.Conv2d(mid, channels_out, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(inplace=True),
    )


class Ssd(nn.Module):
    """Backbone taps, extra layers and one class head and one box head per map.

    ``forward(images (B, 3, S, S))`` returns class logits (B, P, C + 1) and offsets (B, P, 4).
    """

    def __init__(self, cfg: SsdConfig) -> None:
        super().__init__()
        self.cfg = cfg
        backbone = build_model(cfg.backbone, in_channels=3, classes=2, width=cfg.width)
        layers: list[nn.Module] = list(backbone.features.children())  # type: ignore[union-attr]
        # the stride after each backbone layer, from a dummy image; keep the layers up to the last at stride 16
        x = torch.zeros(1, 3, cfg.image_size, cfg.image_size, device="cpu")
        strides, channels = [], []
        with torch.no_grad():
            for layer in layers:
                layer.eval()
                x = layer(x)
                strides.append(cfg.image_size // x.shape[-1])
                channels.append(x.shape[1])
        wanted = [s for s in cfg.strides if s <= 16]
        self.taps = [max(i for i, s in enumerate(strides) if s == w) for w in wanted]
        self.features = nn.Sequential(*layers[: self.taps[-1] + 1])
        map_channels = [channels[i] for i in self.taps]
        self.extras = nn.ModuleList()
        previous = map_channels[-1]
        for _ in cfg.strides[len(wanted) :]:
            self.extras.append(extra_layer(previous, cfg.extra_channels))
            previous = cfg.extra_channels
            map_channels.append(previous)
        a = boxes_per_cell(cfg)
        self.class_heads = nn.ModuleList(nn.Conv2d(c, a * (cfg.classes + 1), 3, padding=1) for c in map_channels)
        self.box_heads = nn.ModuleList(nn.Conv2d(c, a * 4, 3, padding=1) for c in map_channels)
        self.register_buffer("anchors", default_boxes(cfg), persistent=False)  # (P, 4)

    def maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The feature maps that predict, fine to coarse: (B, C_k, S / stride_k, S / stride_k) each."""
        out = []
        x = images
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                out.append(x)
        for extra in self.extras:
            x = extra(x)
            out.append(x)
        return out

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = images.shape[0]
        logits, deltas = [], []
        for x, cls_head, box_head in zip(self.maps(images), self.class_heads, self.box_heads, strict=True):
            # (B, A (C+1), H, W) -> (B, H, W, A (C+1)) -> (B, H W A, C+1): the order of default_boxes
            logits.append(cls_head(x).permute(0, 2, 3, 1).reshape(b, -1, self.cfg.classes + 1))
            deltas.append(box_head(x).permute(0, 2, 3, 1).reshape(b, -1, 4))
        return torch.cat(logits, dim=1), torch.cat(deltas, dim=1)


def multibox_loss(
    logits: torch.Tensor,
    deltas: torch.Tensor,
    anchors: torch.Tensor,
    targets: Sequence[tuple[torch.Tensor, torch.Tensor]],
    neg_pos_ratio: int = 3,
    alpha: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """SSD's loss (eq. 1) with hard negative mining: (B, P, C+1), (B, P, 4), (P, 4), B x (boxes (G, 4), labels (G,)).

    Returns the loss and its parts (``conf``, ``loc``, ``positives`` per image).
    """
    labels, boxes = zip(*(match(anchors, gt_boxes, gt_labels) for gt_boxes, gt_labels in targets), strict=True)
    labels_t = torch.stack(labels)  # (B, P)
    target_deltas = encode(torch.stack(boxes), anchors.expand(len(targets), -1, -1))  # (B, P, 4)
    positive = labels_t > 0  # (B, P)
    n = positive.sum().clamp(min=1)
    # L_loc: smooth L1 over the matched boxes' offsets
    loc = F.smooth_l1_loss(deltas[positive], target_deltas[positive], reduction="sum", beta=1.0)
    # hard negatives: per image the background boxes of highest loss, at most 3 per positive
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels_t.reshape(-1), reduction="none").reshape(labels_t.shape)  # (B, P)
    background_loss = ce.detach().masked_fill(positive, -math.inf)
    rank = background_loss.argsort(dim=1, descending=True).argsort(dim=1)  # (B, P): 0 = hardest
    negatives = rank < (neg_pos_ratio * positive.sum(dim=1, keepdim=True))
    conf = ce[positive | negatives].sum()
    loss = (conf + alpha * loc) / n
    return loss, {"conf": float(conf.detach() / n), "loc": float(loc.detach() / n), "positives": float(positive.sum() / len(targets))}


@torch.no_grad()
def postprocess(
    logits: torch.Tensor,
    deltas: torch.Tensor,
    anchors: torch.Tensor,
    score_threshold: float = 0.02,
    nms_threshold: float = 0.45,
    candidates: int = 400,
    max_detections: int = 100,
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Detections of each image: boxes (K, 4) xyxy, scores (K,), labels (K,) in 1..C, by decreasing score.

    Per image: softmax, every (box, class) above ``score_threshold`` (the ``candidates`` best),
    NMS per class, then the ``max_detections`` best.
    """
    probs = logits.softmax(dim=-1)[..., 1:]  # (B, P, C): background dropped
    boxes = decode(deltas, anchors)  # (B, P, 4)
    out = []
    for p, bx in zip(probs, boxes, strict=True):
        scores, index = p.flatten().topk(min(candidates, p.numel()))  # over (box, class) pairs
        keep = scores > score_threshold
        scores, index = scores[keep], index[keep]
        box, label = bx[index // p.shape[1]], index % p.shape[1] + 1
        kept = batched_nms(box, scores, label, nms_threshold)[:max_detections]
        out.append((box[kept], scores[kept], label[kept]))
    return out


@register_model("ssd-small", config=SsdConfig, topic="detection", example={"classes": 3})
def ssd_small(cfg: SsdConfig) -> Ssd:
    """SSD (Liu et al. 2016), SSDLite-like: MobileNet v2 at width 0.5, maps at strides 8-64 on 128 x 128 images."""
    return Ssd(cfg)
