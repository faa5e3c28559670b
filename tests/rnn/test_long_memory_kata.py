"""The long-memory kata through the runner, at a size that runs in seconds."""

from __future__ import annotations

import csv

import pytest

from deepkata.core import records, runner
from deepkata.core.errors import ConfigError
from deepkata.core.registry import get_kata

KATA = get_kata("long-memory")
TINY = [
    "lengths=6,12", "flow_length=12", "steps=60", "eval_every=20", "hidden=8", "batch=16",
    "valid_size=64", "test_size=64", "explode_length=40", "explode_steps=20", "lr=0.01",
]  # fmt: skip


def run(tmp_path, sets=(), **kwargs):
    cfg, overrides = runner.prepare(KATA, "default", [*TINY, *sets])
    return runner.execute(KATA, cfg, preset="default", seed=0, root=tmp_path, overrides=overrides, quiet=True, **kwargs)


def test_tiny_run_records_the_table_the_figures_and_the_explosion(tmp_path):
    res = run(tmp_path)
    m = res.result["metrics"]
    assert res.status == "completed"
    for length in (6, 12):
        for cell in ("rnn", "lstm", "gru"):
            assert 0 < m[f"T{length}/{cell}/test_mse"] < 1
            assert m[f"T{length}/{cell}/steps"] <= 60
    assert m["explode/noclip/diverged"] == 1 and m["explode/noclip/diverged_at"] <= 20
    assert m["explode/clip/diverged"] == 0 and m["explode/clip/steps"] == 20
    with open(res.dir / "mse_by_length.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["T"] for r in rows] == ["6", "12"]
    for name in ("mse_by_length.png", "gradient_flow.png", "exploding_gradients.png"):
        assert (res.dir / name).read_bytes()[:4] == b"\x89PNG"
    jobs = {r.get("job") for r in records.read_metrics(res.dir / "metrics.jsonl")}
    assert {"T6/rnn", "T12/gru", "explode/noclip", "explode/clip"} <= jobs


def test_early_stopping_at_the_validation_target(tmp_path):
    res = run(tmp_path, ["target_mse=1.0", "explode_length=0"])
    assert all(res.result["metrics"][f"T{t}/{c}/steps"] == 20 for t in (6, 12) for c in ("rnn", "lstm", "gru"))


def test_interrupted_run_resumes_to_the_same_result(tmp_path, interrupt_at_checkpoint):
    whole = run(tmp_path / "whole")
    interrupt_at_checkpoint(7)  # inside the second length's training
    with pytest.raises(runner.Interrupted) as e:
        run(tmp_path / "cut", checkpoint_interval=0)
    resumed = runner.resume(e.value.run_dir, quiet=True)
    assert resumed.result["metrics"] == whole.result["metrics"]
    assert set(resumed.result["timings"]) == set(whole.result["timings"]) == {f"T{t}/{c}/seconds" for t in (6, 12) for c in ("rnn", "lstm", "gru")}


@pytest.mark.parametrize("sets, message", [(["flow_length=50"], "flow_length 50 must be one of lengths"), (["cells=gru,gru"], "each cell once")])
def test_bad_configs(sets, message):
    with pytest.raises(ConfigError, match=message):
        runner.prepare(KATA, "default", [*TINY, *sets])
