"""The three RL katas through the runner and the command line: records, resumes, bad input."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from deepkata.core import records, runner
from deepkata.rl import bandits
from deepkata.rl.bandits import BanditAgent, simulate
from deepkata.rl.katas.bandit import STUDY
from deepkata.rl.katas.policy_gradient import EVAL_SEED
from deepkata.rl.policy_gradient import Evaluator, PGSettings, Trainer, torch_threads, train_until_solved
from tests.conftest import resume_run, run_kata


def interrupted_then_resumed(tmp_path, kata, sets, preset="smoke"):
    """Run ``kata`` checkpointing after every step until the armed interruption, then resume it."""
    with pytest.raises(runner.Interrupted) as e:
        run_kata(kata, tmp_path / "cut", preset=preset, sets=sets, checkpoint_interval=0)
    assert not (e.value.run_dir / "result.json").exists()
    return resume_run(e.value.run_dir)


def assert_same_record(a, b):
    assert a.status == b.status == "completed"
    assert a.result["metrics"] == b.result["metrics"]
    assert records.read_metrics(a.dir / "metrics.jsonl") == records.read_metrics(b.dir / "metrics.jsonl")


# --- bandit ------------------------------------------------------------------------------------------

AGENTS = {  # the default agents, in the kata's order
    "greedy": BanditAgent("greedy"),
    "eps0.01": BanditAgent("epsilon-greedy", 0.01),
    "eps0.1": BanditAgent("epsilon-greedy", 0.1),
    "softmax0.1": BanditAgent("softmax", 0.1),
    "softmax0.25": BanditAgent("softmax", 0.25),
    "softmax1": BanditAgent("softmax", 1.0),
    "ucb2": BanditAgent("ucb", 2.0),
}


def test_bandit_metrics_are_the_simulations_of_its_agents(tmp_path):
    """Every agent plays the seed's testbed with the stream [seed, i + 1], i its place in the list."""
    res = run_kata("bandit", tmp_path, sets=["runs=200", "steps=200", "tail=20", "study=true"], seed=7)
    m = res.result["metrics"]
    assert res.status == "completed"
    testbed = bandits.Testbed.generate(200, 10, np.random.default_rng(7))
    assert m["testbed/best_mean"] == float(testbed.q_star.max(axis=1).mean())
    for i, (key, agent) in enumerate(AGENTS.items()):
        played = simulate(agent, testbed, 200, np.random.default_rng([7, i + 1]))
        reward, optimal = played.rewards.mean(axis=1), played.optimal.mean(axis=1)
        assert m[f"{key}/reward_mean"] == float(reward.mean())
        assert (m[f"{key}/reward_tail"], m[f"{key}/optimal_tail"]) == (float(reward[-20:].mean()), float(optimal[-20:].mean()))
    assert m["softmax1/reward_mean"] < m["softmax0.25/reward_mean"]  # too hot is close to random
    # the study's agents come after the seven, kind by kind; each kind's best average reward
    index = len(AGENTS)
    for kind, params in STUDY.items():
        scores = []
        for p in params:
            agent = BanditAgent("greedy", initial=p) if kind == "optimistic" else BanditAgent(kind, p)
            index += 1
            scores.append(float(simulate(agent, testbed, 200, np.random.default_rng([7, index])).rewards.mean(axis=1).mean()))
        assert m[f"study/{kind}/best"] == max(scores)
    assert {"figure_2_2.png", "parameter_study.png"} <= set(res.result["figures"])
    with open(res.dir / "agents.csv") as f:
        assert [r["metric prefix"] for r in csv.DictReader(f)] == list(AGENTS)
    logged = records.read_metrics(res.dir / "metrics.jsonl")
    assert [(line["step"], line["agent"]) for line in logged[:3]] == [(0, "greedy"), (1, "eps0.01"), (2, "eps0.1")]
    assert logged[0]["train/reward_mean"] == m["greedy/reward_mean"]


