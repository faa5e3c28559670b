"""AlphaGo (Lee) on 9x9 at full scale: the four networks' training, and a strength ladder against GNU Go.

Sections (run one, or ``all``); each updates its own entry of ``bench/results/alphago.json``:

- ``records``: what the game records cost (``--records``, a ``deepkata go-records`` collection):
  games, moves, hours of play;
- ``train``: the katas ``alphago-sl`` and ``alphago-rollout`` on the records, then
  ``alphago-rl`` from the SL policy and ``alphago-value`` on the RL policy's self-play, as
  AlphaGo did (``--preset``, and ``--set KATA:KEY=VALUE`` for one kata); each run's metrics,
  timings and folder, so the training compute is on record;
- ``speed``: the search's simulations a second at λ = 0, 0.5 and 1 on one thread, ``--seconds``
  on each of three positions of the SL policy's play (a fresh tree each);
- ``ladder``: every entry against GNU Go at each ``--levels`` through the arena, ``--games``
  games a pairing, colours alternating, komi 7, GNU Go as referee of disputed dead stones and
  with ``--capture-all-dead``: random < UCT with random playouts < the policy network alone <
  the RL policy alone < the value network alone (one ply) < AlphaGo's search at λ = 0, 0.5 and 1
  (``--seconds`` a move; entries ``alphago-0``, ``alphago-50``, ``alphago-100``: λ in percent).
  Each pairing plays into ``alphago-arena/<pairing>/`` beside the record (``policy-l10``; the
  search's carry their time, ``alphago-50-5s-l10``) and continues there when run again. The
  ladder gives each pairing's score with its 95% Wilson interval, the Elo difference it implies
  and seconds per move, and under ``ratings`` every entry's Elo from all pairings together,
  GNU Go level 1 at 0. ``--direct policy:uct`` adds a pairing of two entries, played the same way.
``targets``, rewritten after any section, says which of the issue's targets the record meets,
with the figure that decides each.

    python bench/alphago.py records --records runs/go-records-9x9
    python bench/alphago.py train --records runs/go-records-9x9 --set alphago-value:games=20000
    python bench/alphago.py speed --seconds 5
    python bench/alphago.py ladder --games 40 --levels 1 10 --entries random policy rl value uct --direct policy:uct --jobs 2 --engine-threads 1
    python bench/alphago.py ladder --games 40 --levels 10 1 --entries alphago-0 alphago-50 alphago-100 --seconds 1 --engine-threads 1
    python bench/alphago.py ladder --games 40 --levels 10 --entries alphago-50 --seconds 5 --engine-threads 1
    python bench/alphago.py --smoke --out /tmp/ag     # every section, tiny (CI): 5x5, generated games, one arena game each

The ladder takes the networks of the last ``train`` section unless ``--sl``, ``--rollout``,
``--value`` and ``--rl`` name run folders. Only the search's strength depends on the time it is
given, so only its pairings must run alone; the others may play ``--jobs`` at a time, and beside
other work, which slows them but changes no move. ``--timed-jobs 2`` plays two of the search's
pairings at once, each search on one thread: its seconds a move are then one core's. Two
ladders may run at once (the record is locked while written), each with ``--engine-threads 1``.
A pairing continues only with the engine commands it began with, ``--engine-threads`` included:
the arena refuses a folder that holds a match with other settings.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import re
import shutil
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from _shared import add_options, parse

from deepkata.core import runner
from deepkata.core.benchmark import command, record
from deepkata.core.records import environment, read_json
from deepkata.core.registry import get_kata
from deepkata.go.arena import ArenaSettings, run_arena, summarize
from deepkata.go.rating import ladder_ratings
from deepkata.go.referee import GNUGO

SMOKE = {"games": 1, "levels": [1], "seconds": 0.2, "uct_playouts": 20, "preset": "smoke", "entries": None, "jobs": 2, "timed_jobs": 2, "direct": ["policy:uct"]}
ENTRIES = ("random", "uct", "policy", "rl", "value", "alphago-0", "alphago-50", "alphago-100")  # alphago-N: λ = N / 100


class Record:
    def __init__(self, out: Path) -> None:
        self.out, self.env = out, environment()

    def results(self) -> dict[str, Any]:
        path = self.out / "alphago.json"
        return json.loads(path.read_text())["results"] if path.exists() else {}

    def update(self, section: str, value: Any) -> None:
        """Merge ``value`` into the record's ``section``, under a file lock: ladders run in two
        processes at once (one per core) share the record."""
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / ".alphago.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            results = self.results()
            results[section] = {**(results.get(section, {}) if section == "ladder" else {}), **value}
            if section != "ladder":
                results[section]["bench_command"] = command()
            record("alphago", results, env=self.env, out_dir=self.out)


def records_section(records: Path | None) -> dict[str, Any]:
    if records is None:
        return {"collection": None, "note": "no --records: the katas play generated games"}
    summary = read_json(records / "collection.json")
    from deepkata.go.collection import read_collection

    games = read_collection(records)
    return {"collection": str(records), "games": len(games), "train_games": sum(g.split == "train" for g in games),
            "validation_games": sum(g.split == "validation" for g in games), "moves": sum(g.moves for g in games), "settings": summary.get("settings"),
            "game_hours": summary.get("game_seconds", 0) / 3600, "wall_hours": summary.get("wall_seconds", 0) / 3600}  # fmt: skip


def _kata(name: str, preset: str, seed: int, runs: Path, sets: list[str], data: Path | None) -> dict[str, Any]:
    kata = get_kata(name)
    cfg, overrides = runner.prepare(kata, preset, sets)
    res = runner.execute(kata, cfg, preset=preset, seed=seed, root=runs, overrides=overrides, data=data, quiet=True)
    r = res.result
    return {"kata": name, "preset": preset, "sets": sets, "run_dir": str(res.dir), "status": res.status, "metrics": r["metrics"],
            "timings": r["timings"], "wall_time_s": r["wall_time_s"], "expectations_met": r["expectations_met"]}  # fmt: skip


def train_section(preset: str, seed: int, runs: Path, records: Path | None, sets: dict[str, list[str]]) -> dict[str, Any]:
    """As AlphaGo: SL and rollout policies on the records, the RL policy from the SL one, and the
    value network on the RL policy's self-play games."""
    out: dict[str, Any] = {}
    out["sl"] = _kata("alphago-sl", preset, seed, runs, sets.get("alphago-sl", []), records)
    out["rollout"] = _kata("alphago-rollout", preset, seed, runs, sets.get("alphago-rollout", []), records)
    out["rl"] = _kata("alphago-rl", preset, seed, runs, [f"policy={out['sl']['run_dir']}", *sets.get("alphago-rl", [])], None)
    out["value"] = _kata("alphago-value", preset, seed, runs, [f"policy={out['rl']['run_dir']}", *sets.get("alphago-value", [])], None)
    out["cpu_hours"] = sum(v["wall_time_s"] for v in out.values() if isinstance(v, dict)) / 3600  # one process, both cores
    return out


