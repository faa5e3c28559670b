from __future__ import annotations

import json

import pytest

from deepkata.core import records, runner
from deepkata.core.errors import UserError
from deepkata.core.report import to_html


def run_toy(kata, tmp_path, preset="smoke", sets=(), seed=0, **kwargs):
    cfg, overrides = runner.prepare(kata, preset, list(sets))
    return runner.execute(kata, cfg, preset=preset, seed=seed, root=tmp_path, overrides=overrides, quiet=True, **kwargs)


def test_a_run_leaves_a_complete_record(toy_kata, tmp_path):
    res = run_toy(toy_kata, tmp_path)
    files = {p.name for p in res.dir.iterdir()}
    assert {"config.json", "env.json", "metrics.jsonl", "result.json", "report.md", "report.html"} <= files
    assert "checkpoint.pt" not in files  # removed once the run is complete
    assert res.dir.parent == tmp_path / "toy" and res.dir.name.endswith("-s0")

    config = json.loads((res.dir / "config.json").read_text())
    assert config == {
        "kata": "toy", "preset": "smoke", "seed": 0, "overrides": {}, "data": None, "threads": None, "device": "cpu",
        "precision": "fp32", "world_size": 1, "config": {"steps": 5, "rate": 0.5, "mode": "ok"},
    }  # fmt: skip
    result = json.loads((res.dir / "result.json").read_text())
    assert result["status"] == "completed"
    assert result["metrics"]["train/total"] == 2.5
    assert result["metrics"]["eval/nan"] is None
    assert [e["met"] for e in result["expectations"]] == [False, True, False]
    assert result["expectations_met"] == "1/3"
    assert result["wall_time_s"] > 0
    metrics = records.read_metrics(res.dir / "metrics.jsonl")
    assert [m["step"] for m in metrics] == [1, 2, 3, 4, 5]
    assert metrics[-1]["train/total"] == 2.5

    report = (res.dir / "report.md").read_text()
    assert "Toy summary." in report
    assert "## Expectations (1/3 met)" in report
    assert "**not met** | total reaches 10 | train/total >= 10 | 2.5" in report
    page = (res.dir / "report.html").read_text()
    assert "<table>" in page and '<td class="unmet">not met</td>' in page and '<td class="met">met</td>' in page
    assert not any(0x2600 <= ord(c) <= 0x27BF or ord(c) >= 0x1F300 for c in page)  # no emoji: boxes without the font


def test_angle_brackets_in_a_report_are_shown_not_taken_for_tags():
    page = to_html("| model | test <unk> beam |\n|---|---|\n| GRU | 37 |\n\nthe <b>tag</b> stays text", title="t")
    assert "<th>test &lt;unk&gt; beam</th>" in page and "&lt;b&gt;tag&lt;/b&gt;" in page


def test_overrides_are_recorded_and_reported(toy_kata, tmp_path):
    res = run_toy(toy_kata, tmp_path, preset="default", sets=["steps=3", "rate=4"])
    assert res.result["overrides"] == {"steps": 3, "rate": 4.0}
    assert res.result["metrics"]["train/total"] == 12.0
    assert "Config differs from preset `default` in:** steps=3, rate=4" in (res.dir / "report.md").read_text()


def test_same_seed_same_metrics_other_seed_other_metrics(toy_kata, tmp_path):
    a = run_toy(toy_kata, tmp_path, seed=1).result["metrics"]
    b = run_toy(toy_kata, tmp_path, seed=1).result["metrics"]
    c = run_toy(toy_kata, tmp_path, seed=2).result["metrics"]
    assert a == b
    assert a["eval/draw_sum"] != c["eval/draw_sum"]


def test_a_crash_is_recorded_not_raised(toy_kata, tmp_path):
    res = run_toy(toy_kata, tmp_path, sets=["mode=crash"])
    assert res.status == "failed"
    assert res.error == "RuntimeError: toy crash"
    assert "toy crash" in (res.dir / "error.txt").read_text()
    assert json.loads((res.dir / "result.json").read_text())["status"] == "failed"
    assert res.result["expectations"] == []


def test_bad_input_leaves_nothing_behind(toy_kata, tmp_path):
    with pytest.raises(UserError, match="toy.csv: line 3"):
        run_toy(toy_kata, tmp_path, sets=["mode=bad-input"])
    assert list(tmp_path.iterdir()) == []  # not even the kata's folder that this run made
    (tmp_path / "toy" / "earlier-run").mkdir(parents=True)
    with pytest.raises(UserError, match="toy.csv: line 3"):
        run_toy(toy_kata, tmp_path / "toy" / "..", sets=["mode=bad-input"])
    assert [p.name for p in (tmp_path / "toy").iterdir()] == ["earlier-run"]  # what was there stays


