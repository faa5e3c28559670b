"""The mobilenet-cost kata: its smoke run's tables and metrics, MobileNet's MACs against the closed
forms summed over the architecture table, and every observation judged on hand-made numbers both ways."""

from __future__ import annotations

import csv
import dataclasses
from fractions import Fraction

import pytest
import torch

import deepkata.vision.katas.mobilenet_cost as kata  # registers the kata until the catalog lists the vision topic
from deepkata.core import config
from deepkata.core.errors import ConfigError
from deepkata.models import build_model
from deepkata.vision.cost import (
    Latency,
    count_cost,
    depthwise_conv_macs,
    pointwise_conv_macs,
    same_output_size,
    separable_ratio,
    standard_conv_macs,
)
from deepkata.vision.mobilenet import MOBILENET_V1, MOBILENET_V1_STEM, DepthwiseSeparable
from tests.conftest import run_kata


def v1_macs(width: float, side: int, *, full: bool = False, classes: int = 1000) -> int:
    """MobileNet v1's MACs from the closed forms over Howard et al.'s Table 1; ``full``: Conv MobileNet."""
    c = max(8, int(MOBILENET_V1_STEM[0] * width))
    h = same_output_size(side, MOBILENET_V1_STEM[1])
    total = standard_conv_macs(h, h, 3, c, 3)
    for out, stride in MOBILENET_V1:
        m = max(8, int(out * width))
        h = same_output_size(h, stride)
        total += standard_conv_macs(h, h, c, m, 3) if full else depthwise_conv_macs(h, h, c, 3) + pointwise_conv_macs(h, h, c, m)
        c = m
    return total + c * classes  # the fully connected layer after global pooling


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    return run_kata("mobilenet-cost", tmp_path_factory.mktemp("runs"))


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_the_smoke_run_completes_with_every_expectation_met(smoke):
    r = smoke.result
    assert r["status"] == "completed", r["error"]
    assert r["expectations"] and all(e["met"] for e in r["expectations"]), [e for e in r["expectations"] if not e["met"]]
    assert set(r["figures"]) == {"latency.png", "mobilenet.png"} and set(r["tables"]) == {"cost.csv", "latency.csv", "mobilenet.csv"}
    for name in r["figures"]:
        assert (smoke.dir / name).read_bytes()[:4] == b"\x89PNG"
    report = (smoke.dir / "report.md").read_text()
    assert "## Summary" in report and "Cost table" in report and "MobileNet against the papers" in report


def test_the_cost_table_is_the_closed_forms_cell_by_cell(smoke):
    cfg = config.build(kata.MobileNetCostConfig, kata.SMOKE)
    rows = read_csv(smoke.dir / "cost.csv")
    assert len(rows) == len(cfg.sizes) ** 2 * len(cfg.channels) ** 2 * len(cfg.kernels) == 32
    for row in rows:
        h, w, c, m, k = (int(row[x]) for x in "HWCMK")
        assert (int(row["standard"]), int(row["depthwise"]), int(row["pointwise"])) == (
            standard_conv_macs(h, w, c, m, k), depthwise_conv_macs(h, w, c, k), pointwise_conv_macs(h, w, c, m))  # fmt: skip
        assert Fraction(row["(dw + pw) / standard"]) == Fraction(row["1/M + 1/K²"]) == separable_ratio(m, k)
    metrics = smoke.result["metrics"]
    assert (metrics["macs/cells"], metrics["macs/cells_exact"], metrics["macs/max_abs_diff"], metrics["macs/max_ratio_diff"]) == (32, 32, 0, 0)