def _entry_command(entry: str, nets: dict[str, str], size: int, seed: int, seconds: float, uct_playouts: int, threads: int | None = None) -> str:
    gtp = f"{sys.executable} -m deepkata gtp --size {size} --seed {seed}" + (f" --threads {threads}" if threads else "")
    if entry == "random":
        return f"{gtp} --player random"
    if entry == "uct":
        return f"{gtp} --player mcts --rule uct --playouts {uct_playouts}"
    if entry in ("policy", "rl"):
        return f"{gtp} --player policy --weights {nets['sl' if entry == 'policy' else 'rl']}"
    if entry == "value":
        return f"{gtp} --player value --weights {nets['value']}"
    mix = int(entry.split("-", 1)[1]) / 100
    return f"{gtp} --player alphago --weights {nets['sl']} --weights {nets['rollout']} --weights {nets['value']} --mix {mix} --seconds {seconds}"


def _name(entry: str, seconds: float) -> str:
    """An entry's name in the ladder: ``policy``; a timed entry carries its time, ``alphago-50-5s``."""
    if not entry.startswith("alphago"):
        return entry
    budget = f"{seconds:g}s" if float(seconds).is_integer() else f"{round(seconds * 1000)}ms"  # no dot: keys are read as paths
    return f"{entry}-{budget}"


