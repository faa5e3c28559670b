"""A GTP v2 engine (Go Text Protocol, Farnebaeck 2002): any Go GUI or engine can play deepkata.

The controller writes one command per line to the engine's standard input, ``[id] name
[arguments]``; the engine answers ``=[id] result`` or ``?[id] message`` followed by an empty
line. Following the specification (section 2.2), control characters other than tab and
newline are dropped, tabs become spaces, ``#`` starts a comment, and empty lines are skipped.
GTP is ASCII text: the engine reads bytes and decodes them itself, so a line with a byte that
is not UTF-8 is answered ``? ...`` naming the byte instead of stopping the engine; an id is
ASCII digits only, and spaces are ASCII spaces.

Commands: protocol_version, name, version, known_command, list_commands, boardsize,
clear_board, komi, play, genmove, undo, showboard, final_score, final_status_list, quit,
time_settings, time_left. ``genmove`` thinks for the time the clock allows (``time_settings`` /
``time_left``, or its own count when the controller does not send ``time_left``), else for the
player's own budget. ``final_status_list dead`` names the stones that end owned by the opponent
in most random playouts from the position (:meth:`~deepkata.go.board.GoState.dead_stones`), and
``final_score`` counts the area with those stones removed. Anything malformed or illegal is
answered ``? message`` and the engine goes on; only ``quit`` or the end of the input stops it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

import numpy as np

from deepkata import __version__
from deepkata.core.errors import UserError, unknown
from deepkata.go.board import GoState
from deepkata.go.coords import MAX_SIZE, MIN_SIZE, gtp_vertex, parse_gtp_vertex
from deepkata.go.players import Decision, MCTSPlayer, Player, RandomPlayer, move_seconds
from deepkata.search.game import IllegalMove
from deepkata.search.mcts import SearchConfig


class GtpError(Exception):
    """A command the engine refuses; its message is the ``?`` response."""


def parse_color(text: str) -> int:
    """0 for black, 1 for white (``b``, ``black``, ``w``, ``white``, any case)."""
    t = text.lower()
    if t in ("b", "black"):
        return 0
    if t in ("w", "white"):
        return 1
    raise GtpError(f"invalid color {text!r}: expected b, black, w or white")


def score_text(margin: float) -> str:
    """GTP's score notation: ``B+3.5``, ``W+0.5`` or ``0``."""
    if margin == 0:
        return "0"
    return f"{'B' if margin > 0 else 'W'}+{abs(margin):g}"


def clean_line(raw: str) -> str:
    """A command line after GTP's preprocessing: no control characters, comments or edge spaces.

    Only ASCII counts as space or control here, as in the specification: a no-break space is
    part of a word, not a separator.
    """
    kept = "".join(" " if ch == "\t" else ch for ch in raw if ch == "\t" or ord(ch) >= 32 and ord(ch) != 127)
    return kept.split("#", 1)[0].strip(" ")


def decode_line(raw: bytes) -> str:
    """One input line as text: UTF-8 (so ASCII), any other byte kept as a lone surrogate
    (``surrogateescape``) so that :meth:`GtpEngine.handle` can name it."""
    return raw.decode("utf-8", errors="surrogateescape")


def is_number(word: str) -> bool:
    """ASCII digits only (``str.isdigit`` also takes other scripts' digits and superscripts)."""
    return word.isascii() and word.isdigit()


def _undecodable(line: str) -> str | None:
    """The first byte of ``line`` that was not UTF-8, as ``0xff``, or None."""
    for ch in line:
        if "\udc80" <= ch <= "\udcff":
            return f"0x{ord(ch) - 0xDC00:02x}"
    return None


