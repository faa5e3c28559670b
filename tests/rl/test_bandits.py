"""The 10-armed testbed: sample averages are exact averages, and the agents behave as §2.3 says."""

from __future__ import annotations

import numpy as np
import pytest

from deepkata.rl import bandits
from deepkata.rl.bandits import BanditAgent, simulate


@pytest.fixture(scope="module")
def testbed():
    return bandits.Testbed.generate(400, 10, np.random.default_rng(0))


def test_testbed_values_are_standard_normal():
    tb = bandits.Testbed.generate(5000, 10, np.random.default_rng(1))
    assert tb.q_star.mean() == pytest.approx(0, abs=0.01) and tb.q_star.std() == pytest.approx(1, abs=0.01)
    assert (tb.q_star[np.arange(5000), tb.optimal_arm] == tb.q_star.max(axis=1)).all()


@pytest.mark.parametrize("agent", [BanditAgent("greedy"), BanditAgent("epsilon-greedy", 0.1), BanditAgent("softmax", 0.3), BanditAgent("ucb", 2.0)])
def test_estimates_are_the_sample_averages_of_the_rewards_received(testbed, agent):
    res = simulate(agent, testbed, 200, np.random.default_rng(2))
    assert res.rewards.shape == (200, 400) and res.optimal.shape == (200, 400)
    assert (res.counts.sum(axis=1) == 200).all()
    # with Q1 = 0 the first update overwrites the prior, so Q(a) is the mean reward of arm a and
    # sum_a N(a) Q(a) is every reward the run received
    assert (res.counts * res.estimates).sum(axis=1) == pytest.approx(res.rewards.sum(axis=0))
    assert (res.estimates[res.counts == 0] == 0).all()


def test_rewards_are_drawn_around_the_true_values(testbed):
    res = simulate(BanditAgent("epsilon-greedy", 1.0), testbed, 400, np.random.default_rng(3))
    # a uniformly random agent: reward mean = mean q*, noise variance 1, optimal arm 1/K of the time
    assert res.rewards.mean() == pytest.approx(testbed.q_star.mean(), abs=0.03)
    assert res.optimal.mean() == pytest.approx(0.1, abs=0.01)
    noise = res.rewards.var() - testbed.q_star.var()
    assert noise == pytest.approx(1.0, abs=0.05)


def test_ucb_and_optimistic_values_try_every_arm_first(testbed):
    ucb = simulate(BanditAgent("ucb", 2.0), testbed, 10, np.random.default_rng(4))
    assert (ucb.counts == 1).all()
    optimistic = simulate(BanditAgent("greedy", initial=10.0), testbed, 10, np.random.default_rng(4))
    assert (optimistic.counts == 1).all()  # every real reward disappoints the Q1 = 10 of the untried arms


def test_greedy_stalls_and_exploration_pays_as_in_figure_2_2(testbed):
    greedy = simulate(BanditAgent("greedy"), testbed, 500, np.random.default_rng(5))
    eps = simulate(BanditAgent("epsilon-greedy", 0.1), testbed, 500, np.random.default_rng(5))
    assert greedy.optimal[-100:].mean() == pytest.approx(1 / 3, abs=0.08)
    assert eps.optimal[-100:].mean() > greedy.optimal[-100:].mean() + 0.25
    assert eps.rewards[-100:].mean() > greedy.rewards[-100:].mean() + 0.15


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="epsilon"):
        BanditAgent("epsilon-greedy", 1.5)
    with pytest.raises(ValueError, match="softmax"):
        BanditAgent("softmax", 0.0)
