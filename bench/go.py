"""The Go engine at full scale: speed, agreement with GNU Go, and strength against random and GNU Go.

Sections (run one, or ``all``); each updates its own entry of ``bench/results/go.json`` (``--out``):

- ``speed`` (a timing): random 9x9 playouts per second on one core, from the empty board and
  from a middle-game position, and MCTS simulations per second (tree + playout) for UCT and RAVE;
- ``agreement``: random-vs-random games refereed by GNU Go (legal moves of every position,
  final area score) and random-vs-GNU Go games, on several board sizes;
- ``random``: MCTS against the random player, the ``go-mcts`` kata's default preset (20 games);
- ``gnugo``: MCTS over GTP (``deepkata gtp``) against GNU Go through the arena, for each
  playout budget and level given. Each match plays into ``bench/results/go-arena/<rule>-p<P>-l<L>/``
  and continues there when interrupted and run again.

    python bench/go.py speed
    python bench/go.py agreement --agreement-games 1000
    python bench/go.py gnugo --playouts 1000 10000 --levels 1 10 --games 20
    nice -n 10 python bench/go.py all
    python bench/go.py --smoke --out /tmp/go     # every section, tiny (CI): 5x5 agreement, one arena game

The record names the commit and versions the benchmark started with; each section, and each
``gnugo`` match, is saved as soon as it ends, so an interrupted ``all`` keeps what it finished.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _shared import add_options, parse

from deepkata.core import runner
from deepkata.core.benchmark import command, record, time_per_call
from deepkata.core.records import environment
from deepkata.core.registry import get_kata
from deepkata.go.arena import ArenaSettings, run_arena, summarize
from deepkata.go.board import GoState
from deepkata.search.mcts import MCTS, SearchConfig
from deepkata.go.referee import GNUGO, referee_game, start_gnugo

# (size, opponent, share of the games) of the agreement section
PLAN = [(5, "random", 0.2), (7, "random", 0.2), (9, "random", 0.3), (13, "random", 0.05), (19, "random", 0.05),
        (5, "gnugo", 0.08), (7, "gnugo", 0.06), (9, "gnugo", 0.06)]  # fmt: skip
# the options' values under --smoke: every section in seconds
SMOKE = {"repeat": 1, "number": 20, "search_playouts": 50, "agreement_games": 2, "sizes": [5], "playouts": [8], "levels": [1], "games": 1}


@dataclass(frozen=True)
class GoRecord:
    """``out/go.json``: one section per part of the benchmark, replaced as each is measured."""

    out: Path
    env: dict[str, Any]  # the environment when the benchmark started

    def update(self, section: str, value: Any) -> None:
        """Replace one section of ``go.json``, keeping the others."""
        path = self.out / "go.json"
        results = json.loads(path.read_text())["results"] if path.exists() else {}
        if section == "gnugo":
            value = {**results.get("gnugo", {}), **value}
        else:
            value = {**value, "bench_command": command()}  # go.json's own "command" is the last section's
        results[section] = value
        record("go", results, env=self.env, out_dir=self.out)


def speed(repeat: int, number: int, search_playouts: int) -> dict[str, Any]:
    """Playouts and MCTS simulations per second on 9x9, komi 7, in this process (one core).

    Each playout rate is the median of ``repeat`` timings of ``number`` playouts; each MCTS rate
    one search of ``search_playouts`` simulations.
    """
    rng = np.random.default_rng(0)
    empty = GoState(9, 7.0)
    middle = GoState(9, 7.0)
    for _ in range(30):
        choices = middle.sensible_actions()
        middle.play(int(choices[rng.integers(len(choices))]))
    empty.rollout(rng)  # compile (or load the cached kernels) before timing
    out: dict[str, Any] = {}
    for name, state in (("empty_board", empty), ("after_30_moves", middle)):
        t = time_per_call(lambda: state.rollout(rng), number=number, repeat=repeat)
        out[f"playouts_per_s_{name}"] = round(1.0 / t["median_s"])
        out[f"playout_timing_{name}"] = t
    lengths = [len(empty.rollout(rng).actions) for _ in range(min(number, 1000))]
    out["playout_moves_mean_empty_board"] = float(np.mean(lengths))
    for rule in ("uct", "rave"):
        search = MCTS(SearchConfig(rule=rule, playouts=search_playouts))
        search.search(empty, rng, playouts=min(200, search_playouts))
        start = time.perf_counter()
        result = search.search(empty, rng)
        out[f"mcts_{rule}_simulations_per_s_empty_board"] = round(result.playouts / (time.perf_counter() - start))
    out["target_playouts_per_s"] = 2000
    out["meets_target"] = out["playouts_per_s_empty_board"] >= 2000
    out["accelerator"] = "numba (compiled kernels for the board, legality, scoring and the whole playout)"
    out["note"] = "timing: single process, one core; other processes on the machine skew it"
    return out


def agreement(games: int, seed: int, sizes: list[int]) -> dict[str, Any]:
    """Legality and area-score agreement with GNU Go over ``games`` refereed games on ``sizes``."""
    plan = [(size, opponent, share) for size, opponent, share in PLAN if size in sizes]
    gnugo = start_gnugo()
    rows = []
    try:
        k = 0
        for size, opponent, share in plan:
            n = max(1, round(games * share))
            stats = {"size": size, "opponent": opponent, "games": n, "positions": 0, "moves": 0, "legal_disagreements": 0,
                     "played_out": 0, "played_out_score_agree": 0, "all_scores_agree": 0, "examples": []}  # fmt: skip
            start = time.perf_counter()
            for _ in range(n):
                g = referee_game(gnugo, size=size, komi=7.0, seed=seed + k, opponent=opponent)
                k += 1
                stats["positions"] += g.positions_checked
                stats["moves"] += len(g.moves)
                stats["legal_disagreements"] += len(g.disagreements)
                stats["examples"] += g.disagreements[: max(0, 3 - len(stats["examples"]))]
                stats["played_out"] += g.played_out
                stats["played_out_score_agree"] += g.played_out and g.scores_agree
                stats["all_scores_agree"] += g.scores_agree
            stats["seconds"] = round(time.perf_counter() - start, 1)
            rows.append(stats)
    finally:
        gnugo.close()
    total = {key: sum(r[key] for r in rows) for key in ("games", "positions", "moves", "legal_disagreements", "played_out", "played_out_score_agree", "all_scores_agree")}
    return {"gnugo": f"{GNUGO} (GNU Go 3.8, Debian), Chinese rules, positional superko, suicide forbidden", "komi": 7.0, "total": total, "by_setting": rows}


def vs_random(seed: int, runs: Path, preset: str) -> dict[str, Any]:
    kata = get_kata("go-mcts")
    res = runner.execute(kata, kata.preset_config(preset), preset=preset, seed=seed, root=runs, quiet=True)
    return {
        "kata": "go-mcts", "preset": preset, "run_dir": str(res.dir), "status": res.status,
        "metrics": res.result["metrics"], "timings": res.result["timings"], "expectations": res.result["expectations"],
    }  # fmt: skip


def vs_gnugo(
    go: GoRecord, playouts: list[int], levels: list[int], games: int, seed: int, resign_below: float, rule: str
) -> dict[str, Any]:
    """MCTS against GNU Go through the arena; each match plays into ``go.out/go-arena`` and is recorded as it ends."""
    if shutil.which(GNUGO) is None:
        raise SystemExit(f"{GNUGO} is missing: apt-get install gnugo")
    out: dict[str, Any] = {}
    for p in playouts:
        for level in levels:
            ours = f"{sys.executable} -m deepkata gtp --player mcts --rule {rule} --playouts {p} --seed {seed} --resign-below {resign_below}"
            # --capture-all-dead: GNU Go plays on until dead stones are off the board, as it did on
            # CGOS, whose Tromp-Taylor count (ours too) leaves nothing to agreement
            theirs = f"{GNUGO} --mode gtp --level {level} --chinese-rules --capture-all-dead"
            # GNU Go settles dead stones the two engines name differently (seki, which playouts miss)
            settings = ArenaSettings(ours, theirs, games, 9, 7.0, 3 * 81, 600.0, referee=f"{GNUGO} --mode gtp --chinese-rules")
            folder = go.out / "go-arena" / f"{rule}-p{p}-l{level}"
            start = time.perf_counter()
            played = run_arena(settings, folder)
            summary = summarize(played)
            summary["folder"] = str(folder)
            summary["a"], summary["b"] = ours, theirs
            summary["wall_s_this_session"] = round(time.perf_counter() - start, 1)
            summary["bench_command"] = command()
            out[f"{rule}-p{p}-l{level}"] = summary
            go.update("gnugo", out)  # after each match, so finished matches are kept
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("section", nargs="?", choices=["speed", "agreement", "random", "gnugo", "all"], help="(--smoke: all unless given)")
    parser.add_argument("--repeat", type=int, default=5, help="timings per speed figure")
    parser.add_argument("--number", type=int, default=2000, help="playouts per speed timing")
    parser.add_argument("--search-playouts", type=int, default=5000, help="simulations of the timed MCTS searches")
    parser.add_argument("--agreement-games", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 7, 9, 13, 19], help="board sizes of the agreement games")
    parser.add_argument("--playouts", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--games", type=int, default=20, help="games per MCTS-vs-GNU Go match")
    parser.add_argument("--rule", choices=["uct", "rave"], default="uct")
    parser.add_argument("--resign-below", type=float, default=0.0, help="our engine resigns below this win rate (0: never)")
    parser.add_argument("--seed", type=int, default=0)
    add_options(parser, runs="runs")
    args = parse(parser, SMOKE)
    if args.section is None and not args.smoke:
        parser.error("choose a section: speed, agreement, random, gnugo or all")
    args.section = args.section or "all"
    go = GoRecord(args.out, environment())
    if args.section in ("speed", "all"):
        go.update("speed", speed(args.repeat, args.number, args.search_playouts))
    if args.section in ("agreement", "all"):
        go.update("agreement", agreement(args.agreement_games, args.seed, args.sizes))
    if args.section in ("random", "all"):
        go.update("mcts_vs_random", vs_random(args.seed, args.runs, "smoke" if args.smoke else "default"))
    if args.section in ("gnugo", "all"):
        vs_gnugo(go, args.playouts, args.levels, args.games, args.seed, args.resign_below, args.rule)


if __name__ == "__main__":
    main()
