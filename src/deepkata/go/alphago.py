"""AlphaGo's players: the raw policy network, and (to come) the search that combines the networks.

:class:`PolicyPlayer` plays the move its policy network rates most probable among the legal
ones, from the network's probabilities averaged over the eight board symmetries (``symmetric``)
or from the position as it stands: AlphaGo's "policy network alone" entry of its strength table,
with no search at all. It passes when the network rates the pass highest (the networks learn
from games that end by two passes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deepkata.core.errors import UserError
from deepkata.go.board import GoState
from deepkata.go.features import planes
from deepkata.go.nets import PolicyNet, load_network
from deepkata.go.players import Decision, Player
from deepkata.go.policy_training import policy_probabilities
from deepkata.search.game import Game

__all__ = ["PolicyPlayer", "find_weights"]


def find_weights(where: Path, name: str) -> Path:
    """``where`` itself when it is a file, else ``where / name`` (a kata's run folder); a one-line error if missing."""
    path = where / name if where.is_dir() else where
    if not path.is_file():
        raise UserError(f"--weights {where}: no {name} there (train one: deepkata run alphago-sl)")
    return path


class PolicyPlayer(Player):
    name = "policy"

    def __init__(self, net: PolicyNet, *, symmetric: bool = True) -> None:
        self.net, self.symmetric = net.eval(), symmetric

    @classmethod
    def load(cls, weights: Path, *, symmetric: bool = True) -> PolicyPlayer:
        net = load_network(find_weights(weights, "policy.pt"), "policy")
        assert isinstance(net, PolicyNet)
        return cls(net, symmetric=symmetric)

    def probabilities(self, state: GoState) -> np.ndarray:
        """p(a | s) over the size^2 points and the pass, 0 on illegal moves."""
        if state.size != self.net.cfg.size:
            raise UserError(f"the policy network plays {self.net.cfg.size}x{self.net.cfg.size}, not {state.size}x{state.size}")
        legal = np.zeros(state.pass_action + 1, dtype=bool)
        legal[state.legal_points(state.to_play)] = True
        legal[state.pass_action] = True
        x = torch.from_numpy(planes(state))[None]
        with torch.no_grad():
            p = policy_probabilities(self.net, x, torch.from_numpy(legal)[None], symmetric=self.symmetric)
        return p[0].numpy()

    def choose(self, state: Game, seconds: float | None = None) -> Decision:
        assert isinstance(state, GoState)
        p = self.probabilities(state)
        action = int(np.argmax(p))
        return Decision(action, {"probability": float(p[action])})
