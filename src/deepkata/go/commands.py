"""The Go topic's task commands, ``deepkata gtp`` and ``deepkata arena``.

Only the command-line surface lives here; the engine (:mod:`deepkata.go.gtp`) and the arena
(:mod:`deepkata.go.arena`) are imported when a command runs, so that ``deepkata list`` does
not pay for compiling the Go kernels.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from deepkata.go.coords import MAX_SIZE, MIN_SIZE

# the choices that --help lists (deepkata.go.gtp.make_player checks the same names)
PlayerKind = Literal["random", "mcts", "policy", "value", "alphago"]
SearchRule = Literal["uct", "rave"]


def gtp(
    player: Annotated[PlayerKind, typer.Option("--player", help="Who chooses the moves: uniform random legal moves, Monte Carlo tree search, AlphaGo's policy network alone, its value network alone (one ply), or AlphaGo's search.")] = "mcts",
    weights: Annotated[list[Path] | None, typer.Option("--weights", metavar="DIR", help="--player policy/value/alphago: run folders of alphago-sl, alphago-rollout, alphago-value (policy.pt, rollout.pt, value.pt; the first that holds each).")] = None,
    mix: Annotated[float | None, typer.Option("--mix", min=0, max=1, help="--player alphago: λ, the rollouts' share of a leaf's value against the value network's (default 1: rollouts only).")] = None,
    playouts: Annotated[int | None, typer.Option("--playouts", help="MCTS simulations per move (default 1000 when --seconds is not given).")] = None,
    seconds: Annotated[float | None, typer.Option("--seconds", help="MCTS thinking time per move; with --playouts, whichever ends first.")] = None,
    rule: Annotated[SearchRule, typer.Option("--rule", help="MCTS selection rule.")] = "uct",
    c: Annotated[float | None, typer.Option("--c", help="Exploration constant (default 1.0 for uct, 0.2 for rave).")] = None,
    resign_below: Annotated[float, typer.Option("--resign-below", min=0, max=1, help="Resign when the expected win rate falls below this (0: never).")] = 0.0,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the player's random numbers.")] = 0,
    size: Annotated[int, typer.Option("--size", min=MIN_SIZE, max=MAX_SIZE, help="Board size until boardsize says otherwise.")] = 9,
    komi: Annotated[float, typer.Option("--komi", help="Komi until komi says otherwise.")] = 7.0,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="Threads of the networks' computations (default: PyTorch's, one per core).")] = None,
) -> None:
    """Play Go over GTP v2 on standard input and output (for GUIs such as Sabaki or GoGui, and for arenas)."""
    from deepkata.go.gtp import GtpEngine, make_player

    if threads is not None:
        import torch

        torch.set_num_threads(threads)

    chosen = make_player(player, seed=seed, playouts=playouts, seconds=seconds, rule=rule, resign_below=resign_below, c=c, weights=weights, mix=mix)
    engine = GtpEngine(chosen, size=size, komi=komi, log=sys.stderr)
    engine.run(sys.stdin.buffer, sys.stdout.buffer)


def arena(
    black: Annotated[str, typer.Option("--black", help="Engine A's command line; A takes Black in games 1, 3, 5...")],
    white: Annotated[str, typer.Option("--white", help="Engine B's command line; B takes Black in games 2, 4, 6...")],
    games: Annotated[int, typer.Option("--games", min=1, help="Games to play.")] = 2,
    size: Annotated[int, typer.Option("--size", min=MIN_SIZE, max=MAX_SIZE, help="Board size.")] = 9,
    komi: Annotated[float, typer.Option("--komi", help="Komi (added to White's area).")] = 7.0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the SGF files, games.jsonl and summary.json; an unfinished match there continues.")] = Path("runs/arena"),
    move_timeout: Annotated[float, typer.Option("--move-timeout", min=0.1, help="Seconds an engine may take for one command.")] = 120.0,
    max_moves: Annotated[int | None, typer.Option("--max-moves", min=1, help="Moves before a game is scored as it stands (default 3 x size^2).")] = None,
    referee: Annotated[str | None, typer.Option("--referee", help="A GTP engine's command line (e.g. \"/usr/games/gnugo --mode gtp\") that names the dead stones when the players disagree; without one such a game is disputed and not counted.")] = None,
) -> None:
    """Play two GTP engines with alternating colours; save every game as SGF; report wins with a 95% interval and Elo.

    After two passes the dead stones are settled as Go servers do: when the engines' final_score
    and the area count disagree, the stones both engines name in final_status_list dead are
    removed, else the referee's are; a game still unsettled is reported as disputed.
    """
    from rich.console import Console

    from deepkata.core import records
    from deepkata.go.arena import ArenaGame, ArenaSettings, run_arena, summarize

    console = Console(highlight=False, markup=False, soft_wrap=True)
    settings = ArenaSettings(black, white, games, size, komi, max_moves or 3 * size * size, move_timeout, referee)

    def report(game: ArenaGame) -> None:
        who = "disputed, not counted" if game.disputed else "draw" if game.winner is None else f"{game.winner} wins"
        scores = ", ".join(f"{side} {text}" for side, text in sorted(game.engine_scores.items()))
        agree = "" if game.scores_agree is None else f"; engines' final_score {'agrees' if game.scores_agree else 'differs'} ({scores})"
        console.print(f"game {game.index}: A {'black' if game.black == 'A' else 'white'}, {who} ({game.reason}: {game.detail}){agree}")

    played = run_arena(settings, out, on_game=report)
    summary = summarize(played)
    disputed = f", {summary['disputed']} disputed (not counted)" if summary["disputed"] else ""
    records.write_json(out / "summary.json", summary)
    console.print(
        f"A = {black}\nB = {white}\n{summary['games']} games: A {summary['a_wins']} wins, B {summary['b_wins']}, "
        f"{summary['draws']} draws{disputed}; A scores {summary['describe']} (95%)\nendings: {summary['endings']}\n"
        f"SGF files and summary.json in {out}"
    )


def go_records(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder of the collection; an unfinished one there continues.")],
    games: Annotated[int, typer.Option("--games", min=1, help="Games to have in the collection (two-game matches).")] = 2000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Matches played at once, each in its own process.")] = 1,
    levels: Annotated[str, typer.Option("--levels", help="GNU Go levels drawn from, LOW-HIGH.")] = "1-10",
    size: Annotated[int, typer.Option("--size", min=MIN_SIZE, max=MAX_SIZE, help="Board size.")] = 9,
    komi: Annotated[float, typer.Option("--komi", help="Komi (added to White's area).")] = 7.0,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the levels and GNU Go's seeds.")] = 0,
    gnugo: Annotated[str, typer.Option("--gnugo", help="GNU Go's executable.")] = "/usr/games/gnugo",
) -> None:
    """Play GNU Go against itself at mixed levels (--capture-all-dead) for the AlphaGo katas' game records: SGF files, split by match."""
    from rich.console import Console

    from deepkata.core.errors import UserError
    from deepkata.go.collection import CollectionSettings, collect

    low, _, high = levels.partition("-")
    try:
        span = (int(low), int(high or low))
    except ValueError:
        raise UserError(f"--levels {levels!r}: expected LOW-HIGH, for example 1-10") from None
    console = Console(highlight=False, markup=False, soft_wrap=True)
    settings = CollectionSettings(games, gnugo, size, komi, span, seed)

    def report(done: dict[str, object], finished: int, total: int) -> None:
        console.print(f"match {done['match']} ({finished}/{total}): levels {done['levels']}, {done['split']}, {float(done['seconds']):.0f} s")  # type: ignore[arg-type]

    def stop(signum: int, frame: object) -> None:  # kill PID: stop as Ctrl-C does, workers included
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    summary = collect(settings, out, workers=workers, on_match=report)
    console.print(
        f"{summary['games']} games ({summary['train_games']} train, {summary['validation_games']} validation), {summary['moves']:,} moves; "
        f"{summary['game_seconds'] / 60:.1f} min of play, {summary['wall_seconds'] / 60:.1f} min of wall time; index.jsonl and collection.json in {out}"
    )
