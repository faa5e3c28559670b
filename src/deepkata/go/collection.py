"""Game records for the AlphaGo katas: GNU Go against itself at mixed levels, through the arena.

AlphaGo's SL policy learned from 30 million positions of strong human games (Silver et al. 2016);
on 9 x 9 there is no such archive here, so the records are GNU Go's. ``deepkata go-records --out
DIR --games N`` plays N games of GNU Go against itself as two-game matches through
:func:`deepkata.go.arena.run_arena`, colours swapped in the second game:

- both engines run with ``--capture-all-dead --chinese-rules``, so a game ends with no dead
  stones on the board and its area count is the result; the arena checks every move with our
  rules and each engine's ``final_score`` against that count;
- match k draws its two levels (uniform over ``levels``) and both engines' ``--seed`` from
  (seed, k), so a collection is the same however it is run, and GNU Go's seeded choices among
  moves it values alike vary the games;
- each match is a folder ``m-00001/`` holding the arena's ``arena.json``, ``games.jsonl`` and
  SGF files, and ``done.json`` (levels, seconds) once both games are played. A collection that is
  interrupted continues where it stopped when the command is run again (the arena resumes a
  match game by game); ``workers`` matches run at once, each in its own process;
- **the split is by match**: match k is a validation match when k is a multiple of
  ``validation_every`` (every tenth by default), so no game, and no pair of games that share
  their levels and seeds, lies on both sides;
- ``collection.json`` holds the settings from the start and, once a run of the command ends,
  the count and the time the games took; ``index.jsonl`` then lists every game (its SGF, split,
  levels, winner, moves). :func:`read_collection` reads the finished matches, so a collection
  can be trained on while it is still being played.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from deepkata.core import records
from deepkata.core.errors import UserError

__all__ = ["CollectedGame", "CollectionSettings", "collect", "match_plan", "read_collection"]

GNUGO = "/usr/games/gnugo"


@dataclass(frozen=True)
class CollectionSettings:
    games: int
    gnugo: str = GNUGO  # GNU Go's executable
    size: int = 9
    komi: float = 7.0
    levels: tuple[int, int] = (1, 10)  # the lowest and highest level drawn
    seed: int = 0
    validation_every: int = 10  # match k validates when k % validation_every == 0
    move_timeout: float = 120.0

    def __post_init__(self) -> None:
        low, high = self.levels
        if not 0 <= low <= high <= 10:
            raise UserError(f"levels: {low}-{high} is not a range within GNU Go's 0-10")
        if self.games < 1:
            raise UserError(f"games: {self.games}; expected at least 1")
        if self.validation_every < 2:
            raise UserError(f"validation_every: {self.validation_every}; expected at least 2 (1 would leave nothing to train on)")


@dataclass(frozen=True)
class Match:
    index: int  # 1-based
    games: int  # 1 or 2
    levels: tuple[int, int]  # engine A's (Black in game 1), engine B's
    seeds: tuple[int, int]
    split: str  # "train" or "validation"

    @property
    def folder(self) -> str:
        return f"m-{self.index:05d}"


def match_plan(settings: CollectionSettings) -> list[Match]:
    """The matches of a collection: ``games`` games in two-game matches, each drawn from (seed, k)."""
    matches = []
    for k in range(1, (settings.games + 1) // 2 + 1):
        rng = np.random.default_rng([settings.seed, k])
        levels = rng.integers(settings.levels[0], settings.levels[1] + 1, size=2)
        seeds = rng.integers(1, 2**31 - 1, size=2)
        split = "validation" if k % settings.validation_every == 0 else "train"
        matches.append(Match(k, min(2, settings.games - 2 * (k - 1)), (int(levels[0]), int(levels[1])), (int(seeds[0]), int(seeds[1])), split))
    return matches


def _engine(settings: CollectionSettings, level: int, seed: int) -> str:
    return f"{settings.gnugo} --mode gtp --level {level} --seed {seed} --capture-all-dead --chinese-rules"


def play_match(settings: CollectionSettings, match: Match, out: Path) -> dict[str, Any]:
    """Play (or finish) one match into ``out / match.folder``; returns its ``done.json``."""
    from deepkata.go.arena import ArenaSettings, run_arena

    folder = out / match.folder
    start = time.perf_counter()
    arena = ArenaSettings(
        _engine(settings, match.levels[0], match.seeds[0]), _engine(settings, match.levels[1], match.seeds[1]),
        match.games, settings.size, settings.komi, 3 * settings.size * settings.size, settings.move_timeout,
    )  # fmt: skip
    games = run_arena(arena, folder)
    done = {"match": match.index, "levels": list(match.levels), "split": match.split, "games": len(games), "seconds": time.perf_counter() - start}
    records.write_json(folder / "done.json", done)
    return done


def _finished(out: Path, match: Match) -> dict[str, Any] | None:
    done = out / match.folder / "done.json"
    if not done.exists():
        return None
    record = records.read_json(done)
    return record if record.get("games") == match.games else None


def collect(settings: CollectionSettings, out: Path, *, workers: int = 1, on_match: Callable[[dict[str, Any], int, int], None] | None = None) -> dict[str, Any]:
    """Play every match not yet done, ``workers`` at a time; write ``index.jsonl`` and ``collection.json``."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file, not a folder")
    if not Path(settings.gnugo).is_file():
        raise UserError(f"--gnugo {settings.gnugo}: no such file (install GNU Go: apt-get install gnugo)")
    saved = out / "collection.json"
    if saved.exists():
        before = records.read_json(saved)["settings"]
        now = json.loads(json.dumps(asdict(settings)))  # tuples as lists, as the file holds them
        if {k: v for k, v in before.items() if k != "games"} != {k: v for k, v in now.items() if k != "games"}:
            raise UserError(f"{out}: holds a collection with other settings ({saved}); choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    previous = records.read_json(saved) if saved.exists() else {}
    before_wall = float(previous.get("wall_seconds", 0.0))  # the earlier runs of the command
    records.write_json(saved, {**previous, "settings": asdict(settings)})  # at once: a rerun with other settings is refused
    plan = match_plan(settings)
    todo = [m for m in plan if _finished(out, m) is None]
    wall = time.perf_counter()
    finished = len(plan) - len(todo)
    if todo:
        pool = ProcessPoolExecutor(max_workers=max(1, workers), mp_context=get_context("spawn"))
        try:
            futures = [pool.submit(play_match, settings, m, out) for m in todo]
            for future in as_completed(futures):
                done = future.result()
                finished += 1
                # the wall time so far, kept after each match: an interrupted run still counts
                records.write_json(saved, {**previous, "settings": asdict(settings), "wall_seconds": before_wall + time.perf_counter() - wall})
                if on_match is not None:
                    on_match(done, finished, len(plan))
        except BaseException as stopped:  # Ctrl-C, an error: stop the workers too, or they would play on (and a rerun beside them)
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            if isinstance(stopped, KeyboardInterrupt):  # stopped on purpose: index what was played, as a finished run does
                _write_index(settings, out, plan, before_wall + time.perf_counter() - wall, workers)
            raise
        pool.shutdown()
    return _write_index(settings, out, plan, before_wall + time.perf_counter() - wall, workers)


def _listed(out: Path, plan: list[Match]) -> tuple[list[dict[str, Any]], float]:
    """The games of the finished matches, as index.jsonl lists them, and the seconds they took."""
    lines, seconds = [], 0.0
    for m in plan:
        done = _finished(out, m)
        if done is None:
            continue
        seconds += done["seconds"]
        path = out / m.folder / "games.jsonl"
        seen: set[int] = set()
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                try:
                    row = json.loads(line)
                    if row["index"] in seen:  # a game recorded twice (two runs on one folder at once): counted once
                        continue
                    seen.add(row["index"])
                    colour = None if row["winner"] is None else ("black" if row["winner"] == row["black"] else "white")
                    levels = dict(zip("AB", m.levels, strict=True))
                    lines.append({"sgf": f"{m.folder}/game-{row['index']:04d}.sgf", "split": m.split, "match": m.index,
                                  "black_level": levels[row["black"]], "white_level": levels[row["white"]], "winner": colour,
                                  "reason": row["reason"], "moves": len(row["moves"])})  # fmt: skip
                except (json.JSONDecodeError, KeyError, TypeError) as e:
                    raise UserError(f"{path}:{number}: expected an arena game record ({type(e).__name__}: {e})") from None
    return lines, seconds


def _write_index(settings: CollectionSettings, out: Path, plan: list[Match], wall: float, workers: int) -> dict[str, Any]:
    lines, seconds = _listed(out, plan)
    records.write_text(out / "index.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    summary = {
        "settings": asdict(settings),
        "games": len(lines),
        "train_games": sum(g["split"] == "train" for g in lines),
        "validation_games": sum(g["split"] == "validation" for g in lines),
        "moves": sum(g["moves"] for g in lines),
        "game_seconds": seconds,  # the matches' own time, summed (CPU-bound: about the core-seconds)
        "wall_seconds": wall,  # every run of the command, summed
        "workers": workers,
        "endings": {r: sum(g["reason"] == r for g in lines) for r in sorted({g["reason"] for g in lines})},
    }
    records.write_json(out / "collection.json", summary)
    return summary


@dataclass(frozen=True)
class CollectedGame:
    path: Path  # the SGF file
    split: str
    black_level: int
    white_level: int
    winner: str | None  # "black", "white", or None (a draw, or a disputed game)
    reason: str = "score"  # how the game ended (the arena's reasons: score, resign, timeout, crash...)
    moves: int = 0  # moves played, passes included

    @property
    def played_out(self) -> bool:
        """Ended by the players (score, resignation, move limit), not by an engine's failure."""
        return self.reason in ("score", "resign", "move limit")


def read_collection(out: Path) -> list[CollectedGame]:
    """The games of a collection's finished matches (also while the collection is still being played)."""
    saved = out / "collection.json"
    if not saved.is_file():
        raise UserError(f"{out}: no collection.json (make the games with: deepkata go-records --out {out})")
    try:
        raw = records.read_json(saved)["settings"]
        settings = CollectionSettings(**{**raw, "levels": tuple(raw["levels"])})
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"{saved}: expected the settings of a go-records collection ({type(e).__name__}: {e})") from None
    lines, _ = _listed(out, match_plan(settings))
    return [CollectedGame(out / g["sgf"], g["split"], g["black_level"], g["white_level"], g["winner"], g["reason"], g.get("moves", 0)) for g in lines]
