"""Up-sampling inside a network: transposed convolution, max-unpooling with switches, and the
receptive field of (dilated) convolutions.

Papers:
    Dumoulin & Visin, "A guide to convolution arithmetic for deep learning", arXiv:1603.07285,
        2016, §4 (transposed convolution: a direct convolution of a zero-inserted, padded input;
        §4.6 relationship 14 for the output size) and §5.1 (dilated convolutions).
    Badrinarayanan, Kendall & Cipolla, "SegNet: a deep convolutional encoder-decoder architecture
        for image segmentation", IEEE TPAMI 2017, §3 (the decoder up-samples with the max-pooling
        indices, the "switches", of its encoder).
    Yu & Koltun, "Multi-scale context aggregation by dilated convolutions", ICLR 2016, §2
        (dilated convolution; stacked with dilations 1, 2, 4, ... the receptive field grows
        exponentially while the parameters grow linearly).

Notation, per spatial axis: input size H, kernel k, stride s, padding p, output padding op,
dilation d (a kernel of k taps spans d (k - 1) + 1 pixels), groups g.

**Transposed convolution** is the adjoint (the gradient with respect to the input) of the
convolution with the same k, s, p, d. Its weight has shape (C_in, C_out / g, k_h, k_w), torch's
layout, and written as a scatter it is its definition: each input pixel (i, j) adds
x[c, i, j] * w[c, o, u, v] into output pixel (i s - p + u d, j s - p + v d)
(:func:`conv_transpose2d_scatter`). Dumoulin & Visin's equivalent direct convolution
(:func:`conv_transpose2d`):

1. insert s - 1 zeros between neighbouring input pixels: (H - 1) s + 1 pixels;
2. pad each side with d (k - 1) - p zeros (crop where that is negative), and op more at the
   bottom/right;
3. convolve with stride 1 and dilation d with the kernel flipped in both spatial axes and its
   channel axes swapped (per group): w'[o, c, u, v] = w[c, o, k_h - 1 - u, k_w - 1 - v].

The zero-inserted input wastes (s^2 - 1) / s^2 of that convolution's multiply-adds on zeros. The
**sub-pixel** form (Shi et al. 2016, :func:`conv_transpose2d_subpixel`) does none: with
o + p = q s + r (r in 0..s-1, the output pixel's phase), only the taps u = r + j s reach it,
from input pixel i = q - j, so

    y[o] = sum_j x[q - j] w[r + j s],    j = 0 .. J - 1,  J = ceil(k / s),

a stride-1 convolution of the input with the phase's sub-kernel of J taps. All s_h s_w phases
are one ``F.conv2d`` with s_h s_w C_out output channels and a J_h x J_w kernel (the input padded
by J - 1 each side), its channels then interleaved into the s-times larger map (the "pixel
shuffle") and the padding p cropped off; dilation 1 only (the module falls back to the
zero-inserted form otherwise).

All three give H_out = (H - 1) s - 2p + d (k - 1) + op + 1, equal to ``F.conv_transpose2d``
(float64, 1e-10, gradients included; tests/detection/test_upsampling.py). op only chooses among the input
sizes that a strided convolution maps to H (it must be < s or < d, as torch requires).

**Max-unpooling** (SegNet): max-pooling remembers where each maximum came from (as torch, the
flat position i W + j within the H x W plane); unpooling writes each value back at its
position in a map of zeros. Ties: the first maximum in the window's row-major order wins, as in
torch's CPU kernel; overlapping windows may choose the same pixel, which unpooling then writes
twice (with pooled values both writes are equal).

**Receptive field** of a stack of layers (k_l, s_l, d_l), l = 1..L, input first:

    r = 1 + sum_l (k_l - 1) d_l prod_{j<l} s_j          jump = prod_l s_l

(a pooling layer is (k, s, 1)). :func:`measured_receptive_field` checks it from the gradient of
one output pixel with respect to the input.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ConvTranspose2d",
    "bilinear_kernel",
    "conv_transpose2d",
    "conv_transpose2d_scatter",
    "conv_transpose2d_size",
    "conv_transpose2d_subpixel",
    "jump",
    "max_pool2d_with_switches",
    "max_unpool2d",
    "measured_receptive_field",
    "receptive_field",
]

IntPair = int | tuple[int, int]


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    """(v, v) for an int, the pair itself for a pair."""
    if isinstance(value, int):
        return value, value
    pair = tuple(int(v) for v in value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return pair[0], pair[1]


def _check_4d(x: Tensor, name: str) -> None:
    if x.dim() != 4:
        raise ValueError(f"{name} must be (B, C, H, W), got shape {tuple(x.shape)}")


def conv_transpose2d_size(size: int, kernel: int, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1) -> int:
    """The output size of a transposed convolution along one axis."""
    # H_out = (H - 1) s - 2p + d (k - 1) + op + 1
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def _transposed_shapes(
    x: Tensor, weight: Tensor, stride: IntPair, padding: IntPair, output_padding: IntPair, dilation: IntPair, groups: int
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Checked (s, p, op, d) pairs and the output size (H_out, W_out)."""
    _check_4d(x, "the input")
    if weight.dim() != 4:
        raise ValueError(f"the weight must be (C_in, C_out / groups, k_h, k_w), got shape {tuple(weight.shape)}")
    s, p = _pair(stride, "stride"), _pair(padding, "padding")
    op, d = _pair(output_padding, "output_padding"), _pair(dilation, "dilation")
    channels = x.shape[1]
    if groups < 1 or channels % groups:
        raise ValueError(f"groups={groups} must divide the input's {channels} channels")
    if weight.shape[0] != channels:
        raise ValueError(f"the weight's first axis ({weight.shape[0]}) must equal the input's channels ({channels})")
    if min(s) < 1 or min(d) < 1 or min(p) < 0 or min(op) < 0:
        raise ValueError(f"need stride >= 1, dilation >= 1, padding >= 0, output_padding >= 0; got {s}, {d}, {p}, {op}")
    for axis in range(2):
        # torch's rule: op only picks among the sizes a strided (or dilated) convolution maps to H
        if op[axis] >= max(s[axis], d[axis]):
            raise ValueError(f"output_padding {op} must be smaller than either stride {s} or dilation {d}")
    size = tuple(conv_transpose2d_size(x.shape[2 + a], weight.shape[2 + a], s[a], p[a], op[a], d[a]) for a in range(2))
    if min(size) < 1:
        raise ValueError(f"the output size {size} is not positive (input {tuple(x.shape[2:])}, padding {p} too large)")
    return s, p, op, d, (size[0], size[1])


