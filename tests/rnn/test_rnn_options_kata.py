"""The rnn-options kata: the observation checks, and a tiny run through the runner."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from deepkata.core import records, runner
from deepkata.core.errors import ConfigError
from deepkata.core.registry import get_kata
from deepkata.rnn.katas.rnn_options import SETTING_IDS, _observations
from tests.conftest import resume_run, run_kata


def hist(*acc):
    return {"train_bit_accuracy": list(acc), "bit_accuracy": [1.0] * len(acc), "accuracy": [0.0] * len(acc), "loss": [0.0] * len(acc)}


def test_each_observation_is_checked_as_stated():
    runs = {
        "baseline": [hist(0.70, 0.80, 0.90)],
        "units128": [hist(0.85, 0.90, 0.95)],  # higher at epoch 1: reproduced
        "sigmoid": [hist(0.60, 0.70, 0.95)],  # not lower at the end: not reproduced
        "tanh": [hist(0.60, 0.90, 0.92)],  # the big jump is epoch 1 -> 2: reproduced
        "adam": [hist(0.65, 0.90, 0.95)],  # lower at epoch 1: not reproduced
        "dropout": [hist(0.60, 0.62, 0.70)],  # 20 points below: reproduced
    }
    checks = {c["setting"]: c["reproduced"] for c in _observations(runs)}
    assert checks == {"units128": True, "sigmoid": False, "tanh": True, "adam": False, "dropout": True}
    runs["tanh"] = [hist(0.60, 0.62, 0.92)]  # the jump comes later
    assert not {c["setting"]: c["reproduced"] for c in _observations(runs)}["tanh"]


TINY = ["train_size=40", "epochs=2", "seeds=2"]


def median(lines: list[dict], key: str) -> float:
    return float(np.median([r[key] for r in lines]))


def test_tiny_run_checks_every_observation(tmp_path):
    res = run_kata("rnn-options", tmp_path, preset="default", sets=TINY)
    m = res.result["metrics"]
    logged = records.read_metrics(res.dir / "metrics.jsonl")
    for s in SETTING_IDS:
        # the summary is the median over the seeds of what each job logged after its epochs
        epoch = {e: [r for r in logged if r["job"].startswith(f"{s}/") and r["step"] == e] for e in (1, 2)}
        assert sorted(r["job"] for r in epoch[2]) == [f"{s}/seed0", f"{s}/seed1"]
        assert m[f"{s}/train_bit_accuracy_epoch1"] == median(epoch[1], "train/bit_accuracy")
        assert m[f"{s}/train_bit_accuracy_final"] == median(epoch[2], "train/bit_accuracy")
        assert m[f"{s}/bit_accuracy_final"] == median(epoch[2], "test/bit_accuracy")
        assert m[f"{s}/accuracy_final"] == median(epoch[2], "test/accuracy")
        # scored on all 128 x 128 pairs: whole bits and sums (halves of them, as the median of two);
        # a sum is right only if all its bits are
        assert (m[f"{s}/bit_accuracy_final"] * 2 * 16384 * 8).is_integer()
        assert (m[f"{s}/accuracy_final"] * 2 * 16384).is_integer()
        assert m[f"{s}/accuracy_final"] <= m[f"{s}/bit_accuracy_final"]
    # the notes' observations, decided again from those medians (two epochs: one gain)
    first = {s: m[f"{s}/train_bit_accuracy_epoch1"] for s in SETTING_IDS}
    final = {s: m[f"{s}/train_bit_accuracy_final"] for s in SETTING_IDS}
    expected = {
        "units128": first["units128"] > first["baseline"],
        "sigmoid": final["sigmoid"] < final["baseline"],
        "tanh": final["tanh"] - first["tanh"] >= 0.05,
        "adam": first["adam"] > first["baseline"],
        "dropout": final["dropout"] <= final["baseline"] - 0.05,
    }
    with open(res.dir / "observations.csv") as f:
        table = {r["setting"]: r["reproduced"] for r in csv.DictReader(f)}
    assert table == {k: "yes" if ok else "no" for k, ok in expected.items()}
    assert m["observations/reproduced"] == sum(expected.values()) and m["observations/checked"] == 5
    assert (res.dir / "accuracy.png").read_bytes()[:4] == b"\x89PNG"


def test_interrupted_run_resumes_to_the_same_result(tmp_path, interrupt_at_checkpoint):
    sets = [*TINY, "settings=baseline,dropout"]
    whole = run_kata("rnn-options", tmp_path / "whole", preset="default", sets=sets)
    # three checkpoints a job (after each epoch, then as finished): the 7th is after the first
    # epoch of dropout/seed0, whose dropout masks come from PyTorch's global generator
    interrupt_at_checkpoint(7)
    with pytest.raises(runner.Interrupted) as e:
        run_kata("rnn-options", tmp_path / "cut", preset="default", sets=sets, checkpoint_interval=0)
    resumed = resume_run(e.value.run_dir)
    assert resumed.result["metrics"] == whole.result["metrics"]
    assert records.read_metrics(resumed.dir / "metrics.jsonl") == records.read_metrics(whole.dir / "metrics.jsonl")


def test_bf16_autocast_trains_every_kind_of_cell(tmp_path):
    sets = [*TINY, "seeds=1", "settings=baseline,sigmoid"]  # nn.RNN's kernel, and the unrolled sigmoid RNN
    fp32 = run_kata("rnn-options", tmp_path, preset="default", sets=sets)
    bf16 = run_kata("rnn-options", tmp_path, preset="default", sets=sets, precision="bf16")
    assert bf16.status == "completed" and bf16.result["precision"] == "bf16"
    assert bf16.result["metrics"].keys() == fp32.result["metrics"].keys()
    assert bf16.result["metrics"] != fp32.result["metrics"]


def test_the_baseline_is_required():
    with pytest.raises(ConfigError, match="include it"):
        runner.prepare(get_kata("rnn-options"), "default", ["settings=tanh,adam"])
