"""Reinforcement learning (Day 4, Section 1): bandits, tabular control and policy gradient.

Modules, in the order the curriculum (and Sutton & Barto, 2nd ed.) teaches them:

- :mod:`~deepkata.rl.action_selection` — greedy, epsilon-greedy, softmax with temperature, UCB;
- :mod:`~deepkata.rl.bandits` — the 10-armed testbed, vectorized over runs (S&B ch. 2);
- :mod:`~deepkata.rl.envs` — the notes' nine-room graph as a gymnasium environment, and the
  tabular tasks the katas offer;
- :mod:`~deepkata.rl.dynamic_programming` — value and policy iteration on a known model (ch. 4);
- :mod:`~deepkata.rl.tabular` — Q-learning, SARSA, Expected SARSA, Monte Carlo control (ch. 5-6);
- :mod:`~deepkata.rl.advantages` — discounted returns and generalized advantage estimation;
- :mod:`~deepkata.rl.policy_gradient` — REINFORCE with baseline and actor-critic (ch. 13).
"""