def test_the_latency_table_and_metrics(smoke):
    rows = read_csv(smoke.dir / "latency.csv")
    assert len(rows) == 2 * len(kata.KINDS)  # two shapes in smoke, five convolutions each
    b = kata.SMOKE["latency.batch"]
    for row in rows:
        macs, ms, gmacs = int(row["MACs"]), float(row["ms (median)"]), float(row["GMAC/s"])
        assert ms > 0 and 1e3 * macs / (gmacs * 1e9) == pytest.approx(ms, rel=0.01 + 0.005 / gmacs, abs=0.0006)  # both rounded
    first = {r["kind"]: r for r in rows if r["shape (H, C → M)"] == "28, 32 → 32"}  # H = 28, C = M = 32, K = 3
    assert int(first["standard K x K"]["MACs"]) == b * standard_conv_macs(28, 28, 32, 32, 3)
    assert int(first["depthwise K x K"]["MACs"]) == int(first["1 x 1 to K² channels (the depthwise MACs)"]["MACs"]) == b * depthwise_conv_macs(28, 28, 32, 3)
    assert int(first["depthwise + pointwise"]["MACs"]) == b * (depthwise_conv_macs(28, 28, 32, 3) + pointwise_conv_macs(28, 28, 32, 32))
    # the depthwise conv's MACs per byte: B·H·W·C·9 over 4 (B·H·W·C in + out, 9·C weights) ≈ 9/8
    assert float(first["depthwise K x K"]["MAC/byte"]) == pytest.approx(b * 784 * 32 * 9 / (4 * (2 * b * 784 * 32 + 32 * 9)), abs=0.005)
    m = smoke.result["metrics"]
    assert m["latency/convolutions"] == 10
    assert m["macs/separable_ratio"] == pytest.approx(float(separable_ratio(32, 3) + separable_ratio(64, 3)) / 2)
    assert m["macs/depthwise_share"] == pytest.approx((9 / 41 + 9 / 73) / 2)
    assert m["latency/ridge_macs_per_byte"] == pytest.approx(m["latency/peak_gmacs"] / m["latency/bandwidth_gbs"])
    assert m["latency/depthwise_gmacs_over_standard"] == pytest.approx(m["latency/depthwise_gmacs"] / m["latency/standard_gmacs"])
    assert len(smoke.result["timings"]) == 10


def test_mobilenet_counts_equal_the_closed_forms_over_the_architecture_table(smoke):
    m = smoke.result["metrics"]
    for width in (1.0, 0.75, 0.5, 0.25):
        assert m[f"v1/{width:g}-224/macs_m"] * 1e6 == pytest.approx(v1_macs(width, 224), abs=1e-3)
    for side in (192, 160, 128):
        assert m[f"v1/1-{side}/macs_m"] * 1e6 == pytest.approx(v1_macs(1.0, side), abs=1e-3)
        assert m[f"v1/1-{side}/params_m"] == m["v1/1-224/params_m"] == 4.231976
    assert v1_macs(1.0, 224) == 568_740_352  # the paper's 569M
    assert m["conv/1-224/macs_m"] * 1e6 == pytest.approx(v1_macs(1.0, 224, full=True), abs=1e-3)  # 4,867,293,184: the paper's 4866M
    assert (m["conv/1-224/params_m"], m["v2/1-224/macs_m"], m["v2/1-224/params_m"]) == (29.294088, 300.774272, 3.504872)
    rows = read_csv(smoke.dir / "mobilenet.csv")
    assert [r["model"] for r in rows] == [
        "1 MobileNet v1-224", "0.75 MobileNet v1-224", "0.5 MobileNet v1-224", "0.25 MobileNet v1-224",
        "1 MobileNet v1-192", "1 MobileNet v1-160", "1 MobileNet v1-128", "1 MobileNet v2-224", "1 Conv MobileNet-224",
    ]  # fmt: skip
    assert rows[0]["MACs (ours)"] == "568,740,352" and rows[0]["paper mult-adds"] == "569M" and rows[0]["MACs off by"] == "-0.05%"


def test_conv_mobilenet_replaces_every_separable_block():
    with kata.on_meta():
        net = kata.conv_mobilenet(build_model("mobilenet-v1"))
    assert not any(isinstance(mod, DepthwiseSeparable) for mod in net.modules())
    convs = [mod for mod in net.modules() if isinstance(mod, torch.nn.Conv2d)]
    assert len(convs) == 14 and all(c.groups == 1 and c.kernel_size == (3, 3) for c in convs)
    assert [c.stride[0] for c in convs[1:]] == [s for _, s in MOBILENET_V1]
    assert count_cost(net, (1, 3, 224, 224)).macs == v1_macs(1.0, 224, full=True)


