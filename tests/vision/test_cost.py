"""The MAC counter against the notes' closed forms, exactly; the per-module breakdown; latency."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
import torch
from torch import nn

from deepkata.vision.cost import (
    Latency,
    arithmetic_intensity,
    conv_bytes,
    count_cost,
    depthwise_conv_macs,
    measure_bandwidth,
    measure_latencies,
    measure_latency,
    pointwise_conv_macs,
    same_output_size,
    separable_ratio,
    standard_conv_macs,
)

META = torch.device("meta")  # shapes only: the counter computes nothing there
SIZES, CHANNELS, KERNELS = (7, 14, 28), (8, 32, 64), (1, 3, 5)
GRID = list(itertools.product(SIZES, SIZES, CHANNELS, CHANNELS, KERNELS))  # (H, W, C, M, K): 243 cells


def conv(c: int, m: int, k: int, *, groups: int = 1, stride: int = 1, bias: bool = False, device: torch.device = META) -> nn.Conv2d:
    return nn.Conv2d(c, m, k, stride=stride, padding=k // 2, groups=groups, bias=bias, device=device)


def macs(module: nn.Module, shape: tuple[int, ...]) -> int:
    return count_cost(module, shape).macs


def test_the_closed_forms_by_hand():
    assert standard_conv_macs(14, 14, 512, 512, 3) == 14 * 14 * 9 * 512 * 512 == 462_422_016
    assert depthwise_conv_macs(14, 14, 512, 3) == 903_168
    assert pointwise_conv_macs(14, 14, 512, 512) == 51_380_224
    assert separable_ratio(512, 3) == Fraction(521, 4608)  # 1/512 + 1/9
    assert separable_ratio(1, 1) == 2  # a 1 x 1 "standard" convolution of one channel: the pair doubles it
    assert [same_output_size(n, 2) for n in (7, 14, 28, 224)] == [4, 7, 14, 112]


@pytest.mark.parametrize("bias", [False, True])
def test_the_counter_equals_the_closed_forms_exactly_over_the_grid(bias):
    """243 cells (H, W, C, M, K), bias or not: FlopCounterMode's convolution count leaves the bias
    out, so it does not change the MACs."""
    for h, w, c, m, k in GRID:
        x = (1, c, h, w)
        standard = macs(conv(c, m, k, bias=bias), x)
        depthwise = macs(conv(c, c, k, groups=c, bias=bias), x)
        pointwise = macs(conv(c, m, 1, bias=bias), x)
        assert standard == standard_conv_macs(h, w, c, m, k), (h, w, c, m, k)
        assert depthwise == depthwise_conv_macs(h, w, c, k), (h, w, c, k)
        assert pointwise == pointwise_conv_macs(h, w, c, m), (h, w, c, m)
        assert Fraction(depthwise + pointwise, standard) == separable_ratio(m, k) == Fraction(1, m) + Fraction(1, k * k)


def test_the_separable_pair_counted_as_one_module_has_the_ratio():
    for h, w, c, m, k in GRID[::7]:
        pair = nn.Sequential(conv(c, c, k, groups=c), conv(c, m, 1))
        assert Fraction(macs(pair, (1, c, h, w)), macs(conv(c, m, k), (1, c, h, w))) == separable_ratio(m, k)


def test_counting_on_the_cpu_gives_what_the_meta_device_gives():
    cpu = torch.device("cpu")
    for h, w, c, m, k in [(7, 14, 8, 32, 3), (14, 7, 32, 8, 5), (28, 28, 8, 8, 1)]:
        for groups, out in ((1, m), (c, c)):
            on_cpu = count_cost(conv(c, out, k, groups=groups, bias=True, device=cpu), torch.randn(2, c, h, w, device=cpu))
            assert on_cpu.macs == macs(conv(c, out, k, groups=groups, bias=True), (2, c, h, w))
            assert on_cpu.params == out * (c // groups) * k * k + out


@pytest.mark.parametrize(("stride", "batch"), [(2, 1), (2, 3), (3, 2)])
def test_a_strided_convolution_counts_its_smaller_output(stride, batch):
    for h, w, c, m, k in GRID[::5]:
        ho, wo = same_output_size(h, stride), same_output_size(w, stride)
        assert (ho, wo) == ((h + 2 * (k // 2) - k) // stride + 1, (w + 2 * (k // 2) - k) // stride + 1)
        x = (batch, c, h, w)
        assert macs(conv(c, m, k, stride=stride), x) == batch * standard_conv_macs(ho, wo, c, m, k)
        assert macs(conv(c, c, k, groups=c, stride=stride), x) == batch * depthwise_conv_macs(ho, wo, c, k)


def test_a_grouped_convolution_costs_the_standard_divided_by_the_groups():
    assert macs(conv(64, 32, 3, groups=4), (1, 64, 14, 14)) == standard_conv_macs(14, 14, 64, 32, 3) // 4


@pytest.mark.parametrize("bias", [False, True])
def test_a_linear_layer_costs_batch_times_in_times_out(bias):
    layer = nn.Linear(1024, 1000, bias=bias, device=META)
    assert macs(layer, (5, 1024)) == 5 * 1024 * 1000
    assert macs(layer, (2, 7, 1024)) == 2 * 7 * 1024 * 1000  # a sequence: one matrix product for all positions
    assert count_cost(layer, (5, 1024)).params == 1024 * 1000 + 1000 * bias


class Tiny(nn.Module):
    """Convolutions, a separable pair, free layers (BN, ReLU, pooling, an addition) and a product in forward itself."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.BatchNorm2d(16), nn.ReLU6(), nn.Conv2d(16, 32, 1))
        self.skip = nn.Conv2d(16, 32, 1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(32, 10)
        self.mix = nn.Parameter(torch.eye(10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (B, 3, H, W)
        x = self.stem(x)  # (B, 16, H/2, W/2)
        x = self.block(x) + self.skip(x)  # (B, 32, H/2, W/2)
        return self.head(self.pool(x).flatten(1)) @ self.mix  # (B, 10)


def test_a_tiny_net_costs_the_sum_of_its_layers():
    b, h = 2, 15
    o = same_output_size(h, 2)  # 8
    layers = {
        "stem.0": b * standard_conv_macs(o, o, 3, 16, 3),
        "block.0": b * depthwise_conv_macs(o, o, 16, 3),
        "block.3": b * pointwise_conv_macs(o, o, 16, 32),
        "skip": b * pointwise_conv_macs(o, o, 16, 32),
        "head": b * 32 * 10,
        "": b * 10 * 10,  # the product in Tiny.forward itself
    }
    cost = count_cost(Tiny(), (b, 3, h, h))
    assert cost.by_module == layers
    assert list(cost.by_module) == ["", "stem.0", "block.0", "block.3", "skip", "head"]  # the model's order, free layers absent
    assert cost.macs == sum(layers.values()) == sum(cost.by_module.values())
    assert cost.by_op == {"aten.convolution": sum(v for k, v in layers.items() if k not in ("head", "")), "aten.addmm": b * 320, "aten.mm": b * 100}
    assert cost.flops == 2 * cost.macs
    assert cost.params == sum(p.numel() for p in Tiny().parameters())


def test_counting_restores_training_mode_and_leaves_batch_norm_statistics_alone():
    net = Tiny().train()
    before = net.stem[1].running_mean.clone()
    count_cost(net, (1, 3, 8, 8))
    assert net.training and torch.equal(net.stem[1].running_mean, before)


def test_bytes_moved_and_arithmetic_intensity():
    c = nn.Conv2d(32, 64, 3, padding=1, bias=False)
    assert conv_bytes(c, (8, 32, 28, 28)) == 4 * (8 * 32 * 784 + 8 * 64 * 784 + 64 * 32 * 9)
    s2 = nn.Conv2d(32, 32, 3, stride=2, padding=1, groups=32)
    assert conv_bytes(s2, (1, 32, 28, 28), bytes_per_element=2) == 2 * (32 * 784 + 32 * 196 + 32 * 9 + 32)
    depthwise = depthwise_conv_macs(28, 28, 32, 3) / conv_bytes(nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False), (1, 32, 28, 28))
    assert arithmetic_intensity(depthwise_conv_macs(28, 28, 32, 3), conv_bytes(nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False), (1, 32, 28, 28))) == depthwise
    assert depthwise == pytest.approx(9 / 8, rel=0.01)  # K²/8: a depthwise convolution does ~1 MAC per byte


def test_latency_is_positive_finite_and_restores_the_mode_and_threads():
    net = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.Dropout(0.5)).train()
    threads = torch.get_num_threads()
    lat = measure_latency(net, torch.randn(2, 8, 14, 14), repeats=5, warmup=1, threads=1)
    assert len(lat.samples) == 5 and all(math.isfinite(s) and s > 0 for s in lat.samples)
    assert lat.threads == 1 and torch.get_num_threads() == threads and net.training
    assert lat.min <= lat.quartiles[0] <= lat.median <= lat.quartiles[1] and lat.iqr >= 0


