"""DenseNet (Huang, Liu, van der Maaten & Weinberger, "Densely connected convolutional networks", CVPR 2017).

Within a dense block the l-th layer sees the feature maps of all layers before it (§3, eq. 2)::

    x_l = H_l([x_0, x_1, ..., x_{l-1}])        [.]: concatenation along the channels

- H_l is BN-ReLU-Conv3x3 giving k channels (the growth rate k), so a block of n layers that
  receives m channels outputs m + n k.
- DenseNet-B puts a bottleneck in front: BN-ReLU-Conv1x1 to 4k channels (``bn_size`` k), then
  BN-ReLU-Conv3x3 to k.
- Between blocks, a transition layer BN-ReLU-Conv1x1-AvgPool2x2 halves H and W and compresses
  m channels to floor(theta m) (DenseNet-C; 0 < theta <= 1). With both, DenseNet-BC (theta = 0.5).

``densenet121`` is DenseNet-BC for ImageNet (§3 "Implementation Details", Table 1): a 7x7/2 conv to
2k = 64 channels, BN, ReLU and a 3x3/2 max-pool, blocks of (6, 12, 24, 16) layers with k = 32, then
a final BN, ReLU, global average pooling and a linear layer: 7,978,856 parameters at 1000 classes,
as torchvision's, whose module names it keeps (``features.denseblock1.denselayer1.conv1``,
``features.transition1.conv``, ``features.norm5``, ``classifier``). ``densenet-bc-small`` follows
the paper's CIFAR networks on 28 x 28 grey images, with k = 12 and theta = 0.5: one 3x3 conv to 2k
channels, then three dense blocks of (4, 8, 16) layers (the ImageNet network's doubling, most
layers where they are cheap). The stem conv has stride 2, so the blocks run at 14, 7 and 3 pixels:
327,274 parameters and 12M multiply-adds an image. At stride 1 (28, 14 and 7 pixels) a (3, 6, 12)
network took twice ResNet-20's time an epoch on a 2-core CPU for its 35M multiply-adds (the
concatenations and the normalization of every layer's growing input are memory-bound), too slow
to train well within the issue's 30 minutes.

Initialization: Kaiming-normal convs with fan_out, as the authors' Torch code (fb.resnet.torch's
``n = kW kH nOutputPlane``; torchvision uses fan_in), BN weight 1 and bias 0, the linear layer's
bias 0 (PyTorch's default weight), as torchvision.

Shapes: B images, m channels, H x W pixels, k the growth rate.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from deepkata.core.config import Config, param
from deepkata.models.registry import register_model
from deepkata.models.init import he_init


def compressed(channels: int, theta: float) -> int:
    """floor(theta m): a transition's output channels (1e-9 guards 0.29 * 100 = 28.999...96 from becoming 28)."""
    return max(1, math.floor(theta * channels + 1e-9))


class DenseLayer(nn.Module):
    """H_l: [BN-ReLU-Conv1x1 to ``bn_size`` k,] BN-ReLU-Conv3x3 to k; takes the concatenation so far."""

    def __init__(self, in_channels: int, growth: int, bn_size: int, bottleneck: bool, dropout: float) -> None:
        super().__init__()
        width = bn_size * growth if bottleneck else in_channels
        if bottleneck:
            self.norm1 = nn.BatchNorm2d(in_channels)
            self.relu1 = nn.ReLU(inplace=True)
            self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bottleneck = bottleneck
        self.norm2 = nn.BatchNorm2d(width)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, growth, 3, padding=1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x = [x_0, ..., x_{l-1}]: (B, m, H, W)
        if self.bottleneck:
            x = self.conv1(self.relu1(self.norm1(x)))  # (B, bn_size k, H, W)
        return self.dropout(self.conv2(self.relu2(self.norm2(x))))  # x_l: (B, k, H, W)


class DenseBlock(nn.Module):
    """n dense layers ``denselayer1``..; outputs all the inputs' and the layers' maps, m + n k channels."""

    def __init__(self, layers: int, in_channels: int, growth: int, bn_size: int, bottleneck: bool, dropout: float) -> None:
        super().__init__()
        for i in range(layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(in_channels + i * growth, growth, bn_size, bottleneck, dropout))
        self.out_channels = in_channels + layers * growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]  # x_0: (B, m, H, W)
        for layer in self.children():
            # x_l = H_l([x_0, ..., x_{l-1}])
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)  # (B, m + n k, H, W)