def test_bandit_same_seed_same_numbers(tmp_path):
    sets = ["runs=100", "steps=100", "tail=10"]
    a, b, c = (run_kata("bandit", tmp_path, sets=sets, seed=s) for s in (3, 3, 4))
    assert a.result["metrics"] == b.result["metrics"] != c.result["metrics"]


@pytest.mark.parametrize("checkpoint", [1, 2], ids=["after-the-first-agent", "after-the-second-agent"])
def test_bandit_resumes_to_the_same_record(tmp_path, interrupt_at_checkpoint, checkpoint):
    sets = ["runs=50", "steps=50", "tail=10"]
    whole = run_kata("bandit", tmp_path / "whole", sets=sets)
    interrupt_at_checkpoint(checkpoint)
    assert_same_record(interrupted_then_resumed(tmp_path, "bandit", sets), whole)


# --- tabular -----------------------------------------------------------------------------------------


def test_tabular_rooms_learns_q_star_and_draws_the_policies(tmp_path):
    res = run_kata("tabular", tmp_path, preset="rooms", sets=["runs=2", "episodes=120"])
    m = res.result["metrics"]
    assert res.status == "completed"
    assert m["q-learning/q_error_max"] < 1e-9 and m["q-learning/optimal_actions"] == 1.0
    assert m["optimal/v_start"] == pytest.approx((75.61 + 69.049 + 75.61 + 82.9 + 91 + 82.9 + 91 + 100) / 8)
    assert m["monte-carlo/greedy_success"] == 1.0
    assert {"learning_curves.png", "q_error.png", "policies.png"} <= set(res.result["figures"])
    with open(res.dir / "algorithms.csv") as f:
        rows = {r["policy"]: r for r in csv.DictReader(f)}
    assert list(rows) == ["q-learning", "sarsa", "monte-carlo", "value iteration (optimal)"]
    assert float(rows["value iteration (optimal)"]["greedy return (exact)"]) == m["optimal/return_exact"]
    assert float(rows["sarsa"]["greedy success"]) == m["sarsa/greedy_success"]
    logged = records.read_metrics(res.dir / "metrics.jsonl")
    jobs = [(line["step"], line["algorithm"], line["run"]) for line in logged if "eval/success" in line]
    assert jobs == [(0, "q-learning", 0), (1, "q-learning", 1), (2, "sarsa", 0), (3, "sarsa", 1), (4, "monte-carlo", 0), (5, "monte-carlo", 1)]
    assert np.mean([line["eval/success"] for line in logged if line.get("algorithm") == "sarsa"]) == m["sarsa/greedy_success"]
    assert sum("curve/q-learning/return" in line for line in logged) == 120


@pytest.mark.parametrize("algorithm", ["sarsa", "q-learning", "expected-sarsa", "monte-carlo"])
def test_tabular_resumes_mid_run_to_the_same_record(tmp_path, interrupt_at_checkpoint, algorithm):
    sets = ["env=deepkata/NineRooms-v0", f"algorithms={algorithm}", "runs=2", "episodes=60", "tail=20", "eval_episodes=2"]
    whole = run_kata("tabular", tmp_path / "whole", preset="default", sets=sets)
    interrupt_at_checkpoint(4)  # taken after episode 40 of run 0 (one per 10 episodes): the run continues from there
    assert_same_record(interrupted_then_resumed(tmp_path, "tabular", sets, preset="default"), whole)


# --- policy gradient ---------------------------------------------------------------------------------

PG_TINY = ["seeds=2", "budget=1200", "eval_every=600", "eval_episodes=3", "agent.num_envs=4", "agent.rollout=10", "smooth=3"]


