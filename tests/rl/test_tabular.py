"""Tabular agents: each update is the textbook's, checked by hand, and they find Q* where they should."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from deepkata.rl.action_selection import epsilon_greedy_probs
from deepkata.rl.dynamic_programming import TabularModel, value_iteration
from deepkata.rl.envs import ROOMS_ID, TASKS
from deepkata.rl.tabular import (
    ALGORITHMS,
    AgentSettings,
    ExpectedSarsa,
    MonteCarloControl,
    QLearning,
    Sarsa,
    evaluate_policy,
    make_agent,
    run_episode,
)

ALPHA, GAMMA = 0.5, 0.9


def agent_with_q(cls, q, epsilon=0.0, **kwargs):
    agent = cls(q.shape[0], q.shape[1], AgentSettings(alpha=ALPHA, gamma=GAMMA, epsilon=epsilon, **kwargs), np.random.default_rng(0))
    agent.q[:] = q
    return agent


Q0 = np.array([[1.0, 0.0], [2.0, 5.0], [-1.0, 3.0]])


def test_q_learning_bootstraps_from_the_best_next_action():
    agent = agent_with_q(QLearning, Q0)
    assert agent.start(0) == 0  # greedy
    agent.step(r=1.0, s=1)
    # Q(0, 0) <- 1 + 0.5 [1 + 0.9 max(2, 5) - 1]
    assert agent.q[0, 0] == pytest.approx(1 + ALPHA * (1 + GAMMA * 5 - 1))


def test_sarsa_bootstraps_from_the_action_it_will_take():
    agent = agent_with_q(Sarsa, Q0, epsilon=1.0)  # random moves, so A' is often not the greedy one
    seen = set()
    for _ in range(50):
        agent.q[:] = Q0
        agent.start(0)
        a0 = agent._a
        a_next = agent.step(r=1.0, s=2)
        # Q(0, A) <- Q(0, A) + 0.5 [1 + 0.9 Q(2, A') - Q(0, A)]
        assert agent.q[0, a0] == pytest.approx(Q0[0, a0] + ALPHA * (1 + GAMMA * Q0[2, a_next] - Q0[0, a0]))
        seen.add(a_next)
    assert seen == {0, 1}


def test_expected_sarsa_bootstraps_from_the_policy_average():
    agent = agent_with_q(ExpectedSarsa, Q0, epsilon=0.2)
    agent.q[:] = Q0
    agent._s, agent._a = 0, 1
    agent.step(r=0.0, s=1)
    expected_next = epsilon_greedy_probs(Q0[1], 0.2) @ Q0[1]  # 0.1 * 2 + 0.9 * 5
    assert expected_next == pytest.approx(0.1 * 2 + 0.9 * 5)
    assert agent.q[0, 1] == pytest.approx(0 + ALPHA * (GAMMA * expected_next - 0))


def test_terminal_steps_do_not_bootstrap_but_time_limits_do():
    agent = agent_with_q(QLearning, Q0)
    agent.start(0)
    agent.end(r=2.0, s=1, terminated=True)
    assert agent.q[0, 0] == pytest.approx(1 + ALPHA * (2 - 1))
    agent.q[:] = Q0
    agent.start(0)
    agent.end(r=2.0, s=1, terminated=False)  # cut by a time limit: s = 1 still has value max(2, 5)
    assert agent.q[0, 0] == pytest.approx(1 + ALPHA * (2 + GAMMA * 5 - 1))


def test_decaying_step_size_is_alpha_over_n_to_the_omega():
    agent = agent_with_q(QLearning, np.zeros((2, 1)), alpha_decay=0.5)
    targets = [4.0, 8.0, 2.0]
    q = 0.0
    for n, r in enumerate(targets, start=1):
        agent.start(0)
        agent.end(r=r, s=1, terminated=True)
        q += ALPHA / n**0.5 * (r - q)
        assert agent.q[0, 0] == pytest.approx(q)
    assert agent.updates[0, 0] == 3


def test_monte_carlo_averages_first_visit_returns():
    agent = agent_with_q(MonteCarloControl, np.array([[0.5, 0.0]] * 3))  # greedy: action 0 everywhere
    # episode: (s0,a0) r=1 -> (s1,a0) r=0 -> (s0,a0) r=2 -> terminal; gamma 0.9
    agent.start(0)
    agent.step(1.0, 1)
    agent.step(0.0, 0)
    agent.end(2.0, 2, terminated=True)
    first_return = 1 + GAMMA * 0 + GAMMA**2 * 2  # from the first visit of (0, 0) only
    assert agent.q[0, 0] == pytest.approx(first_return)
    assert agent.q[1, 0] == pytest.approx(0 + GAMMA * 2)
    assert agent.visits[0, 0] == 1 and agent.visits[1, 0] == 1
    # a second episode with return 3 from (0, 0): the average of the two
    agent.start(0)
    agent.end(3.0, 2, terminated=True)
    assert agent.q[0, 0] == pytest.approx((first_return + 3) / 2)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_an_agent_restored_between_episodes_continues_with_the_same_draws(algorithm):
    """The table, the counts and both generators (agent's and environment's) are the whole state between episodes."""

    def fresh():
        env = TASKS[ROOMS_ID].make()
        env.reset(seed=3)
        settings = AgentSettings(alpha=0.5, alpha_decay=0.6, gamma=0.9, epsilon=0.3)
        return env, make_agent(algorithm, 9, 9, settings, np.random.default_rng(1))

    env, agent = fresh()
    whole = [run_episode(env, agent, {8}).ret for _ in range(12)]
    env, first = fresh()
    head = [run_episode(env, first, {8}).ret for _ in range(6)]
    saved, env_rng = first.state_dict(), env.np_random.bit_generator.state
    env, second = fresh()  # a new process: new objects, their state loaded
    second.load_state_dict(saved)
    env.np_random.bit_generator.state = env_rng
    tail = [run_episode(env, second, {8}).ret for _ in range(6)]
    assert head + tail == whole
    assert np.array_equal(second.q, agent.q) and second.state_dict().keys() == agent.state_dict().keys()
    counts = "visits" if algorithm == "monte-carlo" else "updates"
    assert np.array_equal(getattr(second, counts), getattr(agent, counts)) and getattr(agent, counts).sum() > 0


def test_settings_outside_zero_one_are_refused():
    for bad in ({"epsilon": 1.5}, {"gamma": -0.1}, {"alpha": 2.0}, {"alpha_decay": 1.1}):
        with pytest.raises(ValueError, match="must lie in"):
            AgentSettings(**bad)


def test_q_learning_from_random_moves_finds_q_star_of_the_rooms():
    task = TASKS[ROOMS_ID]
    env = task.make()
    env.reset(seed=0)
    model = TabularModel.from_env(env, task.goal_states)
    optimum = value_iteration(model, 0.9)
    # the notes' exercise: random moves (epsilon = 1), full updates (alpha = 1) in a deterministic world
    agent = make_agent("q-learning", 9, 9, AgentSettings(alpha=1.0, gamma=0.9, epsilon=1.0), np.random.default_rng(1))
    for _ in range(200):
        run_episode(env, agent, task.goal_states)
    acting = model.acting_states()
    assert np.abs(agent.q - optimum.q)[acting].max() < 1e-9


def test_run_episode_and_evaluate_report_returns_and_success():
    task = TASKS["CliffWalking-v1"]
    env = gym.make("CliffWalking-v1", max_episode_steps=200)
    env.reset(seed=0)
    optimal = value_iteration(TabularModel.from_env(env, task.goal_states), 1.0).policy.argmax(axis=1)
    returns, successes = evaluate_policy(env, optimal, 3, task.goal_states)
    assert list(returns) == [-13, -13, -13] and successes.all()
    up = np.zeros(48, dtype=int)
    returns, successes = evaluate_policy(env, up, 2, task.goal_states)
    assert list(returns) == [-200, -200] and not successes.any()  # cut by the time limit: no success
    agent = make_agent("sarsa", 48, 4, AgentSettings(), np.random.default_rng(0))
    episode = run_episode(env, agent, task.goal_states)
    assert episode.length <= 200 and episode.ret <= -13
