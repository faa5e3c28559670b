"""SGF FF[4]: what is read from hand-written files, round trips, and errors that say where."""

from __future__ import annotations

import pytest

from deepkata.go.coords import parse_gtp_vertex
from deepkata.go.sgf import (
    SgfError,
    SgfGame,
    parse_collection,
    parse_sgf,
    read_sgf,
    write_sgf,
)

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
    assert g.notes == ["skipped a variation at line 6, column 2 (SgfGame.tree holds it)"]
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


def test_illegal_main_line_names_the_file_and_the_move(tmp_path):
    g = parse_sgf("(;SZ[5];B[cc];W[cc])")
    with pytest.raises(SgfError, match=r"^move 2, W\[cc\] at line 1, column 15: C3 is illegal for white: the point is occupied$"):
        g.to_state()
    path = tmp_path / "illegal.sgf"
    path.write_text("(;SZ[5]\n;B[cc]\n;W[dd]\n;B[dd])")
    with pytest.raises(SgfError) as e:
        read_sgf(path).to_state()
    assert str(e.value) == f"{path}: move 3, B[dd] at line 4, column 2: D2 is illegal for black: the point is occupied"
    path.write_text("(;SZ[5]AB[aa]AW[ab][ba])")  # a black stone without liberties
    with pytest.raises(SgfError, match=f"^{path}: setup"):
        read_sgf(path).to_state()


def test_syntax_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.sgf"
    path.write_text("(;SZ[5];B[cc]")
    with pytest.raises(SgfError) as e:
        read_sgf(path)
    assert str(e.value) == f"{path}: line 1, column 14: expected ')', found the end of the file"
    with pytest.raises(SgfError, match="missing.sgf: cannot read: No such file or directory"):
        read_sgf(tmp_path / "missing.sgf")


def test_soft_line_breaks_are_removed_and_escapes_kept():
    g = parse_sgf("(;C[one \\\ntwo \\\r\nthree \\\\ \\] end]GC[a\nb])")
    assert g.info["C"] == "one two three \\ ] end" and g.info["GC"] == "a\nb"


# --- variations: the tree --------------------------------------------------------------------------------


def shape(node):
    """A node as (its properties as text, [its children's shapes])."""
    text = "".join(p.ident + "".join(f"[{v}]" for v in p.values) for p in node.properties)
    return (text, [shape(child) for child in node.children])


def test_variations_are_read_as_a_tree_and_the_main_line_is_the_first_child():
    g = parse_sgf(GAME)
    root_text, [after_root] = shape(g.tree)
    assert root_text.startswith("FF[4]GM[1]SZ[9]") and root_text.endswith("PL[W]C[a comment]")
    assert after_root == (
        "W[ee]", [("B[dc]", [
            ("W[ce]", [("B[]", [("W[tt]", [])])]),
            ("W[ff]", [("B[aa]", [])]),
        ])],
    )  # fmt: skip
    variation = g.tree.children[0].children[0].children[1]
    assert (variation.line, variation.column) == (6, 2) and variation.get("W") == ["ff"]
    assert [node.get("B") or node.get("W") for node in g.tree.main_line()][1:] == [["ee"], ["dc"], ["ce"], [""], ["tt"]]
    assert sum(1 for _ in g.tree.walk()) == 8
    # the main line is what the reader always gave
    assert [action for _, action in g.moves] == [parse_gtp_vertex(v, 9) for v in ("E5", "D7", "C5")] + [81, 81]
    assert g.notes == ["skipped a variation at line 6, column 2 (SgfGame.tree holds it)"]


def test_a_collection_gives_every_game_and_the_first_as_the_game():
    text = "(;SZ[9];B[aa](;W[bb])(;W[cc](;B[dd])(;B[ee])))\n(;SZ[5];B[cc])"
    first, second = parse_collection(text)
    assert shape(second) == ("SZ[5]", [("B[cc]", [])])
    g = parse_sgf(text)
    assert g.size == 9 and g.moves == [(0, parse_gtp_vertex("A9", 9)), (1, parse_gtp_vertex("B8", 9))]
    assert shape(g.tree) == shape(first)
    assert g.notes == ["the file holds 2 games; only the first was read", "skipped a variation at line 1, column 23 (SgfGame.tree holds it)"]


# --- depth: no recursion ---------------------------------------------------------------------------------