@dataclass
class Clock:
    """One colour's time: seconds left in the current period and stones to play in it (0: main time)."""

    main_time: float = 0.0
    byo_yomi_time: float = 0.0
    byo_yomi_stones: int = 0
    time_left: float = math.inf
    stones_left: int = 0

    def budget(self, board_points: int, moves_played: int) -> float | None:
        if math.isinf(self.time_left):
            return None
        return move_seconds(self.time_left, self.stones_left, board_points, moves_played)

    def spend(self, seconds: float) -> None:
        """Our own count between the controller's time_left commands."""
        if math.isinf(self.time_left):
            return
        self.time_left -= seconds
        if self.stones_left > 0:
            self.stones_left -= 1
            if self.stones_left == 0:  # a new byo-yomi period
                self.time_left, self.stones_left = self.byo_yomi_time, self.byo_yomi_stones
        elif self.time_left <= 0 and self.byo_yomi_stones > 0:  # main time is over
            self.time_left, self.stones_left = self.byo_yomi_time, self.byo_yomi_stones


class GtpEngine:
    """The protocol's state machine around a :class:`~deepkata.go.players.Player`."""

    def __init__(self, player: Player, *, size: int = 9, komi: float = 7.0, name: str = "deepkata", log: TextIO | None = None) -> None:
        self.player = player
        self.log = log  # where genmove reports its search (GUIs show an engine's stderr), or None
        self.name = name
        self.size = size
        self.komi = komi
        self.state = GoState(size, komi)
        self.history: list[GoState] = []  # positions before each move, for undo
        self.clocks = [Clock(), Clock()]
        self.running = True
        self.commands: dict[str, Callable[[list[str]], str]] = {
            "protocol_version": lambda args: "2",
            "name": lambda args: self.name,
            "version": lambda args: __version__,
            "known_command": self._known_command,
            "list_commands": lambda args: "\n".join(self.commands),
            "boardsize": self._boardsize,
            "clear_board": self._clear_board,
            "komi": self._komi,
            "play": self._play,
            "genmove": self._genmove,
            "undo": self._undo,
            "showboard": lambda args: "\n" + str(self.state),
            "final_score": self._final_score,
            "final_status_list": self._final_status_list,
            "time_settings": self._time_settings,
            "time_left": self._time_left,
            "quit": self._quit,
        }

    # --- the loop -----------------------------------------------------------------------------------

    def handle(self, raw: str) -> str | None:
        """The full response to one input line, or None for a line GTP says to ignore."""
        line = clean_line(raw)
        if not line:
            return None
        words = [w for w in line.split(" ") if w]
        ident = ""
        if is_number(words[0]):
            ident = words.pop(0)
        byte = _undecodable(line)
        if byte is not None:
            return f"?{ident} invalid byte {byte}: GTP commands are ASCII text\n\n"
        if not words:
            return f"?{ident} missing command\n\n"
        name, args = words[0], words[1:]
        command = self.commands.get(name)
        try:
            if command is None:
                raise GtpError("unknown command")
            result = command(args)
        except GtpError as e:
            return f"?{ident} {e}\n\n"
        except Exception as e:  # never let a command take the engine down
            return f"?{ident} internal error: {type(e).__name__}: {e}\n\n"
        return f"={ident} {result}".rstrip(" ") + "\n\n"

    def run(self, stdin: BinaryIO, stdout: BinaryIO) -> None:
        """Answer commands from the bytes of ``stdin`` until ``quit`` or the end of the input.

        Responses are written as UTF-8; a character that cannot be (an unpaired surrogate in
        an echoed argument) is written as a backslash escape. A controller that has gone
        away (a broken pipe) ends the loop like ``quit``.
        """
        for raw in stdin:
            response = self.handle(decode_line(raw))
            if response is not None:
                try:
                    stdout.write(response.encode("utf-8", errors="backslashreplace"))
                    stdout.flush()
                except BrokenPipeError:
                    break
            if not self.running:
                break

    # --- commands ------------------------------------------------------------------------------------

    @staticmethod
    def _arity(args: list[str], n: int, usage: str) -> None:
        if len(args) != n:
            raise GtpError(f"syntax error: expected {usage}")

    def _known_command(self, args: list[str]) -> str:
        self._arity(args, 1, "known_command NAME")
        return "true" if args[0] in self.commands else "false"

    def _boardsize(self, args: list[str]) -> str:
        self._arity(args, 1, "boardsize SIZE")
        if not is_number(args[0]):
            raise GtpError("syntax error: boardsize takes a whole number")
        digits = args[0].lstrip("0") or "0"
        if len(digits) > 2 or not MIN_SIZE <= int(digits) <= MAX_SIZE:  # no int() of thousands of digits
            raise GtpError("unacceptable size")  # the exact words the specification gives for boardsize
        self.size = int(digits)
        return self._clear_board([])

    def _clear_board(self, args: list[str]) -> str:
        self.state = GoState(self.size, self.komi)
        self.history = []
        return ""

    def _komi(self, args: list[str]) -> str:
        self._arity(args, 1, "komi NUMBER")
        try:
            komi = float(args[0])
        except ValueError:
            raise GtpError("syntax error: komi takes a number") from None
        if not math.isfinite(komi):
            raise GtpError("syntax error: komi must be finite")
        self.komi = komi
        self.state.komi = komi
        return ""

    def _play(self, args: list[str]) -> str:
        self._arity(args, 2, "play COLOR VERTEX")
        player = parse_color(args[0])
        action = self._vertex(args[1])
        before = self.state.copy()
        try:
            self.state.play_as(player, action)
        except IllegalMove as e:
            raise GtpError(f"illegal move: {e}") from None
        self.history.append(before)
        return ""

    def _genmove(self, args: list[str]) -> str:
        self._arity(args, 1, "genmove COLOR")
        player = parse_color(args[0])
        position = self.state.copy()
        position.set_to_play(player)  # GTP may ask either colour for a move
        start = time.perf_counter()
        clock = self.clocks[player]
        if position.is_over():  # asked again after two passes: the game is over, so pass
            decision = Decision(position.pass_action)
        else:
            decision = self.player.choose(position, clock.budget(self.size * self.size, len(self.state.moves)))
        clock.spend(time.perf_counter() - start)
        if self.log is not None and "playouts" in decision.info:
            i = decision.info
            self.log.write(
                f"genmove {args[0]}: {i['playouts']:.0f} playouts in {i['seconds']:.2f} s ({i['playouts_per_s']:,.0f}/s), "
                f"expected win rate {i['win_rate']:.1%}\n"
            )
            self.log.flush()
        if decision.resigns:
            return "resign"
        self.history.append(self.state.copy())
        self.state.play_as(player, decision.action)
        return gtp_vertex(decision.action, self.size)

    def _vertex(self, text: str) -> int:
        if not text.isascii() or len(text) > 4:  # no other script's digits, no 5000-digit row
            raise GtpError(f"syntax error: invalid vertex {text!r}")
        try:
            return parse_gtp_vertex(text, self.size)
        except ValueError as e:
            raise GtpError(f"syntax error: {e}") from None

    def _dead(self) -> list[int]:
        """Our estimate of the dead stones, the same each time it is asked in one position."""
        rng = np.random.default_rng(self.state.hash & 0xFFFFFFFF)
        return self.state.dead_stones(rng, DEAD_STONE_PLAYOUTS)

    def _final_score(self, args: list[str]) -> str:
        return score_text(self.state.without(self._dead()).score())

    def _final_status_list(self, args: list[str]) -> str:
        """The stones of a status (``alive``, ``dead`` or ``seki``) as one line of vertices."""
        self._arity(args, 1, "final_status_list alive|dead|seki")
        status = args[0].lower()
        if status not in ("alive", "dead", "seki"):
            raise GtpError(f"syntax error: status {args[0]!r}: expected alive, dead or seki")
        dead = set(self._dead())
        stones = self.state.stones().ravel()
        if status == "seki":  # the playouts do not tell seki from life
            chosen: list[int] = []
        else:
            chosen = [a for a in np.flatnonzero(stones).tolist() if (a in dead) == (status == "dead")]
        return " ".join(gtp_vertex(a, self.size) for a in chosen)

    def _undo(self, args: list[str]) -> str:
        if not self.history:
            raise GtpError("cannot undo")
        self.state = self.history.pop()
        return ""

    def _time_settings(self, args: list[str]) -> str:
        self._arity(args, 3, "time_settings MAIN_TIME BYO_YOMI_TIME BYO_YOMI_STONES")
        main, byo, stones = _numbers(args, "time_settings")
        no_limit = byo > 0 and stones == 0
        for i in (0, 1):
            self.clocks[i] = Clock(main, byo, int(stones))
            if no_limit:
                continue
            if main > 0:
                self.clocks[i].time_left = main
            else:
                self.clocks[i].time_left, self.clocks[i].stones_left = byo, int(stones)
        return ""

    def _time_left(self, args: list[str]) -> str:
        self._arity(args, 3, "time_left COLOR TIME STONES")
        player = parse_color(args[0])
        seconds, stones = _numbers(args[1:], "time_left")
        self.clocks[player].time_left = seconds
        self.clocks[player].stones_left = int(stones)
        return ""

    def _quit(self, args: list[str]) -> str:
        self.running = False
        return ""


