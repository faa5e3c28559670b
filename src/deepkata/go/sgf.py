"""SGF FF[4] (Smart Game Format, https://www.red-bean.com/sgf/) for Go: read and write game records.

Grammar (FF[4]): ``Collection = GameTree+``, ``GameTree = "(" Sequence GameTree* ")"``,
``Sequence = Node+``, ``Node = ";" Property*``, ``Property = PropIdent PropValue+``,
``PropValue = "[" text "]"`` where ``\\`` escapes the next character and ``\\`` before a line
break removes it (a soft line break).

The reader builds the whole tree: each :class:`SgfNode` holds its properties and its children,
the first child being the main line and the others its variations. It walks the text with an
explicit stack instead of recursion, so any nesting depth parses (or fails with a
:class:`SgfError`, never Python's RecursionError).

:class:`SgfGame` is the first game's *main line* (the root, then the first child at each
branch), with the tree in ``SgfGame.tree`` for a replay with variations; ``notes`` says how
many variations and games the main line leaves out. What the main line keeps: board size SZ,
komi KM, handicap HA, result RE, setup stones AB/AW (with FF[4]'s compressed ``aa:cc``
rectangles), who moves first PL, the moves B/W (``[]`` or ``[tt]`` is a pass), and the root's
other simple properties (PB, PW, DT, RU...) as text. A malformed file is refused with an
:class:`SgfError` naming the file, the line and column, and what was expected.

Charset. SGF's syntax is ASCII, and the root's ``CA`` property names the charset of the text
in the values; FF[4]'s default is ISO-8859-1 (Latin-1). The bytes of a file are decoded so:

1. A UTF-8 byte-order mark is dropped.
2. ``CA[name]`` in the root node, found by scanning the bytes as ASCII, is obeyed: the file is
   decoded with that charset, strictly. A charset Python does not know, or one that does not
   keep ASCII as it is (UTF-16, UTF-7...), is refused, as is a byte that is not valid in it
   (named by its line and column).
3. Without ``CA``: UTF-8 when the bytes are valid UTF-8 (plain ASCII included), otherwise
   ISO-8859-1, FF[4]'s default, which never fails; a note says so. Text in Latin-1 with
   accents almost never forms valid UTF-8 by chance, and UTF-8 is what most programs write
   today even when they leave ``CA`` out.
"""

from __future__ import annotations

import codecs
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from deepkata.core.errors import UserError
from deepkata.go.board import GoState
from deepkata.go.coords import MAX_SIZE, MIN_SIZE, parse_sgf_point, sgf_point
from deepkata.search.game import IllegalMove


class SgfError(UserError):
    """A file that is not SGF this reader understands, with the place where it went wrong."""


class SgfProperty(NamedTuple):
    """``ident[value][value]...`` and where its identifier stands in the file."""

    ident: str
    values: list[str]
    line: int
    column: int

    def where(self) -> str:
        return f"line {self.line}, column {self.column}"


