"""Names of the points of an N x N Go board, as GTP and SGF write them.

Inside deepkata a point is an action ``a = y * N + x`` with x the column (0 at the left) and
y the row (0 at the bottom); ``a = N * N`` is the pass. GTP writes a point as a column letter
A..T, *skipping I*, then the row number counted from the bottom (``D4``, ``pass``); SGF FF[4]
writes two lower-case letters, the column then the row counted from the *top* (``dd``), and a
pass as ``[]`` (or ``[tt]`` on boards up to 19 x 19).
"""

from __future__ import annotations

MIN_SIZE, MAX_SIZE = 2, 19  # the board sizes deepkata plays
GTP_COLUMNS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"  # no I
SGF_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def pass_action(size: int) -> int:
    return size * size


def gtp_vertex(action: int, size: int) -> str:
    """``D4`` for the action at column 3, row 3 (from the bottom); ``pass`` for the pass."""
    if action == pass_action(size):
        return "pass"
    y, x = divmod(action, size)
    return f"{GTP_COLUMNS[x]}{y + 1}"


def parse_gtp_vertex(text: str, size: int) -> int:
    """The action that a GTP vertex names (case-insensitive); ValueError naming what was wrong."""
    t = text.strip().upper()
    if t == "PASS":
        return pass_action(size)
    # ASCII digits only (str.isdigit takes ١ too), and at most two: int() of 5,000 digits raises
    if not 2 <= len(t) <= 3 or t[0] not in GTP_COLUMNS or not (t[1:].isascii() and t[1:].isdigit()):
        raise ValueError(f"invalid vertex {text!r}: expected a column letter A-T without I and a row number, or pass")
    x = GTP_COLUMNS.index(t[0])
    y = int(t[1:]) - 1
    if not (0 <= x < size and 0 <= y < size):
        raise ValueError(f"vertex {text!r} is off the {size}x{size} board")
    return y * size + x


def sgf_point(action: int, size: int) -> str:
    """``dd`` for column 3, row 3 from the top; the empty string for the pass."""
    if action == pass_action(size):
        return ""
    y, x = divmod(action, size)
    return SGF_LETTERS[x] + SGF_LETTERS[size - 1 - y]


def parse_sgf_point(text: str, size: int) -> int:
    """The action an SGF point names; ``""`` (and ``tt`` up to 19 x 19) is the pass."""
    if text == "" or (text == "tt" and size <= 19):
        return pass_action(size)
    if len(text) != 2 or any(c not in SGF_LETTERS for c in text):
        raise ValueError(f"invalid point {text!r}: expected two letters a-z")
    x = SGF_LETTERS.index(text[0])
    row_from_top = SGF_LETTERS.index(text[1])
    if not (0 <= x < size and 0 <= row_from_top < size):
        raise ValueError(f"point {text!r} is off the {size}x{size} board")
    return (size - 1 - row_from_top) * size + x