def ladder_ratings_section(ladder: dict[str, Any]) -> dict[str, Any]:
    """Every entry's Elo with GNU Go level 1 at 0, from all the pairings played (``ladder_ratings``)."""
    results = {}
    for pairing in ladder.values():
        if isinstance(pairing, dict) and "a_name" in pairing and pairing.get("games"):
            points = pairing["a_wins"] + pairing["draws"] / 2
            results[(pairing["a_name"], pairing["b_name"])] = (points, pairing["a_wins"] + pairing["b_wins"] + pairing["draws"])
    anchor = "gnugo-l1"
    if not any(anchor in pair for pair in results):
        return {}
    return {"anchor": anchor, "prior": "one drawn game added to each pairing", "elo": {p: round(r, 1) for p, r in ladder_ratings(results, anchor).items()}}


def ladder_section(
    rec: Record, nets: dict[str, str], entries: list[str], levels: list[int], games: int, seconds: float, uct_playouts: int, seed: int, size: int,
    jobs: int, timed_jobs: int = 1, direct: list[tuple[str, str]] | None = None, engine_threads: int | None = None,
) -> None:  # fmt: skip
    """Play every pairing: each entry against GNU Go at each level, and the ``direct`` pairs of
    entries against each other. Pairings whose strength does not depend on time (no search in
    them) play ``jobs`` at a time; the timed ones then play ``timed_jobs`` at a time, each search
    on one thread when more than one (its seconds a move are then on one core)."""
    if shutil.which(GNUGO) is None:
        raise SystemExit(f"{GNUGO} is missing: apt-get install gnugo")
    lock = threading.Lock()

    def play(entry: str, opponent: str | int, threads: int | None = engine_threads) -> None:
        ours = _entry_command(entry, nets, size, seed, seconds, uct_playouts, threads)
        if isinstance(opponent, int):
            theirs, b_name = f"{GNUGO} --mode gtp --level {opponent} --chinese-rules --capture-all-dead", f"gnugo-l{opponent}"
            name = f"{_name(entry, seconds)}-l{opponent}"
        else:
            theirs, b_name = _entry_command(opponent, nets, size, seed + 1, seconds, uct_playouts, threads), _name(opponent, seconds)
            name = f"{_name(entry, seconds)}-vs-{b_name}"
        settings = ArenaSettings(ours, theirs, games, size, 7.0 if size >= 7 else 3.0, 3 * size * size, 600.0, referee=f"{GNUGO} --mode gtp --chinese-rules")
        folder = rec.out / "alphago-arena" / name
        start, before = time.perf_counter(), len(list(folder.glob("game-*.sgf")))
        summary = summarize(run_arena(settings, folder))
        summary |= {"entry": entry, "a_name": _name(entry, seconds), "b_name": b_name, "level": opponent if isinstance(opponent, int) else None,
                    "seconds_a_move": seconds if "alphago" in name else None, "folder": str(folder),
                    "a": ours, "b": theirs, "wall_s_this_session": round(time.perf_counter() - start, 1), "bench_command": command()}  # fmt: skip
        earlier = rec.results().get("ladder", {}).get(name, {})
        if before == summary["games"] and earlier.get("games") == before:  # nothing played now: the session that played it stays on record
            summary |= {k: earlier[k] for k in ("wall_s_this_session", "bench_command") if k in earlier}
        with lock:  # after each pairing, so finished ones are kept
            rec.update("ladder", {name: summary})
            rec.update("ladder", {"ratings": ladder_ratings_section(rec.results()["ladder"])})

    pairings: list[tuple[str, str | int]] = [(e, lv) for e in entries for lv in levels] + list(direct or [])
    timed = [p for p in pairings if any(isinstance(x, str) and x.startswith("alphago") for x in p)]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for future in [pool.submit(play, *p) for p in pairings if p not in timed]:
            future.result()
    with ThreadPoolExecutor(max_workers=max(1, timed_jobs)) as pool:
        for future in [pool.submit(play, *p, engine_threads or (1 if timed_jobs > 1 else None)) for p in timed]:
            future.result()


