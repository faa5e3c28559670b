"""Kata ``mobilenet-cost``: what a depthwise separable convolution saves, in MACs and in time.

The notes (Day 4, MobileNet) count the multiply-accumulates (MACs) of a convolution with an H x W
output, C input and M output channels and a K x K kernel: a standard one costs H·W·K·K·C·M, a
depthwise one H·W·C·K·K and a pointwise one H·W·C·M, so the separable pair costs 1/M + 1/K² of the
standard convolution (Howard et al. 2017, "MobileNets", arXiv:1704.04861, §3.1, eq. 5). Three parts:

a. **The cost table.** PyTorch's FLOP counter (:func:`~deepkata.vision.cost.count_cost`) against the
   closed forms over a grid of (H, W, C, M, K): equal in every cell, and the measured ratio equal to
   1/M + 1/K² as an exact fraction. The count needs shapes only, so it runs on the ``meta`` device.
b. **Latency.** Standard, depthwise and pointwise convolutions of MobileNet's layer shapes timed on
   the run's device and threads (median of ``repeats`` after ``warmup``, with the interquartile
   range), with their speed (GMAC/s) and arithmetic intensity (MACs per byte of input, output and
   weights, float32). A fourth convolution per shape, a 1 x 1 one from C to K² channels, has exactly
   the depthwise one's MACs, for a comparison at equal MACs. The roofline model (Williams, Waterman
   & Patterson 2009) reads the speeds: a copy measures the memory bandwidth BW, the fastest
   convolution the peak P; below the ridge P / BW MAC/byte the memory bounds the speed.
c. **MobileNet against the paper.** Parameters and MACs counted on the model registry's
   ``mobilenet-v1`` for the width multipliers α and resolutions ρ·224 of the paper's Tables 6 and 7,
   ``mobilenet-v2`` (Sandler et al. 2018, "MobileNetV2", arXiv:1801.04381, Table 4) and "Conv
   MobileNet", v1 with every separable block replaced by a full 3 x 3 convolution (Howard et al.,
   Table 4), with the paper's α² and ρ² scaling (§3.3, §3.4).

Latency is noisy on a shared machine: the ratios derived from it are reported as metrics for the
observations, the seconds themselves as timings.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from deepkata.core.config import Config, ConfigError, KataConfig, param
from deepkata.core.plots import figure
from deepkata.core.registry import Expectation, Observation, Outcome, register_kata
from deepkata.core.report import markdown_table
from deepkata.core.runner import Run
from deepkata.models import build_model
from deepkata.vision.cost import (
    Latency,
    arithmetic_intensity,
    conv_bytes,
    count_cost,
    depthwise_conv_macs,
    measure_bandwidth,
    measure_latencies,
    pointwise_conv_macs,
    separable_ratio,
    standard_conv_macs,
)
from deepkata.vision.mobilenet import DepthwiseSeparable, conv_bn_act  # importing it registers mobilenet-v1 and mobilenet-v2

META = torch.device("meta")
EXERCISE = "MobileNet"
Kind = Literal["standard", "depthwise", "pointwise", "matched", "separable"]
KINDS: tuple[Kind, ...] = ("standard", "depthwise", "pointwise", "matched", "separable")
KIND_LABELS = {
    "standard": "standard K x K",
    "depthwise": "depthwise K x K",
    "pointwise": "pointwise 1 x 1",
    "matched": "1 x 1 to K² channels (the depthwise MACs)",
    "separable": "depthwise + pointwise",
}


# --- the paper's figures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperRow:
    model: str  # "v1", "v2" or "conv" (Conv MobileNet)
    width: float  # α
    resolution: int  # ρ·224
    mult_adds_m: float  # millions of multiply-adds, as printed
    params_m: float  # millions of parameters, as printed (one decimal)
    source: str


# Howard et al. 2017, Table 6 (width multiplier), Table 7 (resolution), Table 4 (Conv MobileNet);
# Sandler et al. 2018, Table 4 (MobileNetV2 1.0-224)
PAPER: tuple[PaperRow, ...] = (
    PaperRow("v1", 1.0, 224, 569, 4.2, "Howard et al. Tables 6, 7"),
    PaperRow("v1", 0.75, 224, 325, 2.6, "Howard et al. Table 6"),
    PaperRow("v1", 0.5, 224, 149, 1.3, "Howard et al. Table 6"),
    PaperRow("v1", 0.25, 224, 41, 0.5, "Howard et al. Table 6"),
    PaperRow("v1", 1.0, 192, 418, 4.2, "Howard et al. Table 7"),
    PaperRow("v1", 1.0, 160, 290, 4.2, "Howard et al. Table 7"),
    PaperRow("v1", 1.0, 128, 186, 4.2, "Howard et al. Table 7"),
    PaperRow("conv", 1.0, 224, 4866, 29.3, "Howard et al. Table 4"),
    PaperRow("v2", 1.0, 224, 300, 3.4, "Sandler et al. Table 4"),
)


def paper_row(model: str, width: float, resolution: int) -> PaperRow | None:
    return next((r for r in PAPER if (r.model, r.width, r.resolution) == (model, width, resolution)), None)


# --- config ------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LatencyConfig(Config):
    """The convolutions timed: one shape per (size, in, out) triple, each as standard, depthwise,
    pointwise, the MAC-matched 1 x 1 and the separable pair; by default MobileNet 1.0-224's
    stride-1 blocks (Howard et al., Table 1)."""

    batch: int = param(8, "images per forward pass", ge=1, le=1024)
    sizes: tuple[int, ...] = param((112, 56, 28, 14, 7), "output height = width H of each shape", ge=1, le=1024)
    in_channels: tuple[int, ...] = param((32, 128, 256, 512, 1024), "input channels C of each shape", ge=1, le=8192)
    out_channels: tuple[int, ...] = param((64, 128, 256, 512, 1024), "output channels M of each shape", ge=1, le=8192)
    kernel: int = param(3, "kernel size K (odd: 'same' padding K // 2)", ge=1, le=11)
    repeats: int = param(9, "timed forward passes per convolution (the median is reported)", ge=1, le=1000)
    warmup: int = param(2, "untimed forward passes before them", ge=0, le=100)
    bandwidth_mb: int = param(64, "megabytes copied to measure the memory bandwidth (well above the last-level cache)", ge=1, le=4096)

    def validate(self) -> None:
        if not len(self.sizes) == len(self.in_channels) == len(self.out_channels):
            raise ConfigError(f"latency: sizes, in_channels and out_channels give one shape each and must have equal lengths, "
                              f"got {len(self.sizes)}, {len(self.in_channels)}, {len(self.out_channels)}")  # fmt: skip
        if self.kernel % 2 == 0:
            raise ConfigError(f"latency.kernel must be odd for 'same' padding, got {self.kernel}")


@dataclass(frozen=True, kw_only=True)
class MobileNetCostConfig(KataConfig):
    sizes: tuple[int, ...] = param((7, 14, 28), "cost table: output heights H and widths W (every pair)", ge=1, le=1024)
    channels: tuple[int, ...] = param((8, 32, 64), "cost table: input channels C and output channels M (every pair)", ge=1, le=8192)
    kernels: tuple[int, ...] = param((1, 3, 5), "cost table: kernel sizes K (odd)", ge=1, le=15)
    latency: LatencyConfig = param(LatencyConfig(), "the convolutions timed")
    widths: tuple[float, ...] = param((1.0, 0.75, 0.5, 0.25), "MobileNet v1's width multipliers α, at 224", gt=0, le=4)
    resolutions: tuple[int, ...] = param((224, 192, 160, 128), "MobileNet v1's input sides ρ·224, at α = 1", ge=32, le=1024)
    v2: bool = param(True, "count MobileNet v2 1.0-224 too")
    conv_mobilenet: bool = param(True, "count Conv MobileNet (v1 with full 3 x 3 convolutions) too")
    far_fewer: float = param(0.5, "depthwise speed (GMAC/s) below this share of the others' reads 'far fewer'", gt=0, lt=1)
    well_above: float = param(1.25, "a time ratio over this multiple of the MAC ratio reads 'well above'", gt=1)
    spread: float = param(3.0, "speeds (GMAC/s) spanning at least this factor read 'not proportional to MACs'", gt=1)

    def validate(self) -> None:
        if any(k % 2 == 0 for k in self.kernels):
            raise ConfigError(f"kernels must be odd for 'same' padding, got {self.kernels}")
        if not self.sizes or not self.channels or not self.kernels:
            raise ConfigError("the cost table needs at least one size, one channel count and one kernel size")


# --- a. the cost table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostCell:
    """One (H, W, C, M, K) of the table: MACs counted by PyTorch, and by the closed forms."""

    h: int
    w: int
    c: int
    m: int
    k: int
    standard: int
    depthwise: int
    pointwise: int

    @property
    def closed(self) -> tuple[int, int, int]:
        h, w, c, m, k = self.h, self.w, self.c, self.m, self.k
        return standard_conv_macs(h, w, c, m, k), depthwise_conv_macs(h, w, c, k), pointwise_conv_macs(h, w, c, m)

    @property
    def ratio(self) -> Fraction:
        """(depthwise + pointwise) / standard, as counted."""
        return Fraction(self.depthwise + self.pointwise, self.standard)

    @property
    def max_abs_diff(self) -> int:
        return max(abs(a - b) for a, b in zip((self.standard, self.depthwise, self.pointwise), self.closed))

    @property
    def exact(self) -> bool:
        return self.max_abs_diff == 0 and self.ratio == separable_ratio(self.m, self.k)


def conv(kind: Kind, c: int, m: int, k: int, device: torch.device) -> nn.Module:
    """One convolution of the study, without bias ("same" padding, stride 1): (B, C, H, W) -> (B, M', H, W)."""
    if kind == "standard":
        return nn.Conv2d(c, m, k, padding=k // 2, bias=False, device=device)
    if kind == "depthwise":
        return nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False, device=device)
    if kind == "pointwise":
        return nn.Conv2d(c, m, 1, bias=False, device=device)
    if kind == "matched":  # H·W·C·K² MACs: the depthwise conv's, exactly
        return nn.Conv2d(c, k * k, 1, bias=False, device=device)
    return nn.Sequential(conv("depthwise", c, m, k, device), conv("pointwise", c, m, k, device))


def count_cell(h: int, w: int, c: int, m: int, k: int) -> CostCell:
    x = (1, c, h, w)  # stride 1, 'same' padding: the output is h x w too
    macs = {kind: count_cost(conv(kind, c, m, k, META), x).macs for kind in ("standard", "depthwise", "pointwise")}
    return CostCell(h, w, c, m, k, **macs)


def cost_table(cfg: MobileNetCostConfig) -> list[CostCell]:
    grid = itertools.product(cfg.sizes, cfg.sizes, cfg.channels, cfg.channels, cfg.kernels)
    return [count_cell(h, w, c, m, k) for h, w, c, m, k in grid]


def cost_metrics(cells: list[CostCell]) -> dict[str, float]:
    ratio_diff = max(abs(cell.ratio - separable_ratio(cell.m, cell.k)) for cell in cells)
    return {
        "macs/cells": len(cells),
        "macs/cells_exact": sum(cell.exact for cell in cells),
        "macs/max_abs_diff": max(cell.max_abs_diff for cell in cells),
        "macs/max_ratio_diff": float(ratio_diff),
    }


def cost_row(cell: CostCell) -> dict[str, Any]:
    return {
        "H": cell.h, "W": cell.w, "C": cell.c, "M": cell.m, "K": cell.k,
        "standard": cell.standard, "depthwise": cell.depthwise, "pointwise": cell.pointwise,
        "closed forms equal": "yes" if cell.max_abs_diff == 0 else f"no (off by {cell.max_abs_diff})",
        "(dw + pw) / standard": str(cell.ratio), "1/M + 1/K²": str(separable_ratio(cell.m, cell.k)),
        "ratio": f"{float(cell.ratio):.4f}",
    }  # fmt: skip


# --- b. latency --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    """One convolution timed: its shape index, kind, MACs, bytes moved and latency."""

    shape: int
    kind: Kind
    macs: int
    nbytes: int
    latency: Latency

    @property
    def gmacs(self) -> float:
        return self.macs / self.latency.median / 1e9

    @property
    def intensity(self) -> float:
        return arithmetic_intensity(self.macs, self.nbytes)


FAULTING = 100  # page faults per pass (400 KB of fresh 4 KB pages) that mark a convolution as waiting on fresh memory


def shapes(lc: LatencyConfig) -> list[tuple[int, int, int]]:
    return list(zip(lc.sizes, lc.in_channels, lc.out_channels))


def time_convolutions(lc: LatencyConfig, device: torch.device) -> list[Timed]:
    """Every shape's five convolutions timed on ``device`` at the current thread count, interleaved
    (one pass of each in turn, ``repeats`` rounds), so that the machine's changing load falls on all five."""
    out = []
    for i, (h, c, m) in enumerate(shapes(lc)):
        x = torch.randn(lc.batch, c, h, h, device=device)  # (B, C, H, W)
        modules = {kind: conv(kind, c, m, lc.kernel, device) for kind in KINDS}
        latencies = measure_latencies({kind: (mod, x) for kind, mod in modules.items()}, repeats=lc.repeats, warmup=lc.warmup)
        for kind, module in modules.items():
            macs = count_cost(conv(kind, c, m, lc.kernel, META), tuple(x.shape)).macs
            # the pair's intermediate is written once and read once: its bytes are the two convs' sum
            nbytes, shape = 0, tuple(x.shape)
            for cv in (mod for mod in module.modules() if isinstance(mod, nn.Conv2d)):
                nbytes += conv_bytes(cv, shape)
                shape = (shape[0], cv.out_channels, *shape[2:])
            out.append(Timed(i, kind, macs, nbytes, latencies[kind]))
    return out


def latency_metrics(lc: LatencyConfig, timed: list[Timed], bandwidth: float) -> dict[str, float]:
    """The speeds, ratios and roofline readings from the timed convolutions and the bandwidth (bytes/s)."""
    by = {(t.shape, t.kind): t for t in timed}
    n = len(shapes(lc))
    k = lc.kernel

    def median_gmacs(kind: Kind) -> float:
        return statistics.median(by[i, kind].gmacs for i in range(n))

    def t(i: int, kind: Kind) -> float:
        return by[i, kind].latency.median

    # per shape: the pair's share of the standard conv's time, over its share of the MACs
    time_over_macs = [t(i, "separable") / t(i, "standard") / float(separable_ratio(mo, k)) for i, (_, _, mo) in enumerate(shapes(lc))]

    single = [t for t in timed if t.kind != "separable"]
    peak = max(t.gmacs for t in single)
    bw_gbs = bandwidth / 1e9
    ridge = peak / bw_gbs  # MAC/byte where the memory roof AI·BW meets the peak
    m: dict[str, float] = {
        "latency/convolutions": len(timed),
        "latency/standard_gmacs": median_gmacs("standard"),
        "latency/depthwise_gmacs": median_gmacs("depthwise"),
        "latency/pointwise_gmacs": median_gmacs("pointwise"),
        "latency/matched_gmacs": median_gmacs("matched"),
        "latency/gmacs_spread": peak / min(t.gmacs for t in single),
        "latency/separable_time_ratio": statistics.median(t(i, "separable") / t(i, "standard") for i in range(n)),
        "macs/separable_ratio": statistics.median(float(separable_ratio(mo, k)) for _, _, mo in shapes(lc)),
        "latency/separable_time_over_mac_ratio": statistics.median(time_over_macs),
        "latency/separable_time_over_mac_ratio_min": min(time_over_macs),
        "latency/separable_time_over_mac_ratio_max": max(time_over_macs),
        # the depthwise conv's share of the pair: of its MACs, K² / (K² + M), and of its time
        "macs/depthwise_share": statistics.median(k * k / (k * k + mo) for _, _, mo in shapes(lc)),
        "latency/depthwise_time_share": statistics.median(t(i, "depthwise") / (t(i, "depthwise") + t(i, "pointwise")) for i in range(n)),
        "latency/depthwise_over_matched_time": statistics.median(t(i, "depthwise") / t(i, "matched") for i in range(n)),
        # depthwise convs that map fresh memory on every pass (FAULTING page faults or more): the allocator's cost, not the arithmetic's
        "latency/depthwise_faulting": sum((by[i, "depthwise"].latency.page_faults or 0) >= FAULTING for i in range(n)),
        "latency/bandwidth_gbs": bw_gbs,
        "latency/peak_gmacs": peak,
        "latency/ridge_macs_per_byte": ridge,
        "latency/depthwise_intensity_max": max(by[i, "depthwise"].intensity for i in range(n)),
        "latency/standard_intensity_min": min(by[i, "standard"].intensity for i in range(n)),
        # how close each depthwise conv comes to its memory roof AI·BW (median over shapes)
        "latency/depthwise_share_of_memory_roof": statistics.median(
            by[i, "depthwise"].gmacs / (by[i, "depthwise"].intensity * bw_gbs) for i in range(n)
        ),
    }
    m["latency/depthwise_gmacs_over_standard"] = m["latency/depthwise_gmacs"] / m["latency/standard_gmacs"]
    m["latency/depthwise_gmacs_over_pointwise"] = m["latency/depthwise_gmacs"] / m["latency/pointwise_gmacs"]
    return m


def latency_row(lc: LatencyConfig, t: Timed) -> dict[str, Any]:
    h, c, m = shapes(lc)[t.shape]
    out = {"separable": m, "depthwise": c, "matched": lc.kernel**2}.get(t.kind, m)
    q1, q3 = t.latency.quartiles
    return {
        "shape (H, C → M)": f"{h}, {c} → {m}", "kind": KIND_LABELS[t.kind], "out channels": out,
        "MACs": t.macs, "ms (median)": round(1e3 * t.latency.median, 3), "IQR ms": f"{1e3 * q1:.3f}–{1e3 * q3:.3f}",
        "GMAC/s": round(t.gmacs, 2), "MB moved": round(t.nbytes / 1e6, 2), "MAC/byte": round(t.intensity, 2),
        "page faults / pass": "—" if t.latency.page_faults is None else round(t.latency.page_faults),
    }  # fmt: skip


# --- c. MobileNet --------------------------------------------------------------------------------------


@contextmanager
def on_meta() -> Iterator[None]:
    """Build modules on the meta device: shapes without memory or initialization, enough to count."""
    with torch.device(META):
        yield


def conv_mobilenet(model: nn.Module) -> nn.Module:
    """``model`` with every :class:`DepthwiseSeparable` block replaced by a full convolution of the
    same kernel, stride and channels, with BN and ReLU: Howard et al.'s "Conv MobileNet" (Table 4)."""
    for name, block in list(model.named_modules()):
        if isinstance(block, DepthwiseSeparable):
            dw, pw = block.depthwise, block.pointwise
            full = conv_bn_act(dw.in_channels, pw.out_channels, dw.kernel_size[0], dw.stride[0], act=nn.ReLU)
            model.set_submodule(name, full.to(dw.weight.device))
    return model


@dataclass(frozen=True)
class Counted:
    model: str  # "v1", "v2", "conv"
    width: float
    resolution: int
    macs: int
    params: int
    head_params: int  # the classifier's (the fully connected layer's): they grow as α, not α²

    @property
    def paper(self) -> PaperRow | None:
        return paper_row(self.model, self.width, self.resolution)

    @property
    def macs_rel_err(self) -> float | None:
        p = self.paper
        return None if p is None else abs(self.macs / 1e6 - p.mult_adds_m) / p.mult_adds_m

    @property
    def params_match(self) -> bool | None:
        """Our parameters rounded as the paper prints them (millions, one decimal) equal its figure."""
        p = self.paper
        return None if p is None else round(self.params / 1e6, 1) == p.params_m


def count_mobilenets(cfg: MobileNetCostConfig) -> list[Counted]:
    """The MobileNets of the study, built on the meta device and counted on one image."""
    settings = [("v1", a, 224) for a in cfg.widths] + [("v1", 1.0, r) for r in cfg.resolutions if r != 224 or 1.0 not in cfg.widths]
    settings += [("v2", 1.0, 224)] * cfg.v2 + [("conv", 1.0, 224)] * cfg.conv_mobilenet
    out = []
    for model, width, resolution in settings:
        with on_meta():
            net = build_model("mobilenet-v2" if model == "v2" else "mobilenet-v1", width=width, resolution=resolution)
            if model == "conv":
                net = conv_mobilenet(net)
        cost = count_cost(net, (1, 3, resolution, resolution))
        head = sum(p.numel() for p in net.get_submodule("classifier").parameters())
        out.append(Counted(model, width, resolution, cost.macs, cost.params, head))
    return out


def scaling_exponent(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log y against log x: 2 when y ∝ x²; None under two distinct x."""
    if len(set(xs)) < 2:
        return None
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def mobilenet_metrics(counted: list[Counted]) -> dict[str, float | None]:
    m: dict[str, float | None] = {}
    for c in counted:
        key = f"{c.model}/{c.width:g}-{c.resolution}"
        m[f"{key}/macs_m"], m[f"{key}/params_m"] = c.macs / 1e6, c.params / 1e6
    v1 = [c for c in counted if c.model == "v1" and c.paper is not None]
    m["v1/rows"] = len(v1)
    m["v1/macs_max_rel_err"] = max((c.macs_rel_err or 0.0 for c in v1), default=None)
    m["v1/params_mismatched"] = sum(not c.params_match for c in v1)
    widths = [c for c in counted if c.model == "v1" and c.resolution == 224]
    sides = [c for c in counted if c.model == "v1" and c.width == 1.0]
    m["v1/width_macs_exponent"] = scaling_exponent([c.width for c in widths], [c.macs for c in widths])
    m["v1/width_params_exponent"] = scaling_exponent([c.width for c in widths], [c.params for c in widths])
    m["v1/width_conv_params_exponent"] = scaling_exponent([c.width for c in widths], [c.params - c.head_params for c in widths])
    m["v1/resolution_macs_exponent"] = scaling_exponent([c.resolution for c in sides], [c.macs for c in sides])
    m["v1/resolution_params_spread"] = (max(c.params for c in sides) - min(c.params for c in sides)) if sides else None
    for name in ("v2", "conv"):
        c = next((c for c in counted if c.model == name), None)
        if c is not None and c.paper is not None:
            m[f"{name}/macs_rel_err"] = c.macs_rel_err
            m[f"{name}/params_m"] = c.params / 1e6
    base = next((c for c in counted if (c.model, c.width, c.resolution) == ("v1", 1.0, 224)), None)
    conv = next((c for c in counted if c.model == "conv"), None)
    m["conv/macs_over_v1"] = conv.macs / base.macs if conv and base else None
    m["conv/params_over_v1"] = conv.params / base.params if conv and base else None
    return m


def mobilenet_row(c: Counted) -> dict[str, Any]:
    p = c.paper
    name = {"v1": "MobileNet v1", "v2": "MobileNet v2", "conv": "Conv MobileNet"}[c.model]
    return {
        "model": f"{c.width:g} {name}-{c.resolution}", "α": c.width, "ρ·224": c.resolution,
        "MACs (ours)": f"{c.macs:,}", "paper mult-adds": "—" if p is None else f"{p.mult_adds_m:g}M",
        "MACs off by": "—" if p is None else f"{100 * (c.macs / 1e6 / p.mult_adds_m - 1):+.2f}%",
        "params (ours)": f"{c.params:,}", "paper params": "—" if p is None else f"{p.params_m:g}M",
        "source": "—" if p is None else p.source,
    }  # fmt: skip


# --- the observations ----------------------------------------------------------------------------------


def cost_observation(m: dict[str, Any]) -> Observation:
    cells, exact = int(m["macs/cells"]), int(m["macs/cells_exact"])
    return Observation(
        EXERCISE + ": cost", "a depthwise separable convolution costs 1/M + 1/K² of a standard one", "1/M + 1/K²",
        "PyTorch's FLOP counter on the standard, depthwise and pointwise convolutions of every (H, W, C, M, K) of the "
        "table equals H·W·K·K·C·M, H·W·C·K·K and H·W·C·M, and (depthwise + pointwise) / standard equals 1/M + 1/K² "
        "as an exact fraction",
        f"{exact} of {cells} cells exact; largest difference {m['macs/max_abs_diff']:g} MACs",
        cells > 0 and exact == cells,
    )


def latency_observations(m: dict[str, Any], cfg: MobileNetCostConfig) -> list[Observation]:
    """The claims about time, each judged from the latency metrics ``m`` (see :func:`latency_metrics`)."""
    k = cfg.latency.kernel
    n = int(m["latency/convolutions"])
    dw, std, pw = m["latency/depthwise_gmacs"], m["latency/standard_gmacs"], m["latency/pointwise_gmacs"]
    matched = m["latency/depthwise_over_matched_time"]
    ridge, dw_ai, std_ai = m["latency/ridge_macs_per_byte"], m["latency/depthwise_intensity_max"], m["latency/standard_intensity_min"]
    return [
        Observation(
            EXERCISE + ": latency", "latency is not proportional to MACs", "—",
            f"if it were, every convolution would run at one speed; over the {n - n // len(KINDS)} single convolutions timed the "
            f"speed (GMAC/s) spans a factor of {cfg.spread:g} or more",
            f"the fastest runs {m['latency/gmacs_spread']:.1f} times as many GMAC/s as the slowest "
            f"(peak {m['latency/peak_gmacs']:.1f} GMAC/s)",
            m["latency/gmacs_spread"] >= cfg.spread,
        ),
        Observation(
            EXERCISE + ": latency", "a depthwise convolution reaches far fewer GMAC/s than standard and pointwise ones", "—",
            f"median speed over the shapes below {cfg.far_fewer:.0%} of the standard and of the pointwise convolutions', and "
            f"at equal MACs (a 1 x 1 convolution from C to K² = {k * k} channels) over {1 / cfg.far_fewer:g} times as slow",
            f"depthwise {dw:.2f} GMAC/s, standard {std:.2f}, pointwise {pw:.2f} ({dw / std:.0%}, {dw / pw:.0%}); "
            f"{matched:.1f} times as slow as its MAC-matched 1 x 1 convolution",
            dw / std < cfg.far_fewer and dw / pw < cfg.far_fewer and matched > 1 / cfg.far_fewer,
        ),
        Observation(
            EXERCISE + ": latency", "the separable pair saves less time than MACs: its time ratio is well above 1/M + 1/K²", "—",
            f"median over the shapes of t(depthwise + pointwise) / t(standard) divided by 1/M + 1/K², at least {cfg.well_above:g}",
            f"time ratio {m['latency/separable_time_ratio']:.3f} against MAC ratio {m['macs/separable_ratio']:.3f} (medians): "
            f"{m['latency/separable_time_over_mac_ratio']:.2f} times (per shape {m['latency/separable_time_over_mac_ratio_min']:.2f}–"
            f"{m['latency/separable_time_over_mac_ratio_max']:.2f}). The depthwise conv holds {m['macs/depthwise_share']:.1%} of the "
            f"pair's MACs, K² / (K² + M), and {m['latency/depthwise_time_share']:.1%} of its time (medians); the pointwise conv, with "
            f"the rest, runs at {pw:.1f} GMAC/s against the standard's {std:.1f}",
            m["latency/separable_time_over_mac_ratio"] >= cfg.well_above,
        ),
        Observation(
            EXERCISE + ": latency", "depthwise convolutions are memory-bound", "—",
            "the roofline: with the measured copy bandwidth BW and the fastest convolution's speed P, every depthwise "
            "convolution's MACs per byte (input, output, weights in float32) lie below the ridge P / BW and every standard "
            "one's above it",
            f"ridge {ridge:.2f} MAC/byte ({m['latency/peak_gmacs']:.1f} GMAC/s over {m['latency/bandwidth_gbs']:.1f} GB/s); "
            f"depthwise at most {dw_ai:.2f}, standard at least {std_ai:.1f}; the depthwise convolutions reach "
            f"{m['latency/depthwise_share_of_memory_roof']:.0%} of their memory roof (median)"
            + (f"; {m['latency/depthwise_faulting']:g} of {n // len(KINDS)} map fresh memory page by page on every pass (page faults: "
               "the table), which costs them more than the bandwidth" if m["latency/depthwise_faulting"] else ""),
            dw_ai < ridge < std_ai,
        ),
    ]


def _paper_params_exponent() -> float:
    rows = [r for r in PAPER if r.model == "v1" and r.resolution == 224]
    return float(scaling_exponent([r.width for r in rows], [r.params_m for r in rows]))  # type: ignore[arg-type]


def mobilenet_observations(m: dict[str, Any]) -> list[Observation]:
    out = []
    keys = ("v1/width_macs_exponent", "v1/width_conv_params_exponent", "v1/width_params_exponent", "v1/resolution_macs_exponent", "v1/resolution_params_spread")
    wm, wc, wp, rm, spread = (m.get(k) for k in keys)
    judged = None if None in (wm, wc, rm) else (1.8 <= wm <= 2.2 and 1.8 <= wc <= 2.2 and 1.8 <= rm <= 2.2 and spread == 0)
    out.append(Observation(
        EXERCISE + ": α, ρ", "the width multiplier α cuts MACs and parameters by roughly α², the resolution multiplier ρ cuts "
        "MACs by ρ² and leaves the parameters", "∝ α², ∝ ρ² (§3.3, §3.4)",
        "least-squares exponents in α of the MACs and of the convolutions' parameters (the fully connected layer's 1024α x 1000 "
        "grow as α), and in ρ of the MACs, within 2 ± 0.2; the same parameters at every ρ",
        "—" if judged is None else f"MACs ∝ α^{wm:.2f}, convolutions' parameters ∝ α^{wc:.2f} (all parameters: α^{wp:.2f}; the paper's "
        f"Table 6, 4.2M to 0.5M: α^{_paper_params_exponent():.2f}), MACs ∝ ρ^{rm:.2f}; parameters differ by {spread:g} across ρ",
        judged,
    ))  # fmt: skip
    ratio = m.get("conv/macs_over_v1")
    out.append(Observation(
        EXERCISE + ": Conv MobileNet", "depthwise separable convolutions use 8 to 9 times less computation than standard ones", "8–9 times (§3.1)",
        "MACs of Conv MobileNet (full 3 x 3 convolutions) over 1.0 MobileNet-224's, between 8 and 9",
        "—" if ratio is None else f"{ratio:.2f} times ({m['conv/params_over_v1']:.1f} times the parameters)",
        None if ratio is None else 8 <= ratio <= 9,
    ))  # fmt: skip
    return out


# --- the kata ------------------------------------------------------------------------------------------


SMOKE = {
    "sizes": (7, 14), "channels": (8, 32), "kernels": (1, 3),
    "latency.batch": 2, "latency.sizes": (28, 14), "latency.in_channels": (32, 64), "latency.out_channels": (32, 64),
    "latency.repeats": 5, "latency.warmup": 1, "latency.bandwidth_mb": 16,
}  # fmt: skip


@register_kata(
    name="mobilenet-cost",
    topic="vision",
    section="Day 4 · MobileNet: depthwise separable convolution",
    description="MACs of standard, depthwise and pointwise convolutions counted against 1/M + 1/K²; CPU latency against MACs; MobileNet v1/v2 against the papers' tables",
    config=MobileNetCostConfig,
    presets={
        "smoke": SMOKE,
        "default": {},
        "full": {"sizes": (7, 14, 28, 56), "channels": (8, 16, 32, 64, 128), "kernels": (1, 3, 5, 7), "latency.batch": 32, "latency.repeats": 15},
    },
    expectations=[
        Expectation("the counter equals the closed forms in every cell of the table", "macs/max_abs_diff", "~", 0),
        Expectation("(depthwise + pointwise) / standard = 1/M + 1/K² exactly in every cell", "macs/cells_exact", ">=", "macs/cells"),
        Expectation("MobileNet v1: MACs within 1% of the paper's mult-adds (Tables 6, 7)", "v1/macs_max_rel_err", "<=", 0.01),
        Expectation("MobileNet v1: parameters equal to the paper's, rounded as it prints them", "v1/params_mismatched", "<=", 0),
        Expectation("MobileNet v1: MACs scale as α², within 0.2 of the exponent", "v1/width_macs_exponent", "~", 2, tol=0.2),
        Expectation("MobileNet v1: the convolutions' parameters scale as α², within 0.2 of the exponent", "v1/width_conv_params_exponent", "~", 2, tol=0.2),
        Expectation("MobileNet v1: MACs scale as ρ², within 0.2 of the exponent", "v1/resolution_macs_exponent", "~", 2, tol=0.2),
        Expectation("MobileNet v1: the parameters do not depend on ρ", "v1/resolution_params_spread", "~", 0),
        Expectation("MobileNet v2 1.0-224: MACs within 1% of the paper's 300M", "v2/macs_rel_err", "<=", 0.01),
        # the paper's 3.4M leaves out BN's γ and β (our 3,504,872 counts them; without: 3,470,760)
        Expectation("MobileNet v2 1.0-224: parameters within 0.11M of the paper's 3.4M", "v2/params_m", "~", 3.4, tol=0.11),
        Expectation("Conv MobileNet: MACs within 1% of the paper's 4866M", "conv/macs_rel_err", "<=", 0.01),
        Expectation("Conv MobileNet: parameters 29.3M as the paper's", "conv/params_m", "~", 29.3, tol=0.05),
        # timings, on the presets that time enough to judge them: a robust margin (measured 0.1–0.3)
        Expectation("depthwise convolutions run at under half the pointwise ones' GMAC/s", "latency/depthwise_gmacs_over_pointwise", "<=", 0.5, presets=("default", "full")),
        Expectation("the depthwise conv takes a larger share of the pair's time than of its MACs", "latency/depthwise_time_share", ">=", "macs/depthwise_share", presets=("default", "full")),
    ],
    threads=1,  # one thread: steadier timings on a shared machine (--threads to change)
)
def run(cfg: MobileNetCostConfig, run: Run) -> Outcome:
    lc = cfg.latency
    cells = cost_table(cfg)
    metrics: dict[str, Any] = cost_metrics(cells)
    rows = [cost_row(c) for c in cells]
    run.save_table("cost", rows, "MACs counted by PyTorch's FLOP counter for every (H, W, C, M, K), against the closed forms")
    excerpt = [r for r, c in zip(rows, cells) if c.h == c.w == cfg.sizes[-1]] or rows

    timed = time_convolutions(lc, run.device)
    bandwidth = measure_bandwidth(lc.bandwidth_mb * 2**20, device=run.device, repeats=max(3, lc.repeats // 2), warmup=1)
    metrics.update(latency_metrics(lc, timed, bandwidth))
    latency_table = run.save_table("latency", [latency_row(lc, t) for t in timed], f"Latency per convolution, batch {lc.batch}")
    run.save_figure(_latency_figure(lc, timed, metrics), "latency",
                    f"Left: latency against MACs (log-log), batch {lc.batch}, {torch.get_num_threads()} thread(s) on {run.device}; the dotted line "
                    "is the standard convolutions' median speed, where latency ∝ MACs would put every point. Right: the roofline: "
                    "speed against MACs per byte moved, under the memory roof AI·BW and the peak")  # fmt: skip

    counted = count_mobilenets(cfg)
    metrics.update(mobilenet_metrics(counted))
    mobilenet_table = run.save_table("mobilenet", [mobilenet_row(c) for c in counted], "MobileNets counted on one image against the papers")
    run.save_figure(_mobilenet_figure(counted), "mobilenet", "MobileNet v1's MACs and parameters against α (at 224) and ρ·224 (at α = 1): "
                    "ours (dots), the paper's (crosses) and the closed-form scaling from 1.0-224 (dashed: ∝ α², ∝ ρ²); the parameters "
                    "also without the fully connected layer, whose 1024α x 1000 weights grow as α")  # fmt: skip

    obs = [cost_observation(metrics), *latency_observations(metrics, cfg), *mobilenet_observations(metrics)]
    timings = {f"latency/{t.kind}/{lc.sizes[t.shape]}x{lc.in_channels[t.shape]}to{lc.out_channels[t.shape]}_s": t.latency.median for t in timed}
    base = next((c for c in counted if (c.model, c.width, c.resolution) == ("v1", 1.0, 224)), None)
    summary = (
        f"PyTorch's FLOP counter equals the closed forms in {metrics['macs/cells_exact']} of {metrics['macs/cells']} cells of (H, W, C, M, K), "
        f"and the separable pair's ratio is 1/M + 1/K² exactly. Timed at batch {lc.batch} on {torch.get_num_threads()} thread(s) of "
        f"{run.device}, the depthwise convolutions run at {metrics['latency/depthwise_gmacs']:.2f} GMAC/s against "
        f"{metrics['latency/standard_gmacs']:.1f} for standard and {metrics['latency/pointwise_gmacs']:.1f} for pointwise ones; "
        f"the separable pair takes {metrics['latency/separable_time_ratio']:.3f} of the standard convolution's time for "
        f"{metrics['macs/separable_ratio']:.3f} of its MACs (medians). "
        + (f"1.0 MobileNet-224: {base.macs / 1e6:.1f}M MACs and {base.params / 1e6:.2f}M parameters (paper: 569M, 4.2M). " if base else "")
        + f"{sum(bool(o.reproduced) for o in obs)} of {sum(o.reproduced is not None for o in obs)} observations reproduce."
    )
    sections = [
        (f"Cost table (H = W = {cfg.sizes[-1]}; all {len(cells)} cells in cost.csv)", markdown_table(excerpt)),
        ("Latency", f"Batch {lc.batch}, {lc.repeats} timed passes after {lc.warmup} warm-up ones, {torch.get_num_threads()} thread(s); memory "
                    f"bandwidth {metrics['latency/bandwidth_gbs']:.1f} GB/s (a copy of {lc.bandwidth_mb} MB). The times depend on the machine and "
                    "its load.\n\n" + latency_table),  # fmt: skip
        ("MobileNet against the papers", mobilenet_table),
    ]
    return Outcome(metrics, summary, sections, timings=timings, observations=obs)


COLORS = {"standard": "C0", "depthwise": "C3", "pointwise": "C2", "matched": "C2", "separable": "C4"}


def _latency_figure(lc: LatencyConfig, timed: list[Timed], m: dict[str, Any]) -> Any:
    fig, (a, b) = figure(1, 2, width=5.4, height=4.2)
    for kind in KINDS:
        pts = [t for t in timed if t.kind == kind]
        style = {"marker": "o", "facecolors": "none" if kind == "matched" else COLORS[kind], "edgecolors": COLORS[kind]}
        a.scatter([t.macs for t in pts], [t.latency.median for t in pts], label=KIND_LABELS[kind], **style)
        for t in pts:
            q1, q3 = t.latency.quartiles
            a.plot([t.macs, t.macs], [q1, q3], color=COLORS[kind], lw=1)
        if kind != "separable":
            b.scatter([t.intensity for t in pts], [t.gmacs for t in pts], label=KIND_LABELS[kind], **style)
    macs = np.geomspace(min(t.macs for t in timed), max(t.macs for t in timed), 50)
    a.plot(macs, macs / (m["latency/standard_gmacs"] * 1e9), "k:", lw=1, label="MACs at the standard convs' speed")
    a.set(xscale="log", yscale="log", xlabel="MACs per forward pass", ylabel="seconds (median, bar: IQR)", title="latency against MACs")
    a.legend(fontsize=7)
    ai = np.geomspace(min(t.intensity for t in timed) / 2, max(t.intensity for t in timed) * 2, 100)
    roof = np.minimum(m["latency/peak_gmacs"], ai * m["latency/bandwidth_gbs"])
    b.plot(ai, roof, "k-", lw=1, label=f"roofline: min(peak, AI x {m['latency/bandwidth_gbs']:.1f} GB/s)")
    b.axvline(m["latency/ridge_macs_per_byte"], color="k", ls=":", lw=0.8)
    b.set(xscale="log", yscale="log", xlabel="MACs per byte moved (float32)", ylabel="GMAC/s", title="roofline")
    b.legend(fontsize=7)
    return fig


def _mobilenet_figure(counted: list[Counted]) -> Any:
    fig, axes = figure(1, 3, width=4.2, height=3.8)
    widths = sorted((c for c in counted if c.model == "v1" and c.resolution == 224), key=lambda c: c.width)
    sides = sorted((c for c in counted if c.model == "v1" and c.width == 1.0), key=lambda c: c.resolution)
    base = next((c for c in counted if (c.model, c.width, c.resolution) == ("v1", 1.0, 224)), None)
    panels = (
        (axes[0], widths, lambda c: c.width, lambda c: c.macs / 1e6, lambda p: p.mult_adds_m, 2, "α", "MACs (millions)"),
        (axes[1], sides, lambda c: c.resolution / 224, lambda c: c.macs / 1e6, lambda p: p.mult_adds_m, 2, "ρ (input ρ·224)", "MACs (millions)"),
        (axes[2], widths, lambda c: c.width, lambda c: c.params / 1e6, lambda p: p.params_m, 2, "α", "parameters (millions)"),
    )
    for ax, pts, x, y, paper, power, xlabel, ylabel in panels:
        if not pts:
            continue
        ax.plot([x(c) for c in pts], [y(c) for c in pts], "o-", label="ours")
        known = [c for c in pts if c.paper is not None]
        ax.scatter([x(c) for c in known], [paper(c.paper) for c in known], marker="x", s=60, color="k", zorder=3, label="paper")  # type: ignore[arg-type]
        if base is not None:
            xs = np.linspace(min(x(c) for c in pts), 1.0, 50)
            ax.plot(xs, y(base) * xs**power, "k--", lw=0.8, label=f"1.0-224 x {xlabel.split()[0]}²")
        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.legend(fontsize=8)
    if widths and base is not None:  # without the fully connected layer (1024α x 1000: ∝ α), the parameters follow α²
        xs = np.linspace(widths[0].width, 1.0, 50)
        axes[2].plot([c.width for c in widths], [(c.params - c.head_params) / 1e6 for c in widths], "s-", color="C1", label="convolutions only")
        axes[2].plot(xs, (base.params - base.head_params) / 1e6 * xs**2, ":", color="C1", lw=0.8, label="… 1.0-224 x α²")
        axes[2].legend(fontsize=8)
    axes[0].set_title("width multiplier")
    axes[1].set_title("resolution multiplier")
    axes[2].set_title("parameters")
    return fig