def _pad_or_crop(x: Tensor, top: int, bottom: int, left: int, right: int) -> Tensor:
    """Zero-pad the last two axes by the given amounts; a negative amount crops instead."""
    h, w = x.shape[-2:]
    x = x[..., max(-top, 0) : h - max(-bottom, 0), max(-left, 0) : w - max(-right, 0)]
    return F.pad(x, (max(left, 0), max(right, 0), max(top, 0), max(bottom, 0)))


def conv_transpose2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Tensor:
    """Transposed convolution as a direct convolution (Dumoulin & Visin §4): insert zeros, pad,
    convolve with the flipped, channel-swapped kernel. Same arguments and result as
    ``F.conv_transpose2d``; x (B, C_in, H, W), weight (C_in, C_out / g, k_h, k_w), bias (C_out,)."""
    s, p, op, d, _ = _transposed_shapes(x, weight, stride, padding, output_padding, dilation, groups)
    b, c_in, h, w = x.shape
    kh, kw = weight.shape[-2:]
    # 1. s - 1 zeros between neighbouring pixels: (B, C_in, (H - 1) s + 1, (W - 1) s + 1)
    z = x.new_zeros(b, c_in, (h - 1) * s[0] + 1, (w - 1) * s[1] + 1)
    z[:, :, :: s[0], :: s[1]] = x
    # 2. d (k - 1) - p zeros each side, op more at the bottom and right (negative: crop)
    edge = (d[0] * (kh - 1) - p[0], d[1] * (kw - 1) - p[1])
    z = _pad_or_crop(z, edge[0], edge[0] + op[0], edge[1], edge[1] + op[1])
    # 3. w'[o, c, u, v] = w[c, o, k_h - 1 - u, k_w - 1 - v] within each group: (C_out, C_in / g, k_h, k_w)
    c_out_g = weight.shape[1]
    flipped = weight.reshape(groups, c_in // groups, c_out_g, kh, kw).transpose(1, 2).reshape(groups * c_out_g, c_in // groups, kh, kw)
    flipped = flipped.flip((-2, -1))
    # a stride-1 convolution of the padded map: H_out = (H - 1) s + 1 + 2 (d (k - 1) - p) + op - d (k - 1)
    return F.conv2d(z, flipped, bias, stride=1, padding=0, dilation=d, groups=groups)  # (B, C_out, H_out, W_out)


def conv_transpose2d_scatter(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Tensor:
    """Transposed convolution from its definition: every input pixel scatters weight * value into
    the output, y[o, i s - p + u d, j s - p + v d] += sum_c x[c, i, j] w[c, o, u, v]; one loop over
    the kernel taps (u, v). Same arguments and result as :func:`conv_transpose2d`."""
    s, p, op, d, size = _transposed_shapes(x, weight, stride, padding, output_padding, dilation, groups)
    b, c_in, h, w = x.shape
    c_out_g, kh, kw = weight.shape[1:]
    xg = x.reshape(b, groups, c_in // groups, h, w)  # (B, g, C_in / g, H, W)
    wg = weight.reshape(groups, c_in // groups, c_out_g, kh, kw)  # (g, C_in / g, C_out / g, k_h, k_w)
    # the output before the padding p is cut from each side: (H - 1) s + d (k - 1) + 1 + op rows
    full = x.new_zeros(b, groups * c_out_g, size[0] + 2 * p[0], size[1] + 2 * p[1])
    for u in range(kh):
        for v in range(kw):
            # sum_c x[c, i, j] w[c, o, u, v] for every (i, j): (B, C_out, H, W)
            tap = torch.einsum("bgchw,gco->bgohw", xg, wg[..., u, v]).reshape(b, groups * c_out_g, h, w)
            # into rows u d + i s (then shifted by -p), columns v d + j s
            rows = slice(u * d[0], u * d[0] + (h - 1) * s[0] + 1, s[0])
            cols = slice(v * d[1], v * d[1] + (w - 1) * s[1] + 1, s[1])
            full[:, :, rows, cols] += tap
    y = full[:, :, p[0] : p[0] + size[0], p[1] : p[1] + size[1]]  # (B, C_out, H_out, W_out)
    return y if bias is None else y + bias.view(1, -1, 1, 1)


def conv_transpose2d_subpixel(  # the arguments of conv_transpose2d
    x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntPair = 1, padding: IntPair = 0, output_padding: IntPair = 0, dilation: IntPair = 1, groups: int = 1
) -> Tensor:
    """Transposed convolution as s_h s_w stride-1 convolutions of the input, one per output phase,
    interleaved (Shi et al., "Is the deconvolution layer the same as a convolutional layer?",
    arXiv:1609.07009, 2016): no multiply-add on an inserted zero. Dilation 1 only; otherwise the
    same arguments and result as :func:`conv_transpose2d`."""
    s, p, op, d, size = _transposed_shapes(x, weight, stride, padding, output_padding, dilation, groups)
    if d != (1, 1):
        raise ValueError(f"the sub-pixel form needs dilation 1, got {d}; use conv_transpose2d")
    b, c_in, h, w = x.shape
    c_out_g, kh, kw = weight.shape[1:]
    taps = (-(-kh // s[0]), -(-kw // s[1]))  # J = ceil(k / s) per axis
    # w padded with zeros to J s taps per axis, so that tap r + j s exists for every phase r and j < J
    wp = F.pad(weight, (0, taps[1] * s[1] - kw, 0, taps[0] * s[0] - kh))  # (C_in, C_out / g, J_h s_h, J_w s_w)
    # w[c, o, r + j s] as [c, o, j, r], then j reversed (a correlation), phases and output channels first:
    wp = wp.reshape(groups, c_in // groups, c_out_g, taps[0], s[0], taps[1], s[1]).flip(3, 5)
    # (g, C_out / g, s_h, s_w, C_in / g, J_h, J_w): output channel (group, o, r_h, r_w) of one conv2d
    phases = wp.permute(0, 2, 4, 6, 1, 3, 5).reshape(groups * c_out_g * s[0] * s[1], c_in // groups, taps[0], taps[1])
    # z[(o, r_h, r_w), q_h, q_w] = sum_{c, j} x[c, q - j] w[c, o, r + j s]: q = 0 .. H + J - 2
    z = F.conv2d(x, phases, padding=(taps[0] - 1, taps[1] - 1), groups=groups)  # (B, C_out s_h s_w, H + J_h - 1, W + J_w - 1)
    qh, qw = z.shape[-2:]
    # the pixel shuffle: full[o, q s + r] = z[(o, r), q]: (B, C_out, Q_h s_h, Q_w s_w)
    full = z.reshape(b, groups * c_out_g, s[0], s[1], qh, qw).permute(0, 1, 4, 2, 5, 3).reshape(b, groups * c_out_g, qh * s[0], qw * s[1])
    # the output is full[p : p + H_out]; past the last tap (output padding) it is zero
    y = _pad_or_crop(full, -p[0], p[0] + size[0] - qh * s[0], -p[1], p[1] + size[1] - qw * s[1])  # (B, C_out, H_out, W_out)
    return y if bias is None else y + bias.view(1, -1, 1, 1)


class ConvTranspose2d(nn.Module):
    """``nn.ConvTranspose2d`` (zero padding) on :func:`conv_transpose2d`: the same constructor,
    parameter names, shapes and initialization, so ``load_state_dict`` works both ways and, from
    the same seed, both draw the same weights.

    weight (C_in, C_out / g, k_h, k_w) and bias (C_out,) are U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    with torch's fan_in = C_out / g * k_h * k_w (the weight's axis 1 and kernel, as for a conv)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        output_padding: IntPair = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: IntPair = 1,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.padding = _pair(stride, "stride"), _pair(padding, "padding")
        self.output_padding, self.dilation = _pair(output_padding, "output_padding"), _pair(dilation, "dilation")
        # torch's modules take the default device when none is given; say so, so that no tensor is made on an implicit one
        factory = {"device": device if device is not None else torch.get_default_device(), "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels // groups, *self.kernel_size, **factory))
        self.bias = nn.Parameter(torch.empty(out_channels, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # kaiming_uniform_ with a = sqrt(5): bound = sqrt(3) * sqrt(2 / (1 + 5)) / sqrt(fan_in) = 1 / sqrt(fan_in)
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def output_padding_for(self, x: Tensor, output_size: Sequence[int]) -> tuple[int, int]:
        """The output padding that gives ``output_size`` (its last two entries), which must lie within
        [H_min, H_min + s - 1] with H_min the size at op = 0, as torch's ``output_size`` argument."""
        want = tuple(output_size)[-2:]
        pads = []
        for a in range(2):
            smallest = conv_transpose2d_size(x.shape[2 + a], self.kernel_size[a], self.stride[a], self.padding[a], 0, self.dilation[a])
            if not smallest <= want[a] <= smallest + self.stride[a] - 1:
                raise ValueError(f"output_size {want} is not reachable: axis {a} allows {smallest}..{smallest + self.stride[a] - 1}")
            pads.append(want[a] - smallest)
        return pads[0], pads[1]

    def forward(self, x: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        op = self.output_padding if output_size is None else self.output_padding_for(x, output_size)
        # the sub-pixel form skips the inserted zeros (FCN's x8: 1/64 of the multiply-adds); it needs dilation 1
        form = conv_transpose2d_subpixel if self.dilation == (1, 1) else conv_transpose2d
        return form(x, self.weight, self.bias, self.stride, self.padding, op, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, output_padding={self.output_padding}, dilation={self.dilation}, "
            f"groups={self.groups}, bias={self.bias is not None}"
        )


def bilinear_kernel(factor: int) -> Tensor:
    """The k x k kernel (k = 2f - f mod 2) with which a transposed convolution of stride f and padding
    (k - f) // 2 up-samples by f as ``F.interpolate(mode="bilinear", align_corners=False)`` does
    away from the borders (within f // 2 pixels of an edge interpolate repeats the edge pixel, the
    convolution sees zeros). Long, Shelhamer & Darrell's FCN initializes its up-sampling with it.

    With centre c = (k - 1) / 2: w[u, v] = (1 - |u - c| / f) (1 - |v - c| / f)."""
    if factor < 1:
        raise ValueError(f"the up-sampling factor must be >= 1, got {factor}")
    size = 2 * factor - factor % 2
    centre = (size - 1) / 2
    # 1 - |t - c| / f, the triangle (linear interpolation) along one axis
    tri = 1 - (torch.arange(size, dtype=torch.float64, device="cpu") - centre).abs() / factor
    return torch.outer(tri, tri)  # (k, k)


# --------------------------------------------------------------------------------------------
# max-pooling with switches and max-unpooling (SegNet)
# --------------------------------------------------------------------------------------------


def _pool_args(kernel_size: IntPair, stride: IntPair | None, padding: IntPair) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None else _pair(stride, "stride")
    p = _pair(padding, "padding")
    if min(k) < 1 or min(s) < 1 or min(p) < 0:
        raise ValueError(f"need kernel_size >= 1, stride >= 1 and padding >= 0; got {k}, {s}, {p}")
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"padding {p} must be at most half of kernel_size {k}")
    return k, s, p


def max_pool2d_with_switches(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0) -> tuple[Tensor, Tensor]:
    """Max-pooling that also returns where each maximum was: (values, indices), both (B, C, H_out, W_out)
    with H_out = floor((H + 2p - k) / s) + 1 and indices the flat position i W + j in the input's
    H x W plane, as ``F.max_pool2d(..., return_indices=True)``. The padding is -inf, so never chosen;
    among equal values the first in the window's row-major order wins (torch's rule)."""
    _check_4d(x, "the input")
    k, s, p = _pool_args(kernel_size, stride, padding)
    b, c, h, w = x.shape
    out_h, out_w = (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"the input {h}x{w} is smaller than the kernel {k} (padding {p})")
    padded = F.pad(x, (p[1], p[1], p[0], p[0]), value=-math.inf)
    # every window as a column: (B, C, k_h k_w, H_out W_out)
    windows = F.unfold(padded, k, stride=s).view(b, c, k[0] * k[1], out_h * out_w)
    # the first maximum of each window (torch.max returns the first index of ties)
    values, tap = windows.max(dim=2)  # (B, C, H_out W_out) each
    tap = tap.view(b, c, out_h, out_w)
    # the window at (oi, oj) starts at input pixel (oi s - p, oj s - p); tap t is its (t // k_w, t % k_w)
    rows = torch.arange(out_h, device=x.device).view(-1, 1) * s[0] - p[0] + tap // k[1]
    cols = torch.arange(out_w, device=x.device).view(1, -1) * s[1] - p[1] + tap % k[1]
    # index = i W + j
    return values.view(b, c, out_h, out_w), rows * w + cols


def max_unpool2d(
    x: Tensor,
    indices: Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    output_size: Sequence[int] | None = None,
) -> Tensor:
    """Each value of x (B, C, H, W) written at its switch position in a (B, C, H_out, W_out) map of
    zeros, as ``F.max_unpool2d``. H_out = (H - 1) s - 2p + k unless ``output_size`` (its last two
    entries) says otherwise; as torch, it must lie strictly within that size -+ s (the pooled sizes
    that floor division maps to H). The gradient with respect to x gathers at the indices."""
    _check_4d(x, "the input")
    if indices.shape != x.shape:
        raise ValueError(f"indices {tuple(indices.shape)} must have the input's shape {tuple(x.shape)}")
    k, s, p = _pool_args(kernel_size, stride, padding)
    b, c, h, w = x.shape
    # H_out = (H - 1) s - 2p + k
    default = ((h - 1) * s[0] - 2 * p[0] + k[0], (w - 1) * s[1] - 2 * p[1] + k[1])
    size = default if output_size is None else tuple(int(n) for n in tuple(output_size)[-2:])
    for a in range(2):
        if not default[a] - s[a] < size[a] < default[a] + s[a]:
            raise ValueError(f"output_size {size} must lie strictly between {default[a] - s[a]} and {default[a] + s[a]} on axis {a}")
    plane = size[0] * size[1]
    if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= plane):
        raise ValueError(f"an index lies outside the {size[0]}x{size[1]} output plane")
    # y[b, c, index] = x[b, c, i, j]
    y = x.new_zeros(b, c, plane).scatter(2, indices.reshape(b, c, -1), x.reshape(b, c, -1))
    return y.view(b, c, *size)  # (B, C, H_out, W_out)


# --------------------------------------------------------------------------------------------
# receptive field
# --------------------------------------------------------------------------------------------


def receptive_field(layers: Sequence[tuple[int, int, int]]) -> int:
    """The receptive field, in input pixels along one axis, of a stack of (kernel, stride, dilation)
    layers, input first: r = 1 + sum_l (k_l - 1) d_l prod_{j<l} s_j. Pooling is (k, s, 1)."""
    r, step = 1, 1
    for kernel, stride, dilation in layers:
        # layer l widens the field by (k_l - 1) d_l of its input's pixels, each prod_{j<l} s_j input pixels apart
        r += (kernel - 1) * dilation * step
        step *= stride
    return r


def jump(layers: Sequence[tuple[int, int, int]]) -> int:
    """The distance, in input pixels, between neighbouring outputs of the stack: prod_l s_l."""
    return math.prod(stride for _, stride, _ in layers)


def measured_receptive_field(module: nn.Module, input_size: IntPair) -> tuple[int, int]:
    """The (height, width) of the input region whose pixels change the central output pixel of
    ``module`` (summed over channels), measured by back-propagation: a float64 copy with every
    weight positive and every bias zero (BatchNorm reset to the identity, eval mode) sees an input
    of ones, so no two paths cancel and no ReLU closes. The extent from the first to the last
    pixel with a nonzero gradient; equals :func:`receptive_field` when the field fits inside the
    input. For stacks of convolutions, ReLUs, BatchNorm and average pooling (max-pooling routes
    the gradient to one pixel per window, so it measures less)."""
    probe = copy.deepcopy(module).to(torch.float64).eval()
    convs = [m for m in probe.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("the module has no nn.Conv2d to take the input channels from")
    with torch.no_grad():
        for m in probe.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
                m.reset_running_stats()
        for name, p in probe.named_parameters():
            # a positive weight, about 1 / fan_in so the activations stay near 1; biases 0
            p.fill_(0.0 if name.endswith("bias") else 1.0 / (p[0].numel() if p.dim() > 1 else 1))
    h, w = _pair(input_size, "input_size")
    x = torch.ones(1, convs[0].in_channels, h, w, dtype=torch.float64, requires_grad=True)
    y = probe(x)  # (1, C_out, H_out, W_out)
    y[0, :, y.shape[2] // 2, y.shape[3] // 2].sum().backward()
    assert x.grad is not None
    reached = x.grad[0].abs().sum(0) > 0  # (H, W)
    rows, cols = reached.any(1).nonzero().flatten(), reached.any(0).nonzero().flatten()
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)
