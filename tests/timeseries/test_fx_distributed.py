"""fx-forecast data-parallel under torchrun: two ranks train what one process trains.

Each of the two ranks computes its half of every global batch and DDP averages the
gradients, so the weights and the training loss match a single process's up to float32
rounding: the two half-batch sums and their average round differently from one whole-batch
sum (about 1e-7 relative per gradient), and Adam, which divides by the root mean square of
the gradients, carries that into every step. After the 60 steps of this run the weights
differ by a few 1e-6 at most; a wrong share, a different order or unsynchronized weights
would move them by Adam's step size, lr = 0.01.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from deepkata.core import records
from tests.conftest import run_kata

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="this PyTorch build has no torch.distributed")

WEIGHTS_ATOL = 1e-5  # float32 rounding carried through 60 Adam steps (measured: 2.7e-6); a bug moves weights by ~1e-2
LOSS_RTOL = 1e-5  # the epoch's loss summed over ranks in another order (measured: 2e-7)


def test_two_ranks_train_the_weights_one_process_trains(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "deepkata", "run", "fx-forecast", "--preset", "smoke", "--set", "epochs=2", "--quiet", "--out", str(tmp_path / "A")]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    folders = list((tmp_path / "A" / "fx-forecast").iterdir())
    assert len(folders) == 1  # rank 0 alone writes
    ddp = folders[0]
    assert records.read_json(ddp / records.RESULT)["world_size"] == 2

    single = run_kata("fx-forecast", tmp_path / "B", sets=["epochs=2"])
    assert single.result["world_size"] == 1
    a = torch.load(ddp / "forecaster.pt", weights_only=True)["model"]
    b = torch.load(single.dir / "forecaster.pt", weights_only=True)["model"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=0, atol=WEIGHTS_ATOL), (k, (a[k] - b[k]).abs().max().item())
    # rank 0 logs the loss over every rank's windows: the single process's, epoch by epoch
    ddp_losses = [r["train/loss"] for r in records.read_metrics(ddp / "metrics.jsonl")]
    single_losses = [r["train/loss"] for r in records.read_metrics(single.dir / "metrics.jsonl")]
    assert ddp_losses == pytest.approx(single_losses, rel=LOSS_RTOL) and len(ddp_losses) == 2
    m, n = records.read_json(ddp / records.RESULT)["metrics"], single.result["metrics"]
    assert m["train/loss_last"] == pytest.approx(n["train/loss_last"], rel=LOSS_RTOL)
    assert m["test/model/rmse"] == pytest.approx(n["test/model/rmse"], rel=1e-5)


def test_a_kata_that_is_not_data_parallel_refuses_torchrun(tmp_path, cli, monkeypatch):
    # what torchrun puts in rank 0's environment; the refusal comes before any process group
    for name, value in {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(name, value)
    code, out, err = cli("run", "bandit", "--preset", "smoke", "--quiet", "--out", str(tmp_path))
    assert code == 2 and out == ""
    assert err.strip().splitlines() == ["deepkata: error: bandit does not train data-parallel; run it without torchrun (katas that do: fx-forecast)"]
    assert not (tmp_path / "bandit").exists()