@dataclass(eq=False)  # compared by identity: a field-by-field == would recurse down the whole tree
class SgfNode:
    """A node ``;B[dd]C[...]`` of a game tree: its properties in file order and the nodes after it.

    ``children[0]`` continues the main line; ``children[1:]`` are variations.
    """

    properties: list[SgfProperty] = field(default_factory=list)
    children: list[SgfNode] = field(default_factory=list)
    line: int = 0  # where its ';' stands
    column: int = 0

    def get(self, ident: str) -> list[str] | None:
        """The values of the first property ``ident``, or None when the node has none."""
        return next((p.values for p in self.properties if p.ident == ident), None)

    def main_line(self) -> Iterator[SgfNode]:
        """This node, then the first child of each node in turn."""
        node = self
        while True:
            yield node
            if not node.children:
                return
            node = node.children[0]

    def walk(self) -> Iterator[SgfNode]:
        """Every node below this one, this one first, depth first, main line before variations."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def __repr__(self) -> str:  # the default repr would recurse down the tree
        idents = "".join(p.ident for p in self.properties[:4])
        return f"SgfNode(;{idents} at line {self.line}, column {self.column}, {len(self.children)} children)"


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
    # what was read, for a replay with variations and for errors; not part of the record's value
    tree: SgfNode | None = field(default=None, compare=False, repr=False)  # the root node
    source: str | None = field(default=None, compare=False)  # the file it came from
    move_places: list[tuple[int, int]] = field(default_factory=list, compare=False, repr=False)  # (line, column) of each move

    def _fail(self, message: str) -> SgfError:
        return SgfError(f"{self.source}: {message}" if self.source else message)

    def to_state(self) -> GoState:
        """The final position of the main line; SgfError naming the file and the move that breaks the rules."""
        state = self.start_state()
        for k, (player, action) in enumerate(self.moves, start=1):
            try:
                state.play_as(player, action)
            except IllegalMove as e:
                move = f"move {k}, {'BW'[player]}[{sgf_point(action, self.size)}]"
                if k <= len(self.move_places):
                    move += " at line {}, column {}".format(*self.move_places[k - 1])
                raise self._fail(f"{move}: {e}") from None
        return state

    def start_state(self) -> GoState:
        state = GoState(self.size, self.komi)
        first = self.first_player
        if first is None:
            first = 1 if self.handicap >= 2 else 0  # White moves first in a handicap game
        try:
            state.setup(self.black_setup, self.white_setup, to_play=first)
        except ValueError as e:
            raise self._fail(str(e)) from None
        return state


# --- reading -------------------------------------------------------------------------------------------


_SPACE = re.compile(r"\s*")


class _Reader:
    """A cursor over the text that knows its line and column, for error messages."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def place(self, i: int | None = None) -> tuple[int, int]:
        i = self.i if i is None else i
        k = bisect_right(self.line_starts, i) - 1
        return k + 1, i - self.line_starts[k] + 1

    def where(self, i: int | None = None) -> str:
        return "line {}, column {}".format(*self.place(i))

    def fail(self, message: str, i: int | None = None) -> SgfError:
        return SgfError(f"{self.where(i)}: {message}")

    def peek(self) -> str:
        """The next character that is not white space ("" at the end); the cursor moves onto it."""
        ch = self.text[self.i : self.i + 1]
        if ch.isspace():
            self.i = _SPACE.match(self.text, self.i).end()
            ch = self.text[self.i : self.i + 1]
        return ch

    def expect(self, ch: str) -> None:
        if self.peek() != ch:
            found = repr(self.text[self.i]) if self.i < len(self.text) else "the end of the file"
            raise self.fail(f"expected {ch!r}, found {found}")
        self.i += 1

    def value(self) -> str:
        """``[text]`` at the cursor, unescaped: ``\\x`` is ``x``, and ``\\`` before a line break removes it."""
        start = self.i
        self.expect("[")
        text, out = self.text, []
        while True:
            close = text.find("]", self.i)
            if close < 0:
                raise self.fail("property value is never closed by ']'", start)
            escape = text.find("\\", self.i, close)
            if escape < 0:
                out.append(text[self.i : close])
                self.i = close + 1
                return "".join(out)
            out.append(text[self.i : escape])
            soft = re.match(r"\r\n|\n\r|\n|\r", text[escape + 1 : escape + 3])
            if soft:  # a soft line break: FF[4] removes it
                self.i = escape + 1 + soft.end()
            else:  # the escaped character (it may be the ']' that `close` found)
                out.append(text[escape + 1])
                self.i = escape + 2

    def node(self) -> SgfNode:
        """``;`` and its properties at the cursor."""
        self.expect(";")
        line, column = self.place(self.i - 1)
        node = SgfNode(line=line, column=column)
        while self.peek().isalpha():
            start = self.i
            while self.i < len(self.text) and self.text[self.i].isalpha():
                self.i += 1
            ident = self.text[start : self.i]
            if not ident.isupper() or not ident.isascii():
                raise self.fail(f"property name {ident!r} must be upper-case letters A-Z (FF[4])", start)
            if self.peek() != "[":
                raise self.fail(f"property {ident} has no value")
            values = []
            while self.peek() == "[":
                values.append(self.value())
            node.properties.append(SgfProperty(ident, values, *self.place(start)))
        return node


