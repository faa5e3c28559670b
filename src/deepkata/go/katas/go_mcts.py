"""Kata ``go-mcts``: Monte Carlo tree search with random playouts against a random player.

The Day 4 notes' AlphaGo section: "モンテカルロ木探索で PlayOut と呼ばれるランダムシミュレーションを
多数回行い、その勝敗を集計して着手の優劣を決定する" (many random playouts decide which move is
better), and the tree grows below a move once its simulations pass a threshold
(``expand_after``). This kata plays :class:`~deepkata.go.players.MCTSPlayer` against the
baseline it must beat, :class:`~deepkata.go.players.RandomPlayer` (uniform over legal moves that
do not fill its own eyes), with colours alternating, and reports MCTS's wins with a 95% Wilson
interval, the Elo difference they imply, its playouts per second and every game as SGF.

Each game is a job on the engine (:class:`~deepkata.core.engine.Task`: it cannot pause
midway). Its players are seeded from (seed, game number), so a run resumed after an
interruption plays exactly the games an uninterrupted run plays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from deepkata.core import records
from deepkata.core.config import KataConfig, param
from deepkata.core.engine import JobContext, JobSpec, Task
from deepkata.core.plots import figure, integer_ticks
from deepkata.core.registry import Expectation, Outcome, register_kata
from deepkata.core.runner import Run
from deepkata.go.board import GoState
from deepkata.go.coords import gtp_vertex
from deepkata.go.players import MCTSPlayer, RandomPlayer, play_game
from deepkata.go.rating import MatchEstimate
from deepkata.go.sgf import SgfGame, write_sgf
from deepkata.search.mcts import SearchConfig

COLOURS = ("black", "white")  # by player index: Black moves first


@dataclass(frozen=True, kw_only=True)
class GoMCTSConfig(KataConfig):
    size: int = param(9, "board size (N x N)", ge=5, le=19)
    komi: float = param(7.0, "komi added to White's area", ge=-50, le=50)
    games: int = param(20, "games against the random player; MCTS takes Black in the odd-numbered ones", gt=0, le=10_000)
    playouts: int = param(1000, "MCTS simulations per move", gt=0, le=1_000_000)
    rule: Literal["uct", "rave"] = param("uct", "selection rule: UCT, or UCT with rapid action value estimation")
    c: float = param(1.0, "exploration constant c of the selection rule", ge=0)
    rave_k: float = param(1000.0, "RAVE equivalence parameter k: beta = sqrt(k / (3n + k))", gt=0)
    expand_after: int = param(1, "simulations through a node before it grows children", ge=1, le=10_000)
    max_moves: int = param(0, "moves before a game is scored as it stands; 0: 3 x size^2", ge=0)


@register_kata(
    name="go-mcts",
    topic="go",
    section="Day 4 · AlphaGo: Monte Carlo tree search with playouts",
    description="MCTS (UCT or RAVE) with random playouts against a random Go player, wins with a 95% interval",
    config=GoMCTSConfig,
    presets={
        "smoke": {"size": 5, "komi": 3.0, "games": 6, "playouts": 200},
        "default": {},
        "rave": {"rule": "rave", "c": 0.2},
        "full": {"games": 100, "playouts": 3000},
    },
    expectations=[
        Expectation("MCTS is better than random: the 95% interval of its score lies above 50%", "eval/score_low", ">=", 0.5),
        Expectation("MCTS wins every game against random", "eval/score", ">=", 1.0, presets=("default", "rave", "full")),
        Expectation("every move searched its full budget of playouts", "mcts/min_playouts", ">=", "config/playouts"),
    ],
    cpu_only=True,  # NumPy and numba
)
def run(cfg: GoMCTSConfig, run: Run) -> Outcome:
    grid = [JobSpec(f"game{index:03d}", index, tags={"mcts": COLOURS[_mcts_colour(index)]}) for index in range(1, cfg.games + 1)]

    def make_job(index: int, ctx: JobContext) -> Task:
        def play() -> dict[str, Any]:
            game = _play(cfg, ctx.seed, index)
            ctx.log(index, {k: game[k] for k in ("mcts_won", "margin", "moves", "playouts_per_s")})
            return game

        return Task(play)

    results = run.sweep(grid, make_job, description="games")
    return _outcome(cfg, run, [results[spec.key] for spec in grid])


def _mcts_colour(index: int) -> int:
    """MCTS's colour in game ``index``: Black (0) in the odd-numbered games, White (1) in the others."""
    return 0 if index % 2 == 1 else 1


