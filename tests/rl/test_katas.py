"""The three RL katas through the runner and the command line: records, resumes, bad input."""

from __future__ import annotations

import csv

import pytest

from deepkata.cli import main
from deepkata.core import records, runner
from deepkata.core.registry import get_kata
from deepkata.core.runner import Run


def run(tmp_path, kata, preset="smoke", sets=(), seed=0, **kwargs):
    k = get_kata(kata)
    cfg, overrides = runner.prepare(k, preset, list(sets))
    return runner.execute(k, cfg, preset=preset, seed=seed, root=tmp_path, overrides=overrides, quiet=True, **kwargs)


def cli(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main(list(args))
        raise SystemExit(0)
    return e.value.code or 0, capsys.readouterr().err


def interrupted_then_resumed(tmp_path, monkeypatch, kata, sets, die_at):
    original = Run.save_checkpoint
    calls = {"n": 0}

    def save_then_maybe_die(self, state):
        original(self, state)
        calls["n"] += 1
        if calls["n"] == die_at:
            raise KeyboardInterrupt

    monkeypatch.setattr(Run, "save_checkpoint", save_then_maybe_die)
    with pytest.raises(runner.Interrupted) as e:
        run(tmp_path / "cut", kata, preset="default", sets=sets, checkpoint_interval=0)
    monkeypatch.setattr(Run, "save_checkpoint", original)
    assert not (e.value.run_dir / "result.json").exists()
    return runner.resume(e.value.run_dir, quiet=True)


# --- bandit ------------------------------------------------------------------------------------------


def test_bandit_records_figure_2_2_and_its_table(tmp_path):
    res = run(tmp_path, "bandit", sets=["runs=200", "steps=200", "tail=20", "study=true"])
    m = res.result["metrics"]
    assert res.status == "completed"
    for key in ("greedy", "eps0.01", "eps0.1", "softmax0.1", "softmax0.25", "softmax1", "ucb2"):
        assert 0 <= m[f"{key}/optimal_tail"] <= 1
    assert m["softmax1/reward_mean"] < m["softmax0.25/reward_mean"]  # too hot is close to random
    assert {"figure_2_2.png", "parameter_study.png"} <= set(res.result["figures"])
    with open(res.dir / "agents.csv") as f:
        assert [r["metric prefix"] for r in csv.DictReader(f)][:3] == ["greedy", "eps0.01", "eps0.1"]
    assert m["study/ucb/best"] > m["study/epsilon-greedy/best"] - 0.2


def test_bandit_same_seed_same_numbers(tmp_path):
    sets = ["runs=100", "steps=100", "tail=10"]
    a, b, c = (run(tmp_path, "bandit", sets=sets, seed=s) for s in (3, 3, 4))
    assert a.result["metrics"] == b.result["metrics"] != c.result["metrics"]


# --- tabular -----------------------------------------------------------------------------------------


def test_tabular_rooms_learns_q_star_and_draws_the_policies(tmp_path):
    res = run(tmp_path, "tabular", preset="rooms", sets=["runs=2", "episodes=120"])
    m = res.result["metrics"]
    assert res.status == "completed"
    assert m["q-learning/q_error_max"] < 1e-9 and m["q-learning/optimal_actions"] == 1.0
    assert m["optimal/v_start"] == pytest.approx((75.61 + 69.049 + 75.61 + 82.9 + 91 + 82.9 + 91 + 100) / 8)
    assert m["monte-carlo/greedy_success"] == 1.0
    assert {"learning_curves.png", "q_error.png", "policies.png"} <= set(res.result["figures"])
    report = (res.dir / "report.md").read_text()
    assert "| value iteration (optimal) |" in report
    logged = records.read_metrics(res.dir / "metrics.jsonl")
    assert sum("curve/q-learning/return" in line for line in logged) == 120


def test_tabular_resumes_to_the_same_result(tmp_path, monkeypatch):
    sets = ["env=deepkata/NineRooms-v0", "runs=3", "episodes=60", "tail=20", "eval_episodes=2"]
    whole = run(tmp_path / "whole", "tabular", preset="default", sets=sets)
    resumed = interrupted_then_resumed(tmp_path, monkeypatch, "tabular", sets, die_at=4)
    assert resumed.result["metrics"] == whole.result["metrics"]
    assert records.read_metrics(resumed.dir / "metrics.jsonl") == records.read_metrics(whole.dir / "metrics.jsonl")


# --- policy gradient ---------------------------------------------------------------------------------

PG_TINY = ["seeds=2", "budget=1200", "eval_every=600", "eval_episodes=3", "num_envs=4", "rollout=10", "smooth=3"]


def test_policy_gradient_records_both_algorithms(tmp_path):
    res = run(tmp_path, "policy-gradient", preset="default", sets=PG_TINY)
    m = res.result["metrics"]
    assert res.status == "completed"
    for alg in ("reinforce", "actor-critic"):
        assert m[f"{alg}/solved_seeds"] == 0  # 1,200 steps are far too few
        assert m[f"{alg}/final_greedy_return"] > 0
    assert m["actor-critic/used_step_fraction"] == 1.0 and 0 < m["reinforce/used_step_fraction"] <= 1.0
    with open(res.dir / "seeds.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["algorithm"], r["seed"]) for r in rows] == [("reinforce", "0"), ("reinforce", "1"), ("actor-critic", "0"), ("actor-critic", "1")]
    logged = records.read_metrics(res.dir / "metrics.jsonl")
    assert any("eval/greedy_return" in line for line in logged) and any("train/policy_loss" in line for line in logged)


def test_policy_gradient_resumes_to_the_same_result(tmp_path, monkeypatch):
    sets = [*PG_TINY, "algorithms=actor-critic"]
    whole = run(tmp_path / "whole", "policy-gradient", preset="default", sets=sets)
    resumed = interrupted_then_resumed(tmp_path, monkeypatch, "policy-gradient", sets, die_at=1)
    strip = {"actor-critic/env_steps_per_s"}  # a timing
    assert {k: v for k, v in resumed.result["metrics"].items() if k not in strip} == {
        k: v for k, v in whole.result["metrics"].items() if k not in strip
    }


def test_policy_gradient_divergence_is_reported(tmp_path):
    res = run(tmp_path, "policy-gradient", sets=["policy_lr=1e30", "value_lr=1e30", "algorithms=reinforce", "num_envs=2"])
    assert res.status == "completed"
    assert res.result["metrics"]["diverged_seeds"] == 1
    assert "diverged" in (res.dir / "report.md").read_text()


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["tabular", "--set", "env=FrozenLake-v2"], "unknown value for env 'FrozenLake-v2' (valid: CliffWalking-v1, FrozenLake-v1, Taxi-v4, deepkata/NineRooms-v0); did you mean 'FrozenLake-v1'?"),
        (["tabular", "--set", "env=Taxi-v3"], "did you mean 'Taxi-v4'?"),
        (["tabular", "--set", "epsilon=1.5"], "epsilon must be >= 0, <= 1, got 1.5"),
        (["tabular", "--set", "gamma=-0.1"], "gamma must be >= 0, <= 1, got -0.1"),
        (["tabular", "--set", "env=FrozenLake-v1", "--set", "gamma=1"], "gamma = 1: FrozenLake-v1"),
        (["tabular", "--set", "algorithms=q-learning,sarsa,q-learning"], "each algorithm once"),
        (["tabular", "--set", "algorithms=qlearning"], "did you mean 'q-learning'?"),
        (["bandit", "--set", "epsilons=0.1,2"], "epsilons must be >= 0, <= 1, got 2.0"),
        (["bandit", "--set", "temperatures=0"], "temperatures must be > 0"),
        (["policy-gradient", "--set", "env=CartPole-v0"], "did you mean 'CartPole-v1'?"),
        (["policy-gradient", "--set", "gamma=1.2"], "gamma must be >= 0, <= 1, got 1.2"),
        (["policy-gradient", "--set", "algorithms=ppo"], "unknown value for algorithms 'ppo' (valid: actor-critic, reinforce)"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(capsys, tmp_path, args, message):
    code, err = cli(capsys, "run", *args, "--out", str(tmp_path))
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_frozenlake_preset_meets_the_issue_target(tmp_path):
    res = run(tmp_path, "tabular", preset="frozenlake")
    assert all(e["met"] for e in res.result["expectations"]), res.result["expectations"]


@pytest.mark.slow
@pytest.mark.parametrize("kata, preset", [("bandit", "full"), ("tabular", "default"), ("tabular", "taxi"), ("policy-gradient", "default")])
def test_presets_meet_their_expectations(tmp_path, kata, preset):
    res = run(tmp_path, kata, preset=preset)
    assert all(e["met"] for e in res.result["expectations"]), res.result["expectations"]
