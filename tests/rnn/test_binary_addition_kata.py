"""The binary-addition kata through the runner, as `deepkata run` drives it."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from deepkata.core import records, runner
from deepkata.core.errors import ConfigError
from deepkata.core.registry import get_kata
from deepkata.rnn.binary_addition import TrainSettings
from deepkata.rnn.katas.binary_addition import _settings
from tests.conftest import resume_run, run_kata

KATA = "binary-addition"


def test_smoke_run_learns_and_records_everything(tmp_path):
    res = run_kata(KATA, tmp_path)
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
    a = run_kata(KATA, tmp_path, sets=["iterations=800"], seed=5)
    b = run_kata(KATA, tmp_path, sets=["iterations=800"], seed=5)
    c = run_kata(KATA, tmp_path, sets=["iterations=800"], seed=6)
    ra = json.loads((a.dir / "result.json").read_text())["metrics"]
    rb = json.loads((b.dir / "result.json").read_text())["metrics"]
    rc = json.loads((c.dir / "result.json").read_text())["metrics"]
    assert ra == rb
    assert ra != rc


def test_relu_he_ends_normally_and_reports_exploding_gradients(tmp_path):
    res = run_kata(KATA, tmp_path, preset="default", sets=["activation=relu", "init=he"])
    m = res.result["metrics"]
    assert res.status == "completed"
    assert m["train/converged_at"] is None and m["train/diverged_at"] is None
    # the largest step against the typical one: 34x on an AMD EPYC, over 100x on the machine this was written on (BLAS rounding)
    assert m["train/grad_spikes"] > 5 and m["train/grad_norm_max"] > 20 * m["train/grad_norm_median"]
    report = (res.dir / "report.md").read_text()
    assert "The gradients exploded" in report and "training stalled rather than diverged" in report
    assert "Config differs from preset `default` in:** activation=relu, init=he" in report


def test_divergence_is_recorded_never_a_crash(tmp_path):
    res = run_kata(KATA, tmp_path, preset="default", sets=["lr=1e9", "activation=relu", "init=he"])
    m = res.result["metrics"]
    assert res.status == "completed"
    assert m["train/diverged_at"] is not None and m["train/iterations"] == m["train/diverged_at"]
    assert f"Diverged at iteration {m['train/diverged_at']:,}" in (res.dir / "report.md").read_text()


def test_clipping_tames_the_gradient_steps(tmp_path):
    sets = ["activation=relu", "init=he", "iterations=4000"]  # clipped, it converged by 3,000 on one machine, at 3,120 on another
    free = run_kata(KATA, tmp_path, preset="default", sets=sets)
    clipped = run_kata(KATA, tmp_path, preset="default", sets=[*sets, "clip=5"])
    f, c = free.result["metrics"], clipped.result["metrics"]
    # one seed, one start, one stream of pairs: the same steps until a gradient passes 5, then not
    free_log, clipped_log = (records.read_metrics(r.dir / "metrics.jsonl") for r in (free, clipped))
    assert clipped_log[0] == free_log[0] and clipped_log != free_log
    assert c["train/loss_first"] == f["train/loss_first"]
    # unclipped, the exploding steps stall the ReLU network short of convergence (0% to 9% of the sums
    # right on two machines, 35% on a third: the BLAS's rounding decides where the steps throw it);
    # clipped, it learns every sum
    assert f["train/converged_at"] is None and f["eval/accuracy"] < 0.5
    assert c["train/converged_at"] is not None and c["eval/accuracy"] == 1.0
    assert "each clipped to 5 before its update" in (clipped.dir / "report.md").read_text()


def test_the_training_settings_are_fields_of_the_kata_and_the_sweep_fixes_some():
    kata = get_kata(KATA)
    cfg, overrides = runner.prepare(kata, "smoke", ["activation=relu", "init_std=0.5"])
    assert isinstance(cfg, TrainSettings) and overrides == {"activation": "relu", "init_std": 0.5}
    assert _settings(cfg) == TrainSettings(activation="relu", init_std=0.5, iterations=3000)
    assert _settings(cfg, hidden=32, clip=5.0) == TrainSettings(activation="relu", init_std=0.5, iterations=3000, hidden=32, clip=5.0)
    with pytest.raises(ConfigError, match="hidden must be > 0"):
        runner.prepare(kata, "smoke", ["hidden=0"])
    with pytest.raises(ConfigError, match="hidden: fixed by each setting of the curriculum sweep"):
        runner.prepare(kata, "curriculum", ["hidden=32"])


TINY_SWEEP = ["sweep=curriculum", "seeds=2", "iterations=300", "log_every=50"]


def test_curriculum_sweep_writes_the_table_figures_and_metrics(tmp_path):
    res = run_kata(KATA, tmp_path, preset="default", sets=TINY_SWEEP)
    m = res.result["metrics"]
    with open(res.dir / "curriculum_runs.csv") as f:
        jobs = list(csv.DictReader(f))
    assert len(jobs) == 7 * 2 + 2 * 2
    assert {j["seed"] for j in jobs} == {"0", "1"}
    # each setting's figures summarize its two runs
    for name in [*"1234567", "3+clip", "4+clip"]:
        runs = [j for j in jobs if j["job"].split("/")[0] == name]
        prefix = "setting" + name.replace("+clip", "_clip")
        assert len(runs) == 2
        assert m[f"{prefix}/converged_frac"] == sum(j["converged_at"] != "" for j in runs) / 2
        assert m[f"{prefix}/diverged_frac"] == sum(j["diverged_at"] != "" for j in runs) / 2
        assert m[f"{prefix}/accuracy_median"] == float(np.median([float(j["accuracy"]) for j in runs]))
        assert m[f"{prefix}/grad_spikes_median"] == float(np.median([int(j["grad_spikes"]) for j in runs]))
    assert "setting1_clip/converged_frac" not in m
    # a job of the sweep is the single run of its setting with the job's seed
    single = run_kata(KATA, tmp_path / "single", preset="default", sets=["iterations=300", "log_every=50"], seed=1)
    job = next(j for j in jobs if j["job"] == "1/seed1")
    assert float(job["accuracy"]) == single.result["metrics"]["eval/accuracy"]
    assert float(job["grad_norm_max"]) == single.result["metrics"]["train/grad_norm_max"]
    assert float(job["loss_first"]) == single.result["metrics"]["train/loss_first"]
    with open(res.dir / "curriculum.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["setting"][0] for r in rows] == list("1234567")
    assert rows[0]["notes"] == "converges in ~6,000 iterations"
    for name in ("curriculum_loss.png", "curriculum_clipping.png"):
        assert (res.dir / name).read_bytes()[:4] == b"\x89PNG"
    logged = records.read_metrics(res.dir / "metrics.jsonl")
    assert len(logged) == (7 * 2 + 2 * 2) * 300 // 50
    assert logged[0]["job"] == "1/seed0" and logged[-1]["job"] == "4+clip/seed1"


def test_curriculum_sweep_resumes_to_the_same_result(tmp_path, interrupt_at_checkpoint):
    whole = run_kata(KATA, tmp_path / "whole", preset="default", sets=TINY_SWEEP)
    interrupt_at_checkpoint(31)  # seven a job (after each of its 6 chunks, then as finished): mid-way through 3/seed0
    with pytest.raises(runner.Interrupted) as e:
        run_kata(KATA, tmp_path / "cut", preset="default", sets=TINY_SWEEP, checkpoint_interval=0)
    resumed = resume_run(e.value.run_dir)
    assert resumed.result["metrics"] == whole.result["metrics"]
    assert records.read_metrics(resumed.dir / "metrics.jsonl") == records.read_metrics(whole.dir / "metrics.jsonl")


@pytest.mark.slow
def test_curriculum_preset_meets_its_expectations(tmp_path):
    res = run_kata(KATA, tmp_path, preset="curriculum")
    unmet = [e["description"] for e in res.result["expectations"] if not e["met"]]
    assert not unmet
