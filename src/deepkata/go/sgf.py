"""SGF FF[4] (Smart Game Format, https://www.red-bean.com/sgf/) for Go: read and write game records.

Grammar (FF[4]): ``Collection = GameTree+``, ``GameTree = "(" Sequence GameTree* ")"``,
``Sequence = Node+``, ``Node = ";" Property*``, ``Property = PropIdent PropValue+``,
``PropValue = "[" text "]"`` where ``\\`` escapes the next character.

Read is the first game's *main line*: its first sequence, then each time the first child. The
other children (variations) are skipped and the record says how many in ``notes``. What is
kept: board size SZ, komi KM, handicap HA, result RE, setup stones AB/AW (with FF[4]'s
compressed ``aa:cc`` rectangles), who moves first PL, the moves B/W (``[]`` or ``[tt]`` is a
pass), and the root's other simple properties (PB, PW, DT, RU...) as text. A malformed file
is refused with a :class:`SgfError` naming the line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deepkata.core.errors import UserError
from deepkata.go.board import GoState
from deepkata.go.coords import MAX_SIZE, MIN_SIZE, parse_sgf_point, sgf_point
from deepkata.search.game import IllegalMove


class SgfError(UserError):
    """A file that is not SGF this reader understands, with the place where it went wrong."""


@dataclass
class SgfGame:
    """A Go game record: what FF[4] says about the board, the setup and the main line of moves."""

    size: int = 19
    komi: float = 0.0
    handicap: int = 0
    result: str | None = None  # "B+3.5", "W+R", "0" (draw), "?"...
    black_setup: list[int] = field(default_factory=list)  # AB, as actions
    white_setup: list[int] = field(default_factory=list)  # AW
    first_player: int | None = None  # PL: 0 black, 1 white; None: black, or white with a handicap
    moves: list[tuple[int, int]] = field(default_factory=list)  # (player, action) of the main line
    info: dict[str, str] = field(default_factory=dict)  # other root properties: PB, PW, DT, RU...
    notes: list[str] = field(default_factory=list)  # what the reader left out

    def to_state(self) -> GoState:
        """The final position of the main line; SgfError naming the move that breaks the rules."""
        state = self.start_state()
        for k, (player, action) in enumerate(self.moves, start=1):
            try:
                state.play_as(player, action)
            except IllegalMove as e:
                raise SgfError(f"move {k}: {e}") from None
        return state

    def start_state(self) -> GoState:
        state = GoState(self.size, self.komi)
        first = self.first_player
        if first is None:
            first = 1 if self.handicap >= 2 else 0  # White moves first in a handicap game
        try:
            state.setup(self.black_setup, self.white_setup, to_play=first)
        except ValueError as e:
            raise SgfError(str(e)) from None
        return state


# --- reading -------------------------------------------------------------------------------------------


class _Reader:
    """A cursor over the text that knows its line and column, for error messages."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def where(self, i: int | None = None) -> str:
        i = self.i if i is None else i
        line = self.text.count("\n", 0, i) + 1
        column = i - (self.text.rfind("\n", 0, i) + 1) + 1
        return f"line {line}, column {column}"

    def fail(self, message: str, i: int | None = None) -> SgfError:
        return SgfError(f"{self.where(i)}: {message}")

    def skip_space(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.i] if self.i < len(self.text) else ""

    def expect(self, ch: str) -> None:
        if self.peek() != ch:
            found = repr(self.text[self.i]) if self.i < len(self.text) else "the end of the file"
            raise self.fail(f"expected {ch!r}, found {found}")
        self.i += 1

    def value(self) -> str:
        start = self.i
        self.expect("[")
        out = []
        while self.i < len(self.text):
            ch = self.text[self.i]
            if ch == "\\" and self.i + 1 < len(self.text):
                out.append(self.text[self.i + 1])
                self.i += 2
                continue
            if ch == "]":
                self.i += 1
                return "".join(out)
            out.append(ch)
            self.i += 1
        raise self.fail("property value is never closed by ']'", start)


# a node: [(identifier, [values], position of the identifier)]
_Node = list[tuple[str, list[str], int]]


def _read_node(r: _Reader) -> _Node:
    r.expect(";")
    props: _Node = []
    while r.peek().isalpha():
        start = r.i
        while r.i < len(r.text) and r.text[r.i].isalpha():
            r.i += 1
        ident = r.text[start : r.i]
        if not ident.isupper():
            raise r.fail(f"property name {ident!r} must be upper-case letters (FF[4])", start)
        if r.peek() != "[":
            raise r.fail(f"property {ident} has no value")
        values = []
        while r.peek() == "[":
            values.append(r.value())
        props.append((ident, values, start))
    return props


def _read_tree(r: _Reader, notes: list[str]) -> list[_Node]:
    """The main line of the game tree at the cursor; variations are skipped and counted in notes."""
    r.expect("(")
    if r.peek() != ";":
        raise r.fail("a game tree must start with a node ';'")
    nodes = []
    while r.peek() == ";":
        nodes.append(_read_node(r))
    first = True
    while r.peek() == "(":
        if first:
            nodes += _read_tree(r, notes)
            first = False
        else:
            _read_tree(r, [])
            notes.append(f"skipped a variation at {r.where()}")
    r.expect(")")
    return nodes


