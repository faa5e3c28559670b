"""The game-record collection: GNU Go against itself through the arena, split by match, resumable.

The games need GNU Go (``.ci/run`` installs it); without it those tests skip."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deepkata.core.errors import UserError
from deepkata.go.collection import (
    GNUGO,
    CollectionSettings,
    collect,
    match_plan,
    read_collection,
)
from deepkata.go.sgf import read_sgf

needs_gnugo = pytest.mark.skipif(shutil.which(GNUGO) is None, reason=f"GNU Go is not installed ({GNUGO}; apt-get install gnugo)")


def test_the_plan_draws_levels_and_seeds_from_the_seed_and_splits_by_match() -> None:
    plan = match_plan(CollectionSettings(games=41, levels=(3, 7), seed=4))
    assert [m.games for m in plan] == [2] * 20 + [1]  # two-game matches, the last one short
    assert all(3 <= level <= 7 for m in plan for level in m.levels)
    assert {m.split for m in plan if m.index % 10 == 0} == {"validation"} and {m.split for m in plan if m.index % 10} == {"train"}
    assert plan == match_plan(CollectionSettings(games=41, levels=(3, 7), seed=4))  # the same collection, however run
    again = match_plan(CollectionSettings(games=41, levels=(3, 7), seed=5))
    assert [m.seeds for m in plan] != [m.seeds for m in again]
    assert len({m.seeds for m in plan}) == len(plan)


def test_only_games_the_players_ended_count_as_played_out() -> None:
    from deepkata.go.collection import CollectedGame

    ended = [CollectedGame(Path("g.sgf"), "train", 1, 1, None, reason) for reason in ("score", "resign", "move limit", "timeout", "crash", "illegal")]
    assert [g.played_out for g in ended] == [True, True, True, False, False, False]


@pytest.mark.parametrize("bad", [{"levels": (4, 2)}, {"levels": (0, 11)}, {"games": 0}, {"validation_every": 1}])
def test_bad_settings_are_one_line_errors(bad: dict) -> None:
    with pytest.raises(UserError):
        CollectionSettings(**{"games": 4, **bad})


@needs_gnugo
def test_a_collection_is_played_indexed_resumed_and_read(tmp_path: Path) -> None:
    settings = CollectionSettings(games=3, levels=(0, 0), validation_every=2)
    summary = collect(settings, tmp_path, workers=2)
    assert summary["games"] == 3 and summary["train_games"] == 2 and summary["validation_games"] == 1
    games = read_collection(tmp_path)
    assert [g.split for g in games] == ["train", "train", "validation"]
    for g in games:
        sgf = read_sgf(g.path)
        assert sgf.size == 9 and sgf.komi == 7 and len(sgf.moves) > 20 and g.moves == len(sgf.moves)
        assert g.winner in ("black", "white") and sgf.result[0] == g.winner[0].upper()
        assert g.black_level == g.white_level == 0 and g.reason == "score" and g.played_out
    first = (tmp_path / "m-00001" / "game-0001.sgf").read_text()
    record = tmp_path / "m-00001" / "games.jsonl"
    record.write_text(record.read_text() + record.read_text().splitlines(keepends=True)[0])  # a game written twice
    assert len(read_collection(tmp_path)) == 3  # is counted once
    # run again: nothing is played again, the index is the same
    again = collect(settings, tmp_path, workers=1)
    assert again["games"] == 3 and (tmp_path / "m-00001" / "game-0001.sgf").read_text() == first
    assert again["game_seconds"] == pytest.approx(summary["game_seconds"])
    assert summary["wall_seconds"] > 0 and again["wall_seconds"] >= summary["wall_seconds"]  # the runs' wall time adds up
    with pytest.raises(UserError, match="other settings"):
        collect(CollectionSettings(games=3, levels=(0, 1), validation_every=2), tmp_path)


def test_a_missing_or_broken_collection_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no collection.json"):
        read_collection(tmp_path)
    (tmp_path / "collection.json").write_text(json.dumps({"settings": {"games": 2, "levels": [1, 1]}}))
    (tmp_path / "m-00001").mkdir()
    (tmp_path / "m-00001" / "done.json").write_text(json.dumps({"games": 2, "seconds": 1.0}))
    (tmp_path / "m-00001" / "games.jsonl").write_text("{oops\n")
    with pytest.raises(UserError, match=r"m-00001.games.jsonl:1: expected an arena game record"):
        read_collection(tmp_path)
    (tmp_path / "collection.json").write_text(json.dumps({"settings": {"games": 2, "levels": [1, 1], "colour": "x"}}))
    with pytest.raises(UserError, match="expected the settings of a go-records collection"):
        read_collection(tmp_path)


def test_the_command_rejects_a_bad_level_range_with_exit_code_2(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "deepkata", "go-records", "--out", str(tmp_path / "c"), "--levels", "x-3"], capture_output=True, text=True)
    assert done.returncode == 2 and "--levels 'x-3'" in done.stderr and not (tmp_path / "c").exists()


@needs_gnugo
def test_an_interrupted_collection_stops_its_workers(tmp_path: Path) -> None:
    import multiprocessing

    def stop(done: dict, finished: int, total: int) -> None:
        raise KeyboardInterrupt  # as Ctrl-C does, after the first match

    before = set(multiprocessing.active_children())  # an earlier test's idle pool may still be up
    with pytest.raises(KeyboardInterrupt):
        collect(CollectionSettings(games=8, levels=(0, 0)), tmp_path, workers=2, on_match=stop)
    workers = [c for c in multiprocessing.active_children() if c not in before]
    for child in workers:
        child.join(timeout=10)
    assert not [c for c in workers if c.is_alive()]  # no worker plays on
    assert len(list(tmp_path.glob("m-*/done.json"))) < 4  # and the matches not yet played are not
    summary = json.loads((tmp_path / "collection.json").read_text())
    assert summary["wall_seconds"] > 0  # the time so far is kept
    # and what was played is indexed, as at the end of a finished run
    finished = len(list(tmp_path.glob("m-*/done.json")))
    assert summary["games"] == len((tmp_path / "index.jsonl").read_text().splitlines()) == 2 * finished >= 2
    assert summary["settings"]["games"] == 8 and summary["game_seconds"] > 0
