"""The norms kata: its runs, the batch (in)dependence it measures, the notes' claims judged, resume."""

from __future__ import annotations

import pytest
import torch

from deepkata.core import records, runner
from deepkata.core.errors import ConfigError
from deepkata.core.registry import get_kata
from deepkata.vision.katas.norms import NormsConfig, lower_contrast, observations
from tests.conftest import resume_run, run_kata

TINY = ["train_limit=200", "test_limit=100", "batches=2,16", "norms=batch,layer,group", "model.widths=4,8", "train.epochs=1", "train.chunk=20"]


def test_smoke_run_measures_batch_dependence(tmp_path):
    res = run_kata("norms", tmp_path)
    assert res.status == "completed"
    m = res.result["metrics"]
    for n in ("batch", "layer", "instance", "group", "none"):
        for b in (2, 32):
            assert 0 <= m[f"{n}/b{b}/test_accuracy"] <= 1
            assert round(m[f"{n}/b{b}/test_accuracy"] * 200, 6).is_integer()  # scored on the 200 test images
    # BatchNorm's outputs depend on the batch: its training and evaluation modes differ...
    assert m["batch/max_mode_logit_diff"] > 1e-3
    # ... the other norms' do not, to the bit
    assert m["obs/max_independent_logit_diff"] == 0.0
    assert all(e["met"] for e in res.result["expectations"])
    assert (res.dir / "accuracy.png").read_bytes()[:4] == b"\x89PNG" and (res.dir / "runs.csv").exists()
    logged = records.read_metrics(res.dir / "metrics.jsonl")
    assert {r["job"] for r in logged if "val/accuracy" in r} == {f"{n}/b{b}/seed0" for n in ("batch", "layer", "instance", "group", "none") for b in (2, 32)}
    assert "LayerNorm does not depend on the mini-batch" in (res.dir / "report.md").read_text()


def test_learning_rate_scales_linearly_with_the_batch():
    cfg = NormsConfig()
    assert cfg.recipe(32).lr == cfg.train.lr and cfg.recipe(2).lr == pytest.approx(cfg.train.lr / 16) and cfg.recipe(128).lr == pytest.approx(4 * cfg.train.lr)
    assert cfg.recipe(2).batch == 2


def test_unknown_norms_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="'weight' not among batch, layer, instance, group, none"):
        runner.prepare(get_kata("norms"), "smoke", ["norms=batch,weight"])


def test_lower_contrast_keeps_each_images_mean_and_scales_its_deviations():
    x = torch.randn(3, 1, 5, 5)
    a = torch.tensor([1.0, 0.5, 0.0])
    y = lower_contrast(x, a)
    torch.testing.assert_close(y.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)))
    torch.testing.assert_close(y[0], x[0])
    torch.testing.assert_close(y[1] - y[1].mean(), 0.5 * (x[1] - x[1].mean()))
    torch.testing.assert_close(y[2], torch.full_like(x[2], float(x[2].mean())))


def metrics(bn_small=0.6, bn_large=0.9, gn_small=0.8, gaps=(10.0, 1.0), drops=(2.0, 8.0), independent=0.0):
    m = {"batch/b2/test_accuracy": bn_small, "batch/b128/test_accuracy": bn_large, "group/b2/test_accuracy": gn_small,
         "batch/b2/mode_gap_points": gaps[0], "batch/b128/mode_gap_points": gaps[1], "batch/max_mode_logit_diff": 3.0,
         "instance/contrast_drop_points": drops[0], "batch/contrast_drop_points": drops[1]}  # fmt: skip
    for n in ("layer", "instance", "group", "none"):
        m[f"{n}/max_mode_logit_diff"] = independent
    return m


def test_the_notes_claims_are_judged_both_ways():
    cfg = NormsConfig(batches=(2, 128))
    good = {o.claim: o.reproduced for o in observations(cfg, metrics())}
    assert list(good.values()) == [True, True, True, True]
    bad = {o.claim: o.reproduced for o in observations(cfg, metrics(bn_small=0.85, gaps=(0.5, 1.0), drops=(9.0, 8.0), independent=0.01))}
    assert list(bad.values()) == [False, False, False, False]
    # BN worse at batch 2 than at 128, but GroupNorm no better: not the notes' claim either
    assert not observations(cfg, metrics(gn_small=0.5))[0].reproduced


def test_interrupted_run_resumes_to_the_same_result(tmp_path, interrupt_at_checkpoint):
    whole = run_kata("norms", tmp_path / "whole", sets=TINY)
    interrupt_at_checkpoint(3)
    with pytest.raises(runner.Interrupted) as e:
        run_kata("norms", tmp_path / "cut", sets=TINY, checkpoint_interval=0)
    resumed = resume_run(e.value.run_dir)
    strip = lambda m: {k: v for k, v in m.items() if not k.endswith("seconds")}  # noqa: E731
    assert strip(resumed.result["metrics"]) == strip(whole.result["metrics"])
