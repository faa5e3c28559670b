"""AlphaGo's fast rollout policy: a linear softmax over local patterns and cheap features.

AlphaGo's rollout policy (Silver et al. 2016, Methods and Extended Data Table 4) scores each
candidate move by a linear function of features that are quick to compute, local 3 x 3 patterns
above all, and picks moves from the softmax of those scores: 24.2% accurate against 57% for the
SL network, but about 1,000 times faster (2 µs against 3 ms a move), so that many whole games can
be played out from each leaf of the search. Here, for the player c to move and a candidate point
p (legal under simple ko, not c's own eye, as the random playouts of :mod:`deepkata.go.board`):

- **pattern**: the colours of the 8 points around p, each empty, c's, the opponent's or off the
  board (4^8), and for each of the 4 orthogonal neighbours whether its chain is in atari (2^4):
  one of 2^20 ids, each with its own weight;
- **cheap features**, each with one weight: the play captures (an opposing neighbour chain is in
  atari), saves (a neighbour chain of c's is in atari), touches the previous move (one of its 8
  neighbours), lies at distance 2 from it, or stands on the first line;
- **the pass**: a weight of its own, offered only while learning from records; in a playout it is
  played only when no candidate is left.

Score(p) = pattern weight + Σ feature weights; p(p) = softmax over the candidates. The kernels
run compiled (numba) on the board array of :mod:`deepkata.go.board`; :func:`playout_with_policy`
plays a whole game with the policy, as the search's leaf evaluation does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numba import njit
from torch import nn

from deepkata.core import checkpoint
from deepkata.core.errors import UserError
from deepkata.go.board import (  # the board's kernels and layout: this module extends the board
    BLACK,
    BORDER,
    COLOR,
    EMPTIES,
    EMPTY,
    HEAD,
    LEGAL,
    M_KO_POINT,
    M_NEMPTY,
    M_PASSES,
    M_TO_PLAY,
    M_WIDTH,
    META,
    WHITE,
    GoState,
    _area_difference,
    _in_atari,
    _is_own_eye,
    _legality,
    _next_random,
    _place,
)
from deepkata.go.sgf import SgfGame

__all__ = [
    "FEATURES", "PATTERNS", "RolloutExamples", "RolloutPolicy", "candidates", "load_rollout", "playout_with_policy", "policy_move",
    "position_candidates", "rollout_examples", "save_rollout",
]  # fmt: skip

PATTERNS = 1 << 20  # 4^8 colourings of the 3 x 3 neighbourhood, times 2^4 atari flags
FEATURES = ("captures", "saves a chain in atari", "touches the previous move", "distance 2 from the previous move", "first line")
NF = len(FEATURES)


@njit(cache=True)
def _pattern(s, p, c):
    w = s[META, M_WIDTH]
    code = 0
    for d in (-w - 1, -w, -w + 1, -1, 1, w - 1, w, w + 1):
        v = s[COLOR, p + d]
        r = 0 if v == EMPTY else (3 if v == BORDER else (1 if v == c else 2))
        code = code * 4 + r
    for d in (-w, -1, 1, w):
        q = p + d
        v = s[COLOR, q]
        code = code * 2 + (1 if (v == BLACK or v == WHITE) and _in_atari(s, s[HEAD, q]) else 0)
    return code


@njit(cache=True)
def _features(s, p, c, last, out):
    w = s[META, M_WIDTH]
    for f in range(out.shape[0]):
        out[f] = 0.0
    for d in (-w, -1, 1, w):
        q = p + d
        v = s[COLOR, q]
        if (v == BLACK or v == WHITE) and _in_atari(s, s[HEAD, q]):
            if v == c:
                out[1] = 1.0
            else:
                out[0] = 1.0
    if last >= 0:
        dy = abs(p // w - last // w)
        dx = abs(p % w - last % w)
        if max(dy, dx) == 1:
            out[2] = 1.0
        elif dy + dx == 2 or max(dy, dx) == 2:
            out[3] = 1.0
    size = w - 2
    y, x = p // w - 1, p % w - 1
    if y == 0 or x == 0 or y == size - 1 or x == size - 1:
        out[4] = 1.0


@njit(cache=True)
def candidates(s, c, last, zob, points, ids, feats):
    """Fill the candidate points of colour c, their pattern ids and features; return their count."""
    no_history = np.empty(0, dtype=np.int64)
    k = 0
    for i in range(s[META, M_NEMPTY]):
        p = s[EMPTIES, i]
        if _is_own_eye(s, p, c) or _legality(s, p, c, zob, no_history, 0, False) != LEGAL:
            continue
        points[k] = p
        ids[k] = _pattern(s, p, c)
        _features(s, p, c, last, feats[k])
        k += 1
    return k


@njit(cache=True)
def policy_move(s, c, last, zob, table, weights, rng, points, ids, feats, scores):
    """A point drawn from the rollout policy's softmax for colour c, or -1 (no candidate: pass)."""
    n = candidates(s, c, last, zob, points, ids, feats)
    if n == 0:
        return -1
    top = -1e300
    for k in range(n):
        v = table[ids[k]]
        for f in range(feats.shape[1]):
            v += weights[f] * feats[k, f]
        scores[k] = v
        if v > top:
            top = v
    total = 0.0
    for k in range(n):
        scores[k] = np.exp(scores[k] - top)
        total += scores[k]
    u = (_next_random(rng) >> np.uint64(11)) * (1.0 / 9007199254740992.0) * total  # uniform in [0, total)
    for k in range(n):
        u -= scores[k]
        if u < 0:
            return points[k]
    return points[n - 1]


