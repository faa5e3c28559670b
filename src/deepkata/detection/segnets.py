"""Three small semantic-segmentation networks: FCN-8s, SegNet and a dilated-convolution net.

Each maps images (B, C_in, H, W) to per-pixel class logits (B, classes, H, W), trained with the
pixel-wise cross-entropy; the defaults are for 128 x 128 RGB images of the shapes data set with 4
classes (background, circle, square, triangle). Three ways back from a coarse feature map to the
full resolution (:mod:`deepkata.detection.upsampling`):

``fcn-small`` (Long, Shelhamer & Darrell, "Fully convolutional networks for semantic
segmentation", CVPR 2015, §4.2 and Figure 3): a VGG-like encoder of five conv blocks, each a 3x3
conv, BN, ReLU and a 2x2 max-pool, down to 1/32; fc6/fc7 as convolutions (3x3 then 1x1) and a
1x1 ``score_fr`` give class scores at 1/32. FCN-8s adds the skips::

    fuse_pool4 = upscore2(score_fr) + score_pool4(pool4)              at 1/16
    fuse_pool3 = upscore_pool4(fuse_pool4) + score_pool3(pool3)       at 1/8
    logits     = upscore8(fuse_pool3)                                 at 1/1

with learned transposed convolutions (our :class:`ConvTranspose2d`): x2 (k 4, s 2, p 1), x2, then
x8 (k 16, s 8, p 4), bias-free, each initialized to bilinear interpolation (the paper's
"surgery": weight[c, c] = :func:`bilinear_kernel`, zero between classes), which equals
``F.interpolate(mode="bilinear", align_corners=False)`` except within f // 2 pixels of the
border, where the transposed convolution sees zero padding. The paper fixes the final x8 to
bilinear and learns the x2 layers; here all three learn (every parameter of a registered model
trains). The skip scores start at zero, as the paper's, so training starts from FCN-32s-like
predictions. An image whose sides are not multiples of 32 is zero-padded at the bottom and right
to the next multiple and the logits cropped back (the authors' Caffe model pads conv1 by 100 and
crops instead).

``segnet-small`` (Badrinarayanan, Kendall & Cipolla, "SegNet", TPAMI 2017, §3 and Figure 2):
encoder stages of 3x3 conv-BN-ReLU layers, each stage ending in a 2x2 max-pool that keeps its
switches (:func:`max_pool2d_with_switches`); a mirrored decoder in which each stage first
un-pools with its encoder stage's switches (:func:`max_unpool2d`: every value back where its
maximum was, zeros elsewhere, a sparse map) and then densifies it with conv-BN-ReLU layers; a
1x1 convolution, the paper's "trainable soft-max classifier", gives the logits. The encoder's
pre-pool sizes go to the un-pooling, so any size of at least 2^stages works.

``dilated-small`` (Yu & Koltun, "Multi-scale context aggregation by dilated convolutions", ICLR
2016, §3 and Table 1): a front end of conv-BN-ReLU stages with max-pooling between them down to
1/4, a 1x1 conv to ``context_width`` channels, then the basic context module, 3x3 convolutions
with dilations 1, 1, 2, 4, 8, 16, 1 (each with a ReLU) that keep the resolution while the
receptive field grows to 1 + 2 (1+1+2+4+8+16+1) = 67 pixels at 1/4 resolution, 282 input
pixels with the front end, so every output pixel sees the whole 128 x 128 image (r >= 2 * 128 -
1); a 1x1 conv to the classes and bilinear up-sampling to the input size. As the paper, the context layers start as the
identity, k(t, a) = 1[t = 0] 1[a = b], so the untrained module passes the front end's
(non-negative) features through unchanged. Yu & Koltun's front end stops at 1/8 of 512-1024
pixel images; at 128 pixels 1/8 is 16 pixels and the dilation-16 taps would only ever see
padding, hence 1/4 (32 pixels).

Weights: 3x3 and 1x1 convs Kaiming-normal (fan_out, ReLU gain), BN weight 1 and bias 0, conv
biases 0, except where the papers say otherwise (FCN's up-sampling and skip scores, the identity
context module). Parameters at the defaults: fcn-small 613,276, segnet-small 123,220,
dilated-small 80,372. A training step (forward and backward) on a batch of 16 images of 128 x 128
takes about 0.3, 0.5 and 0.3 s of one CPU core. The transposed convolutions compute by the
sub-pixel form (:func:`~deepkata.detection.upsampling.conv_transpose2d_subpixel`): with the
zero-inserted input FCN's step took 1.7 s, 1.5 of them in ``upscore8``, which then spends 63 of
every 64 multiply-adds on inserted zeros.

Shapes: B images, C channels, H x W pixels, K classes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepkata.core.config import Config, param
from deepkata.core.errors import ConfigError
from deepkata.detection.upsampling import ConvTranspose2d, bilinear_kernel, max_pool2d_with_switches, max_unpool2d
from deepkata.models.init import he_init
from deepkata.models.registry import register_model

__all__ = [
    "FCN",
    "DilatedConfig",
    "DilatedNet",
    "FCNConfig",
    "SegNet",
    "SegNetConfig",
    "bilinear_upsampling",
    "conv_bn_relu",
]


def conv_bn_relu(in_channels: int, out_channels: int, kernel: int = 3, dilation: int = 1) -> nn.Sequential:
    """A 'same' conv (no bias: BN follows), BN and ReLU; ``conv``, ``norm``, ``relu``."""
    padding = dilation * (kernel - 1) // 2
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, kernel, padding=padding, dilation=dilation, bias=False),
            norm=nn.BatchNorm2d(out_channels),
            relu=nn.ReLU(inplace=True),
        )
    )


def bilinear_upsampling(channels: int, factor: int) -> ConvTranspose2d:
    """A bias-free transposed convolution that up-samples each of ``channels`` maps by ``factor``
    bilinearly (k = 2f - f mod 2, s = f, p = (k - f) // 2, so H_out = f H): weight[c, c] is
    :func:`bilinear_kernel`, weight[c, c'] = 0 for c != c' (FCN's initialization; it then learns)."""
    kernel = bilinear_kernel(factor)
    size = kernel.shape[0]
    up = ConvTranspose2d(channels, channels, size, stride=factor, padding=(size - factor) // 2, bias=False)
    with torch.no_grad():
        up.weight.zero_()
        up.weight[range(channels), range(channels)] = kernel.to(up.weight.dtype)
    return up


# the fields every network declares, each declared once
def _in_channels() -> Any:
    return param(3, "channels of the input images", ge=1)


def _classes() -> Any:
    return param(4, "pixel classes, background included (shapes: background, circle, square, triangle)", ge=2)


# --------------------------------------------------------------------------------------------
# FCN-8s
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FCNConfig(Config):
    """FCN-8s with a small VGG-like encoder: five conv blocks down to 1/32."""

    in_channels: int = _in_channels()
    classes: int = _classes()
    blocks: tuple[int, ...] = param(
        (16, 32, 64, 128, 128), "channels of the five blocks (3x3 conv, BN, ReLU, 2x2 max-pool): 1/2 .. 1/32", ge=1, le=4096
    )
    fc_width: int = param(256, "channels of fc6 (3x3 conv) and fc7 (1x1 conv) at 1/32", ge=1, le=8192)

    def validate(self) -> None:
        if len(self.blocks) != 5:
            raise ConfigError(f"blocks: FCN-8s needs five blocks (pool3 at 1/8, pool4 at 1/16, pool5 at 1/32), got {len(self.blocks)}")


class FCN(nn.Module):
    """FCN-8s: ``features`` (``block1``..``block5``), ``fc6``, ``fc7``, ``score_fr``, ``score_pool4``,
    ``score_pool3``, ``upscore2``, ``upscore_pool4``, ``upscore8``; logits (B, K, H, W)."""

    stride = 32  # the encoder's total down-sampling

    def __init__(self, cfg: FCNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        channels = cfg.in_channels
        for i, width in enumerate(cfg.blocks):
            blocks[f"block{i + 1}"] = nn.Sequential(OrderedDict(layer=conv_bn_relu(channels, width), pool=nn.MaxPool2d(2)))
            channels = width
        self.features = nn.ModuleDict(blocks)
        self.fc6 = conv_bn_relu(channels, cfg.fc_width, 3)
        self.fc7 = conv_bn_relu(cfg.fc_width, cfg.fc_width, 1)
        k = cfg.classes
        self.score_fr = nn.Conv2d(cfg.fc_width, k, 1)
        self.score_pool4 = nn.Conv2d(cfg.blocks[3], k, 1)
        self.score_pool3 = nn.Conv2d(cfg.blocks[2], k, 1)
        he_init(self)
        for layer in (self.score_pool4, self.score_pool3):
            # the paper: the new skip scores start at zero, leaving the coarser predictions unmodified
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.upscore2 = bilinear_upsampling(k, 2)  # 1/32 -> 1/16
        self.upscore_pool4 = bilinear_upsampling(k, 2)  # 1/16 -> 1/8
        self.upscore8 = bilinear_upsampling(k, 8)  # 1/8 -> 1/1

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        # zero-pad to multiples of 32 at the bottom and right, so the skips line up exactly
        x = F.pad(x, (0, -w % self.stride, 0, -h % self.stride))  # (B, C, H', W')
        pools = []
        for block in self.features.values():
            x = block(x)
            pools.append(x)  # pool1 .. pool5: (B, C_i, H' / 2^i, W' / 2^i)
        score = self.score_fr(self.fc7(self.fc6(pools[4])))  # (B, K, H'/32, W'/32)
        # fuse_pool4 = upscore2(score_fr) + score_pool4(pool4)
        fuse4 = self.upscore2(score) + self.score_pool4(pools[3])  # (B, K, H'/16, W'/16)
        # fuse_pool3 = upscore_pool4(fuse_pool4) + score_pool3(pool3)
        fuse3 = self.upscore_pool4(fuse4) + self.score_pool3(pools[2])  # (B, K, H'/8, W'/8)
        return self.upscore8(fuse3)[..., :h, :w]  # (B, K, H, W)


@register_model("fcn-small", config=FCNConfig, topic="detection", example={"in_channels": 3, "classes": 4})
def fcn_small(cfg: FCNConfig) -> FCN:
    """FCN-8s (Long et al. 2015): a 5-block VGG-like encoder to 1/32, skips at 1/16 and 1/8, bilinear-initialized transposed convs."""
    return FCN(cfg)


# --------------------------------------------------------------------------------------------
# SegNet
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SegNetConfig(Config):
    """SegNet: encoder stages with max-pool switches, a mirrored decoder that un-pools with them."""

    in_channels: int = _in_channels()
    classes: int = _classes()
    stages: tuple[int, ...] = param(
        (16, 32, 64, 64), "channels of the encoder stages, each ending in a 2x2 max-pool (the decoder mirrors them)", ge=1, le=4096
    )
    convs: int = param(1, "3x3 conv-BN-ReLU layers in each encoder stage and in each decoder stage", ge=1, le=8)


class EncoderStage(nn.Module):
    """conv-BN-ReLU layers, then a 2x2 max-pool that returns its switches."""

    def __init__(self, in_channels: int, out_channels: int, convs: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(*[conv_bn_relu(in_channels if i == 0 else out_channels, out_channels) for i in range(convs)])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, tuple[int, int]]:
        x = self.layers(x)  # (B, C, H, W)
        pooled, switches = max_pool2d_with_switches(x, 2)  # (B, C, H/2, W/2) each
        return pooled, switches, (x.shape[-2], x.shape[-1])


class DecoderStage(nn.Module):
    """Un-pooling with an encoder stage's switches, then conv-BN-ReLU layers (the last changes the width)."""

    def __init__(self, in_channels: int, out_channels: int, convs: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(*[conv_bn_relu(in_channels, out_channels if i == convs - 1 else in_channels) for i in range(convs)])

    def unpool(self, x: Tensor, switches: Tensor, size: tuple[int, int]) -> Tensor:
        """Each value at its switch position of a (B, C, H, W) map of zeros."""
        return max_unpool2d(x, switches, 2, output_size=size)

    def forward(self, x: Tensor, switches: Tensor, size: tuple[int, int]) -> Tensor:
        return self.layers(self.unpool(x, switches, size))  # (B, C_out, H, W)


class SegNet(nn.Module):
    """``encoder`` (stages), ``decoder`` (stages, deepest first), ``classifier`` (1x1); logits (B, K, H, W)."""

    def __init__(self, cfg: SegNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        widths = (cfg.in_channels, *cfg.stages)
        self.encoder = nn.ModuleList([EncoderStage(widths[i], widths[i + 1], cfg.convs) for i in range(len(cfg.stages))])
        # decoder stage i mirrors encoder stage i: stages[i] -> stages[i - 1] channels (stages[0] for the first)
        outs = (cfg.stages[0], *cfg.stages[:-1])
        self.decoder = nn.ModuleList([DecoderStage(cfg.stages[i], outs[i], cfg.convs) for i in reversed(range(len(cfg.stages)))])
        self.classifier = nn.Conv2d(cfg.stages[0], cfg.classes, 1)
        he_init(self)

    def encode(self, x: Tensor) -> tuple[Tensor, list[tuple[Tensor, tuple[int, int]]]]:
        """The deepest features and, per stage (first to last), the switches and the pre-pool size."""
        smallest = 2 ** len(self.encoder)
        if min(x.shape[-2:]) < smallest:
            raise ValueError(f"SegNet with {len(self.encoder)} poolings needs images of at least {smallest}x{smallest}, got {tuple(x.shape[-2:])}")
        switches = []
        for stage in self.encoder:
            x, indices, size = stage(x)
            switches.append((indices, size))
        return x, switches

    def forward(self, x: Tensor) -> Tensor:
        x, switches = self.encode(x)  # (B, C_last, H / 2^n, W / 2^n)
        for stage, (indices, size) in zip(self.decoder, reversed(switches), strict=True):
            x = stage(x, indices, size)
        return self.classifier(x)  # (B, K, H, W)


@register_model("segnet-small", config=SegNetConfig, topic="detection", example={"in_channels": 3, "classes": 4})
def segnet_small(cfg: SegNetConfig) -> SegNet:
    """SegNet (Badrinarayanan et al. 2017): a 4-stage encoder with max-pool switches, a mirrored decoder that un-pools with them."""
    return SegNet(cfg)


# --------------------------------------------------------------------------------------------
# dilated convolutions (Yu & Koltun)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DilatedConfig(Config):
    """A front end down to 1/4 and Yu & Koltun's context module of dilated 3x3 convolutions."""

    in_channels: int = _in_channels()
    classes: int = _classes()
    front: tuple[int, ...] = param((16, 32, 32), "channels of the front end's conv-BN-ReLU stages, a 2x2 max-pool between each two", ge=1, le=4096)
    context_width: int = param(32, "channels of the context module", ge=1, le=4096)
    dilations: tuple[int, ...] = param((1, 1, 2, 4, 8, 16, 1), "dilation of each 3x3 layer of the context module", ge=1, le=256)


class ContextModule(nn.Sequential):
    """3x3 convs with the given dilations, each followed by a ReLU, identity-initialized (Yu & Koltun §3)."""

    def __init__(self, channels: int, dilations: Sequence[int]) -> None:
        layers: list[nn.Module] = []
        for d in dilations:
            layers += [nn.Conv2d(channels, channels, 3, padding=d, dilation=d), nn.ReLU(inplace=True)]
        super().__init__(*layers)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            for m in self:
                if isinstance(m, nn.Conv2d):
                    # k(t, a) = 1[t = 0] 1[a = b]: the centre tap passes channel a to channel a
                    m.weight.zero_()
                    m.weight[range(m.out_channels), range(m.in_channels), 1, 1] = 1.0
                    m.bias.zero_()


class DilatedNet(nn.Module):
    """``front`` (stages and pools), ``project`` (1x1), ``context``, ``classifier`` (1x1), then bilinear
    up-sampling to the input size; logits (B, K, H, W)."""

    def __init__(self, cfg: DilatedConfig) -> None:
        super().__init__()
        self.cfg = cfg
        front: list[nn.Module] = []
        channels = cfg.in_channels
        for i, width in enumerate(cfg.front):
            if i > 0:
                front.append(nn.MaxPool2d(2))
            front.append(conv_bn_relu(channels, width))
            channels = width
        self.front = nn.Sequential(*front)
        self.project = conv_bn_relu(channels, cfg.context_width, 1)
        self.context = ContextModule(cfg.context_width, cfg.dilations)
        self.classifier = nn.Conv2d(cfg.context_width, cfg.classes, 1)
        he_init(self)
        self.context.reset_parameters()

    def layers(self) -> list[tuple[int, int, int]]:
        """(kernel, stride, dilation) of every conv and pooling, input first, for :func:`receptive_field`."""
        spec = []
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                spec.append((m.kernel_size[0], m.stride[0], m.dilation[0]))
            elif isinstance(m, nn.MaxPool2d):
                kernel, stride = (v if isinstance(v, int) else v[0] for v in (m.kernel_size, m.stride))
                spec.append((kernel, stride, 1))
        return spec

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        x = self.project(self.front(x))  # (B, context_width, H/4, W/4)
        x = self.classifier(self.context(x))  # (B, K, H/4, W/4)
        return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)  # (B, K, H, W)


@register_model("dilated-small", config=DilatedConfig, topic="detection", example={"in_channels": 3, "classes": 4})
def dilated_small(cfg: DilatedConfig) -> DilatedNet:
    """A dilated-convolution net (Yu & Koltun 2016): a front end to 1/4, the context module (dilations 1,1,2,4,8,16,1), bilinear up-sampling."""
    return DilatedNet(cfg)
