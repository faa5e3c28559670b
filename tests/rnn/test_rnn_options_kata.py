"""The rnn-options kata: the observation checks, and a tiny run through the runner."""

from __future__ import annotations

import pytest

from deepkata.core import runner
from deepkata.core.errors import ConfigError
from deepkata.core.registry import get_kata
from deepkata.rnn.katas.rnn_options import _observations

KATA = get_kata("rnn-options")


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


def run(tmp_path, sets=(), **kwargs):
    cfg, overrides = runner.prepare(KATA, "default", [*TINY, *sets])
    return runner.execute(KATA, cfg, preset="default", seed=0, root=tmp_path, overrides=overrides, quiet=True, **kwargs)


def test_tiny_run_checks_every_observation(tmp_path):
    res = run(tmp_path)
    m = res.result["metrics"]
    assert m["observations/checked"] == 5
    assert 0 <= m["observations/reproduced"] <= 5
    for s in ("baseline", "units128", "sigmoid", "tanh", "adam", "dropout"):
        assert 0 <= m[f"{s}/bit_accuracy_final"] <= 1
    report = (res.dir / "report.md").read_text()
    assert "## The notes' observations" in report and "| reproduced |" in report
    assert (res.dir / "accuracy.png").read_bytes()[:4] == b"\x89PNG"


def test_interrupted_run_resumes_to_the_same_result(tmp_path, interrupt_at_checkpoint):
    sets = ["settings=baseline,tanh"]
    whole = run(tmp_path / "whole", sets)
    interrupt_at_checkpoint(3)  # after epoch 1 of the second job
    with pytest.raises(runner.Interrupted) as e:
        run(tmp_path / "cut", sets, checkpoint_interval=0)
    assert runner.resume(e.value.run_dir, quiet=True).result["metrics"] == whole.result["metrics"]


def test_the_baseline_is_required():
    with pytest.raises(ConfigError, match="include it"):
        runner.prepare(KATA, "default", ["settings=tanh,adam"])