def test_the_observations_of_the_smoke_run(smoke):
    obs = {o["claim"]: o for o in smoke.result["observations"]}
    assert len(obs) == 7 and smoke.result["metrics"]["observations/checked"] == 7
    assert obs["a depthwise separable convolution costs 1/M + 1/K² of a standard one"]["reproduced"] is True
    assert obs["depthwise separable convolutions use 8 to 9 times less computation than standard ones"]["reproduced"] is True
    assert next(o for c, o in obs.items() if c.startswith("the width multiplier"))["reproduced"] is True


# --- the observations on hand-made numbers ------------------------------------------------------------


CFG = config.build(kata.MobileNetCostConfig, {})


def timed_metrics(**changes: float) -> dict[str, float]:
    """Latency metrics that reproduce every claim, with ``changes``."""
    m = {
        "latency/convolutions": 25, "latency/standard_gmacs": 30.0, "latency/depthwise_gmacs": 3.0, "latency/pointwise_gmacs": 25.0,
        "latency/matched_gmacs": 10.0, "latency/gmacs_spread": 12.0, "latency/peak_gmacs": 40.0, "latency/depthwise_over_matched_time": 3.0,
        "latency/separable_time_ratio": 0.2, "macs/separable_ratio": 0.115, "latency/separable_time_over_mac_ratio": 1.7,
        "latency/separable_time_over_mac_ratio_min": 1.1, "latency/separable_time_over_mac_ratio_max": 3.0, "macs/depthwise_share": 0.03,
        "latency/depthwise_time_share": 0.2, "latency/bandwidth_gbs": 15.0, "latency/ridge_macs_per_byte": 40 / 15,
        "latency/depthwise_intensity_max": 1.12, "latency/standard_intensity_min": 48.0, "latency/depthwise_share_of_memory_roof": 0.3,
        "latency/depthwise_faulting": 2,
    }  # fmt: skip
    return {**m, **changes}


def verdicts(m: dict[str, float]) -> list[bool | None]:
    return [o.reproduced for o in kata.latency_observations(m, CFG)]


def test_latency_observations_reproduced_on_numbers_that_show_them():
    obs = kata.latency_observations(timed_metrics(), CFG)
    assert [o.reproduced for o in obs] == [True, True, True, True]
    assert "depthwise 3.00 GMAC/s, standard 30.00, pointwise 25.00 (10%, 12%)" in obs[1].ours
    assert "2 of 5 map fresh memory" in obs[3].ours


@pytest.mark.parametrize(
    ("changes", "refuted"),
    [
        ({"latency/gmacs_spread": 2.9}, 0),  # every convolution at about one speed: latency ∝ MACs
        ({"latency/depthwise_gmacs": 16.0}, 1),  # depthwise at over half the standard's speed
        ({"latency/pointwise_gmacs": 5.0}, 1),  # ... or the pointwise one's
        ({"latency/depthwise_over_matched_time": 1.5}, 1),  # at equal MACs barely slower
        ({"latency/separable_time_over_mac_ratio": 1.1}, 2),  # the pair's time follows its MACs
        ({"latency/depthwise_intensity_max": 3.0}, 3),  # a depthwise conv right of the ridge: compute-bound
        ({"latency/standard_intensity_min": 2.0}, 3),  # a standard conv left of it: the ridge does not separate them
    ],
)
def test_each_latency_observation_is_refuted_by_numbers_that_do_not_show_it(changes, refuted):
    expected = [True] * 4
    expected[refuted] = False
    assert verdicts(timed_metrics(**changes)) == expected


def test_the_thresholds_come_from_the_config():
    strict = dataclasses.replace(CFG, well_above=2.0, spread=20.0, far_fewer=0.05)
    assert [o.reproduced for o in kata.latency_observations(timed_metrics(), strict)] == [False, False, False, True]


