"""The Go topic's katas; importing this module registers them."""

from deepkata.go.katas import alphago_rl, alphago_rollout, alphago_sl, alphago_value, go_mcts  # noqa: F401
