"""ResNet (He, Zhang, Ren & Sun, "Deep residual learning for image recognition", CVPR 2016).

A residual block learns the residual F of a mapping rather than the mapping itself (§3.1-3.2)::

    y = relu(F(x, {W_i}) + x)          identity shortcut, when F keeps the shape
    y = relu(F(x, {W_i}) + W_s x)      projection shortcut W_s (1x1 conv + BN, stride s) otherwise

with two residual functions (§3.3, §4.1 "Deeper Bottleneck Architectures", Table 1):

- basic block:  F = BN(conv3x3(relu(BN(conv3x3_s(x)))))                                 (ResNet-18/34)
- bottleneck:   F = BN(conv1x1(relu(BN(conv3x3_s(relu(BN(conv1x1(x))))))))  to 4 x width (ResNet-50)

The bottleneck strides on its 3x3 conv, as torchvision does ("ResNet v1.5"); the paper's Caffe
model strides on the first 1x1 conv, which has the same parameters and is slightly less accurate.
Projection shortcuts are used only where the shape changes (the paper's option B).

The ImageNet networks (``resnet18``, ``resnet34``, ``resnet50``) open with a 7x7/2 conv and a 3x3/2
max-pool and have four stages of widths 64, 128, 256, 512, the last three starting with stride 2;
their parameter counts equal torchvision's (11,689,512; 21,797,672; 25,557,032), and the module
names are torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer2.0.downsample.0``, ``fc``),
so its state dicts load as they are. ``resnet-small`` is the CIFAR network of §4.2 for 28 x 28 grey
images: a 3x3/1 stem, three stages of widths 16, 32, 64 (28 -> 14 -> 7), n basic blocks each
(n = 3: ResNet-20), with projection rather than the paper's zero-padding shortcuts.

Initialization as torchvision's (and the paper's, §3.4 citing He et al. 2015): Kaiming-normal
convs with fan_out, BN weight 1 and bias 0, the linear layer at PyTorch's default;
``zero_init_residual`` starts each block's last BN weight at 0 (Goyal et al. 2017), so that every
block starts as the identity.

Shapes: B images, C channels, H x W pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from deepkata.core.config import Config, ConfigError, param
from deepkata.models.init import he_init
from deepkata.models.registry import register_model

BlockName = Literal["basic", "bottleneck"]
Stem = Literal["imagenet", "small"]

# depth: (block, blocks per stage) (He et al., Table 1)
RESNET_DEPTHS: dict[int, tuple[BlockName, tuple[int, ...]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
}
IMAGENET_WIDTHS = (64, 128, 256, 512)  # the 3x3 convs' channels per stage; a bottleneck outputs 4x


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


def projection(in_channels: int, out_channels: int, stride: int) -> nn.Sequential | None:
    """W_s: a 1x1 conv with stride s and a BN where the block changes the shape, else None (identity)."""
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))


class BasicBlock(nn.Module):
    """Two 3x3 convs; the first strides. Outputs ``width`` channels."""

    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_channels, width, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(width, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = projection(in_channels, width, stride)

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        """The BN that closes the residual branch F."""
        return self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)  # x or W_s x: (B, C', H/s, W/s)
        # F(x) = BN(conv(relu(BN(conv_s(x)))))
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        # y = relu(F(x) + shortcut)
        return self.relu(out + shortcut)


class Bottleneck(nn.Module):
    """1x1 conv to ``width``, 3x3 conv with the stride, 1x1 conv to 4 x ``width`` (v1.5)."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = conv1x1(in_channels, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, out_channels)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = projection(in_channels, out_channels, stride)

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)  # (B, 4 width, H/s, W/s)
        out = self.relu(self.bn1(self.conv1(x)))  # reduce: (B, width, H, W)
        out = self.relu(self.bn2(self.conv2(out)))  # (B, width, H/s, W/s)
        out = self.bn3(self.conv3(out))  # restore: (B, 4 width, H/s, W/s)
        # y = relu(F(x) + shortcut)
        return self.relu(out + shortcut)


BLOCKS: dict[str, type[BasicBlock] | type[Bottleneck]] = {"basic": BasicBlock, "bottleneck": Bottleneck}


# the fields, each declared once; the named variants give them their own defaults
def _in_channels(default: int) -> Any:
    return param(default, "channels of the input images", ge=1)


def _classes(default: int) -> Any:
    return param(default, "output classes", ge=2)


def _block(default: BlockName) -> Any:
    return param(default, "residual block: basic (two 3x3 convs) or bottleneck (1x1, 3x3, 1x1 to 4x)")


def _blocks(default: tuple[int, ...]) -> Any:
    return param(default, "residual blocks per stage", ge=1, le=64)


def _widths(default: tuple[int, ...]) -> Any:
    return param(default, "3x3-conv channels per stage (the stem has the first); stages after the first halve H and W", ge=1, le=4096)


def _stem(default: Stem) -> Any:
    return param(default, "imagenet: 7x7/2 conv and 3x3/2 max-pool; small: one 3x3/1 conv (28x28 or CIFAR images)")


