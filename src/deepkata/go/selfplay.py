"""Games of policy networks against themselves or each other, many at once.

AlphaGo's RL policy learned from games between the current network and earlier versions of it,
and its value network from positions of self-play games (Silver et al. 2016, Methods). Both need
many whole games of networks, so :func:`play_games` plays ``count`` games in lockstep: at each
turn the positions of every unfinished game go through the mover's network in one batch, and
each move is drawn from the network's softmax over the legal moves (at ``temperature``).

- A game ends after two passes or ``max_moves`` moves. Its result is the area count after the
  dead stones are taken off (:meth:`~deepkata.go.board.GoState.dead_stones`, 100 random playouts):
  networks that learned from GNU Go's ``--capture-all-dead`` games seldom leave any.
- ``random_move``: AlphaGo's recipe for the value network's data. Game g draws U uniformly from
  1 to ``random_move``; moves before U come from the networks, move U is a uniformly random
  legal move, and the position after it is the game's one training position (so positions are
  from different games and not correlated), labelled with the game's outcome.
- Every random number comes from the generator of (seed, game), so a set of games is the same
  however it is batched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from deepkata.go.board import GoState
from deepkata.go.features import planes
from deepkata.go.nets import PolicyNet

__all__ = ["PlayedGame", "play_games"]


@dataclass
class PlayedGame:
    state: GoState
    rng: np.random.Generator
    black_is: int = 0  # which of the two players is Black
    scored: bool = False
    random_at: int = 0  # the move drawn uniformly (1-based; 0: none)
    sample: tuple[np.ndarray, int] | None = None  # (planes, mover) of the position after it
    planes: list[np.ndarray] = field(default_factory=list)  # kept=True: the positions before each move
    legal: list[np.ndarray] = field(default_factory=list)
    winner: int | None = None  # 0 Black, 1 White, None a draw
    score: float = 0.0  # area(B) - area(W) - komi after the dead stones are removed

    @property
    def moves(self) -> list[tuple[int, int]]:
        return self.state.moves

    def outcome_for(self, player: int) -> float:
        return 0.0 if self.winner is None else (1.0 if self.winner == player else -1.0)


def _legal(state: GoState) -> np.ndarray:
    legal = np.zeros(state.pass_action + 1, dtype=bool)
    legal[state.sensible_actions()] = True  # the networks are not asked to fill their own eyes
    if state.passes > 0 or len(state.moves) > state.size * state.size:
        legal[state.pass_action] = True  # the pass once the opponent has passed, or late in the game
    return legal


@torch.no_grad()
def play_games(
    players: tuple[PolicyNet, PolicyNet], count: int, *, size: int, komi: float, seed: int, first: int = 0,
    temperature: float = 1.0, max_moves: int | None = None, random_move: int = 0, keep: bool = False, batch: int = 64,
) -> list[PlayedGame]:  # fmt: skip
    """``count`` games, ``players[0]`` Black in the games numbered ``first``, ``first + 2``, ... and
    White in the others (``players[1]`` the other colour); ``keep``: store every position."""
    limit = max_moves or 3 * size * size
    games = []
    for start in range(first, first + count, batch):
        block = [PlayedGame(GoState(size, komi), np.random.default_rng([seed, g]), g % 2) for g in range(start, min(start + batch, first + count))]
        for game in block:
            game.random_at = int(game.rng.integers(1, random_move + 1)) if random_move else 0
        _play_block(players, block, temperature, limit, keep)
        games.extend(block)
    return games


def _play_block(players: tuple[PolicyNet, PolicyNet], block: list[PlayedGame], temperature: float, limit: int, keep: bool) -> None:
    active = list(block)
    while active:
        for side in (0, 1):  # the games whose mover is players[side]
            movers = [g for g in active if (g.state.to_play == 0) == (g.black_is == side)]
            if not movers:
                continue
            x = np.stack([planes(g.state) for g in movers])
            legal = np.stack([_legal(g.state) for g in movers])
            logits = players[side](torch.from_numpy(x), torch.from_numpy(legal)).double().numpy() / temperature
            for g, row, xs, ls in zip(movers, logits, x, legal, strict=True):
                if keep:
                    g.planes.append(xs.astype(np.uint8))
                    g.legal.append(ls)
                number = len(g.state.moves) + 1
                if number == g.random_at:
                    choices = np.flatnonzero(ls)
                    action = int(choices[g.rng.integers(len(choices))])
                else:
                    p = np.exp(row - row.max())
                    p /= p.sum()
                    action = int(g.rng.choice(len(p), p=p))
                g.state.play(action)
                if number == g.random_at:
                    g.sample = (planes(g.state).astype(np.uint8), g.state.to_play)
        for g in active:
            if g.state.is_over() or len(g.state.moves) >= limit:
                _score(g)
        active = [g for g in active if not g.scored]


def _score(game: PlayedGame) -> None:
    final = game.state.without(game.state.dead_stones(game.rng, playouts=100))
    game.score = final.score()
    game.winner = None if game.score == 0 else (0 if game.score > 0 else 1)
    game.scored = True