def test_100000_deep_nesting_parses_without_recursion():
    n = 100_000
    g = parse_sgf("(;" * n + ")" * n)
    assert len(list(g.tree.main_line())) == n and g.moves == [] and g.notes == []
    # a ladder of variations: each level's first child is a leaf, its second child the next level
    ladder = parse_collection("(;" + "(;)(;" * 20_000 + ")" * 20_001)[0]
    assert sum(1 for _ in ladder.walk()) == 1 + 2 * 20_000
    assert len(list(ladder.main_line())) == 2
    deepest = ladder
    while deepest.children:
        deepest = deepest.children[-1]
    assert deepest.column == 2 + 5 * 20_000  # the ';' of the last "(;"
    # a deep moves line replays (passes all the way down)
    moves = parse_sgf("(;SZ[5]" + "(;B[];W[]" * 5_000 + ")" * 5_001)
    assert len(moves.moves) == 10_000 and moves.to_state().is_over()


def test_100000_deep_nesting_that_is_not_closed_is_an_sgf_error():
    with pytest.raises(SgfError, match="^line 1, column 200001: expected '\\)', found the end of the file$"):
        parse_sgf("(;" * 100_000)
    with pytest.raises(SgfError, match="^line 1, column 30001: unexpected '\\)' after the game$"):
        parse_sgf("(;" * 10_000 + ")" * 10_001)


# --- charsets --------------------------------------------------------------------------------------------

# A LittleGolem record as the server writes it: FF[4], no CA, names in Latin-1 (one byte each).
LITTLEGOLEM = (
    b"(;FF[4]EV[go9.mc.2009.oct.1.1]PB[J\xfcrgen]PW[Ren\xe9e]SZ[9]KM[6.5]"
    b"SO[http://www.littlegolem.com];B[ee];W[cg];B[gc];W[cc];B[gg]\n;W[dd]C[bien jou\xe9])\n"
)


def test_a_littlegolem_game_in_latin1_without_ca_parses(tmp_path):
    path = tmp_path / "littlegolem.sgf"
    path.write_bytes(LITTLEGOLEM)
    g = read_sgf(path)
    assert (g.info["PB"], g.info["PW"], g.size, g.komi, len(g.moves)) == ("J\u00fcrgen", "Ren\u00e9e", 9, 6.5, 6)
    assert g.tree.children[0].children[0].children[0].children[0].children[0].children[0].get("C") == ["bien jou\u00e9"]
    assert g.notes == ["no CA (charset) and line 1, column 35: byte 0xFC is not valid utf-8: read as ISO-8859-1, FF[4]'s default"]
    assert g.source == str(path) and g.to_state().stones()[4, 4] == 1


@pytest.mark.parametrize("ca", [b"CA[ISO-8859-1]", b"CA[iso-8859-1]", b"CA[Latin1]", b"CA[ windows-1252 ]"])
def test_a_declared_latin1_charset_is_obeyed(ca):
    g = parse_sgf(LITTLEGOLEM.replace(b"FF[4]", b"FF[4]" + ca))
    assert g.info["PB"] == "J\u00fcrgen" and g.notes == []


def test_utf8_is_read_as_utf8_with_or_without_ca_and_with_a_bom():
    record = "(;FF[4]PB[J\u00fcrgen]PW[\u4e95\u5c71\u88d5\u592a]SZ[9];B[ee])"
    for data in (record.encode(), record.replace("FF[4]", "FF[4]CA[UTF-8]").encode(), b"\xef\xbb\xbf" + record.encode()):
        g = parse_sgf(data)
        assert (g.info["PB"], g.info["PW"], g.notes) == ("J\u00fcrgen", "\u4e95\u5c71\u88d5\u592a", [])


def test_other_declared_charsets_decode_the_values():
    data = "(;FF[4]CA[Shift_JIS]PB[\u4e95\u5c71\u88d5\u592a]C[\u8868];B[ee])".encode("shift_jis")
    assert b"\x95\\" in data  # \u8868 ends with the byte of '\\': the decoded text, not the bytes, is parsed
    g = parse_sgf(data)
    assert (g.info["PB"], g.info["C"]) == ("\u4e95\u5c71\u88d5\u592a", "\u8868")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"(;FF[4]CA[klingon]SZ[9])", "line 1, column 8: CA[klingon]: unknown charset; expected one that keeps ASCII"),
        (b"(;CA[UTF-16]SZ[9])", "line 1, column 3: CA[UTF-16]: unknown charset"),
        (b"(;CA[hex]SZ[9])", "line 1, column 3: CA[hex]: unknown charset"),
        (b"(;CA[unicode_escape]SZ[9])", "CA[unicode_escape]: unknown charset"),
        (b"(;CA[UTF-8]\nPB[J\xfcrgen])", "line 2, column 5: byte 0xFC is not valid utf-8, the charset that CA[UTF-8] at line 1, column 3 declares"),
    ],
)
def test_bad_charsets_are_sgf_errors_naming_the_file_and_place(tmp_path, data, message):
    path = tmp_path / "game.sgf"
    path.write_bytes(data)
    with pytest.raises(SgfError) as e:
        read_sgf(path)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value)