def mobilenet_numbers(**changes: float | None) -> dict[str, float | None]:
    m = {
        "v1/width_macs_exponent": 1.89, "v1/width_conv_params_exponent": 1.96, "v1/width_params_exponent": 1.58,
        "v1/resolution_macs_exponent": 1.99, "v1/resolution_params_spread": 0, "conv/macs_over_v1": 8.56, "conv/params_over_v1": 6.9,
    }  # fmt: skip
    return {**m, **changes}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, [True, True]),
        ({"v1/width_macs_exponent": 1.5}, [False, True]),  # MACs ∝ α^1.5: not α²
        ({"v1/width_conv_params_exponent": 1.0}, [False, True]),
        ({"v1/resolution_macs_exponent": 2.5}, [False, True]),
        ({"v1/resolution_params_spread": 1000}, [False, True]),  # parameters that change with ρ
        ({"conv/macs_over_v1": 7.5}, [True, False]),  # under 8 times
        ({"conv/macs_over_v1": 9.5}, [True, False]),  # over 9 times
        ({"v1/width_macs_exponent": None, "conv/macs_over_v1": None}, [None, None]),  # not counted: not judged
    ],
)
def test_mobilenet_observations_both_ways(changes, expected):
    assert [o.reproduced for o in kata.mobilenet_observations(mobilenet_numbers(**changes))] == expected


def test_cost_metrics_catch_a_wrong_count():
    right = kata.count_cell(7, 14, 8, 32, 3)
    wrong = dataclasses.replace(right, pointwise=right.pointwise + 1)
    m = kata.cost_metrics([right, wrong])
    assert (m["macs/cells"], m["macs/cells_exact"], m["macs/max_abs_diff"]) == (2, 1, 1)
    assert m["macs/max_ratio_diff"] == float(Fraction(1, right.standard))
    assert kata.cost_observation(m).reproduced is False and kata.cost_observation(kata.cost_metrics([right])).reproduced is True


def test_latency_metrics_from_hand_made_timings():
    lc = config.build(kata.LatencyConfig, {"sizes": (14,), "in_channels": (32,), "out_channels": (64,)})
    seconds = {"standard": 1.0, "depthwise": 0.1, "pointwise": 0.15, "matched": 0.02, "separable": 0.3}

    def timed(kind):
        module = kata.conv(kind, 32, 64, 3, kata.META)
        macs = count_cost(module, (8, 32, 14, 14)).macs
        return kata.Timed(0, kind, macs, 4 * macs, Latency((seconds[kind],) * 3, threads=1))  # 1/4 MAC per byte for all

    m = kata.latency_metrics(lc, [timed(k) for k in kata.KINDS], bandwidth=10e9)
    std = 8 * standard_conv_macs(14, 14, 32, 64, 3)
    assert m["latency/standard_gmacs"] == pytest.approx(std / 1e9)
    assert m["latency/separable_time_ratio"] == pytest.approx(0.3)
    assert m["macs/separable_ratio"] == pytest.approx(1 / 64 + 1 / 9)
    assert m["latency/separable_time_over_mac_ratio"] == pytest.approx(0.3 / (1 / 64 + 1 / 9))
    assert m["latency/depthwise_time_share"] == pytest.approx(0.1 / 0.25) and m["macs/depthwise_share"] == pytest.approx(9 / 73)
    assert m["latency/depthwise_over_matched_time"] == pytest.approx(5.0)
    assert m["latency/peak_gmacs"] == pytest.approx(max(m["latency/pointwise_gmacs"], m["latency/standard_gmacs"]))
    assert m["latency/ridge_macs_per_byte"] == pytest.approx(m["latency/peak_gmacs"] / 10)
    assert m["latency/depthwise_intensity_max"] == m["latency/standard_intensity_min"] == 0.25
    assert m["latency/depthwise_faulting"] == 0  # no page-fault counts given


def test_config_refuses_mismatched_shapes_and_even_kernels():
    with pytest.raises(ConfigError, match="equal lengths"):
        config.build(kata.LatencyConfig, {"sizes": (14, 7), "in_channels": (32,), "out_channels": (64,)})
    with pytest.raises(ConfigError, match="odd"):
        config.build(kata.MobileNetCostConfig, {"kernels": (3, 4)})
