"""The long-memory kata through the runner, at a size that runs in seconds, and its jobs alone."""

from __future__ import annotations

import csv
from typing import Any

import numpy as np
import pytest
import torch

from deepkata.core import records, runner
from deepkata.core.distributed import SINGLE
from deepkata.core.engine import JobContext
from deepkata.core.errors import ConfigError
from deepkata.core.progress import Bar
from deepkata.core.registry import get_kata
from deepkata.core.seeding import seed_everything
from deepkata.rnn.adding import TRIVIAL_MSE, adding_batch
from deepkata.rnn.gradient_flow import hidden_gradient_norms
from deepkata.rnn.katas.long_memory import LABELS, AddingJob
from tests.conftest import NEEDS_BF16_LSTM, resume_run, run_kata

TINY = [
    "lengths=6,12", "flow_length=12", "steps=60", "eval_every=20", "hidden=8", "batch=16",
    "valid_size=64", "test_size=64", "explode_length=40", "explode_steps=20", "lr=0.01",
]  # fmt: skip
CELLS = ("rnn", "lstm", "gru")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return run_kata("long-memory", tmp_path_factory.mktemp("tiny"), preset="default", sets=TINY)


def test_tiny_run_records_the_table_the_figures_and_the_explosion(tiny):
    m = tiny.result["metrics"]
    assert tiny.status == "completed"
    logged = records.read_metrics(tiny.dir / "metrics.jsonl")
    with open(tiny.dir / "mse_by_length.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["T"] for r in rows] == ["6", "12"]
    for row, length in zip(rows, (6, 12)):
        for cell in CELLS:
            key = f"T{length}/{cell}"
            # the validation MSE never nears the target here: three checks, 20 steps apart
            assert [r["step"] for r in logged if r["job"] == key] == [20, 40, 60] and m[f"{key}/steps"] == 60
            assert float(row[f"{LABELS[cell]} test MSE"]) == m[f"{key}/test_mse"]
            # 60 steps teach no cell the task yet: each scores about the trivial predictor's 1/6
            assert m[f"{key}/test_mse"] == pytest.approx(TRIVIAL_MSE, abs=0.06)
    # the same start and batches: unclipped, one step at 1.2 I blows the loss up; clipped, all 20 steps run
    noclip = [r for r in logged if r["job"] == "explode/noclip"]
    assert m["explode/noclip/diverged"] == 1 and m["explode/noclip/test_mse"] is None
    assert [r["step"] for r in noclip] == [m["explode/noclip/diverged_at"]] == [m["explode/noclip/steps"]]
    assert m["explode/noclip/diverged_at"] <= 3
    assert m["explode/clip/diverged"] == 0 and m["explode/clip/steps"] == 20
    assert [r["step"] for r in logged if r["job"] == "explode/clip"] == [20]
    for name in ("mse_by_length.png", "gradient_flow.png", "exploding_gradients.png"):
        assert (tiny.dir / name).read_bytes()[:4] == b"\x89PNG"


def test_early_stopping_at_the_validation_target(tmp_path):
    res = run_kata("long-memory", tmp_path, preset="default", sets=[*TINY, "target_mse=1.0", "explode_length=0"])
    assert all(res.result["metrics"][f"T{t}/{c}/steps"] == 20 for t in (6, 12) for c in CELLS)
    assert not any(k.startswith("explode/") for k in res.result["metrics"])


def test_interrupted_run_resumes_to_the_same_result(tmp_path, tiny, interrupt_at_checkpoint):
    # four checkpoints a job (after each of its 3 steps, then as finished): the 14th is T12/rnn,
    # the job measuring the gradient flow, after its second step
    interrupt_at_checkpoint(14)
    with pytest.raises(runner.Interrupted) as e:
        run_kata("long-memory", tmp_path, preset="default", sets=TINY, checkpoint_interval=0)
    resumed = resume_run(e.value.run_dir)
    assert resumed.result["metrics"] == tiny.result["metrics"]
    assert records.read_metrics(resumed.dir / "metrics.jsonl") == records.read_metrics(tiny.dir / "metrics.jsonl")
    assert set(resumed.result["timings"]) == set(tiny.result["timings"]) == {f"T{t}/{c}/seconds" for t in (6, 12) for c in CELLS}


@NEEDS_BF16_LSTM
def test_bf16_autocast_runs_the_same_jobs_in_lower_precision(tmp_path, tiny):
    res = run_kata("long-memory", tmp_path, preset="default", sets=TINY, precision="bf16")
    m, m32 = res.result["metrics"], tiny.result["metrics"]
    assert res.status == "completed" and res.result["precision"] == "bf16"
    assert m.keys() == m32.keys()
    assert m["T6/lstm/test_mse"] != m32["T6/lstm/test_mse"]  # the forward passes did run in bf16
    assert m["T6/lstm/test_mse"] == pytest.approx(m32["T6/lstm/test_mse"], abs=0.02)


# --- one job, outside the runner -------------------------------------------------------------------


class LogStub:
    """What a JobContext logs to: here, a list."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, dict[str, Any]]] = []

    def log(self, step: int, metrics: dict[str, Any], **tags: Any) -> None:
        self.lines.append((step, dict(metrics)))


def adding_job(seed: int, log: LogStub | None = None) -> AddingJob:
    """T12/rnn of the tiny config with the job seed 0, built as the engine builds it: after the
    global generators are seeded (here with ``seed``)."""
    cfg, _ = runner.prepare(get_kata("long-memory"), "default", TINY)
    seed_everything(seed)
    ctx = JobContext("T12/rnn", 0, torch.device("cpu"), "fp32", SINGLE, log or LogStub(), {}, Bar(None, None))  # type: ignore[arg-type]
    return AddingJob("rnn", 12, cfg, ctx, flow=True)


def finish(job: AddingJob) -> dict[str, Any]:
    while not job.done:
        job.step()
    return job.result()


def test_a_job_measures_the_gradient_flow_at_init_and_keeps_it_through_a_resume():
    whole = adding_job(0)
    x, y = whole.valid
    at_init, _ = hidden_gradient_norms(whole.trainer.model, x[:256], y[:256])  # before any step
    result = finish(whole)
    np.testing.assert_array_equal(result["flow"]["init"]["norms"], at_init)
    trained, _ = hidden_gradient_norms(whole.trainer.model, x[:256], y[:256])
    np.testing.assert_array_equal(result["flow"]["trained"]["norms"], trained)
    assert not np.array_equal(trained, at_init)

    first = adding_job(0)
    first.step()
    resumed = adding_job(1)  # other initial weights: the state must bring back the measurement at init
    resumed.load_state_dict(first.state_dict())
    again = finish(resumed)
    np.testing.assert_array_equal(again["flow"]["init"]["norms"], at_init)
    assert again["test_mse"] == result["test_mse"] and again["steps"] == result["steps"] == 60


def test_a_job_scores_its_model_on_a_test_set_of_its_own_stream():
    log = LogStub()
    job = adding_job(0, log)
    result = finish(job)
    assert [step for step, _ in log.lines] == [20, 40, 60]
    # the test set comes from its own generator, seeded from the job's seed and T, on the CPU
    x, y = adding_batch(torch.Generator().manual_seed(0 * 1000 + 200_003 + 12), 64, 12)
    model = job.trainer.model.eval()
    with torch.no_grad():
        assert result["test_mse"] == float(torch.nn.functional.mse_loss(model(x)[0], y))


@pytest.mark.parametrize("sets, message", [(["flow_length=50"], "flow_length 50 must be one of lengths"), (["cells=gru,gru"], "each cell once")])
def test_bad_configs(sets, message):
    with pytest.raises(ConfigError, match=message):
        runner.prepare(get_kata("long-memory"), "default", [*TINY, *sets])