@dataclass(frozen=True, kw_only=True)
class ResNetConfig(Config):
    """A ResNet; the defaults are ResNet-18's (``resnet34``, ``resnet50`` and ``resnet-small`` change them)."""

    in_channels: int = _in_channels(3)
    classes: int = _classes(1000)
    block: BlockName = _block(RESNET_DEPTHS[18][0])
    blocks: tuple[int, ...] = _blocks(RESNET_DEPTHS[18][1])
    widths: tuple[int, ...] = _widths(IMAGENET_WIDTHS)
    stem: Stem = _stem("imagenet")
    zero_init_residual: bool = param(False, "start each block's last BN weight at 0, so that every block starts as the identity")

    def validate(self) -> None:
        if len(self.widths) != len(self.blocks):
            raise ConfigError(f"widths has {len(self.widths)} stages but blocks has {len(self.blocks)}; give one width per stage")


@dataclass(frozen=True, kw_only=True)
class ResNet34Config(ResNetConfig):
    blocks: tuple[int, ...] = _blocks(RESNET_DEPTHS[34][1])


@dataclass(frozen=True, kw_only=True)
class ResNet50Config(ResNetConfig):
    block: BlockName = _block(RESNET_DEPTHS[50][0])
    blocks: tuple[int, ...] = _blocks(RESNET_DEPTHS[50][1])


@dataclass(frozen=True, kw_only=True)
class SmallResNetConfig(ResNetConfig):
    """ResNet-(6n+2) of He et al. §4.2 for 28 x 28 grey images: n = 3 blocks per stage is ResNet-20."""

    in_channels: int = _in_channels(1)
    classes: int = _classes(10)
    blocks: tuple[int, ...] = _blocks((3, 3, 3))  # (n, n, n): ResNet-(6n+2)
    widths: tuple[int, ...] = _widths((16, 32, 64))
    stem: Stem = _stem("small")


class ResNet(nn.Module):
    """Stem, stages ``layer1``.. of residual blocks (each but the first starting with stride 2),
    global average pooling and a linear layer; returns logits (B, classes)."""

    def __init__(self, cfg: ResNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        block = BLOCKS[cfg.block]
        stem_width = cfg.widths[0]
        if cfg.stem == "imagenet":
            self.conv1 = nn.Conv2d(cfg.in_channels, stem_width, 7, stride=2, padding=3, bias=False)
            self.maxpool: nn.Module = nn.MaxPool2d(3, stride=2, padding=1)
        else:
            self.conv1 = conv3x3(cfg.in_channels, stem_width)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(stem_width)
        self.relu = nn.ReLU(inplace=True)
        self.stage_names: list[str] = []
        channels = stem_width
        for i, (width, n) in enumerate(zip(cfg.widths, cfg.blocks)):
            layers = []
            for j in range(n):
                layers.append(block(channels, width, 2 if i > 0 and j == 0 else 1))
                channels = width * block.expansion
            self.add_module(f"layer{i + 1}", nn.Sequential(*layers))
            self.stage_names.append(f"layer{i + 1}")
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, cfg.classes)
        he_init(self)
        if cfg.zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)):
                    nn.init.zeros_(m.last_bn.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (B, C_0, H/4, W/4); small stem: (B, C_0, H, W)
        for name in self.stage_names:
            x = getattr(self, name)(x)  # (B, C_i, H_i, W_i)
        x = torch.flatten(self.avgpool(x), 1)  # (B, C)
        return self.fc(x)  # (B, classes)


IMAGENET = {"in_channels": 3, "classes": 1000}


@register_model("resnet18", config=ResNetConfig, topic="vision", example=IMAGENET)
def resnet18(cfg: ResNetConfig) -> ResNet:
    """ResNet-18 (He et al. 2016): basic blocks (2, 2, 2, 2), 11.7M parameters at 1000 classes."""
    return ResNet(cfg)


@register_model("resnet34", config=ResNet34Config, topic="vision", example=IMAGENET)
def resnet34(cfg: ResNet34Config) -> ResNet:
    """ResNet-34 (He et al. 2016): basic blocks (3, 4, 6, 3), 21.8M parameters at 1000 classes."""
    return ResNet(cfg)


@register_model("resnet50", config=ResNet50Config, topic="vision", example=IMAGENET)
def resnet50(cfg: ResNet50Config) -> ResNet:
    """ResNet-50 (He et al. 2016, v1.5): bottleneck blocks (3, 4, 6, 3), 25.6M parameters at 1000 classes."""
    return ResNet(cfg)


@register_model("resnet-small", config=SmallResNetConfig, topic="vision", example={"in_channels": 1, "classes": 10})
def resnet_small(cfg: SmallResNetConfig) -> ResNet:
    """ResNet-20 for 28x28 grey images: 3x3/1 stem, basic blocks (3, 3, 3) of widths 16, 32, 64 (28 -> 14 -> 7)."""
    return ResNet(cfg)