def speed_section(nets: dict[str, str], seconds: float, moves: tuple[int, ...] = (0, 20, 40)) -> dict[str, Any]:
    """The search's simulations a second at each λ, on one thread: a fresh tree (no reuse) on the
    positions after ``moves`` moves of the SL policy against itself, ``seconds`` each."""
    from deepkata.go.alphago import AlphaGoConfig, AlphaGoPlayer, PolicyPlayer
    from deepkata.go.board import GoState

    policy = PolicyPlayer.load(Path(nets["sl"]))
    state, positions = GoState(policy.net.cfg.size, 7.0), []
    for turn in range(max(moves) + 1):
        if turn in moves and not state.is_over():
            positions.append(state.copy())
        if state.is_over():
            break
        state.play(policy.choose(state).action)  # type: ignore[arg-type]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = []
        for entry in ("alphago-0", "alphago-50", "alphago-100"):
            mix = int(entry.split("-")[1]) / 100
            rates = []
            for position in positions:
                player = AlphaGoPlayer.load([Path(nets[k]) for k in ("sl", "rollout", "value")], AlphaGoConfig(playouts=None, seconds=seconds, mix=mix))
                rates.append(player.choose(position, seconds).info["playouts_per_s"])
            rows.append({"entry": entry, "mix": mix, "simulations_per_s": statistics.fmean(rates), "per_position": rates})
    finally:
        torch.set_num_threads(threads)
    return {"threads": 1, "seconds_a_position": seconds, "after_moves": list(moves[: len(positions)]), "rows": rows}


