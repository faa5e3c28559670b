"""Training positions from game records: the planes before each move, the move, the outcome.

AlphaGo's SL policy learned p(a | s) from (position, expert move) pairs, and its value network
v(s) from (position, final outcome) pairs, one position per game to avoid correlated samples.
:func:`positions_from_games` replays each game's main line and keeps, for every move,

- the position's :func:`~deepkata.go.features.planes` for the player to move (uint8, to save memory),
- the move played (an action; ``size^2`` is the pass) and the legal moves there (with superko),
- the final outcome z for the player to move (+1 a win, -1 a loss, 0 a draw or an unknown result),
- the game it came from and the move's number, so that splits and sampling work by game.

:func:`teacher_games` makes games where no records are given (the embedded default): our MCTS
with random playouts plays itself on a small board, so the smoke presets need neither GNU Go nor
a download.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from deepkata.core.config import KataConfig, param
from deepkata.core.errors import UserError
from deepkata.go.board import GoState
from deepkata.go.collection import read_collection
from deepkata.go.features import legal_mask, planes
from deepkata.go.sgf import SgfGame, read_sgf
from deepkata.search.game import IllegalMove

__all__ = ["Positions", "RecordsConfig", "kata_games", "outcome_of", "positions_from_games", "teacher_games"]

RECORDS = "go-records-9x9"  # a collection's folder under $DEEPKATA_DATA


@dataclass(frozen=True)
class Positions:
    planes: np.ndarray  # (P, C, N, N) uint8
    moves: np.ndarray  # (P,) int64 actions
    legal: np.ndarray  # (P, N^2 + 1) bool
    outcome: np.ndarray  # (P,) float32, z for the player to move
    game: np.ndarray  # (P,) int64, the game's index in the list given
    number: np.ndarray  # (P,) int64, the move's number in its game (0: the first)

    def __len__(self) -> int:
        return len(self.moves)

    def take(self, index: np.ndarray) -> Positions:
        return Positions(self.planes[index], self.moves[index], self.legal[index], self.outcome[index], self.game[index], self.number[index])


def outcome_of(result: str | None) -> int | None:
    """The winner of an SGF result (RE): 0 Black, 1 White, None for a draw, "?" or no result."""
    if not result or result[0] not in "BW" or len(result) < 2 or result[1] != "+":
        return None
    return 0 if result[0] == "B" else 1


def positions_from_games(games: Sequence[SgfGame]) -> Positions:
    """Every position of every game's main line, before its move; SgfError on an illegal move."""
    rows: dict[str, list] = {k: [] for k in ("planes", "moves", "legal", "outcome", "game", "number")}
    for g, record in enumerate(games):
        winner = outcome_of(record.result)
        state = record.start_state()
        for k, (player, action) in enumerate(record.moves):
            if state.to_play != player:
                state.set_to_play(player)
            rows["planes"].append(planes(state).astype(np.uint8))
            rows["moves"].append(action)
            rows["legal"].append(legal_mask(state))
            rows["outcome"].append(0.0 if winner is None else (1.0 if winner == player else -1.0))
            rows["game"].append(g)
            rows["number"].append(k)
            try:
                state.play_as(player, action)
            except IllegalMove as e:
                where = record.source or f"game {g + 1}"
                raise IllegalMove(f"{where}: move {k + 1}: {e}") from None
    if not rows["moves"]:
        raise ValueError("no moves in the games given")
    return Positions(
        np.stack(rows["planes"]), np.asarray(rows["moves"], dtype=np.int64), np.stack(rows["legal"]),
        np.asarray(rows["outcome"], dtype=np.float32), np.asarray(rows["game"], dtype=np.int64), np.asarray(rows["number"], dtype=np.int64),
    )  # fmt: skip


def teacher_games(count: int, *, size: int, komi: float, playouts: int, seed: int) -> list[SgfGame]:
    """``count`` games of MCTS (UCT, random playouts) against itself, seeded by (seed, game)."""
    from deepkata.go.players import MCTSPlayer, play_game
    from deepkata.search.mcts import SearchConfig

    games = []
    for i in range(count):
        a, b = np.random.SeedSequence([seed, i]).generate_state(2)
        search = SearchConfig(rule="uct", c=1.0, playouts=playouts)
        state = GoState(size, komi)
        record = play_game((MCTSPlayer(search, int(a)), MCTSPlayer(search, int(b))), state, max_moves=3 * size * size)
        result = "0" if record.winner is None else f"{'BW'[record.winner]}+{abs(record.score or 0):g}"
        games.append(SgfGame(size=size, komi=komi, result=result, moves=[(k % 2, m) for k, m in enumerate(record.moves)], info={"PB": "mcts", "PW": "mcts"}))
    return games


@dataclass(frozen=True, kw_only=True)
class RecordsConfig(KataConfig):
    """Where the AlphaGo katas' games come from."""

    games: Literal["auto", "generated"] = param("auto", "records: auto (--data, else $DEEPKATA_DATA/go-records-9x9, else generated) or generated")
    max_games: int = param(0, "games read from a collection (0: all), taken in order", ge=0)
    generated_games: int = param(200, "games MCTS plays against itself when no records are given", gt=0)
    generated_size: int = param(7, "board of the generated games", ge=5, le=19)
    teacher_playouts: int = param(300, "MCTS playouts per move of the generated games", gt=0)


def kata_games(cfg: RecordsConfig, run: Any) -> tuple[list[SgfGame], list[SgfGame], str]:
    """Training and validation games, and what they are."""
    folder: Path | None = None
    env = os.environ.get("DEEPKATA_DATA")
    if cfg.games == "auto":
        if run.data is not None:
            folder = run.data
        elif env and (Path(env) / RECORDS / "index.jsonl").is_file():
            folder = Path(env) / RECORDS
    if folder is None:
        games = teacher_games(cfg.generated_games, size=cfg.generated_size, komi=7.0 if cfg.generated_size >= 7 else 3.0,
                              playouts=cfg.teacher_playouts, seed=run.seed)  # fmt: skip
        val = [g for i, g in enumerate(games) if i % 10 == 9]
        train = [g for i, g in enumerate(games) if i % 10 != 9]
        return train, val, f"MCTS against itself ({cfg.teacher_playouts} playouts a move, {cfg.generated_size}x{cfg.generated_size}, generated)"
    listed = [g for g in read_collection(folder) if g.played_out]  # an engine's timeout or crash: its last moves were no one's
    if cfg.max_games:
        listed = listed[: cfg.max_games]
    train = [read_sgf(g.path) for g in listed if g.split == "train"]
    val = [read_sgf(g.path) for g in listed if g.split == "validation"]
    if not train or not val:
        raise UserError(f"{folder}: needs training and validation games (has {len(train)} and {len(val)}; every tenth match validates)")
    sizes = {g.size for g in train + val}
    if len(sizes) > 1:
        raise UserError(f"{folder}: games of several board sizes ({sorted(sizes)}); expected one")
    return train, val, f"GNU Go against itself ({folder})"
