"""The interface a search plays through: two players, alternating moves, perfect information.

:class:`deepkata.search.mcts.MCTS` knows a game only through :class:`Game`, in the manner of
alpha-zero-general's ``Game`` (Thakoor et al.), but typed and stateful: a :class:`Game` object
is one position, :meth:`Game.play` changes it and :meth:`Game.copy` gives an independent one.
Go (:class:`deepkata.go.board.GoState`) and tic-tac-toe (:class:`deepkata.search.tictactoe.TicTacToe`,
small enough for exhaustive checks of the search) implement it; any two-player game AlphaGo
Zero learns will.

Notation: the players are 0 (who moves first: Black in Go, X in tic-tac-toe) and 1. An action
is an int in ``0 .. num_actions - 1``. A finished game's :meth:`Game.outcome` is z = +1 when
player 0 won, -1 when player 1 won and 0 for a draw; a value "for player p" is z for p = 0 and
-z for p = 1, the convention of AlphaGo Zero (Silver et al. 2017).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
import numpy as np


class IllegalMove(ValueError):
    """An action the rules do not allow in this position."""


@dataclass(frozen=True)
class Playout:
    """A game finished from some position by a (light, random) rollout policy.

    ``players[i]`` played ``actions[i]``; ``outcome`` is z of the finished game (+1: player 0 won).
    """

    outcome: float
    actions: np.ndarray  # (T,) int
    players: np.ndarray  # (T,) int, 0 or 1


def value_for(outcome: float, player: int) -> float:
    """A game's outcome z (+1: player 0 won) seen by ``player``."""
    return outcome if player == 0 else -outcome


class Game(ABC):
    """One position of a two-player zero-sum game, as a search sees it."""

    #: an action that passes the turn, which rapid action value estimation leaves out; None if none
    pass_action: int | None = None

    @property
    @abstractmethod
    def num_actions(self) -> int:
        """How many actions there are in all (the length of a policy vector)."""

    @property
    @abstractmethod
    def to_play(self) -> int:
        """The player to move: 0 or 1."""

    @abstractmethod
    def legal_actions(self) -> np.ndarray:
        """The actions allowed now, ascending; empty when the game is over."""

    @abstractmethod
    def play(self, action: int) -> None:
        """Play ``action`` for the player to move; raise :class:`IllegalMove` if not allowed."""

    @abstractmethod
    def is_over(self) -> bool:
        """Whether the game has ended."""

    @abstractmethod
    def outcome(self) -> float:
        """z of the finished game: +1 player 0 won, -1 player 1 won, 0 a draw."""

    @abstractmethod
    def copy(self) -> Game:
        """An independent copy of this position."""

    def score(self) -> float:
        """The finished game's margin for player 0 (Go: area(B) - area(W) - komi); by default z."""
        return self.outcome()

    def sensible_actions(self) -> np.ndarray:
        """The actions a uniform random player picks from; by default every legal action."""
        return self.legal_actions()

    def search_actions(self) -> np.ndarray:
        """The actions a tree search expands: by default every legal one.

        A game may leave out moves that are never better than another, as computer Go leaves
        out filling one's own eye; a network-guided search may keep every legal action.
        """
        return self.legal_actions()

    def rollout(self, rng: np.random.Generator) -> Playout:
        """Play uniformly among :meth:`sensible_actions` to the end, on a copy of this position."""
        game = self.copy()
        actions: list[int] = []
        players: list[int] = []
        while not game.is_over():
            choices = game.sensible_actions()
            action = int(choices[rng.integers(len(choices))])
            players.append(game.to_play)
            actions.append(action)
            game.play(action)
        return Playout(game.outcome(), np.array(actions, dtype=np.int64), np.array(players, dtype=np.int64))
