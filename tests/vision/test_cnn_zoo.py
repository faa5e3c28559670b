"""The cnn-zoo kata: its table measured from the registry's models, its checks, the notes' claims judged."""

from __future__ import annotations

import pytest

from deepkata.core import runner
from deepkata.core.errors import ConfigError, UserError
from deepkata.core.registry import get_kata
from deepkata.models import build_model, count_parameters
from deepkata.vision.cost import count_cost
from deepkata.vision.katas.cnn_zoo import ZOO, CnnZooConfig, observations
from tests.conftest import run_kata


def test_smoke_run_tables_cost_speed_and_accuracy_of_the_four_networks(tmp_path):
    res = run_kata("cnn-zoo", tmp_path)
    assert res.status == "completed", res.error
    m = res.result["metrics"]
    for name in ZOO:
        model = build_model(name, in_channels=1, classes=10)
        assert m[f"{name}/params"] == count_parameters(model)
        assert m[f"{name}/macs"] == count_cost(model, (1, 1, 28, 28)).macs
        assert m[f"{name}/latency_b1_ms"] > 0 and m[f"{name}/latency_b8_ms"] > 0
        assert round(m[f"{name}/test_accuracy"] * 100, 6).is_integer()  # 100 test images
    assert m["zoo/diverged"] == 0 and res.result["timings"]["resnet-small/seconds"] > 0
    for png in ("accuracy-vs-macs", "curves", "confusion", "misclassified"):
        assert (res.dir / f"{png}.png").read_bytes()[:4] == b"\x89PNG"
    table = (res.dir / "zoo.csv").read_text()
    assert all(name in table for name in ZOO)
    report = (res.dir / "report.md").read_text()
    assert "## The zoo" in report and "latency b1 (ms)" in report


def test_models_must_be_vision_models_of_the_registry(tmp_path):
    with pytest.raises(UserError, match="unknown model 'resnet-tiny'"):
        run_kata("cnn-zoo", tmp_path, sets=["models=resnet-tiny"])
    with pytest.raises(ConfigError, match="'gru' is not a vision model"):
        run_kata("cnn-zoo", tmp_path, sets=["models=gru"])
    assert not (tmp_path / "cnn-zoo").exists()  # nothing half-written


def test_epochs_per_model():
    with pytest.raises(ConfigError, match="3 values for 4 models"):
        runner.prepare(get_kata("cnn-zoo"), "default", ["epochs=1,2,3"])
    cfg = CnnZooConfig(epochs=(4, 3, 2, 1))
    assert [cfg.recipe(m).epochs for m in ZOO] == [4, 3, 2, 1]
    assert CnnZooConfig().recipe("resnet-small").epochs == CnnZooConfig().train.epochs
    full = runner.prepare(get_kata("cnn-zoo"), "full", [])[0]
    assert full.dataset == "fashion-mnist" and full.train.flip and full.epochs is None and full.train.epochs == 20


def table(resnet=0.92, densenet=0.92, v1=0.915, macs=(31e6, 35e6, 41e6), params=(272_186, 214_372, 823_434), latency=(10.0, 14.0, 12.0)):
    metrics = {"resnet-small/test_accuracy": resnet, "densenet-bc-small/test_accuracy": densenet, "mobilenet-v1-small/test_accuracy": v1}
    measured = {
        name: {"macs": mac, "params": p, "latency_b1": t / 2, "latency_b64": t}
        for name, mac, p, t in zip(("resnet-small", "densenet-bc-small", "mobilenet-v1-small"), macs, params, latency)
    }
    return metrics, measured


def test_the_notes_claims_are_judged_both_ways():
    cfg = CnnZooConfig(models=("resnet-small", "densenet-bc-small", "mobilenet-v1-small"))
    metrics, measured = table()
    verdicts = [o.reproduced for o in observations(cfg, metrics, measured)]
    # MobileNet v1: 1.32x ResNet's MACs in 1.2x its time: 0.91x its time per MAC; accuracy within a point;
    # DenseNet as accurate with fewer parameters
    assert verdicts == [True, True, True]
    assert metrics["obs/mobilenet-v1-small_time_per_mac_vs_resnet"] == pytest.approx(1.2 / (41 / 31))
    metrics, measured = table(v1=0.90, densenet=0.90, latency=(10.0, 14.0, 20.0))  # 2x the time for 1.32x the MACs
    assert [o.reproduced for o in observations(cfg, metrics, measured)] == [False, False, False]