def _numbers(args: list[str], command: str) -> list[float]:
    out = []
    for a in args:
        try:
            v = float(a)
        except ValueError:
            raise GtpError(f"syntax error: {command} takes numbers, got {a!r}") from None
        if not math.isfinite(v) or v < 0:
            raise GtpError(f"syntax error: {command} takes finite numbers >= 0, got {a!r}")
        out.append(v)
    if len(out) > 1 and not out[-1].is_integer():
        raise GtpError(f"syntax error: {command}: stones must be a whole number")
    return out


# --- the command ----------------------------------------------------------------------------------------

PLAYERS = ("random", "mcts", "policy", "value", "alphago")
RULES = ("uct", "rave")

# random playouts behind final_status_list and final_score: a 9x9 estimate takes about 30 ms
DEAD_STONE_PLAYOUTS = 400


# the exploration constant c when none is given: UCT needs it; RAVE explores through its AMAF values
DEFAULT_C = {"uct": 1.0, "rave": 0.2}


def make_player(
    kind: str, *, seed: int, playouts: int | None, seconds: float | None, rule: str, resign_below: float, c: float | None = None,
    weights: Path | Sequence[Path] | None = None, mix: float | None = None,
) -> Player:  # fmt: skip
    """A player by name, as ``deepkata gtp --player`` builds it; UserError for a bad choice."""
    if kind == "random":
        return RandomPlayer(seed)
    if kind in ("policy", "value", "alphago"):
        from deepkata.go.alphago import AlphaGoConfig, AlphaGoPlayer, PolicyPlayer, ValuePlayer

        folders = [weights] if isinstance(weights, Path) else list(weights or [])
        if not folders:
            kata = "alphago-value (or its value.pt)" if kind == "value" else "alphago-sl (or its policy.pt)"
            raise UserError(f"--player {kind} needs --weights: a run folder of {kata}")
        if kind == "policy":
            return PolicyPlayer.load(folders[0])
        if kind == "value":
            return ValuePlayer.load(folders)
        if playouts is None and seconds is None:
            playouts = 800
        config = AlphaGoConfig(playouts=playouts, seconds=seconds, mix=1.0 if mix is None else mix, resign_below=resign_below,
                               **({} if c is None else {"c_puct": c}))  # fmt: skip
        return AlphaGoPlayer.load(folders, config, seed=seed)
    if kind != "mcts":
        raise unknown("player", kind, PLAYERS)
    if rule not in RULES:
        raise unknown("search rule", rule, RULES)
    if playouts is not None and playouts < 1:
        raise UserError(f"--playouts must be >= 1, got {playouts}")
    if seconds is not None and not seconds > 0:
        raise UserError(f"--seconds must be > 0, got {seconds}")
    if c is not None and not c >= 0:
        raise UserError(f"--c must be >= 0, got {c}")
    if playouts is None and seconds is None:
        playouts = 1000
    config = SearchConfig(rule=rule, c=DEFAULT_C[rule] if c is None else c, playouts=playouts, seconds=seconds)
    return MCTSPlayer(config, seed, resign_below=resign_below)
