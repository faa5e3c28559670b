"""Positions from game records, the symmetries of a batch, top-k accuracy, and the SL policy's training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepkata.go.features import planes, transform_actions, transform_planes
from deepkata.go.nets import GoNetConfig, PolicyNet
from deepkata.go.policy_training import (
    PolicyRecipe,
    PolicyTrainer,
    policy_probabilities,
    top_k_accuracy,
    transform_batch,
)
from deepkata.go.positions import outcome_of, positions_from_games, teacher_games
from deepkata.go.sgf import SgfGame


def _game(result: str = "W+3") -> SgfGame:
    # 5x5: B C3, W C4, B D4, W pass, B B4, W pass (a short game; black to move first)
    moves = [(0, 12), (1, 17), (0, 18), (1, 25), (0, 16), (1, 25)]
    return SgfGame(size=5, komi=3.0, result=result, moves=moves)


def test_positions_hold_the_planes_before_each_move_and_the_outcome_for_its_mover() -> None:
    p = positions_from_games([_game("W+3"), _game("B+R")])
    assert len(p) == 12 and p.moves[:6].tolist() == [12, 17, 18, 25, 16, 25]
    assert p.outcome[:6].tolist() == [-1, 1, -1, 1, -1, 1]  # white won: black's moves lose
    assert p.outcome[6:].tolist() == [1, -1, 1, -1, 1, -1]
    assert p.game.tolist() == [0] * 6 + [1] * 6 and p.number[:6].tolist() == list(range(6))
    state = _game().start_state()
    state.play(12)
    np.testing.assert_array_equal(p.planes[1], planes(state).astype(np.uint8))  # white to play after C3
    assert not p.legal[1, 12] and p.legal[1, 25] and p.legal[1].sum() == 25  # C3 taken; the pass allowed
    assert p.legal[np.arange(len(p)), p.moves].all()


@pytest.mark.parametrize(("text", "winner"), [("B+3.5", 0), ("W+R", 1), ("0", None), ("?", None), (None, None), ("Void", None)])
def test_the_winner_of_an_sgf_result(text: str | None, winner: int | None) -> None:
    assert outcome_of(text) == winner


@pytest.mark.parametrize("k", range(8))
def test_a_transformed_batch_moves_planes_moves_and_masks_together(k: int) -> None:
    p = positions_from_games([_game()])
    x, moves, legal = torch.from_numpy(p.planes).float(), torch.from_numpy(p.moves), torch.from_numpy(p.legal)
    xk, mk, lk = transform_batch(x, moves, legal, k, 5)
    np.testing.assert_array_equal(xk.numpy(), transform_planes(p.planes, k).astype(np.float32))
    assert mk.tolist() == transform_actions(p.moves, k, 5).tolist()
    for i in range(len(p)):
        assert set(np.flatnonzero(lk[i].numpy())) == set(transform_actions(np.flatnonzero(p.legal[i]), k, 5).tolist())


def test_symmetric_probabilities_are_the_mean_over_the_eight_frames() -> None:
    torch.manual_seed(0)
    net = PolicyNet(GoNetConfig(size=5, filters=4, layers=2)).eval()
    p = positions_from_games([_game()])
    x, legal = torch.from_numpy(p.planes).float(), torch.from_numpy(p.legal)
    with torch.no_grad():
        averaged = policy_probabilities(net, x, legal, symmetric=True)
        by_hand = torch.zeros_like(averaged)
        for k in range(8):
            xk, _, lk = transform_batch(x, torch.zeros(len(x), dtype=torch.long), legal, k, 5)
            pk = net(xk, lk).softmax(1)
            for a in range(26):  # action a of the original board is action transform(a) of frame k
                by_hand[:, a] += pk[:, int(transform_actions(a, k, 5))] / 8
    torch.testing.assert_close(averaged, by_hand)
    assert torch.allclose(averaged.sum(1), torch.ones(len(x))) and (averaged[~legal] == 0).all()
    plain = policy_probabilities(net, x, legal, symmetric=False)
    assert (averaged - plain).abs().max() > 1e-4  # an untrained network is not symmetric


def test_top_k_accuracy_counts_the_move_among_the_k_most_probable() -> None:
    p = torch.tensor([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    assert top_k_accuracy(p, torch.tensor([2, 2]), 1) == 0.0
    assert top_k_accuracy(p, torch.tensor([2, 2]), 2) == 1.0
    assert top_k_accuracy(p, torch.tensor([1, 0]), 1) == 1.0


def test_the_policy_learns_its_teachers_moves_and_resumes_exactly() -> None:
    games = teacher_games(12, size=5, komi=3.0, playouts=30, seed=1)
    train, val = positions_from_games(games[:10]), positions_from_games(games[10:])
    recipe = PolicyRecipe(epochs=3, batch=32, lr=3e-3, chunk=4)

    def trainer() -> PolicyTrainer:
        torch.manual_seed(0)
        return PolicyTrainer(PolicyNet(GoNetConfig(size=5, filters=8, layers=2)), recipe, train, val, torch.device("cpu"), seed=3)

    whole = trainer()
    while not whole.done:
        whole.train_chunk()
    assert whole.history["train_loss"][-1] < whole.history["train_loss"][0]
    assert whole.history["val_top1"][-1] > float(np.mean(1 / val.legal.sum(1)))  # beats a random legal move
    first = trainer()
    first.train_chunk()
    state = first.state_dict()
    second = trainer()
    second.load_state_dict(state)
    while not second.done:
        second.train_chunk()
    for a, b in zip(whole.model.parameters(), second.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