def parse_sgf(text: str) -> SgfGame:
    """The first game of an SGF collection."""
    r = _Reader(text.lstrip("\ufeff"))
    if r.peek() != "(":
        raise r.fail("an SGF file starts with '('")
    notes: list[str] = []
    nodes = _read_tree(r, notes)
    if r.peek() == "(":
        notes.append("the file holds more games; only the first was read")
    elif r.peek():
        raise r.fail(f"unexpected {r.peek()!r} after the game")
    return _to_game(nodes, notes, r)


def read_sgf(path: Path) -> SgfGame:
    """Read ``path``; errors start with the file's name."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SgfError(f"{path}: cannot read: {e}") from None
    try:
        return parse_sgf(text)
    except SgfError as e:
        raise SgfError(f"{path}: {e}") from None


def _points(values: list[str], size: int, r: _Reader, at: int, ident: str) -> list[int]:
    """The actions of a list of points, expanding FF[4] rectangles ``aa:cc``."""
    out = []
    for v in values:
        try:
            if ":" in v:
                a, b = (parse_sgf_point(part, size) for part in v.split(":", 1))
                (ya, xa), (yb, xb) = divmod(a, size), divmod(b, size)
                out += [y * size + x for y in range(min(ya, yb), max(ya, yb) + 1) for x in range(min(xa, xb), max(xa, xb) + 1)]
            else:
                point = parse_sgf_point(v, size)
                if point == size * size:
                    raise ValueError(f"{ident} needs a point, not a pass")
                out.append(point)
        except ValueError as e:
            raise r.fail(f"{ident}[{v}]: {e}", at) from None
    return out


def _to_game(nodes: list[_Node], notes: list[str], r: _Reader) -> SgfGame:
    root = {ident: (values, at) for ident, values, at in nodes[0]}
    game = SgfGame(notes=notes)
    if "GM" in root and root["GM"][0][0].strip() != "1":
        raise r.fail(f"GM[{root['GM'][0][0]}] is not Go (GM[1])", root["GM"][1])
    if "SZ" in root:
        text, at = root["SZ"][0][0].strip(), root["SZ"][1]
        if not text.isdigit() or not MIN_SIZE <= int(text) <= MAX_SIZE:
            raise r.fail(f"SZ[{text}]: board size must be a number from {MIN_SIZE} to {MAX_SIZE} (square boards only)", at)
        game.size = int(text)
    for ident, attr, kind in (("KM", "komi", float), ("HA", "handicap", int)):
        if ident in root:
            text, at = root[ident][0][0].strip(), root[ident][1]
            try:
                setattr(game, attr, kind(text))
            except ValueError:
                raise r.fail(f"{ident}[{text}]: expected a {'number' if kind is float else 'whole number'}", at) from None
    if "RE" in root:
        game.result = root["RE"][0][0].strip()
    for ident, (values, _) in root.items():
        if ident not in {"GM", "SZ", "KM", "HA", "RE", "FF", "CA", "AP", "AB", "AW", "AE", "PL", "B", "W"} and len(values) == 1:
            game.info[ident] = values[0]
    for depth, node in enumerate(nodes):
        for ident, values, at in node:
            if ident in ("B", "W"):
                if len(values) != 1:
                    raise r.fail(f"{ident} takes one point", at)
                try:
                    action = parse_sgf_point(values[0], game.size)
                except ValueError as e:
                    raise r.fail(f"{ident}[{values[0]}]: {e}", at) from None
                game.moves.append((0 if ident == "B" else 1, action))
            elif ident in ("AB", "AW"):
                if game.moves:
                    raise r.fail(f"{ident} after the first move is not supported (setup in mid-game)", at)
                target = game.black_setup if ident == "AB" else game.white_setup
                target += _points(values, game.size, r, at, ident)
            elif ident == "PL" and depth == 0:
                colour = values[0].strip().upper()
                if colour not in ("B", "W"):
                    raise r.fail(f"PL[{values[0]}]: expected B or W", at)
                game.first_player = 0 if colour == "B" else 1
            elif ident == "AE":
                notes.append(f"ignored AE (remove stones) at {r.where(at)}")
    return game


# --- writing ------------------------------------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("]", "\\]")


def format_komi(komi: float) -> str:
    return f"{komi:g}"


def write_sgf(game: SgfGame) -> str:
    """The record as FF[4] text: a root node with the game's properties, then one node per move."""
    root = [f"FF[4]GM[1]CA[UTF-8]AP[deepkata]SZ[{game.size}]KM[{format_komi(game.komi)}]"]
    if game.handicap:
        root.append(f"HA[{game.handicap}]")
    if game.result is not None:
        root.append(f"RE[{_escape(game.result)}]")
    for ident, value in game.info.items():
        root.append(f"{ident}[{_escape(value)}]")
    if game.black_setup:
        root.append("AB" + "".join(f"[{sgf_point(a, game.size)}]" for a in game.black_setup))
    if game.white_setup:
        root.append("AW" + "".join(f"[{sgf_point(a, game.size)}]" for a in game.white_setup))
    if game.first_player is not None:
        root.append(f"PL[{'BW'[game.first_player]}]")
    moves = "".join(f"\n;{'BW'[player]}[{sgf_point(action, game.size)}]" for player, action in game.moves)
    return f"(;{''.join(root)}{moves}\n)\n"
