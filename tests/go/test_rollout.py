"""AlphaGo's rollout policy: the compiled patterns and features against their definitions, the
softmax draw, whole playouts, learning from games, and saving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deepkata.core.errors import UserError
from deepkata.go.board import GoState
from deepkata.go.positions import teacher_games
from deepkata.go.rollout import (
    FEATURES,
    PATTERNS,
    RolloutPolicy,
    load_rollout,
    playout_with_policy,
    policy_move,
    position_candidates,
    rollout_examples,
    save_rollout,
)
from tests.go.naive_go import chain_and_liberties, random_game


def _chain_in_atari(stones: np.ndarray, y: int, x: int) -> bool:
    return len(chain_and_liberties(stones, y, x)[1]) == 1


def _expected(state: GoState, action: int) -> tuple[int, list[float]]:
    """The pattern id and features of ``action`` for the player to move, from their definitions."""
    n, me = state.size, state.to_play + 1
    stones = state.stones()
    y, x = divmod(action, n)
    code = 0
    for dy, dx in ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)):
        c, d = y + dy, x + dx
        v = 3 if not (0 <= c < n and 0 <= d < n) else (0 if stones[c, d] == 0 else (1 if stones[c, d] == me else 2))
        code = code * 4 + v
    feats = [0.0] * len(FEATURES)
    for dy, dx in ((-1, 0), (0, -1), (0, 1), (1, 0)):
        c, d = y + dy, x + dx
        atari = 0 <= c < n and 0 <= d < n and stones[c, d] != 0 and _chain_in_atari(stones, c, d)
        code = code * 2 + int(atari)
        if atari:
            feats[1 if stones[c, d] == me else 0] = 1.0
    if state.moves and state.moves[-1][1] != state.pass_action:
        ly, lx = divmod(state.moves[-1][1], n)
        cheb, manhattan = max(abs(y - ly), abs(x - lx)), abs(y - ly) + abs(x - lx)
        feats[2] = float(cheb == 1)
        feats[3] = float(cheb != 1 and (manhattan == 2 or cheb == 2))
    feats[4] = float(y in (0, n - 1) or x in (0, n - 1))
    return code, feats


@pytest.mark.parametrize("seed", range(4))
def test_patterns_features_and_candidates_follow_their_definitions(seed: int) -> None:
    state = random_game(7, 20 + 6 * seed, seed)
    actions, ids, feats = position_candidates(state)
    assert set(actions.tolist()) == set(state.sensible_actions().tolist()) - {state.pass_action}
    for a, i, f in zip(actions, ids, feats, strict=True):
        code, expected = _expected(state, int(a))
        assert i == code < PATTERNS
        assert f.tolist() == expected


def test_the_draw_follows_the_softmax_of_the_scores() -> None:
    state = GoState(5)
    s, zob = state._s, state._zob
    n = s.shape[1]
    buffers = (np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.empty((n, len(FEATURES))), np.empty(n))
    rng = np.array([7], dtype=np.uint64)
    table, weights = np.zeros(PATTERNS), np.zeros(len(FEATURES))
    weights[4] = np.log(3.0)  # a first-line point is three times as likely as an inner one
    counts = np.zeros(n)
    for _ in range(20_000):
        counts[policy_move(s, 1, -1, zob, table, weights, rng, *buffers)] += 1
    actions, _, feats = position_candidates(state)
    w = state.size + 2
    points = (actions // state.size + 1) * w + actions % state.size + 1
    share = counts[points] / counts.sum()
    expected = np.where(feats[:, 4] == 1, 3.0, 1.0)
    np.testing.assert_allclose(share, expected / expected.sum(), atol=0.01)  # 16 edge points x 3, 9 inner


def test_a_playout_with_the_policy_ends_and_scores_the_final_board() -> None:
    state = GoState(7, 0.5)
    s = state._s.copy()
    z, moves = playout_with_policy(s, state._zob, np.array([3], dtype=np.uint64), 0.5, 147, np.zeros(PATTERNS), np.zeros(len(FEATURES)), -1)
    assert 10 < moves <= 147 and z in (-1.0, 1.0)
    final = GoState(7, 0.5)
    final._s[:] = s
    assert np.sign(final.score()) == z


def test_the_rollout_policy_learns_its_teachers_moves_and_is_saved(tmp_path: Path) -> None:
    games = teacher_games(12, size=5, komi=3.0, playouts=30, seed=2)
    train, val = rollout_examples(games[:10]), rollout_examples(games[10:])
    width = train.ids.shape[1]  # 25 points; index 25 is the pass
    moved = train.target < width
    assert train.mask[np.flatnonzero(moved), train.target[moved]].all() and (~moved).sum() > 0  # each move a candidate; passes too
    torch.manual_seed(0)
    policy = RolloutPolicy()
    opt = torch.optim.Adam(policy.parameters(), lr=0.05)
    tensors = [torch.from_numpy(a) for a in (train.ids, train.feats, train.mask, train.target)]
    losses = []
    for _ in range(60):
        loss = F.cross_entropy(policy(*tensors[:3]), tensors[3])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0]
    with torch.no_grad():
        top1 = float((policy(*(torch.from_numpy(a) for a in (val.ids, val.feats, val.mask))).argmax(1) == torch.from_numpy(val.target)).float().mean())
    assert top1 > float(np.mean(1 / (val.mask.sum(1) + 1)))
    save_rollout(tmp_path / "rollout.pt", policy)
    table, weights = load_rollout(tmp_path / "rollout.pt")
    expected_table, expected_weights = policy.arrays()
    np.testing.assert_allclose(table, expected_table)
    np.testing.assert_allclose(weights, expected_weights)
    with pytest.raises(UserError, match="not a saved rollout policy"):
        from deepkata.go.nets import GoNetConfig, PolicyNet, save_network

        save_network(tmp_path / "policy.pt", PolicyNet(GoNetConfig(size=5, filters=2, layers=2)))
        load_rollout(tmp_path / "policy.pt")
