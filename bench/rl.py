"""CartPole-v1: our REINFORCE-with-baseline and actor-critic against stable-baselines3 PPO.

For each algorithm and seed, train until the greedy (deterministic) policy's mean return over
the same 100 evaluation episodes reaches 475 (``--evaluation sampled``: the policy sampling its
actions, as in training; written to ``rl-sampled.json``), evaluating every ``--eval-every`` environment
steps, or until ``--budget`` steps. It records the environment steps that took (a quality
figure: seeded, it does not depend on the machine) and the training environment steps per
second, evaluation excluded (a timing: compare the algorithms only within one run of this
script, on an otherwise idle machine). Every algorithm uses one torch thread.

PPO runs with stable-baselines3's default hyperparameters (``PPO("MlpPolicy", "CartPole-v1")``:
one environment, 2,048 steps per rollout, 10 epochs of minibatches of 64, Adam 3e-4, GAE 0.95,
clip 0.2, 64-64 tanh networks). stable-baselines3 is not a dependency of deepkata; install it
without its dependencies so that torch stays at the version you have::

    pip install --no-deps 'stable-baselines3>=2.3' && pip install cloudpickle

(stable-baselines3 2.x needs gymnasium, numpy, torch and cloudpickle, which deepkata already
brings; without it this script still runs ours and says PPO was skipped.)

    python bench/rl.py                                 # 5 seeds, writes bench/results/rl.json
    python bench/rl.py --seeds 100 101 102 --out /tmp  # validation seeds, used for tuning
    python bench/rl.py --evaluation sampled --budget 300000 --eval-every 10000
    python bench/rl.py --smoke --out /tmp/rl          # one seed, 600 steps (CI)
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import torch
from _shared import add_options, parse

from deepkata.core.benchmark import record
from deepkata.core.records import environment
from deepkata.rl.policy_gradient import Evaluator, PGSettings, Trainer, TrainingRecord, train_until_solved

ENV_ID = "CartPole-v1"
TARGET = 475.0
EVAL_SEED = 10_000  # evaluation episode i starts from reset(seed=EVAL_SEED + i), for every algorithm
SMOKE = {"seeds": [0], "budget": 600, "eval_every": 300, "eval_episodes": 2}  # the options' values under --smoke


def ours(algorithm: str, seed: int, args: argparse.Namespace) -> TrainingRecord:
    trainer = Trainer(PGSettings(), algorithm=algorithm, env_id=ENV_ID, seed=seed)  # type: ignore[arg-type]
    evaluate = Evaluator(ENV_ID, args.eval_episodes, EVAL_SEED)
    try:
        return train_until_solved(
            trainer, evaluate, budget=args.budget, eval_every=args.eval_every, target=TARGET, sampled=args.evaluation == "sampled"
        )
    finally:
        trainer.close()
        evaluate.close()


def sb3_ppo(seed: int, args: argparse.Namespace) -> TrainingRecord:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    evaluate = Evaluator(ENV_ID, args.eval_episodes, EVAL_SEED)
    rec = TrainingRecord()

    class SolveCallback(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.next_eval = args.eval_every
            self.eval_seconds = 0.0

        def _on_step(self) -> bool:
            if self.num_timesteps < self.next_eval:
                return True
            self.next_eval += args.eval_every
            start = time.perf_counter()
            deterministic = args.evaluation == "greedy"
            mean = float(evaluate(lambda obs: self.model.predict(obs, deterministic=deterministic)[0]).mean())
            self.eval_seconds += time.perf_counter() - start
            rec.evaluations.append((self.num_timesteps, mean))
            if mean >= TARGET:
                rec.solved_at = self.num_timesteps
                return False
            return True

    model = PPO("MlpPolicy", ENV_ID, seed=seed, device="cpu", verbose=0)
    callback = SolveCallback()
    start = time.perf_counter()
    model.learn(total_timesteps=args.budget, callback=callback)
    rec.train_seconds = time.perf_counter() - start - callback.eval_seconds
    rec.env_steps = rec.used_steps = int(model.num_timesteps)
    evaluate.close()
    return rec


def summarize(name: str, records: dict[int, TrainingRecord], budget: int) -> dict[str, Any]:
    solved = {s: r.solved_at for s, r in records.items() if r.solved_at is not None}
    steps = sorted(solved.values())
    return {
        "algorithm": name,
        "seeds": list(records),
        "solved": f"{len(solved)}/{len(records)}",
        "steps_to_475": {str(s): r.solved_at for s, r in records.items()},
        "steps_to_475_median": statistics.median(steps) if steps else None,
        "steps_to_475_max": max(steps) if steps else None,
        "budget": budget,
        "env_steps_per_s": round(sum(r.env_steps for r in records.values()) / sum(r.train_seconds for r in records.values()), 1),
        "used_step_fraction": round(sum(r.used_steps for r in records.values()) / sum(r.env_steps for r in records.values()), 3),
        "train_seconds": {str(s): round(r.train_seconds, 2) for s, r in records.items()},
        "evaluations": {str(s): r.evaluations for s, r in records.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--budget", type=int, default=150_000, help="environment steps per seed at most")
    parser.add_argument("--eval-every", type=int, default=5_000, help="environment steps between evaluations")
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument("--algorithms", nargs="+", default=["reinforce", "actor-critic", "sb3-ppo"])
    parser.add_argument("--evaluation", choices=["greedy", "sampled"], default="greedy", help="argmax pi (SB3's default) or sampled actions")
    add_options(parser)
    args = parse(parser, SMOKE)
    env = environment()
    torch.set_num_threads(1)

    results: dict[str, Any] = {
        "what": f"{ENV_ID}: environment steps until the {args.evaluation} policy's mean return over {args.eval_episodes} fixed "
        f"evaluation episodes reaches {TARGET:g} (quality, seeded), and training environment steps per second "
        "(timing, evaluation excluded, one torch thread)",
        "eval_every": args.eval_every,
        "algorithms": [],
    }
    for name in args.algorithms:
        if name == "sb3-ppo":
            try:
                import stable_baselines3
            except ImportError:
                results["algorithms"].append({"algorithm": name, "skipped": "stable-baselines3 is not installed (see this script's docstring)"})
                continue
            results["sb3_version"] = stable_baselines3.__version__
            records = {seed: sb3_ppo(seed, args) for seed in args.seeds}
        else:
            records = {seed: ours(name, seed, args) for seed in args.seeds}
        results["algorithms"].append(summarize(name, records, args.budget))
    by_name = {a["algorithm"]: a for a in results["algorithms"] if "skipped" not in a}
    if "sb3-ppo" in by_name:
        ppo = by_name["sb3-ppo"]["env_steps_per_s"]
        results["steps_per_s_over_ppo"] = {k: round(v["env_steps_per_s"] / ppo, 3) for k, v in by_name.items()}
    record("rl" if args.evaluation == "greedy" else "rl-sampled", results, env=env, out_dir=args.out)


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