def _play(cfg: GoMCTSConfig, seed: int, index: int) -> dict[str, Any]:
    """Game ``index`` (1-based): its players' seeds come from (seed, index), so it can be replayed alone."""
    mcts_seed, random_seed = np.random.SeedSequence([seed, index]).generate_state(2)
    search = SearchConfig(rule=cfg.rule, c=cfg.c, rave_k=cfg.rave_k, expand_after=cfg.expand_after, playouts=cfg.playouts)
    mcts, rand = MCTSPlayer(search, int(mcts_seed)), RandomPlayer(int(random_seed))
    mcts_colour = _mcts_colour(index)
    players = (mcts, rand) if mcts_colour == 0 else (rand, mcts)
    board = GoState(cfg.size, cfg.komi)
    record = play_game(players, board, max_moves=cfg.max_moves or 3 * cfg.size * cfg.size)
    mcts_moves = record.info[mcts_colour::2]
    sign = 1.0 if mcts_colour == 0 else -1.0
    return {
        "index": index,
        "mcts": COLOURS[mcts_colour],
        "mcts_won": int(record.winner == mcts_colour),
        "draw": int(record.winner is None),
        "margin": sign * record.score,  # MCTS's area minus the opponent's, komi included
        "moves": len(record.moves),
        "reason": record.reason,
        "playouts_per_s": float(np.mean([m["playouts_per_s"] for m in mcts_moves])),
        "seconds_per_move": float(np.mean([m["seconds"] for m in mcts_moves])),
        "min_playouts": int(min(m["playouts"] for m in mcts_moves)),
        "sgf": write_sgf(
            SgfGame(
                size=cfg.size, komi=cfg.komi, moves=[(k % 2, a) for k, a in enumerate(record.moves)],
                result=("0" if record.winner is None else f"{'BW'[record.winner]}+{abs(record.score):g}"),
                info={"PB": "mcts" if mcts_colour == 0 else "random", "PW": "random" if mcts_colour == 0 else "mcts"},
            )
        ),  # fmt: skip
        "final": str(board),
        "last_move": gtp_vertex(record.moves[-1], cfg.size) if record.moves else "",
    }


