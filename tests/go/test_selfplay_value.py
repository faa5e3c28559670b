"""Self-play of policy networks in lockstep, and the value network's training."""

from __future__ import annotations

import numpy as np
import torch

from deepkata.go.board import GoState
from deepkata.go.features import PLANES, planes
from deepkata.go.katas.alphago_value import ValueRecipe, ValueTrainer
from deepkata.go.nets import GoNetConfig, PolicyNet, ValueNet
from deepkata.go.selfplay import play_games


def _policy(seed: int) -> PolicyNet:
    torch.manual_seed(seed)
    return PolicyNet(GoNetConfig(size=5, filters=4, layers=2)).eval()


def test_games_are_the_same_however_they_are_batched_and_colours_alternate() -> None:
    a, b = _policy(0), _policy(1)
    one = play_games((a, b), 6, size=5, komi=3.0, seed=4, batch=6, random_move=8)
    other = play_games((a, b), 6, size=5, komi=3.0, seed=4, batch=4, random_move=8)
    assert [g.moves for g in one] == [g.moves for g in other] and [g.score for g in one] == [g.score for g in other]
    assert [g.black_is for g in one] == [0, 1, 0, 1, 0, 1]
    for g in one:
        assert g.state.is_over() or len(g.moves) >= 75
        assert (g.winner is None) == (g.score == 0) and (g.winner == 0) == (g.score > 0)
        assert g.outcome_for(0) == -g.outcome_for(1)


def test_the_sample_is_the_position_after_the_random_move() -> None:
    (game,) = play_games((_policy(0), _policy(0)), 1, size=5, komi=3.0, seed=9, random_move=6)
    assert 1 <= game.random_at <= 6 and game.sample is not None
    state = GoState(5, 3.0)
    for player, action in game.moves[: game.random_at]:
        state.play_as(player, action)
    np.testing.assert_array_equal(game.sample[0], planes(state).astype(np.uint8))
    assert game.sample[1] == state.to_play


def test_the_value_network_learns_who_leads_better_than_the_trivial_predictor() -> None:
    rng = np.random.default_rng(0)
    x = np.zeros((400, PLANES, 5, 5), dtype=np.uint8)
    own, opp = rng.random((400, 5, 5)) < rng.random((400, 1, 1)), rng.random((400, 5, 5)) < 0.4
    x[:, 0], x[:, 1], x[:, 3] = own & ~opp, opp, 1
    z = np.where(x[:, 0].sum((1, 2)) > x[:, 1].sum((1, 2)), 1.0, -1.0).astype(np.float32)
    torch.manual_seed(0)
    trainer = ValueTrainer(ValueNet(GoNetConfig(size=5, filters=8, layers=2, hidden=16)), ValueRecipe(epochs=8, batch=32, lr=3e-3),
                           x[:320], z[:320], x[320:], z[320:], torch.device("cpu"), seed=1)  # fmt: skip
    while not trainer.done:
        trainer.train_chunk()
    trivial = float(np.mean((z[:320].mean() - z[320:]) ** 2))
    assert trainer.history["val_mse"][-1] < 0.5 * trivial
