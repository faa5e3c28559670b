"""The Go topic's katas; importing this module registers them."""

from deepkata.go.katas import go_mcts  # noqa: F401
