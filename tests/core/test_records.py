from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest
import torch

from deepkata.core import checkpoint, records
from deepkata.core.errors import UserError


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "result.json"
    records.write_json(path, {"ok": 1})

    def half_then_crash(f):
        f.write(b'{"half":')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        records.atomic_write(path, half_then_crash)
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_json_is_strict_non_finite_becomes_null(tmp_path):
    path = tmp_path / "m.json"
    records.write_json(path, {"a": math.nan, "b": [np.float64(1.5), np.int64(2), math.inf], "c": (1, 2)})
    assert json.loads(path.read_text()) == {"a": None, "b": [1.5, 2, None], "c": [1, 2]}


def test_read_json_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{\n"a": 1,\n}')
    with pytest.raises(UserError, match=r"bad.json: line 3: not valid JSON"):
        records.read_json(bad)
    with pytest.raises(UserError, match="no such file"):
        records.read_json(tmp_path / "missing.json")


def test_run_dirs_are_named_by_utc_time_and_seed_and_never_reused(tmp_path):
    now = dt.datetime(2026, 11, 23, 1, 2, 3, tzinfo=dt.timezone.utc)
    a = records.new_run_dir(tmp_path, "kata", 7, now)
    b = records.new_run_dir(tmp_path, "kata", 7, now)
    assert a == tmp_path / "kata" / "20261123T010203Z-s7"
    assert b == tmp_path / "kata" / "20261123T010203Z-s7-2"


def test_metrics_log_appends_and_truncates(tmp_path):
    log = records.MetricsLog(tmp_path / "metrics.jsonl")
    for step in range(1, 6):
        log.log(step, {"train/loss": 1.0 / step}, job="a")
    log.truncate(2)
    log.log(3, {"train/loss": math.nan})
    log.close()
    lines = records.read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in lines] == [1, 2, 3]
    assert lines[0] == {"step": 1, "job": "a", "train/loss": 1.0}
    assert lines[2]["train/loss"] is None
    assert records.MetricsLog(tmp_path / "metrics.jsonl").lines == 3


def test_environment_records_versions_and_threads():
    env = records.environment()
    for key in ("deepkata", "python", "torch", "numpy", "git_commit", "platform", "torch_threads", "cpu_count"):
        assert key in env
    assert env["torch"] == torch.__version__


def test_checkpoint_roundtrip_restores_numpy_rng_and_nesting(tmp_path):
    rng = np.random.default_rng(3)
    rng.random(5)
    state = {
        "params": {"W": np.arange(6.0).reshape(2, 3), "mask": np.array([True, False])},
        "rng": rng.bit_generator.state,
        "history": [1, 2.5, None, "x", (np.float64(2.0), torch.ones(2))],
        "jobs": {},
    }
    checkpoint.save(tmp_path / "c.pt", state)
    back = checkpoint.load(tmp_path / "c.pt")
    np.testing.assert_array_equal(back["params"]["W"], state["params"]["W"])
    assert back["params"]["mask"].dtype == np.bool_
    assert back["history"][:4] == [1, 2.5, None, "x"]
    assert back["history"][4][0] == 2.0 and torch.equal(back["history"][4][1], torch.ones(2))
    restored = np.random.default_rng()
    restored.bit_generator.state = back["rng"]
    assert restored.random() == rng.random()


class Evil:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_checkpoint_load_never_runs_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, path)
    with pytest.raises(UserError, match="not a deepkata checkpoint"):
        checkpoint.load(path)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="junk.pt: not a deepkata checkpoint"):
        checkpoint.load(tmp_path / "junk.pt")


def test_benchmark_record_keeps_the_environment_of_the_start(tmp_path, capsys):
    from deepkata.core.benchmark import record

    env = records.environment() | {"git_commit": "abc123"}
    path = record("demo", {"ratio": 2.5}, env=env, out_dir=tmp_path)
    data = json.loads(path.read_text())
    assert data["git_commit"] == "abc123"
    assert data["results"] == {"ratio": 2.5}
    assert data["machine"]["torch"] == torch.__version__ and "argv" not in data["machine"]
    assert data["command"] and data["date_utc"]
    assert json.loads(capsys.readouterr().out)["benchmark"] == "demo"


def test_git_commit_is_dirty_for_code_changes_but_not_for_benchmark_results(tmp_path):
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git is not installed")

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "src").mkdir()
    (tmp_path / "bench" / "results").mkdir(parents=True)
    (tmp_path / "src" / "code.py").write_text("x = 1\n")
    (tmp_path / "bench" / "results" / "r.json").write_text("{}\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert records.git_commit(tmp_path / "src") == head
    (tmp_path / "bench" / "results" / "r.json").write_text('{"a": 1}\n')
    assert records.git_commit(tmp_path / "src") == head
    (tmp_path / "src" / "code.py").write_text("x = 2\n")
    assert records.git_commit(tmp_path / "src") == head + "+dirty"
