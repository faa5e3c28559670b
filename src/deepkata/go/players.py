"""Players: who picks a move in a position, and a game between two of them.

- :class:`RandomPlayer`: uniform over :meth:`~deepkata.search.game.Game.sensible_actions`; in Go,
  the legal moves that do not fill one's own eye, and the pass only when none is left (the
  baseline of Monte Carlo Go, and the policy of its playouts).
- :class:`MCTSPlayer`: the move :class:`~deepkata.search.mcts.MCTS` recommends, within a budget of
  playouts or seconds; it resigns when its expected win rate falls below ``resign_below``.

Both draw every random number from a generator made from their seed, so a seed fixes their play
(a budget in seconds does not: how many playouts fit in it depends on the machine).
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from deepkata.search.game import Game
from deepkata.search.mcts import MCTS, Evaluator, SearchConfig


@dataclass(frozen=True)
class Decision:
    """A player's move: an action, or None to resign, with what the player measured."""

    action: int | None
    info: dict[str, float] = field(default_factory=dict)

    @property
    def resigns(self) -> bool:
        return self.action is None


class Player(ABC):
    """Chooses moves; ``seconds`` is the time it may take for this one (None: its own budget)."""

    name: str = "player"

    @abstractmethod
    def choose(self, state: Game, seconds: float | None = None) -> Decision: ...


class RandomPlayer(Player):
    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def choose(self, state: Game, seconds: float | None = None) -> Decision:
        choices = state.sensible_actions()
        return Decision(int(choices[self.rng.integers(len(choices))]))


class MCTSPlayer(Player):
    name = "mcts"

    def __init__(
        self, config: SearchConfig, seed: int = 0, *, resign_below: float = 0.0, evaluator: Evaluator | None = None
    ) -> None:
        self.search = MCTS(config, evaluator)
        self.rng = np.random.default_rng(seed)
        self.resign_below = resign_below  # resign when (1 + Q) / 2 of the best move is below this

    def choose(self, state: Game, seconds: float | None = None) -> Decision:
        budget = self.search.config.seconds
        if seconds is not None:
            budget = seconds if budget is None else min(budget, seconds)
        result = self.search.search(state, self.rng, seconds=budget)
        win_rate = (1.0 + result.value) / 2.0
        info = {
            "playouts": float(result.playouts),
            "seconds": result.seconds,
            "playouts_per_s": result.playouts / max(result.seconds, 1e-9),
            "win_rate": win_rate,
        }
        if win_rate < self.resign_below:
            return Decision(None, info)
        return Decision(result.action, info)


def move_seconds(time_left: float, stones_left: int, board_points: int, moves_played: int) -> float:
    """Seconds for the next move under GTP time controls (time_settings / time_left).

    In byo-yomi (``stones_left`` > 0), the period's time over its stones; in main time, the
    time left over the moves one colour can still expect, at least a tenth of the board,
    assuming a game lasts about as many moves per colour as the board has points / 2.
    A fifth of the result is kept back for the round trip and the engine's own overhead.
    """
    if time_left <= 0:
        return 0.0
    if stones_left > 0:
        per_move = time_left / stones_left
    else:
        expected = max(board_points / 2 - moves_played / 2, board_points / 10, 1.0)
        per_move = time_left / expected
    return 0.8 * per_move


@dataclass
class GameRecord:
    """How a game between two in-process players went."""

    moves: list[int]  # the actions, black's first
    winner: int | None  # 0, 1, or None for a draw
    reason: str  # "score", "resign" or "move limit"
    score: float | None  # the final margin for player 0 (Go: B - W - komi), None after a resignation
    seconds: list[float]  # per move
    info: list[dict[str, float]]  # what each move's player reported


def play_game(players: tuple[Player, Player], state: Game, *, max_moves: int | None = None) -> GameRecord:
    """Play ``state`` to the end, ``players[p]`` moving for player p."""
    moves: list[int] = []
    seconds: list[float] = []
    info: list[dict[str, float]] = []
    limit = math.inf if max_moves is None else max_moves
    while not state.is_over() and len(moves) < limit:
        mover = state.to_play
        start = time.perf_counter()
        decision = players[mover].choose(state)
        seconds.append(time.perf_counter() - start)
        info.append(decision.info)
        if decision.resigns:
            return GameRecord(moves, 1 - mover, "resign", None, seconds, info)
        state.play(decision.action)
        moves.append(decision.action)
    z = state.outcome()
    reason = "score" if state.is_over() else "move limit"
    return GameRecord(moves, None if z == 0 else (0 if z > 0 else 1), reason, float(state.score()), seconds, info)