def targets_section(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's four targets, each with the figure that decides it (None while not played)."""
    ladder = {k: v for k, v in results.get("ladder", {}).items() if isinstance(v, dict) and "a_name" in v}
    search = [v for v in ladder.values() if v["entry"].startswith("alphago") and v["level"] == 10 and v["seconds_a_move"] <= 5]
    best = max(search, key=lambda v: v["a_score"], default=None)
    direct = ladder.get("policy-vs-uct")
    playouts = f"{int(m.group(1)):,}" if direct and (m := re.search(r"--playouts (\d+)", direct["b"])) else "10,000"
    speed = results.get("train", {}).get("rollout", {}).get("timings", {}).get("speed/ratio")
    budgets = {}  # (seconds a move, GNU Go level) -> the mixes λ played there
    for v in ladder.values():
        if v["entry"].startswith("alphago") and v["level"] is not None:
            budgets.setdefault((v["seconds_a_move"], v["level"]), set()).add(v["entry"])
    ablation = sorted(f"{s:g} s, level {lv}" for (s, lv), mixes in budgets.items() if mixes >= {"alphago-0", "alphago-50", "alphago-100"})
    return [
        {"target": "AlphaGo's search at ≤ 5 s a move wins ≥ 50% of 40+ games against GNU Go level 10 (moonshot 70%)",
         "pairing": best and best["a_name"] + "-l10", "value": best and best["a_score"], "interval": best and best["a_score_95"],
         "games": best and best["games"], "goal": 0.5, "moonshot": 0.7,
         "met": best is not None and best["games"] >= 40 and best["a_score"] >= 0.5,
         "moonshot_met": best is not None and best["games"] >= 40 and best["a_score"] >= 0.7},
        {"target": f"the policy network alone beats UCT with {playouts} random playouts a move", "pairing": "policy-vs-uct",
         "value": direct and direct["a_score"], "interval": direct and direct["a_score_95"], "games": direct and direct["games"],
         "goal": 0.5, "met": direct is not None and direct["a_score"] > 0.5},
        {"target": "the rollout policy is ≥ 100x faster a move than the policy network", "value": speed, "goal": 100,
         "met": speed is not None and speed >= 100},
        {"target": "ablation of λ (0, 0.5, 1) at one time a move against one GNU Go level", "value": ablation, "met": bool(ablation)},
    ]  # fmt: skip


def _nets(rec: Record, args: argparse.Namespace) -> dict[str, str]:
    trained = rec.results().get("train", {})
    nets = {}
    for key in ("sl", "rollout", "value", "rl"):
        given = getattr(args, key)
        nets[key] = str(given) if given else trained.get(key, {}).get("run_dir", "")
        if not nets[key]:
            raise SystemExit(f"bench/alphago.py ladder: no {key} network; run the train section first or pass --{key} RUN")
    return nets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("section", nargs="?", choices=["records", "train", "speed", "ladder", "all"], help="(--smoke: all unless given)")
    parser.add_argument("--records", type=Path, default=None, help="a deepkata go-records collection (default: generated games)")
    parser.add_argument("--preset", default="default", help="the katas' preset of the train section")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KATA:KEY=VALUE", help="a setting of one kata of the train section (repeatable), e.g. alphago-value:games=20000")
    parser.add_argument("--entries", nargs="+", choices=ENTRIES, default=None, help="ladder entries (default: all)")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 10], help="GNU Go levels of the ladder")
    parser.add_argument("--games", type=int, default=40, help="games per ladder pairing")
    parser.add_argument("--seconds", type=float, default=5.0, help="AlphaGo search: seconds a move")
    parser.add_argument("--jobs", type=int, default=1, help="ladder pairings played at a time, for the entries whose strength does not depend on time")
    parser.add_argument("--direct", nargs="+", default=[], metavar="A:B", help="pairs of entries that also play each other, e.g. policy:uct")
    parser.add_argument("--timed-jobs", type=int, default=1, help="the search's pairings played at a time; above 1, each search runs on one thread")
    parser.add_argument("--engine-threads", type=int, default=None, help="threads of each of our engines (gtp --threads): 1 when another ladder shares the cores")
    parser.add_argument("--uct-playouts", type=int, default=10_000, help="the UCT entry's random playouts a move")
    for key in ("sl", "rollout", "value", "rl"):
        parser.add_argument(f"--{key}", type=Path, default=None, help=f"the {key} network's run folder (default: the train section's)")
    parser.add_argument("--seed", type=int, default=0)
    add_options(parser, runs="runs")
    args = parse(parser, SMOKE)
    if args.section is None and not args.smoke:
        parser.error("choose a section: records, train, speed, ladder or all")
    args.section = args.section or "all"
    rec = Record(args.out)
    if args.section in ("records", "all"):
        rec.update("records", records_section(args.records))
    if args.section in ("train", "all"):
        sets: dict[str, list[str]] = {}
        for item in args.sets:
            kata, sep, assignment = item.partition(":")
            if not sep or kata not in ("alphago-sl", "alphago-rollout", "alphago-rl", "alphago-value") or "=" not in assignment:
                parser.error(f"--set {item}: expected KATA:KEY=VALUE with KATA one of alphago-sl, alphago-rollout, alphago-rl, alphago-value")
            sets.setdefault(kata, []).append(assignment)
        rec.update("train", train_section(args.preset, args.seed, args.runs, args.records, sets))
    if args.section in ("speed", "all"):
        rec.update("speed", speed_section(_nets(rec, args), args.seconds))
    if args.section in ("ladder", "all"):
        nets = _nets(rec, args)
        from deepkata.go.alphago import find_weights
        from deepkata.go.nets import load_network

        size = load_network(find_weights(Path(nets["sl"]), "policy.pt"), "policy").cfg.size  # type: ignore[arg-type,union-attr]
        direct = []
        for item in args.direct:
            a, _, b = item.partition(":")
            if a not in ENTRIES or b not in ENTRIES or a == b:
                parser.error(f"--direct {item}: expected A:B, two different entries of {', '.join(ENTRIES)}")
            direct.append((a, b))
        ladder_section(rec, nets, list(args.entries or ENTRIES), args.levels, args.games, args.seconds, args.uct_playouts, args.seed, size, args.jobs, args.timed_jobs, direct, args.engine_threads)
    rec.update("targets", {"rows": targets_section(rec.results())})


if __name__ == "__main__":
    main()