class Transition(nn.Sequential):
    """BN-ReLU-Conv1x1 from m to floor(theta m) channels, AvgPool 2x2: (B, m, H, W) -> (B, floor(theta m), H/2, W/2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            OrderedDict(
                norm=nn.BatchNorm2d(in_channels),
                relu=nn.ReLU(inplace=True),
                conv=nn.Conv2d(in_channels, out_channels, 1, bias=False),
                pool=nn.AvgPool2d(2, stride=2),
            )
        )


# the fields the small variant declares again with its own defaults, each declared once
def _in_channels(default: int) -> Any:
    return param(default, "channels of the input images", ge=1)


def _classes(default: int) -> Any:
    return param(default, "output classes", ge=2)


def _growth(default: int) -> Any:
    return param(default, "growth rate k: channels each dense layer adds", ge=1, le=1024)


def _blocks(default: tuple[int, ...]) -> Any:
    return param(default, "dense layers per block; a transition between blocks halves H and W", ge=1, le=256)


def _stem_width(default: int) -> Any:
    return param(default, "channels of the stem conv (the paper: 2k)", ge=1, le=4096)


def _stem(default: str) -> Any:
    return param(default, "imagenet: 7x7/2 conv, BN, ReLU, 3x3/2 max-pool; small: one 3x3 conv")


def _stem_stride(default: int) -> Any:
    return param(default, "stride of the small stem's 3x3 conv (the imagenet stem has its own)", ge=1, le=2)


@dataclass(frozen=True, kw_only=True)
class DenseNetConfig(Config):
    """A DenseNet; the defaults are DenseNet-121's (DenseNet-BC, k = 32, ImageNet stem)."""

    in_channels: int = _in_channels(3)
    classes: int = _classes(1000)
    growth: int = _growth(32)
    blocks: tuple[int, ...] = _blocks((6, 12, 24, 16))
    stem_width: int = _stem_width(64)
    stem: Literal["imagenet", "small"] = _stem("imagenet")
    stem_stride: int = _stem_stride(1)
    bottleneck: bool = param(True, "DenseNet-B: a BN-ReLU-Conv1x1 to bn_size k channels before each 3x3 conv")
    bn_size: int = param(4, "the bottleneck's channels, in multiples of k", ge=1, le=64)
    compression: float = param(0.5, "theta: a transition keeps floor(theta m) of its m channels (1: DenseNet without C)", gt=0, le=1)
    dropout: float = param(0.0, "dropout rate after each dense layer's 3x3 conv (the paper: 0.2 without data augmentation)", ge=0, lt=1)


@dataclass(frozen=True, kw_only=True)
class SmallDenseNetConfig(DenseNetConfig):
    """DenseNet-BC for 28 x 28 grey images, k = 12, theta = 0.5, a 3x3/2 stem, blocks of (4, 8, 16) layers at 14, 7 and 3 pixels."""

    in_channels: int = _in_channels(1)
    classes: int = _classes(10)
    growth: int = _growth(12)
    blocks: tuple[int, ...] = _blocks((4, 8, 16))
    stem_width: int = _stem_width(24)
    stem: Literal["imagenet", "small"] = _stem("small")
    stem_stride: int = _stem_stride(2)


class DenseNet(nn.Module):
    """``features`` (stem, ``denseblock1``, ``transition1``, .., ``norm5``), ReLU, global average
    pooling, ``classifier``; returns logits (B, classes)."""

    def __init__(self, cfg: DenseNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        stem: OrderedDict[str, nn.Module] = OrderedDict()
        if cfg.stem == "imagenet":
            stem["conv0"] = nn.Conv2d(cfg.in_channels, cfg.stem_width, 7, stride=2, padding=3, bias=False)
            stem["norm0"] = nn.BatchNorm2d(cfg.stem_width)
            stem["relu0"] = nn.ReLU(inplace=True)
            stem["pool0"] = nn.MaxPool2d(3, stride=2, padding=1)
        else:
            # the CIFAR networks' stem: the first dense layer's BN-ReLU follows it directly
            stem["conv0"] = nn.Conv2d(cfg.in_channels, cfg.stem_width, 3, stride=cfg.stem_stride, padding=1, bias=False)
        self.features = nn.Sequential(stem)
        channels = cfg.stem_width
        self.block_channels: list[int] = []  # channels out of each block, then out of its transition
        for i, layers in enumerate(cfg.blocks):
            block = DenseBlock(layers, channels, cfg.growth, cfg.bn_size, cfg.bottleneck, cfg.dropout)
            self.features.add_module(f"denseblock{i + 1}", block)
            # m + n k
            channels = block.out_channels
            self.block_channels.append(channels)
            if i < len(cfg.blocks) - 1:
                # floor(theta m)
                out = compressed(channels, cfg.compression)
                self.features.add_module(f"transition{i + 1}", Transition(channels, out))
                channels = out
                self.block_channels.append(channels)
        self.features.add_module(f"norm{len(cfg.blocks) + 1}", nn.BatchNorm2d(channels))
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, cfg.classes)
        he_init(self)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.features(x))  # (B, m, H', W')
        x = torch.flatten(self.avgpool(x), 1)  # (B, m)
        return self.classifier(x)  # (B, classes)


@register_model("densenet121", config=DenseNetConfig, topic="vision", example={"in_channels": 3, "classes": 1000})
def densenet121(cfg: DenseNetConfig) -> DenseNet:
    """DenseNet-121 (Huang et al. 2017): DenseNet-BC, k = 32, blocks (6, 12, 24, 16), 8.0M parameters at 1000 classes."""
    return DenseNet(cfg)


@register_model("densenet-bc-small", config=SmallDenseNetConfig, topic="vision", example={"in_channels": 1, "classes": 10})
def densenet_bc_small(cfg: SmallDenseNetConfig) -> DenseNet:
    """DenseNet-BC for 28x28 grey images: 3x3/2 stem, k = 12, theta = 0.5, blocks of (4, 8, 16) layers (14 -> 7 -> 3)."""
    return DenseNet(cfg)
