"""Our rules against GNU Go's, the reference engine: legal moves, area scores, SGF, a full GTP game.

These need GNU Go (Debian package ``gnugo``, which ``.ci/run`` installs); without it they skip.
"""

from __future__ import annotations

import shutil
import sys
from collections import Counter

import pytest

from deepkata.go.arena import ArenaSettings, run_arena
from deepkata.go.referee import GNUGO, referee_game, start_gnugo
from deepkata.go.sgf import read_sgf

pytestmark = pytest.mark.skipif(shutil.which(GNUGO) is None, reason=f"GNU Go is not installed ({GNUGO}; apt-get install gnugo)")


@pytest.fixture(scope="module")
def gnugo():
    engine = start_gnugo()
    yield engine
    engine.close()


# (size, opponent of our random Black, games): 104 games in all
PLAN = [(5, "random", 30), (7, "random", 25), (9, "random", 25), (13, "random", 4), (5, "gnugo", 12), (7, "gnugo", 6), (9, "gnugo", 2)]


def test_legality_and_area_score_agree_with_gnugo_over_a_hundred_games(gnugo):
    games = [referee_game(gnugo, size=size, komi=7.0, seed=1000 * size + k, opponent=opp) for size, opp, n in PLAN for k in range(n)]
    assert len(games) >= 100
    assert [d for g in games for d in g.disagreements] == []  # every position, every move
    assert sum(g.positions_checked for g in games) > 5000
    played_out = [g for g in games if g.played_out]
    assert len(played_out) >= 0.9 * len(games)
    assert [(g.size, g.our_score, g.gnugo_score) for g in played_out if not g.scores_agree] == []
    assert Counter(g.opponent for g in played_out)["gnugo"] >= 15  # games against GNU Go's own moves count too


def test_gnugo_reads_our_sgf_as_the_same_position(gnugo, tmp_path):
    game = referee_game(gnugo, size=9, komi=7.0, seed=5, opponent="random", max_moves=60)
    from deepkata.go.coords import parse_gtp_vertex
    from deepkata.go.sgf import SgfGame, write_sgf

    sgf = SgfGame(size=9, komi=7.0, moves=[(k % 2, parse_gtp_vertex(v, 9)) for k, v in enumerate(game.moves)])
    path = tmp_path / "game.sgf"
    path.write_text(write_sgf(sgf))
    gnugo.send(f"loadsgf {path}")
    ours = sgf.to_state().stones()
    for colour, value in (("black", 1), ("white", 2)):
        theirs = set(gnugo.send(f"list_stones {colour}").upper().split())
        assert theirs == {f"{'ABCDEFGHJ'[x]}{y + 1}" for y in range(9) for x in range(9) if ours[y, x] == value}


def test_deepkata_gtp_plays_a_full_game_against_gnugo_through_the_arena(tmp_path):
    ours = f"{sys.executable} -m deepkata gtp --player mcts --playouts 100 --seed 0"
    theirs = f"{GNUGO} --mode gtp --level 1 --chinese-rules"
    (game,) = run_arena(ArenaSettings(ours, theirs, 1, 9, 7.0, 243, 120.0), tmp_path)
    assert game.reason in ("score", "resign"), game.detail  # no crash, timeout or illegal move on either side
    assert len(game.moves) > 20 and game.engine_scores.keys() >= {"B"}
    replay = read_sgf(tmp_path / "game-0001.sgf").to_state()
    assert len(replay.moves) == len(game.moves)