@njit(cache=True)
def playout_with_policy(s, zob, rng, komi, max_moves, table, weights, last):
    """Play s to the end (two passes or max_moves) with the rollout policy; return (z, moves)."""
    n = s.shape[1]
    points = np.empty(n, dtype=np.int64)
    ids = np.empty(n, dtype=np.int64)
    feats = np.empty((n, weights.shape[0]), dtype=np.float64)
    scores = np.empty(n, dtype=np.float64)
    passes = s[META, M_PASSES]
    c = s[META, M_TO_PLAY]
    t = 0
    while passes < 2 and t < max_moves:
        p = policy_move(s, c, last, zob, table, weights, rng, points, ids, feats, scores)
        if p < 0:
            passes += 1
            s[META, M_KO_POINT] = -1
        else:
            passes = 0
            _place(s, p, c, zob)
        last = p
        t += 1
        c = 3 - c
    s[META, M_TO_PLAY] = c
    s[META, M_PASSES] = passes
    margin = _area_difference(s) - komi
    return (1.0 if margin > 0 else (-1.0 if margin < 0 else 0.0)), t


def last_point(state: GoState) -> int:
    """The board point of the previous move, or -1 (none, or a pass)."""
    if not state.moves or state.moves[-1][1] == state.pass_action:
        return -1
    return int(state._point[state.moves[-1][1]])


def position_candidates(state: GoState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The player to move's candidate actions (y size + x), their pattern ids and features."""
    s = state._s
    n = s.shape[1]
    points, ids, feats = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.empty((n, NF))
    k = candidates(s, state.to_play + 1, last_point(state), state._zob, points, ids, feats)
    w = state.size + 2
    actions = (points[:k] // w - 1) * state.size + (points[:k] % w - 1)
    return actions, ids[:k], feats[:k]


# --- learning the weights from game records ------------------------------------------------------------


@dataclass(frozen=True)
class RolloutExamples:
    """Positions as the rollout policy sees them: up to K candidates each, padded."""

    ids: np.ndarray  # (P, K) pattern ids (0 where padded)
    feats: np.ndarray  # (P, K, NF) float32
    mask: np.ndarray  # (P, K) bool: a real candidate
    target: np.ndarray  # (P,) the move's candidate index, K for the pass
    dropped: int  # positions whose move was no candidate (an own eye filled): left out

    def __len__(self) -> int:
        return len(self.target)


def rollout_examples(games: Sequence[SgfGame]) -> RolloutExamples:
    """Replay ``games`` and keep each position's candidates and the index of the move played."""
    rows: list[tuple[np.ndarray, np.ndarray, int]] = []
    dropped = 0
    width = 0
    for record in games:
        state = record.start_state()
        for player, action in record.moves:
            if state.to_play != player:
                state.set_to_play(player)
            actions, ids, feats = position_candidates(state)
            width = max(width, state.pass_action)
            if action == state.pass_action:
                rows.append((ids, feats, -1))
            else:
                where = np.flatnonzero(actions == action)
                if len(where):
                    rows.append((ids, feats, int(where[0])))
                else:
                    dropped += 1
            state.play_as(player, action)
    p = len(rows)
    out_ids, out_feats = np.zeros((p, width), dtype=np.int64), np.zeros((p, width, NF), dtype=np.float32)
    mask, target = np.zeros((p, width), dtype=bool), np.zeros(p, dtype=np.int64)
    for i, (ids, feats, t) in enumerate(rows):
        k = len(ids)
        out_ids[i, :k], out_feats[i, :k], mask[i, :k] = ids, feats, True
        target[i] = width if t < 0 else t
    return RolloutExamples(out_ids, out_feats, mask, target, dropped)


class RolloutPolicy(nn.Module):
    """The linear softmax: a weight per pattern, one per cheap feature, one for the pass."""

    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Embedding(PATTERNS, 1)
        self.weights = nn.Parameter(torch.zeros(NF, device="cpu"))
        self.pass_weight = nn.Parameter(torch.zeros(1, device="cpu"))
        with torch.no_grad():
            self.table.weight.zero_()

    def forward(self, ids: torch.Tensor, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits (P, K + 1) of the candidates and the pass; padding gets -inf."""
        scores = self.table(ids).squeeze(-1) + feats @ self.weights  # (P, K)
        scores = scores.masked_fill(~mask, float("-inf"))
        return torch.cat([scores, self.pass_weight.expand(len(ids), 1)], 1)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The pattern table (PATTERNS,) and the feature weights (NF,), float64, for the kernels."""
        return self.table.weight.detach().double().squeeze(1).numpy().copy(), self.weights.detach().double().numpy().copy()


def save_rollout(path: Path, policy: RolloutPolicy) -> None:
    """Only the patterns seen get weights, so the table is saved sparse."""
    table, weights = policy.arrays()
    seen = np.flatnonzero(table)
    checkpoint.save(path, {"kind": "rollout", "ids": seen, "values": table[seen], "weights": weights, "pass": float(policy.pass_weight.detach())})


def load_rollout(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The pattern table and feature weights :func:`save_rollout` wrote; a one-line error otherwise."""
    saved = checkpoint.load(path)
    if saved.get("kind") != "rollout":
        raise UserError(f"{path}: not a saved rollout policy")
    table = np.zeros(PATTERNS)
    table[np.asarray(saved["ids"], dtype=np.int64)] = saved["values"]
    return table, np.asarray(saved["weights"], dtype=np.float64)
