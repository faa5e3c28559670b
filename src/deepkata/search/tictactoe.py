"""Tic-tac-toe as a :class:`~deepkata.search.game.Game`: small enough to check a search against perfect play."""

from __future__ import annotations

import numpy as np

from deepkata.search.game import Game, IllegalMove

# the eight lines of three cells; cells are numbered row by row, 0 1 2 / 3 4 5 / 6 7 8
_LINES = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 3, 6], [1, 4, 7], [2, 5, 8], [0, 4, 8], [2, 4, 6]])


class TicTacToe(Game):
    """Noughts and crosses on a 3 x 3 grid: X (player 0) moves first; three in a line wins."""

    def __init__(self) -> None:
        self.cells = np.full(9, -1, dtype=np.int64)  # -1 empty, else the player who took it
        self._to_play = 0
        self._winner: int | None = None

    @property
    def num_actions(self) -> int:
        return 9

    @property
    def to_play(self) -> int:
        return self._to_play

    def legal_actions(self) -> np.ndarray:
        if self.is_over():
            return np.empty(0, dtype=np.int64)
        return np.flatnonzero(self.cells < 0)

    def play(self, action: int) -> None:
        if self.is_over() or not 0 <= action < 9 or self.cells[action] >= 0:
            raise IllegalMove(f"cell {action} cannot be taken now")
        self.cells[action] = self._to_play
        if np.any(np.all(self.cells[_LINES] == self._to_play, axis=1)):
            self._winner = self._to_play
        self._to_play = 1 - self._to_play

    def is_over(self) -> bool:
        return self._winner is not None or bool(np.all(self.cells >= 0))

    def outcome(self) -> float:
        if self._winner is None:
            return 0.0
        return 1.0 if self._winner == 0 else -1.0

    def copy(self) -> TicTacToe:
        other = TicTacToe.__new__(TicTacToe)
        other.cells = self.cells.copy()
        other._to_play = self._to_play
        other._winner = self._winner
        return other

    def __str__(self) -> str:
        marks = np.array(["X", "O", "."])[self.cells]
        return "\n".join(" ".join(marks[r * 3 : r * 3 + 3]) for r in range(3))
