"""SGF FF[4]: what is read from hand-written files, round trips, and errors that say where."""

from __future__ import annotations

import pytest

from deepkata.go.coords import parse_gtp_vertex
from deepkata.go.sgf import SgfError, SgfGame, parse_sgf, read_sgf, write_sgf

GAME = r"""(;FF[4]GM[1]SZ[9]KM[6.5]HA[2]RE[W+2.5]PB[Black \] player]PW[White]
AB[cc][gg]PL[W]C[a comment]
;W[ee];B[dc]
(;W[ce];B[]
  ;W[tt])
(;W[ff];B[aa]))
"""


def test_reads_the_main_line_setup_and_properties():
    g = parse_sgf(GAME)
    assert (g.size, g.komi, g.handicap, g.result) == (9, 6.5, 2, "W+2.5")
    assert g.info["PB"] == "Black ] player" and g.info["C"] == "a comment"
    assert g.black_setup == [parse_gtp_vertex("C7", 9), parse_gtp_vertex("G3", 9)]
    assert g.first_player == 1
    assert g.moves == [(1, parse_gtp_vertex("E5", 9)), (0, parse_gtp_vertex("D7", 9)), (1, parse_gtp_vertex("C5", 9)), (0, 81), (1, 81)]
    assert len(g.notes) == 1 and "skipped a variation at line 6" in g.notes[0]
    state = g.to_state()
    assert state.stones()[6, 2] == 1 and state.stones()[4, 4] == 2 and state.is_over()


def test_rectangles_and_handicap_without_pl():
    g = parse_sgf("(;GM[1]SZ[5]HA[4]AB[aa:bb]AW[ee])")
    assert sorted(g.black_setup) == sorted(parse_gtp_vertex(v, 5) for v in ("A5", "B5", "A4", "B4"))
    assert g.start_state().to_play == 1  # white moves first after handicap stones


def test_write_then_read_gives_the_same_game():
    g = SgfGame(size=13, komi=7.5, handicap=0, result="B+R", black_setup=[0], white_setup=[168],
                first_player=0, moves=[(0, 84), (1, 169), (0, 85)], info={"PB": "deep]kata\\", "GC": "two\nlines"})  # fmt: skip
    again = parse_sgf(write_sgf(g))
    assert again == g


@pytest.mark.parametrize(
    "text, message",
    [
        ("(;SZ[9];B[ee]", "line 1, column 14: expected ')', found the end of the file"),
        ("(;SZ[9]\n;B[ee;W)", "line 2, column 3: property value is never closed"),
        ("(;SZ[9]\n;B[ee;W[dd])", "line 2, column 2: B[ee;W[dd]: invalid point"),
        ("(;SZ[9]\n;B[zz])", "line 2, column 2: B[zz]: point 'zz' is off the 9x9 board"),
        ("(;SZ[40])", "SZ[40]: board size must be a number from 2 to 19"),
        ("(;GM[2])", "GM[2] is not Go"),
        ("(;KM[seven])", "KM[seven]: expected a number"),
        ("(;sz[9])", "property name 'sz' must be upper-case"),
        ("hello", "line 1, column 1: an SGF file starts with '('"),
        ("(;SZ[5];B[cc])x", "unexpected 'x' after the game"),
    ],
)
def test_bad_files_name_the_place(text, message):
    with pytest.raises(SgfError) as e:
        parse_sgf(text)
    assert message in str(e.value)


def test_illegal_main_line_names_the_move_and_files_name_themselves(tmp_path):
    g = parse_sgf("(;SZ[5];B[cc];W[cc])")
    with pytest.raises(SgfError, match="move 2: C3 is illegal for white: the point is occupied"):
        g.to_state()
    path = tmp_path / "bad.sgf"
    path.write_text("(;SZ[5];B[cc]")
    with pytest.raises(SgfError, match=f"{path}: line 1"):
        read_sgf(path)
    with pytest.raises(SgfError, match="cannot read"):
        read_sgf(tmp_path / "missing.sgf")
