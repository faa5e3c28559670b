"""AlphaGo's players: the raw policy network as a player and as a GTP engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from deepkata.core.errors import UserError
from deepkata.go.alphago import AlphaGoConfig, AlphaGoPlayer, PolicyPlayer
from deepkata.go.board import GoState
from deepkata.go.coords import parse_gtp_vertex
from deepkata.go.features import planes
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


def _search_player(tmp_path: Path, **overrides) -> AlphaGoPlayer:
    folder = _saved(tmp_path)
    config = AlphaGoConfig(**{"playouts": 64, "batch": 4, "mix": 1.0, **overrides})
    return AlphaGoPlayer.load([folder], config, seed=3)


def test_the_search_visits_as_many_leaves_as_its_budget_and_undoes_every_virtual_loss(tmp_path: Path) -> None:
    player = _search_player(tmp_path)
    state = GoState(5)
    root, done, _ = player.search(state)
    assert done == 64 and root.n.sum() == 64 and root.visits == 64  # every virtual loss taken back

    def check(node) -> None:
        assert (node.n >= 0).all() and node.n.sum() <= node.visits
        for child in node.children.values():
            if child.actions is not None:
                check(child)

    check(root)
    decision = player.choose(state)
    assert state.is_legal(0, decision.action) and decision.info["playouts"] == 64


def test_the_search_finds_the_capture_that_wins_the_game(tmp_path: Path) -> None:
    # 5x5, komi 0.5, black to play among 14 moves: C2 takes the white pair C3-C4 (plain UCT rates it 0.98)
    state = GoState(5, 0.5)
    state.setup(black=[11, 13, 16, 18, 22, 6], white=[12, 17, 3, 9], to_play=0)
    assert len(state.sensible_actions()) == 14
    player = _search_player(tmp_path, playouts=300)  # an untrained policy: the rollouts must find it
    assert player.choose(state).action == 7


def test_the_tree_is_reused_after_the_moves_played(tmp_path: Path) -> None:
    player = _search_player(tmp_path, playouts=48)
    state = GoState(5)
    root, _, _ = player.search(state)
    first = int(root.actions[int(np.argmax(root.n))])
    reply_node = root.children[first]
    state.play(first)
    reply = int(reply_node.actions[int(np.argmax(reply_node.n))]) if reply_node.actions is not None else int(state.sensible_actions()[0])
    kept = reply_node.children.get(reply)
    state.play(reply)
    again, done, _ = player.search(state)
    if kept is not None and kept.actions is not None:
        assert again is kept and again.visits >= done
    assert again.to_play == state.to_play


def test_a_mix_below_one_needs_a_value_network(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="needs a value network"):
        _search_player(tmp_path, mix=0.5)
    with pytest.raises(UserError, match="must be within 0 and 1"):
        AlphaGoConfig(mix=1.5)


def test_the_value_player_takes_the_move_whose_position_the_network_likes_best(tmp_path: Path) -> None:
    from deepkata.go.alphago import ValuePlayer
    from deepkata.go.nets import ValueNet

    torch.manual_seed(4)
    net = ValueNet(GoNetConfig(size=5, filters=4, layers=2, hidden=8)).eval()
    save_network(tmp_path / "value.pt", net)
    player = ValuePlayer.load([tmp_path])
    state = GoState(5)
    state.play(12)
    decision = player.choose(state)
    values = {}
    for action in state.search_actions():
        child = state.copy()
        child.play(int(action))
        with torch.no_grad():
            values[int(action)] = -float(net(torch.from_numpy(planes(child))[None]))
    assert decision.action == max(values, key=values.get) and abs(decision.info["value"] - max(values.values())) < 1e-6


def test_the_value_player_scores_each_position_for_the_side_that_moved_into_it() -> None:
    """A value network that counts material for the player to move: the value player must take
    the two stones in atari, the move that leaves its opponent worst off, and never hand them a
    position the network rates well for them."""
    from deepkata.go.alphago import ValuePlayer
    from deepkata.go.nets import ValueNet

    class Material(ValueNet):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.tanh(0.1 * (x[:, 0].sum((1, 2)) - x[:, 1].sum((1, 2))))

    state = GoState(5)
    state.setup([1, 2, 5, 8, 11], [6, 7, 23], to_play=0)  # White's 6-7 in atari; the capture is at 12
    for to_play, capture in ((0, 12), (1, None)):
        state.set_to_play(to_play)
        decision = ValuePlayer(Material(GoNetConfig(size=5, filters=4, layers=2, hidden=8))).choose(state)
        if capture is not None:
            assert decision.action == capture and decision.info["value"] == pytest.approx(np.tanh(0.1 * (6 - 1)))  # 6 stones against 1
        else:  # no capture for White: any move leaves it 4 stones against 5
            assert decision.info["value"] == pytest.approx(np.tanh(0.1 * (4 - 5)))
