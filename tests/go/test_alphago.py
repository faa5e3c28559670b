"""AlphaGo's players: the raw policy network as a player and as a GTP engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from deepkata.core.errors import UserError
from deepkata.go.alphago import PolicyPlayer
from deepkata.go.board import GoState
from deepkata.go.coords import parse_gtp_vertex
from deepkata.go.gtp import make_player
from deepkata.go.nets import GoNetConfig, PolicyNet, save_network


def _saved(tmp_path: Path, size: int = 5) -> Path:
    torch.manual_seed(2)
    save_network(tmp_path / "policy.pt", PolicyNet(GoNetConfig(size=size, filters=4, layers=2)))
    return tmp_path


def test_the_policy_player_plays_its_most_probable_legal_move(tmp_path: Path) -> None:
    player = PolicyPlayer.load(_saved(tmp_path))
    state = GoState(5)
    for action in (12, 7, 13):
        state.play(action)
    p = player.probabilities(state)
    assert p.shape == (26,) and abs(p.sum() - 1) < 1e-5 and p[[12, 7, 13]].sum() == 0  # occupied points get nothing
    decision = player.choose(state)
    assert decision.action == int(np.argmax(p)) and state.is_legal(state.to_play, decision.action)
    with pytest.raises(UserError, match="plays 5x5, not 7x7"):
        player.choose(GoState(7))


def test_make_player_needs_weights_for_the_policy(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="needs --weights"):
        make_player("policy", seed=0, playouts=None, seconds=None, rule="uct", resign_below=0.0)
    with pytest.raises(UserError, match="no policy.pt"):
        make_player("policy", seed=0, playouts=None, seconds=None, rule="uct", resign_below=0.0, weights=tmp_path)


def test_gtp_plays_the_policy_network(tmp_path: Path) -> None:
    folder = _saved(tmp_path)
    commands = "boardsize 5\nclear_board\ngenmove b\ngenmove w\nquit\n"
    done = subprocess.run([sys.executable, "-m", "deepkata", "gtp", "--player", "policy", "--weights", str(folder), "--size", "5"],
                          input=commands, capture_output=True, text=True, timeout=120)  # fmt: skip
    answers = [line for line in done.stdout.splitlines() if line.startswith("=")]
    assert done.returncode == 0 and len(answers) == 5
    moves = [a[1:].strip() for a in answers[2:4]]
    assert all(m.lower() == "pass" or 0 <= parse_gtp_vertex(m, 5) < 25 for m in moves)  # an untrained network may pass