def _outcome(cfg: GoMCTSConfig, run: Run, games: list[dict[str, Any]]) -> Outcome:
    for g in games:
        run.save_file(f"games/game-{g['index']:03d}.sgf", lambda path: records.write_text(path, g["sgf"]))
    wins = sum(g["mcts_won"] for g in games)
    draws = sum(g["draw"] for g in games)
    estimate = MatchEstimate.of(wins, len(games) - wins - draws, draws)
    as_black = [g for g in games if g["mcts"] == "black"]
    as_white = [g for g in games if g["mcts"] == "white"]
    metrics = {
        "eval/games": len(games),
        "eval/wins": wins,
        "eval/draws": draws,
        "eval/score": estimate.score,
        "eval/score_low": estimate.score_low,
        "eval/score_high": estimate.score_high,
        "eval/elo": estimate.elo if np.isfinite(estimate.elo) else None,
        "eval/elo_low": estimate.elo_low if np.isfinite(estimate.elo_low) else None,
        "eval/wins_as_black": sum(g["mcts_won"] for g in as_black),
        "eval/wins_as_white": sum(g["mcts_won"] for g in as_white),
        "eval/margin_mean": float(np.mean([g["margin"] for g in games])),
        "eval/moves_mean": float(np.mean([g["moves"] for g in games])),
        "mcts/min_playouts": min(g["min_playouts"] for g in games),
        "config/playouts": cfg.playouts,
    }
    timings = {
        "mcts/playouts_per_s": float(np.mean([g["playouts_per_s"] for g in games])),
        "mcts/seconds_per_move": float(np.mean([g["seconds_per_move"] for g in games])),
    }
    rows = [
        {
            "game": g["index"], "MCTS plays": g["mcts"], "winner": "draw" if g["draw"] else ("MCTS" if g["mcts_won"] else "random"),
            "MCTS margin (area, komi incl.)": g["margin"], "moves": g["moves"], "ended by": g["reason"],
            "playouts/s": round(g["playouts_per_s"]), "file": f"games/game-{g['index']:03d}.sgf",
        }
        for g in games
    ]  # fmt: skip
    table = run.save_table("games", rows, "Every game: who won, by how much, and its SGF file")
    run.save_figure(_figure(games, estimate), "games", "MCTS's area margin in each game, and its score with the 95% Wilson interval")
    elo = "unbounded above (it won every game)" if not np.isfinite(estimate.elo) else f"{estimate.elo:+.0f}"
    summary = (
        f"MCTS ({cfg.rule.upper()}, {cfg.playouts:,} playouts per move) against the random player on {cfg.size}x{cfg.size} "
        f"with komi {cfg.komi:g}: **{wins} wins, {len(games) - wins - draws} losses, {draws} draws** in {len(games)} games "
        f"({metrics['eval/wins_as_black']} of {len(as_black)} as Black, {metrics['eval/wins_as_white']} of {len(as_white)} as White). "
        f"Its score is {estimate.describe()} at 95%; the Elo estimate is {elo}, with the lower bound "
        f"{estimate.elo_low:+.0f}. The baseline, random against random, scores 50% by symmetry of the alternating colours. "
        f"Mean area margin {metrics['eval/margin_mean']:+.1f} points. Search speed: "
        f"{timings['mcts/playouts_per_s']:,.0f} playouts per second, {timings['mcts/seconds_per_move']:.3f} s per move "
        "(a timing, on this machine under its current load)."
    )
    last = games[-1]
    sections = [
        ("Games", table),
        ("Final position of the last game", f"Game {last['index']}, last move {last['last_move']}; X black, O white.\n\n```\n{last['final']}\n```"),
    ]
    return Outcome(metrics, summary, sections, timings)


def _figure(games: list[dict[str, Any]], estimate: MatchEstimate) -> Any:
    fig, (ax_margin, ax_score) = figure(1, 2, width=5.0, height=3.6)
    index = [g["index"] for g in games]
    colours = ["black" if g["mcts"] == "black" else "lightgray" for g in games]
    ax_margin.bar(index, [g["margin"] for g in games], color=colours, edgecolor="black", linewidth=0.5)
    ax_margin.axhline(0, color="k", lw=0.8)
    integer_ticks(ax_margin)
    ax_margin.set(xlabel="game (dark: MCTS is Black)", ylabel="MCTS area − opponent area, komi incl.", title="margin per game")
    ax_score.errorbar(
        [0], [estimate.score], yerr=[[estimate.score - estimate.score_low], [estimate.score_high - estimate.score]],
        fmt="o", capsize=8, color="tab:blue",
    )  # fmt: skip
    ax_score.axhline(0.5, color="tab:red", ls="--", lw=0.8, label="random vs random")
    ax_score.annotate(f"{estimate.score:.2f} [{estimate.score_low:.2f}, {estimate.score_high:.2f}]", (0, estimate.score),
                      xytext=(12, 0), textcoords="offset points", va="center", fontsize=8)  # fmt: skip
    ax_score.set(xlim=(-1, 1), ylim=(0, 1.05), xticks=[0], xticklabels=[f"MCTS against random, {len(games)} games"],
                 ylabel="MCTS score (wins + draws/2)", title="score, 95% Wilson interval")  # fmt: skip
    ax_score.legend(fontsize=8)
    return fig