def parse_collection(text: str) -> list[SgfNode]:
    """The root node of every game tree in an SGF collection.

    Iterative: ``tails`` holds, for each tree opened by a '(' and not yet closed, the last node
    of its sequence, which the tree's variations hang from.
    """
    r = _Reader(text.lstrip("\ufeff"))
    if r.peek() != "(":
        raise r.fail("an SGF file starts with '('")
    games: list[SgfNode] = []
    tails: list[SgfNode] = []
    while True:
        ch = r.peek()
        if ch == "(":
            r.i += 1
            if r.peek() != ";":
                raise r.fail("a game tree must start with a node ';'")
            parent = tails[-1] if tails else None
            while r.peek() == ";":
                node = r.node()
                (parent.children if parent is not None else games).append(node)
                parent = node
            tails.append(parent)
        elif tails:  # inside a tree only a variation '(' or the tree's end ')' may follow
            r.expect(")")
            tails.pop()
        elif ch:
            raise r.fail(f"unexpected {ch!r} after the game")
        else:
            return games


# The bytes every charset the reader accepts must leave as they are: SGF's syntax is ASCII.
_ASCII = bytes(range(0x20, 0x7F)) + b"\t\n\r"
_NOT_CHARSETS = {"unicode-escape", "raw-unicode-escape", "idna", "punycode"}  # text codecs that rewrite ASCII


def _charset(name: str) -> str | None:
    """Python's name for the charset ``name`` when it keeps ASCII as it is, else None."""
    try:
        codec = codecs.lookup(name.strip()).name
        if codec not in _NOT_CHARSETS and _ASCII.decode(codec) == _ASCII.decode("ascii"):
            return codec
    except (LookupError, UnicodeError, ValueError, TypeError):
        pass
    return None


def _declared_charset(data: bytes) -> SgfProperty | None:
    """The root node's ``CA`` property, read from the bytes as if they were Latin-1 (ASCII-compatible)."""
    r = _Reader(data.decode("latin-1"))
    try:
        if r.peek() != "(":
            return None
        r.i += 1
        return next((p for p in r.node().properties if p.ident == "CA"), None)
    except SgfError:  # the parse proper will say what is wrong
        return None


def _bad_byte(data: bytes, error: UnicodeDecodeError, charset: str) -> str:
    """``line 3, column 7: byte 0xFC ...`` for the first byte that ``charset`` cannot decode."""
    k = error.start
    line_start = data.rfind(b"\n", 0, k) + 1
    column = len(data[line_start:k].decode(charset, errors="replace")) + 1
    line = data.count(b"\n", 0, k) + 1
    return f"line {line}, column {column}: byte 0x{data[k]:02X} is not valid {charset}"


def decode_sgf(data: bytes) -> tuple[str, str | None]:
    """The text of an SGF file, decoded by the rule in the module's docstring, and a note when it guessed."""
    data = data.removeprefix(codecs.BOM_UTF8)
    ca = _declared_charset(data)
    if ca is not None:
        name = ca.values[0]
        charset = _charset(name)
        if charset is None:
            raise SgfError(
                f"{ca.where()}: CA[{name}]: unknown charset; expected one that keeps ASCII as it is, "
                "such as UTF-8, ISO-8859-1, Shift_JIS, GB2312, EUC-KR or Big5"
            )
        try:
            return data.decode(charset), None
        except UnicodeDecodeError as e:
            raise SgfError(f"{_bad_byte(data, e, charset)}, the charset that CA[{name}] at {ca.where()} declares") from None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as e:
        note = f"no CA (charset) and {_bad_byte(data, e, 'utf-8')}: read as ISO-8859-1, FF[4]'s default"
        return data.decode("latin-1"), note


def parse_sgf(data: str | bytes) -> SgfGame:
    """The first game of an SGF collection; bytes are decoded by the charset rule (see the module)."""
    notes: list[str] = []
    if isinstance(data, bytes):
        data, note = decode_sgf(data)
        if note:
            notes.append(note)
    games = parse_collection(data)
    if len(games) > 1:
        notes.append(f"the file holds {len(games)} games; only the first was read")
    return _to_game(games[0], notes)


