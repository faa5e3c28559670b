"""MobileNet v1 (Howard et al. 2017) and v2 (Sandler et al. 2018): depthwise separable convolutions.

A standard K x K conv from M to N channels on an F x F map costs K^2 M N F^2 multiply-adds; the
depthwise separable conv of v1 (§3.1) splits it into a depthwise K x K conv, one filter per channel
(``groups = M``), and a pointwise 1x1 conv that mixes the channels::

    cost = K^2 M F^2 + M N F^2,      ratio to the standard conv = 1/N + 1/K^2   (eq. 5)

each followed by BN and ReLU (Fig. 3): :class:`DepthwiseSeparable`.

**MobileNet v1** (Table 1): a 3x3/2 conv to 32 channels, 13 depthwise separable blocks
(:data:`MOBILENET_V1`), global average pooling and a fully connected layer. The width multiplier
alpha (``width``) thins every layer to int(alpha c) channels (at least 8, TF-slim's ``min_depth``);
the resolution multiplier rho (§4.2) only changes the input side, rho 224 (224, 192, 160, 128),
and the network pools globally, so it takes any size: ``resolution`` records the side the model
is meant for, which cost tables and the parameter examples use; the layers do not depend on it.
Parameter count of 1.0 MobileNet-224 at 1000 classes: 4,231,976, counting the convs (no biases),
BN's weight and bias (gamma, beta) per channel and the FC's weights and biases, and not BN's
running mean and variance (buffers, not parameters): the trainable count of Keras'
``MobileNet(alpha=1.0)`` and TF-slim's ``mobilenet_v1``. The paper's Table 6 rounds it to 4.2M, and
gives 2.6M, 1.3M and 0.5M for alpha = 0.75, 0.5, 0.25 (ours: 2,585,560; 1,331,592; 470,072).

**MobileNet v2** (§3-4, Table 2): the inverted residual block expands a thin input by t with a
1x1 conv, filters it depthwise (3x3, stride s) and projects it back with a linear 1x1 conv, with
no ReLU after the projection (the linear bottleneck, §3.2); the input is added back when s = 1 and
the input and output channels agree::

    y = x + BN(W_proj relu6(BN(dw_s(relu6(BN(W_exp x))))))    (only when s = 1 and c_in = c_out)

The ``# t, c, n, s`` table is :data:`MOBILENET_V2`; the width multiplier rounds every channel count
to a multiple of 8 (:func:`make_divisible`, as the reference implementation), except that the last
1x1 conv keeps 1280 channels for alpha < 1; dropout 0.2 precedes the classifier. 3,504,872
parameters at alpha = 1 and 1000 classes, as torchvision's ``mobilenet_v2``, whose module names it
keeps (``features.1.conv.0.0``, ``classifier.1``).

Multiply-adds at 224 x 224, by PyTorch's FLOP counter, are the papers': 569M, 325M, 149M and 41M
for v1 at alpha = 1, 0.75, 0.5, 0.25 (418M and 186M at rho 224 = 192 and 128), 300M for v2.

**Small variants** for 28 x 28 grey images keep the stem's halving and the original's next two
(28 -> 14 -> 7 -> 4), then stride 1; ``strides`` holds the stem's stride and then one per block (v1)
or per table row (v2): v1 halves at its 128- and 256-channel blocks, v2 at its 24- and 64-channel
rows. alpha = 0.5 for both: v1 823,434 parameters and 13M multiply-adds an image, v2 700,202 and
11M, against ResNet-20's 31M. Depthwise convolutions are the slowest layers on a CPU for their
multiply-adds (memory-bound, their backward pass more so), and v2's expanded channels are six times
its block's: with the stem at stride 1, as CIFAR variants have it (28 -> 14 -> 7), v2 took 2.4
times ResNet-20's time an epoch on 2 cores for about the same multiply-adds, too slow to train
well within the issue's 30 minutes; at these strides it takes about ResNet-20's time.

Initialization as torchvision's MobileNet v2 (used for both): Kaiming-normal convs with fan_out,
BN weight 1 and bias 0, the linear layer N(0, 0.01^2) with bias 0.

Shapes: B images, C channels, H x W pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from deepkata.core.config import Config, ConfigError, param
from deepkata.models.registry import register_model
from deepkata.models.init import he_init

# MobileNet v1 (Howard et al., Table 1): the stem conv's channels and stride, then each depthwise
# separable block's output channels and depthwise stride
MOBILENET_V1_STEM = (32, 2)
MOBILENET_V1: tuple[tuple[int, int], ...] = (
    # c, s
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)

# MobileNet v2 (Sandler et al., Table 2): each row is n inverted residual blocks with expansion t
# and c output channels, the first with stride s; a 3x3/2 conv to 32 channels comes before, a 1x1
# conv to 1280 after
MOBILENET_V2_STEM = (32, 2)
MOBILENET_V2: tuple[tuple[int, int, int, int], ...] = (
    # t, c, n, s
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
MOBILENET_V2_LAST = 1280

V1_STRIDES = (MOBILENET_V1_STEM[1], *(s for _, s in MOBILENET_V1))  # (2, 1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)
V2_STRIDES = (MOBILENET_V2_STEM[1], *(s for *_, s in MOBILENET_V2))  # (2, 1, 2, 2, 2, 1, 2, 1)
# 28 x 28: the stem's halving and the original's next two, then stride 1 (28 -> 14 -> 7 -> 4); v1
# halves at its 128- and 256-channel blocks, v2 at its 24- and 64-channel rows
SMALL_V1_STRIDES = (2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1)
SMALL_V2_STRIDES = (2, 1, 2, 1, 2, 1, 1, 1)


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """``v`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``, default ``divisor``),
    rounded up once more if that lost over 10% of ``v``: the reference implementation's channel rounding."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def conv_bn_act(
    in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1, groups: int = 1, act: type[nn.Module] = nn.ReLU6
) -> nn.Sequential:
    """Conv (no bias, 'same' padding), BN, activation: (B, C_in, H, W) -> (B, C_out, H/s, W/s)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=(kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_channels),
        act(inplace=True),
    )


class DepthwiseSeparable(nn.Module):
    """Depthwise K x K conv (``groups`` = C, stride s), BN, ReLU; pointwise 1x1 conv to M channels, BN, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, kernel: int = 3) -> None:
        super().__init__()
        pad = (kernel - 1) // 2
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel, stride=stride, padding=pad, groups=in_channels, bias=False)
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # each channel filtered by its own K x K kernel: K^2 C F^2 multiply-adds
        x = self.relu(self.bn1(self.depthwise(x)))  # (B, C, H/s, W/s)
        # the channels mixed: C M F^2 multiply-adds
        return self.relu(self.bn2(self.pointwise(x)))  # (B, M, H/s, W/s)


class InvertedResidual(nn.Module):
    """Expand by t (1x1, BN, ReLU6; left out when t = 1), depthwise 3x3/s (BN, ReLU6), project
    (1x1, BN, linear); ``use_residual`` when s = 1 and c_in = c_out."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = int(round(in_channels * expansion))
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expansion != 1:
            layers.append(conv_bn_act(in_channels, hidden, 1))  # (B, t c_in, H, W)
        layers += [
            conv_bn_act(hidden, hidden, 3, stride, groups=hidden),  # (B, t c_in, H/s, W/s)
            # the linear bottleneck: no activation after the projection
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),  # (B, c_out, H/s, W/s)
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_residual:
            # y = x + F(x)
            return x + self.conv(x)
        return self.conv(x)


# --- MobileNet v1 ---------------------------------------------------------------------------------


# the fields the small variants declare again with their own defaults, each declared once
def _in_channels(default: int) -> Any:
    return param(default, "channels of the input images", ge=1)


def _classes(default: int) -> Any:
    return param(default, "output classes", ge=2)


def _resolution(default: int) -> Any:
    return param(default, "input side (rho 224 on ImageNet); the network pools globally, so this is for cost tables", ge=8, le=1024)


def _v1_width(default: float) -> Any:
    return param(default, "width multiplier alpha: every layer has int(alpha c) channels, at least 8", gt=0, le=4)


def _v1_strides(default: tuple[int, ...]) -> Any:
    return param(default, "stride of the stem conv, then of each of the 13 depthwise convs", ge=1, le=2)


@dataclass(frozen=True, kw_only=True)
class MobileNetV1Config(Config):
    """1.0 MobileNet-224 by default; ``width`` is alpha, ``resolution`` is rho 224 (recorded, not used by the layers)."""

    in_channels: int = _in_channels(3)
    classes: int = _classes(1000)
    width: float = _v1_width(1.0)
    resolution: int = _resolution(224)
    strides: tuple[int, ...] = _v1_strides(V1_STRIDES)

    def validate(self) -> None:
        if len(self.strides) != 1 + len(MOBILENET_V1):
            raise ConfigError(
                f"strides has {len(self.strides)} entries; give {1 + len(MOBILENET_V1)}: the stem's, then one per depthwise separable block"
            )


@dataclass(frozen=True, kw_only=True)
class SmallMobileNetV1Config(MobileNetV1Config):
    """MobileNet v1 for 28 x 28 grey images: alpha = 0.5, 28 -> 14 -> 7 -> 4 at the stem and the 128- and 256-channel blocks."""

    in_channels: int = _in_channels(1)
    classes: int = _classes(10)
    width: float = _v1_width(0.5)
    resolution: int = _resolution(28)
    strides: tuple[int, ...] = _v1_strides(SMALL_V1_STRIDES)


def v1_channels(c: int, width: float) -> int:
    """int(alpha c), at least 8 (TF-slim's ``depth = max(int(d * depth_multiplier), min_depth)``)."""
    return max(8, int(c * width))


class MobileNetV1(nn.Module):
    """``features`` (stem conv-BN-ReLU, 13 :class:`DepthwiseSeparable`), global average pooling,
    ``classifier`` (linear); returns logits (B, classes)."""

    def __init__(self, cfg: MobileNetV1Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.resolution = cfg.resolution
        channels = v1_channels(MOBILENET_V1_STEM[0], cfg.width)
        layers: list[nn.Module] = [conv_bn_act(cfg.in_channels, channels, 3, cfg.strides[0], act=nn.ReLU)]
        for (c, _), stride in zip(MOBILENET_V1, cfg.strides[1:]):
            out = v1_channels(c, cfg.width)
            layers.append(DepthwiseSeparable(channels, out, stride))
            channels = out
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, cfg.classes)
        he_init(self)
        nn.init.normal_(self.classifier.weight, 0, 0.01)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, int(1024 alpha), H/32, W/32) with the paper's strides
        x = torch.flatten(self.avgpool(x), 1)  # (B, C)
        return self.classifier(x)  # (B, classes)


# --- MobileNet v2 ---------------------------------------------------------------------------------


def _v2_width(default: float) -> Any:
    return param(default, "width multiplier alpha: channels alpha c rounded to a multiple of 8", gt=0, le=4)


def _v2_strides(default: tuple[int, ...]) -> Any:
    return param(default, "stride of the stem conv, then of the first block of each of the 7 table rows", ge=1, le=2)


@dataclass(frozen=True, kw_only=True)
class MobileNetV2Config(Config):
    """MobileNet v2 1.0-224 by default; ``width`` is alpha, ``resolution`` the input side (recorded, not used by the layers)."""

    in_channels: int = _in_channels(3)
    classes: int = _classes(1000)
    width: float = _v2_width(1.0)
    resolution: int = _resolution(224)
    strides: tuple[int, ...] = _v2_strides(V2_STRIDES)
    last_channels: int = param(MOBILENET_V2_LAST, "channels of the last 1x1 conv at alpha <= 1 (scaled by alpha above 1)", ge=8, le=8192)
    dropout: float = param(0.2, "dropout rate before the classifier", ge=0, lt=1)

    def validate(self) -> None:
        if len(self.strides) != 1 + len(MOBILENET_V2):
            raise ConfigError(
                f"strides has {len(self.strides)} entries; give {1 + len(MOBILENET_V2)}: the stem's, then one per row of the table"
            )


@dataclass(frozen=True, kw_only=True)
class SmallMobileNetV2Config(MobileNetV2Config):
    """MobileNet v2 for 28 x 28 grey images: alpha = 0.5, 28 -> 14 -> 7 -> 4 at the stem and the 24- and 64-channel rows."""

    in_channels: int = _in_channels(1)
    classes: int = _classes(10)
    width: float = _v2_width(0.5)
    resolution: int = _resolution(28)
    strides: tuple[int, ...] = _v2_strides(SMALL_V2_STRIDES)


class MobileNetV2(nn.Module):
    """``features`` (stem conv-BN-ReLU6, the table's :class:`InvertedResidual` blocks, 1x1 conv-BN-ReLU6),
    global average pooling, ``classifier`` (dropout, linear); returns logits (B, classes)."""

    def __init__(self, cfg: MobileNetV2Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.resolution = cfg.resolution
        channels = make_divisible(MOBILENET_V2_STEM[0] * cfg.width)
        last = make_divisible(cfg.last_channels * max(1.0, cfg.width))
        layers: list[nn.Module] = [conv_bn_act(cfg.in_channels, channels, 3, cfg.strides[0])]
        for (t, c, n, _), stride in zip(MOBILENET_V2, cfg.strides[1:]):
            out = make_divisible(c * cfg.width)
            for i in range(n):
                layers.append(InvertedResidual(channels, out, stride if i == 0 else 1, t))
                channels = out
        layers.append(conv_bn_act(channels, last, 1))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(last, cfg.classes))
        he_init(self)
        nn.init.normal_(self.classifier[1].weight, 0, 0.01)
        nn.init.zeros_(self.classifier[1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, 1280, H/32, W/32) with the paper's strides
        x = torch.flatten(self.avgpool(x), 1)  # (B, 1280)
        return self.classifier(x)  # (B, classes)


IMAGENET = {"in_channels": 3, "classes": 1000}
SMALL = {"in_channels": 1, "classes": 10}


@register_model("mobilenet-v1", config=MobileNetV1Config, topic="vision", example=IMAGENET)
def mobilenet_v1(cfg: MobileNetV1Config) -> MobileNetV1:
    """MobileNet v1 (Howard et al. 2017): 13 depthwise separable blocks, width alpha; 4.2M parameters at alpha = 1."""
    return MobileNetV1(cfg)


@register_model("mobilenet-v2", config=MobileNetV2Config, topic="vision", example=IMAGENET)
def mobilenet_v2(cfg: MobileNetV2Config) -> MobileNetV2:
    """MobileNet v2 (Sandler et al. 2018): inverted residuals with linear bottlenecks; 3.5M parameters at alpha = 1."""
    return MobileNetV2(cfg)


@register_model("mobilenet-v1-small", config=SmallMobileNetV1Config, topic="vision", example=SMALL)
def mobilenet_v1_small(cfg: SmallMobileNetV1Config) -> MobileNetV1:
    """MobileNet v1 for 28x28 grey images: alpha = 0.5, stride 1 stem, 28 -> 14 -> 7 at the 128- and 256-channel blocks."""
    return MobileNetV1(cfg)


@register_model("mobilenet-v2-small", config=SmallMobileNetV2Config, topic="vision", example=SMALL)
def mobilenet_v2_small(cfg: SmallMobileNetV2Config) -> MobileNetV2:
    """MobileNet v2 for 28x28 grey images: alpha = 0.5, stride 1 stem, 28 -> 14 -> 7 at the 24- and 64-channel rows."""
    return MobileNetV2(cfg)
