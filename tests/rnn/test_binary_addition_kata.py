"""The binary-addition kata through the runner, as `deepkata run` drives it."""

from __future__ import annotations

import csv
import json

import pytest

from deepkata.core import records, runner
from deepkata.core.registry import get_kata

KATA = get_kata("binary-addition")


def run(tmp_path, preset="smoke", sets=(), seed=0, **kwargs):
    cfg, overrides = runner.prepare(KATA, preset, list(sets))
    return runner.execute(KATA, cfg, preset=preset, seed=seed, root=tmp_path, overrides=overrides, quiet=True, **kwargs)


def test_smoke_run_learns_and_records_everything(tmp_path):
    res = run(tmp_path)
    m = res.result["metrics"]
    assert res.status == "completed"
    assert m["train/iterations"] == 3000
    assert m["train/loss_last"] < 0.9 * m["train/loss_first"]
    assert m["eval/bit_accuracy"] > 0.6
    assert m["eval/chance_accuracy"] == 2**-8
    assert all(e["met"] for e in res.result["expectations"])
    lines = records.read_metrics(res.dir / "metrics.jsonl")
    assert [r["step"] for r in lines] == list(range(100, 3001, 100))
    assert {"train/loss", "train/acc", "train/grad_norm"} <= set(lines[0])
    assert (res.dir / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (res.dir / "report.md").read_text()
    assert "| a | b | a + b | network | right |" in report


def test_same_seed_same_result_metrics(tmp_path):
    a = run(tmp_path, sets=["iterations=800"], seed=5)
    b = run(tmp_path, sets=["iterations=800"], seed=5)
    c = run(tmp_path, sets=["iterations=800"], seed=6)
    ra = json.loads((a.dir / "result.json").read_text())["metrics"]
    rb = json.loads((b.dir / "result.json").read_text())["metrics"]
    rc = json.loads((c.dir / "result.json").read_text())["metrics"]
    assert ra == rb
    assert ra != rc


def test_relu_he_ends_normally_and_reports_exploding_gradients(tmp_path):
    res = run(tmp_path, preset="default", sets=["activation=relu", "init=he"])
    m = res.result["metrics"]
    assert res.status == "completed"
    assert m["train/converged_at"] is None and m["train/diverged_at"] is None
    assert m["train/grad_spikes"] > 5 and m["train/grad_norm_max"] > 100 * m["train/grad_norm_median"]
    report = (res.dir / "report.md").read_text()
    assert "The gradients exploded" in report and "training stalled rather than diverged" in report
    assert "Config differs from preset `default` in:** activation=relu, init=he" in report


def test_divergence_is_recorded_never_a_crash(tmp_path):
    res = run(tmp_path, preset="default", sets=["lr=1e9", "activation=relu", "init=he"])
    m = res.result["metrics"]
    assert res.status == "completed"
    assert m["train/diverged_at"] is not None and m["train/iterations"] == m["train/diverged_at"]
    assert f"Diverged at iteration {m['train/diverged_at']:,}" in (res.dir / "report.md").read_text()


def test_clipping_tames_the_gradient_steps(tmp_path):
    res = run(tmp_path, preset="default", sets=["activation=relu", "init=he", "clip=5", "iterations=3000"])
    assert "each clipped to 5 before its update" in (res.dir / "report.md").read_text()


TINY_SWEEP = ["sweep=curriculum", "seeds=2", "iterations=300", "log_every=50"]


def test_curriculum_sweep_writes_the_table_figures_and_metrics(tmp_path):
    res = run(tmp_path, preset="default", sets=TINY_SWEEP)
    m = res.result["metrics"]
    for s in "1234567":
        assert 0 <= m[f"setting{s}/converged_frac"] <= 1
        assert m[f"setting{s}/accuracy_median"] is not None
    assert "setting3_clip/converged_frac" in m and "setting4_clip/converged_frac" in m
    assert "setting1_clip/converged_frac" not in m
    with open(res.dir / "curriculum.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["setting"][0] for r in rows] == list("1234567")
    assert rows[0]["notes"] == "converges in ~6,000 iterations"
    with open(res.dir / "curriculum_runs.csv") as f:
        jobs = list(csv.DictReader(f))
    assert len(jobs) == 7 * 2 + 2 * 2
    assert {j["seed"] for j in jobs} == {"0", "1"}
    for name in ("curriculum_loss.png", "curriculum_clipping.png"):
        assert (res.dir / name).read_bytes()[:4] == b"\x89PNG"
    logged = records.read_metrics(res.dir / "metrics.jsonl")
    assert len(logged) == (7 * 2 + 2 * 2) * 300 // 50
    assert logged[0]["job"] == "1/seed0" and logged[-1]["job"] == "4+clip/seed1"


def test_curriculum_sweep_resumes_to_the_same_result(tmp_path, interrupt_at_checkpoint):
    whole = run(tmp_path / "whole", preset="default", sets=TINY_SWEEP)
    interrupt_at_checkpoint(20)  # mid-way through a job of the third setting
    with pytest.raises(runner.Interrupted) as e:
        run(tmp_path / "cut", preset="default", sets=TINY_SWEEP, checkpoint_interval=0)
    resumed = runner.resume(e.value.run_dir, quiet=True)
    assert resumed.result["metrics"] == whole.result["metrics"]
    assert records.read_metrics(resumed.dir / "metrics.jsonl") == records.read_metrics(whole.dir / "metrics.jsonl")


@pytest.mark.slow
def test_curriculum_preset_meets_its_expectations(tmp_path):
    res = run(tmp_path, preset="curriculum")
    unmet = [e["description"] for e in res.result["expectations"] if not e["met"]]
    assert not unmet