def read_sgf(path: Path | str) -> SgfGame:
    """Read the file ``path``; errors, replay errors included, start with the file's name."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise SgfError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        game = parse_sgf(data)
    except SgfError as e:
        raise SgfError(f"{path}: {e}") from None
    game.source = str(path)
    return game


def _fail(prop: SgfProperty, message: str) -> SgfError:
    return SgfError(f"{prop.where()}: {message}")


def _points(prop: SgfProperty, size: int) -> list[int]:
    """The actions of a list of points, expanding FF[4] rectangles ``aa:cc``."""
    out = []
    for v in prop.values:
        try:
            if ":" in v:
                a, b = (parse_sgf_point(part, size) for part in v.split(":", 1))
                (ya, xa), (yb, xb) = divmod(a, size), divmod(b, size)
                out += [y * size + x for y in range(min(ya, yb), max(ya, yb) + 1) for x in range(min(xa, xb), max(xa, xb) + 1)]
            else:
                point = parse_sgf_point(v, size)
                if point == size * size:
                    raise ValueError(f"{prop.ident} needs a point, not a pass")
                out.append(point)
        except ValueError as e:
            raise _fail(prop, f"{prop.ident}[{v}]: {e}") from None
    return out


def _variations_note(line: list[SgfNode]) -> str | None:
    """What the main line ``line`` leaves out: the variations that branch off it."""
    skipped = [child for node in line for child in node.children[1:]]
    if not skipped:
        return None
    first = f"line {skipped[0].line}, column {skipped[0].column}"
    if len(skipped) == 1:
        return f"skipped a variation at {first} (SgfGame.tree holds it)"
    return f"skipped {len(skipped)} variations, the first at {first} (SgfGame.tree holds them)"


def _to_game(root_node: SgfNode, notes: list[str]) -> SgfGame:
    line = list(root_node.main_line())
    root = {p.ident: p for p in root_node.properties}
    game = SgfGame(notes=notes, tree=root_node)
    if "GM" in root and root["GM"].values[0].strip() != "1":
        raise _fail(root["GM"], f"GM[{root['GM'].values[0]}] is not Go (GM[1])")
    if "SZ" in root:
        text = root["SZ"].values[0].strip()
        if not (text.isascii() and text.isdigit()) or not MIN_SIZE <= int(text) <= MAX_SIZE:
            raise _fail(root["SZ"], f"SZ[{text}]: board size must be a number from {MIN_SIZE} to {MAX_SIZE} (square boards only)")
        game.size = int(text)
    for ident, attr, kind in (("KM", "komi", float), ("HA", "handicap", int)):
        if ident in root:
            text = root[ident].values[0].strip()
            try:
                setattr(game, attr, kind(text))
            except ValueError:
                raise _fail(root[ident], f"{ident}[{text}]: expected a {'number' if kind is float else 'whole number'}") from None
    if "RE" in root:
        game.result = root["RE"].values[0].strip()
    for ident, prop in root.items():
        if ident not in {"GM", "SZ", "KM", "HA", "RE", "FF", "CA", "AP", "AB", "AW", "AE", "PL", "B", "W"} and len(prop.values) == 1:
            game.info[ident] = prop.values[0]
    for depth, node in enumerate(line):
        for prop in node.properties:
            ident, values = prop.ident, prop.values
            if ident in ("B", "W"):
                if len(values) != 1:
                    raise _fail(prop, f"{ident} takes one point")
                try:
                    action = parse_sgf_point(values[0], game.size)
                except ValueError as e:
                    raise _fail(prop, f"{ident}[{values[0]}]: {e}") from None
                game.moves.append((0 if ident == "B" else 1, action))
                game.move_places.append((prop.line, prop.column))
            elif ident in ("AB", "AW"):
                if game.moves:
                    raise _fail(prop, f"{ident} after the first move is not supported (setup in mid-game)")
                target = game.black_setup if ident == "AB" else game.white_setup
                target += _points(prop, game.size)
            elif ident == "PL" and depth == 0:
                colour = values[0].strip().upper()
                if colour not in ("B", "W"):
                    raise _fail(prop, f"PL[{values[0]}]: expected B or W")
                game.first_player = 0 if colour == "B" else 1
            elif ident == "AE":
                notes.append(f"ignored AE (remove stones) at {prop.where()}")
    variations = _variations_note(line)
    if variations:
        notes.append(variations)
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
