"""Value and policy iteration: two algorithms, one answer, and the textbook's and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from deepkata.rl.dynamic_programming import (
    TabularModel,
    backup,
    finite_horizon_value,
    greedy,
    policy_evaluation,
    policy_iteration,
    value_iteration,
)
from deepkata.rl.envs import ROOMS_ID, TASKS
from deepkata.rl.tabular import evaluate_policy


def model_of(env_id: str) -> TabularModel:
    task = TASKS[env_id]
    return TabularModel.from_env(task.make(), task.goal_states)


@pytest.fixture(scope="module", params=list(TASKS))
def task_model(request):
    return request.param, model_of(request.param)


def test_model_probabilities_add_up(task_model):
    env_id, m = task_model
    # each (s, a) either goes on to some s' or ends the episode
    ends = 1 - m.cont.sum(axis=2)
    assert (ends > -1e-12).all() and (ends < 1 + 1e-12).all()
    assert (m.success <= ends + 1e-12).all()
    assert m.initial.sum() == pytest.approx(1.0)


def test_value_and_policy_iteration_agree_and_satisfy_bellman_optimality(task_model):
    env_id, m = task_model
    gamma = TASKS[env_id].gamma
    vi, pi = value_iteration(m, gamma), policy_iteration(m, gamma)
    assert np.abs(vi.v - pi.v).max() < 1e-8
    # V*(s) = max_a [r(s, a) + gamma sum_s' C(s, a, s') V*(s')]
    assert np.abs(backup(m, vi.v, gamma).max(axis=1) - vi.v).max() < 1e-9
    # both policies are greedy with respect to Q*, ties aside
    for policy in (vi.policy, pi.policy):
        chosen = (policy * vi.q).sum(axis=1)
        assert np.abs(chosen - vi.v).max() < 1e-8
    # and evaluating either one exactly gives V* back
    assert np.abs(policy_evaluation(m, pi.policy, gamma) - vi.v).max() < 1e-8


def test_known_optimal_values():
    lake = model_of("FrozenLake-v1")
    assert value_iteration(lake, 0.99).v[0] == pytest.approx(0.5420, abs=5e-5)  # 4x4 slippery, gamma 0.99
    cliff = model_of("CliffWalking-v1")
    assert value_iteration(cliff, 1.0).v[36] == -13.0  # the 13-step path along the cliff
    rooms = value_iteration(model_of(ROOMS_ID), 0.9).v
    # by hand: 7 -> 8 earns 100; 6 -> 7 -> 8: 1 + 0.9 * 100; 3 -> 6 -> 7 -> 8; 0 -> 3 -> 6 -> 7 -> 8
    assert rooms[[7, 6, 3, 0]] == pytest.approx([100, 91, 82.9, 75.61])
    # 4 -> 7 -> 8 and 5 -> 4 -> 7 -> 8; 2 -> 5 -> ...; 1 -> 2 -> ...
    assert rooms[[4, 5, 2, 1]] == pytest.approx([91, 82.9, 75.61, 69.049])


def test_policy_evaluation_solves_the_bellman_expectation_equation(task_model):
    env_id, m = task_model
    gamma = min(TASKS[env_id].gamma, 0.95)
    uniform = np.full((m.n_states, m.n_actions), 1 / m.n_actions)
    v = policy_evaluation(m, uniform, gamma)
    # v(s) = sum_a pi(a|s) [r(s, a) + gamma sum_s' C(s, a, s') v(s')]
    assert np.abs((uniform * backup(m, v, gamma)).sum(axis=1) - v).max() < 1e-8


def test_undiscounted_evaluation_refuses_a_policy_that_never_ends():
    cliff = model_of("CliffWalking-v1")
    up = np.zeros((cliff.n_states, cliff.n_actions))
    up[:, 0] = 1.0  # walking into the top wall forever
    with pytest.raises(ValueError, match="does not end every episode"):
        policy_evaluation(cliff, up, 1.0)


def test_finite_horizon_success_matches_simulation():
    task = TASKS["FrozenLake-v1"]
    m = model_of("FrozenLake-v1")
    optimal = value_iteration(m, 0.99).policy
    exact = finite_horizon_value(m, optimal, m.success, 100)
    assert exact == pytest.approx(0.7402, abs=5e-5)
    env = task.make()
    env.reset(seed=0)
    _, successes = evaluate_policy(env, optimal.argmax(axis=1), 2500, task.goal_states)
    assert abs(successes.mean() - exact) < 4 * np.sqrt(exact * (1 - exact) / 2500)
    # the step limit matters: 5 steps cannot reach the goal 6 moves away
    assert finite_horizon_value(m, optimal, m.success, 5) == 0.0


def test_acting_states_are_those_reachable_from_the_start():
    cliff = model_of("CliffWalking-v1")
    acting = cliff.acting_states()
    assert acting.sum() == 37 and acting[36] and not acting[37:].any()
    lake = model_of("FrozenLake-v1")
    # holes (5, 7, 11, 12) and the goal (15) are only ever entered by the step that ends the episode
    assert list(np.flatnonzero(~lake.acting_states())) == [5, 7, 11, 12, 15]
    assert (greedy(np.array([[1.0, 3.0, 3.0]])) == [[0, 1, 0]]).all()