def test_policy_gradient_records_what_the_trainer_gives(tmp_path):
    """Each (algorithm, seed) is the library's Trainer with the kata's nested agent settings."""
    res = run_kata("policy-gradient", tmp_path, preset="default", sets=PG_TINY)
    m = res.result["metrics"]
    assert res.status == "completed"
    logged = records.read_metrics(res.dir / "metrics.jsonl")
    for alg in ("reinforce", "actor-critic"):
        recs = []
        for seed in (0, 1):
            with torch_threads(1):
                trainer = Trainer(PGSettings(num_envs=4, rollout=10), algorithm=alg, env_id="CartPole-v1", seed=seed)
                rec = train_until_solved(trainer, Evaluator("CartPole-v1", 3, EVAL_SEED), budget=1200, eval_every=600, target=475.0)
            mine = [line for line in logged if (line["algorithm"], line["seed"]) == (alg, seed)]
            assert [(line["step"], line["eval/greedy_return"]) for line in mine if "eval/greedy_return" in line] == rec.evaluations
            recs.append(rec)
        assert m[f"{alg}/solved_seeds"] == 0  # 1,200 steps are far too few
        assert m[f"{alg}/final_greedy_return"] == float(np.mean([r.evaluations[-1][1] for r in recs]))
        assert m[f"{alg}/used_step_fraction"] == sum(r.used_steps for r in recs) / sum(r.env_steps for r in recs)
    assert m["actor-critic/used_step_fraction"] == 1.0 and m["reinforce/used_step_fraction"] < 1.0  # REINFORCE waits for whole episodes
    assert set(res.result["timings"]) == {"reinforce/env_steps_per_s", "actor-critic/env_steps_per_s"}
    with open(res.dir / "seeds.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["algorithm"], r["seed"]) for r in rows] == [("reinforce", "0"), ("reinforce", "1"), ("actor-critic", "0"), ("actor-critic", "1")]


def test_policy_gradient_interrupted_mid_seed_trains_that_seed_again(tmp_path, monkeypatch):
    """A Task is not saved midway: Ctrl-C in the second seed resumes from the checkpoint after the first."""
    sets = [*PG_TINY, "algorithms=actor-critic"]
    whole = run_kata("policy-gradient", tmp_path / "whole", preset="default", sets=sets)
    update, calls = Trainer.update, {"n": 0}

    def update_then_die(self):
        calls["n"] += 1
        if calls["n"] == 40:  # the 10th of the second seed's 30 updates
            monkeypatch.setattr(Trainer, "update", update)
            raise KeyboardInterrupt
        return update(self)

    monkeypatch.setattr(Trainer, "update", update_then_die)
    assert_same_record(interrupted_then_resumed(tmp_path, "policy-gradient", sets, preset="default"), whole)


def test_policy_gradient_divergence_is_reported(tmp_path):
    res = run_kata("policy-gradient", tmp_path, sets=["agent.policy_lr=1e30", "agent.value_lr=1e30", "algorithms=reinforce", "agent.num_envs=2"])
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
        (["policy-gradient", "--set", "agent.gamma=1.2"], "agent.gamma must be >= 0, <= 1, got 1.2"),
        (["policy-gradient", "--set", "gamma=0.9"], "unknown config key 'gamma'"),
        (["policy-gradient", "--set", "algorithms=ppo"], "unknown value for algorithms 'ppo' (valid: actor-critic, reinforce)"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line_and_writes_nothing(cli, tmp_path, args, message):
    code, _, err = cli("run", *args, "--out", str(tmp_path))
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_frozenlake_preset_meets_the_issue_target(tmp_path):
    res = run_kata("tabular", tmp_path, preset="frozenlake")
    assert all(e["met"] for e in res.result["expectations"]), res.result["expectations"]


@pytest.mark.slow
@pytest.mark.parametrize("kata, preset", [("bandit", "full"), ("tabular", "default"), ("tabular", "taxi"), ("policy-gradient", "default")])
def test_presets_meet_their_expectations(tmp_path, kata, preset):
    res = run_kata(kata, tmp_path, preset=preset)
    assert all(e["met"] for e in res.result["expectations"]), res.result["expectations"]


def test_policy_gradient_curves_average_the_episodes_that_end_on_one_step():
    from deepkata.rl.katas.policy_gradient import _mean_by_step

    episodes = np.array([[20, 5.0], [10, 1.0], [10, 3.0], [30, 9.0], [10, 2.0]])
    steps, returns = _mean_by_step(episodes)
    assert steps.tolist() == [10, 20, 30] and returns.tolist() == [2.0, 5.0, 9.0]  # one point per step, no whiskers