def test_interrupt_then_resume_equals_an_uninterrupted_run(toy_kata, tmp_path):
    whole = run_toy(toy_kata, tmp_path / "whole", preset="default", sets=["steps=10"])
    with pytest.raises(runner.Interrupted) as e:
        run_toy(toy_kata, tmp_path / "cut", preset="default", sets=["steps=10", "mode=interrupt"], checkpoint_interval=0)
    cut = e.value.run_dir
    assert not (cut / "result.json").exists()
    assert (cut / "checkpoint.pt").exists()
    # the resumed run continues from the checkpoint at step 5; its mode no longer interrupts
    config = json.loads((cut / "config.json").read_text())
    config["config"]["mode"] = "ok"
    records.write_json(cut / "config.json", config)
    resumed = runner.resume(cut, quiet=True)
    assert resumed.result["resumed"] is True
    assert resumed.result["metrics"] == whole.result["metrics"]
    steps = [m["step"] for m in records.read_metrics(cut / "metrics.jsonl")]
    assert steps == list(range(1, 11))  # each step logged once
    # finish() takes a finished run as it is
    assert runner.finish(cut) == (cut, json.loads((cut / "result.json").read_text()))


def test_finish_resumes_an_interrupted_run(toy_kata, tmp_path):
    with pytest.raises(runner.Interrupted) as e:
        run_toy(toy_kata, tmp_path, preset="default", sets=["steps=10", "mode=interrupt"], checkpoint_interval=0)
    cut = e.value.run_dir
    config = json.loads((cut / "config.json").read_text())
    config["config"]["mode"] = "ok"
    records.write_json(cut / "config.json", config)
    run_dir, result = runner.finish(cut, quiet=True)
    assert run_dir == cut and result["resumed"] is True and (cut / "result.json").is_file()


def test_resume_refuses_finished_or_foreign_folders(toy_kata, tmp_path):
    done = run_toy(toy_kata, tmp_path)
    with pytest.raises(UserError, match="already finished"):
        runner.resume(done.dir)
    with pytest.raises(UserError, match="not a run folder"):
        runner.resume(tmp_path)


def test_data_goes_only_to_katas_that_take_it(toy_kata, tmp_path):
    import dataclasses

    from deepkata.core.registry import register, unregister

    with pytest.raises(UserError, match="toy takes no --data: its data is generated"):
        run_toy(toy_kata, tmp_path, data=tmp_path)
    reader = dataclasses.replace(toy_kata, name="toy-reader", takes_data=True)
    register(reader)
    try:
        with pytest.raises(UserError, match="--data .*nope.csv: no such file or folder"):
            run_toy(reader, tmp_path, data=tmp_path / "nope.csv")
        (tmp_path / "prices.csv").write_text("x")
        res = run_toy(reader, tmp_path, data=tmp_path / "prices.csv")
        assert json.loads((res.dir / "config.json").read_text())["data"] == str((tmp_path / "prices.csv").resolve())
        assert res.result["data"] == str((tmp_path / "prices.csv").resolve())
    finally:
        unregister("toy-reader")


def test_a_run_s_thread_count_ends_with_the_run(toy_kata, tmp_path):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        res = run_toy(toy_kata, tmp_path, threads=1)
        assert json.loads((res.dir / "config.json").read_text())["threads"] == 1
        assert torch.get_num_threads() == 3  # the next kata of a tour does not inherit this one's 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_run_folder_files_follow_the_umask(toy_kata, tmp_path, umask, mode):
    import os
    import stat

    old = os.umask(umask)
    try:
        res = run_toy(toy_kata, tmp_path)
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in res.dir.iterdir() if p.is_file()}
    assert modes and set(modes.values()) == {mode}, modes  # not mkstemp's 0600 for every umask
    assert stat.S_IMODE(res.dir.stat().st_mode) == 0o777 & ~umask


def test_observations_end_the_report_and_count_in_the_metrics(tmp_path):
    from deepkata.core.registry import Expectation, Kata, Observation, Outcome, register, unregister
    from tests.conftest import ToyConfig

    seen = [
        Observation("OR", "seed 1 fails 1 of the 4 cases", "1 of 4", "accuracy 3/4 at seed 1", "3/4 (seed 1)", True),
        Observation("XOR", "the error grows", "—", "final loss XOR > AND", "0.69 > 0.35", False),
        Observation("OR", "never learns", "—", "needs the full preset", "—", None),
    ]
    kata = Kata(
        name="observing", topic="test", section="none", description="observations", config=ToyConfig,
        run=lambda cfg, run: Outcome({"train/x": 1.0}, "Summary.", observations=seen),
        presets={"smoke": {}, "default": {}, "full": {}},
        expectations=(Expectation("most observations reproduce", "observations/reproduced", ">=", 1),),
    )  # fmt: skip
    register(kata)
    try:
        res = run_toy(kata, tmp_path)
    finally:
        unregister(kata.name)
    result = json.loads((res.dir / "result.json").read_text())
    assert result["metrics"]["observations/reproduced"] == 1 and result["metrics"]["observations/checked"] == 2
    assert result["expectations"][0]["met"] and [o["reproduced"] for o in result["observations"]] == [True, False, None]
    report = (res.dir / "report.md").read_text()
    last = report.rstrip().split("\n## ")[-1]
    assert last.startswith("The notes' observations (1 of 2 reproduced)")
    assert "| OR | seed 1 fails 1 of the 4 cases | 1 of 4 | accuracy 3/4 at seed 1 | 3/4 (seed 1) | **yes** |" in last
    assert "| **no** |" in last and "| not judged |" in last
    assert '<td class="unmet">no</td>' in (res.dir / "report.html").read_text()
