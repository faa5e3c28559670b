"""Weight initialization the convolutional networks of several topics share."""

from __future__ import annotations

from torch import nn


def he_init(module: nn.Module) -> None:
    """Every conv Kaiming-normal with fan_out (std sqrt(2 / (k^2 C_out))), every BN weight 1 and bias 0.

    The rule of He et al. 2015, as torchvision and the papers' Torch/Caffe code apply it; linear
    layers are left to their model.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
