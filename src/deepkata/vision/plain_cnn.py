"""A plain VGG-style CNN whose normalization layer is a setting: the testbed of the ``norms`` kata.

Stages of two 3 x 3 convolutions, each followed by the chosen normalization and ReLU, with 2 x 2
max pooling between stages (Simonyan and Zisserman, 2015); then global average pooling and a
linear classifier. For 28 x 28 inputs and widths (16, 32, 64): 28 → 14 → 7 → logits::

    [conv3x3 → norm → ReLU] x 2 → maxpool   (B, 16, 14, 14)
    [conv3x3 → norm → ReLU] x 2 → maxpool   (B, 32, 7, 7)
    [conv3x3 → norm → ReLU] x 2             (B, 64, 7, 7)
    global average pool → linear            (B, classes)

The convolutions carry a bias only without normalization (a norm's β replaces it). The norm layers
are deepkata's own (:func:`deepkata.vision.norms.make_norm`), or PyTorch's with
``implementation="torch"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from deepkata.core.config import Config, ConfigError, param
from deepkata.models import register_model
from deepkata.vision.norms import NORM_KINDS, make_norm


@dataclass(frozen=True, kw_only=True)
class PlainCNNConfig(Config):
    in_channels: int = param(1, "input channels (1 for grey images)", gt=0)
    classes: int = param(10, "output classes", ge=2)
    widths: tuple[int, ...] = param((16, 32, 64), "channels of each stage (two convolutions each)", gt=0, le=1024)
    norm: str = param("batch", "normalization after every convolution: batch, layer, instance, group or none")
    groups: int = param(8, "GroupNorm's groups (the largest divisor of the channels not above it)", gt=0)
    implementation: Literal["ours", "torch"] = param("ours", "norm layers written here, or PyTorch's")

    def validate(self) -> None:
        if self.norm not in NORM_KINDS:
            raise ConfigError(f"norm: {self.norm!r} is not one of {', '.join(NORM_KINDS)}")


class PlainCNN(nn.Module):
    def __init__(self, cfg: PlainCNNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        channels = cfg.in_channels
        for i, width in enumerate(cfg.widths):
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            for _ in range(2):
                layers += [
                    nn.Conv2d(channels, width, 3, padding=1, bias=cfg.norm == "none"),
                    make_norm(cfg.norm, width, groups=cfg.groups, implementation=cfg.implementation),
                    nn.ReLU(inplace=True),
                ]
                channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, cfg.classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # He et al. (2015): N(0, 2 / fan_out)
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (B, C_in, H, W)
        h = self.features(x)  # (B, C, H', W')
        return self.head(h.mean(dim=(2, 3)))  # (B, classes)


@register_model("plain-cnn", config=PlainCNNConfig, topic="vision")
def plain_cnn(cfg: PlainCNNConfig) -> PlainCNN:
    """A VGG-style CNN for 28 x 28 images with a chosen normalization layer (the norms kata's)."""
    return PlainCNN(cfg)