def test_latency_statistics_on_known_samples():
    lat = Latency((5.0, 1.0, 4.0, 2.0, 3.0), threads=1)
    assert (lat.median, lat.quartiles, lat.iqr, lat.min) == (3.0, (2.0, 4.0), 2.0, 1.0)
    assert Latency((2.0,), threads=1).quartiles == (2.0, 2.0)
    with pytest.raises(ValueError, match="repeats"):
        measure_latency(nn.Identity(), torch.zeros(1), repeats=0, warmup=0)


class Recorder(nn.Module):
    def __init__(self, name: str, calls: list[str], allocate: int = 0) -> None:
        super().__init__()
        self.name, self.calls, self.allocate = name, calls, allocate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(self.name)
        if self.allocate:  # fresh memory, written: the kernel maps it page by page
            return torch.ones(self.allocate // 4, device=x.device)
        return x


def test_several_models_are_timed_interleaved_round_by_round():
    calls: list[str] = []
    cases = {n: (Recorder(n, calls).train(), torch.zeros(1, device="cpu")) for n in ("a", "b", "c")}
    lats = measure_latencies(cases, repeats=3, warmup=2)
    assert calls == ["a", "b", "c"] * 5
    assert {n: len(lat.samples) for n, lat in lats.items()} == {"a": 3, "b": 3, "c": 3}
    assert all(m.training for m, _ in cases.values())


def test_bandwidth_is_positive_finite():
    bw = measure_bandwidth(2**22, device=torch.device("cpu"), repeats=3)
    assert math.isfinite(bw) and bw > 1e8  # over 0.1 GB/s on any machine this runs on
