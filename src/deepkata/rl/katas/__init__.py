"""The reinforcement-learning katas: importing this package registers them."""

from deepkata.rl.katas import bandit, policy_gradient, tabular

__all__ = ["bandit", "policy_gradient", "tabular"]
