"""An arena for any two GTP engines: games with alternating colours, refereed by our rules.

``deepkata arena --black "CMD_A" --white "CMD_B" --games N`` starts both engines as child
processes that speak GTP on their standard input and output (ours, ``deepkata gtp``, or any
other, such as GNU Go: ``/usr/games/gnugo --mode gtp --level 1``). Engine A takes Black in
games 1, 3, 5... and White in the others. Each game:

- sets up both engines (``boardsize``, ``clear_board``, ``komi``), asks the side to move for
  ``genmove`` and passes the move on to the other with ``play``;
- checks every move with our rules (:mod:`deepkata.go.board`): an engine that plays an
  illegal move, crashes, answers nonsense or takes longer than the move timeout loses that
  game; the arena records why, restarts the engine and goes on;
- ends after two passes (scored by Tromp-Taylor area with komi, and cross-checked with each
  engine's own ``final_score`` where it has one), a resignation, or the move limit (scored as
  the board stands);
- is saved at once as ``game-NNNN.sgf`` and one line of ``games.jsonl``, so a match that is
  interrupted continues where it stopped when run again with the same ``--out`` and settings.

The summary gives A's wins with a 95% Wilson interval and the Elo difference it implies
(:mod:`deepkata.go.rating`).
"""

from __future__ import annotations

import json
import queue
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from deepkata.core import records
from deepkata.core.errors import UserError
from deepkata.go.board import GoState
from deepkata.go.coords import gtp_vertex, parse_gtp_vertex
from deepkata.search.game import IllegalMove
from deepkata.go.gtp import score_text
from deepkata.go.rating import MatchEstimate
from deepkata.go.sgf import SgfGame, write_sgf


# --- a GTP engine in a child process ----------------------------------------------------------------


class EngineFailure(Exception):
    """The engine crashed, hung past its timeout, or broke the protocol; ``kind`` says which."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class GtpRefusal(Exception):
    """The engine answered a command with ``? message``."""


class GtpProcess:
    """A GTP engine as a child process, with a timeout on every command.

    A reader thread moves the engine's output lines into a queue, so waiting for an answer can
    time out without blocking on the pipe.
    """

    def __init__(self, command: str, *, timeout: float = 60.0, startup_timeout: float = 60.0, name: str | None = None) -> None:
        self.command = command
        self.argv = shlex.split(command)
        if not self.argv:
            raise UserError("an engine command must not be empty")
        self.timeout = timeout
        self.startup_timeout = startup_timeout  # for the first command: the engine may still be loading
        self.name = name or Path(self.argv[0]).name
        self._start()

    def _start(self) -> None:
        try:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True, bufsize=1,
            )  # fmt: skip
        except OSError as e:
            raise UserError(f"cannot start engine {self.command!r}: {e.strerror or e}") from None
        self._known: set[str] | None = None
        self._answered = False
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(self.process.stdout, self.lines), daemon=True).start()

    @staticmethod
    def _read(stream: IO[str], lines: queue.Queue[str | None]) -> None:
        for line in stream:
            lines.put(line.rstrip("\r\n"))
        lines.put(None)

    def send(self, command: str, timeout: float | None = None) -> str:
        """The result of ``command`` (the text after ``=``); GtpRefusal on ``?``, EngineFailure if it fails."""
        if self.process.poll() is not None:
            raise EngineFailure("crash", f"{self.name} has exited (status {self.process.returncode})")
        try:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise EngineFailure("crash", f"{self.name} closed its input") from None
        if timeout is None:
            timeout = self.timeout if self._answered else max(self.timeout, self.startup_timeout)
        deadline = time.monotonic() + timeout
        reply: list[str] = []
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.0)) if left > 0 else self.lines.get_nowait()
            except queue.Empty:
                raise EngineFailure("timeout", f"{self.name} did not answer {command.split()[0]!r} in time") from None
            if line is None:
                raise EngineFailure("crash", f"{self.name} exited while answering {command.split()[0]!r}")
            if not reply:
                if line.startswith(("=", "?")):
                    reply.append(line)
                continue  # noise before the answer
            if line.strip() == "":
                break
            reply.append(line)
        self._answered = True
        head = reply[0]
        text = "\n".join([head[1:].lstrip("0123456789").strip(), *reply[1:]]).strip()
        if head.startswith("?"):
            raise GtpRefusal(text)
        return text

    def known_commands(self) -> set[str]:
        """The engine's list_commands, asked once per process."""
        if self._known is None:
            try:
                self._known = set(self.send("list_commands").split())
            except GtpRefusal:
                self._known = set()
        return self._known

    def restart(self) -> None:
        """Kill the engine (it has failed) and start a fresh one."""
        self.close(polite=False)
        self._start()

    def close(self, polite: bool = True) -> None:
        """Send ``quit`` (when ``polite``), then make sure the process is gone."""
        if self.process.poll() is None:
            if polite:
                try:
                    self.send("quit", timeout=2.0)
                except (EngineFailure, GtpRefusal):
                    pass
            else:
                self.process.kill()
            try:
                self.process.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


# --- one game --------------------------------------------------------------------------------------------


@dataclass
class ArenaGame:
    """One game's record, as ``games.jsonl`` keeps it."""

    index: int  # 1-based
    black: str  # "A" or "B"
    white: str
    winner: str | None  # "A", "B" or None for a draw
    reason: str  # score, resign, move limit, illegal, timeout, crash, protocol
    detail: str
    moves: list[str]  # GTP vertices, black first
    our_score: float | None  # area(B) - area(W) - komi, when the game was scored
    engine_scores: dict[str, str] = field(default_factory=dict)  # "A"/"B" -> its final_score
    scores_agree: bool | None = None  # every engine's final_score equals ours
    seconds: dict[str, list[float]] = field(default_factory=dict)  # "A"/"B" -> per-move times


def _opponent(side: str) -> str:
    return "B" if side == "A" else "A"


def play_gtp_game(
    index: int,
    engines: dict[str, GtpProcess],
    black: str,
    *,
    size: int,
    komi: float,
    max_moves: int,
) -> ArenaGame:
    """Play one game between ``engines['A']`` and ``engines['B']``, ``black`` ("A"/"B") taking Black."""
    sides = (black, _opponent(black))  # sides[p] plays colour p
    state = GoState(size, komi)
    moves: list[str] = []
    seconds: dict[str, list[float]] = {"A": [], "B": []}

    def end(winner: str | None, reason: str, detail: str, score: float | None = None) -> ArenaGame:
        return ArenaGame(index, sides[0], sides[1], winner, reason, detail, moves, score, seconds=seconds)

    for side in sides:
        try:
            for command in (f"boardsize {size}", "clear_board", f"komi {komi:g}"):
                engines[side].send(command)
        except (GtpRefusal, EngineFailure) as e:
            kind = e.kind if isinstance(e, EngineFailure) else "protocol"
            return end(_opponent(side), kind, f"{engines[side].name} ({side}) failed to set up: {e}")
    while not state.is_over() and len(moves) < max_moves:
        player = state.to_play
        side, other = sides[player], sides[1 - player]
        colour = "BW"[player]
        start = time.perf_counter()
        try:
            answer = engines[side].send(f"genmove {colour}")
        except EngineFailure as e:
            return end(other, e.kind, f"{side} at move {len(moves) + 1}: {e}")
        except GtpRefusal as e:
            return end(other, "protocol", f"{side} refused genmove at move {len(moves) + 1}: {e}")
        seconds[side].append(time.perf_counter() - start)
        if answer.lower() == "resign":
            return end(other, "resign", f"{side} resigned at move {len(moves) + 1}")
        try:
            action = parse_gtp_vertex(answer, size)
            state.play_as(player, action)
        except (ValueError, IllegalMove) as e:
            return end(other, "illegal", f"{side} played {answer!r} at move {len(moves) + 1}: {e}")
        vertex = gtp_vertex(action, size)
        moves.append(vertex)
        try:
            engines[other].send(f"play {colour} {vertex}")
        except EngineFailure as e:
            return end(side, e.kind, f"{other} at move {len(moves)}: {e}")
        except GtpRefusal as e:
            return end(side, "protocol", f"{other} refused {colour} {vertex} at move {len(moves)}, legal by our rules: {e}")
    margin = state.score()
    winner = None if margin == 0 else sides[0 if margin > 0 else 1]
    reason = "score" if state.is_over() else "move limit"
    game = end(winner, reason, f"{score_text(margin)} by area{'' if state.is_over() else ' after the move limit'}", margin)
    for side in sides:
        if "final_score" in engines[side].known_commands():
            try:
                game.engine_scores[side] = engines[side].send("final_score")
            except (GtpRefusal, EngineFailure):
                continue
    if game.engine_scores:
        game.scores_agree = all(_same_score(text, margin) for text in game.engine_scores.values())
    return game


def _score_value(text: str) -> float | None:
    """B - W of a GTP score text (``B+3.5``, ``W+R``, ``0``), or None when it says no number."""
    text = text.strip().upper()
    if text in ("0", "DRAW", "JIGO"):
        return 0.0
    try:
        value = float(text[2:])
    except ValueError:
        return None
    return value if text.startswith("B+") else -value if text.startswith("W+") else None


def _same_winner(text: str, margin: float) -> bool:
    value = _score_value(text)
    return value is not None and (value > 0) == (margin > 0) and (value < 0) == (margin < 0)


def _same_score(text: str, margin: float) -> bool:
    return _score_value(text) == margin


# --- a match -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArenaSettings:
    a: str  # engine A's command: Black in odd-numbered games
    b: str  # engine B's command
    games: int
    size: int
    komi: float
    max_moves: int
    move_timeout: float


def run_arena(settings: ArenaSettings, out: Path, *, on_game: Callable[[ArenaGame], None] | None = None) -> list[ArenaGame]:
    """Play the match into ``out``, continuing a previous run of the same settings there."""
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "arena.json"
    if saved.exists():
        before = {k: v for k, v in records.read_json(saved).items() if k != "games"}
        if before != {k: v for k, v in asdict(settings).items() if k != "games"}:
            raise UserError(f"{out}: holds a match with other settings ({saved}); choose another --out")
    records.write_json(saved, asdict(settings))
    games = read_games(out)
    engines = {"A": GtpProcess(settings.a, timeout=settings.move_timeout, name="A"), "B": GtpProcess(settings.b, timeout=settings.move_timeout, name="B")}
    try:
        for index in range(len(games) + 1, settings.games + 1):
            black = "A" if index % 2 == 1 else "B"
            game = play_gtp_game(index, engines, black, size=settings.size, komi=settings.komi, max_moves=settings.max_moves)
            _save_game(out, game, settings)
            games.append(game)
            if on_game is not None:
                on_game(game)
            for side in ("A", "B"):  # a failed engine starts afresh for the next game
                if game.reason in ("timeout", "crash", "protocol") and game.winner != side:
                    engines[side].restart()
    finally:
        for engine in engines.values():
            engine.close()
    return games


def read_games(out: Path) -> list[ArenaGame]:
    path = out / "games.jsonl"
    if not path.exists():
        return []
    games = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            games.append(ArenaGame(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as e:
            raise UserError(f"{path}: line {n}: not an arena game record ({e})") from None
    return games


def _save_game(out: Path, game: ArenaGame, settings: ArenaSettings) -> None:
    commands = {"A": settings.a, "B": settings.b}
    sgf = SgfGame(size=settings.size, komi=settings.komi)
    sgf.moves = [(k % 2, parse_gtp_vertex(v, settings.size)) for k, v in enumerate(game.moves)]
    sgf.result = _sgf_result(game)
    sgf.info = {
        "PB": f"{game.black}: {commands[game.black]}",
        "PW": f"{game.white}: {commands[game.white]}",
        "RU": "Tromp-Taylor (area, positional superko)",
        "GC": f"game {game.index}: {game.reason}: {game.detail}",
    }
    records.write_text(out / f"game-{game.index:04d}.sgf", write_sgf(sgf))
    with open(out / "games.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(asdict(game)) + "\n")


def _sgf_result(game: ArenaGame) -> str:
    if game.winner is None:
        return "0"
    colour = "B" if game.winner == game.black else "W"
    if game.reason in ("score", "move limit") and game.our_score is not None:
        return f"{colour}+{abs(game.our_score):g}"
    return f"{colour}+{'R' if game.reason == 'resign' else 'T' if game.reason == 'timeout' else 'F'}"


def summarize(games: Sequence[ArenaGame]) -> dict[str, object]:
    """A's results, with intervals, and how each game ended."""
    wins = sum(g.winner == "A" for g in games)
    losses = sum(g.winner == "B" for g in games)
    draws = sum(g.winner is None for g in games)
    estimate = MatchEstimate.of(wins, losses, draws)
    reasons: dict[str, int] = {}
    for g in games:
        reasons[g.reason] = reasons.get(g.reason, 0) + 1
    checked = [g for g in games if g.scores_agree is not None]
    winners_agree = sum(all(_same_winner(t, g.our_score) for t in g.engine_scores.values()) for g in checked)
    times = {side: [t for g in games for t in g.seconds.get(side, [])] for side in ("A", "B")}
    return {
        "games": len(games),
        "a_wins": wins,
        "b_wins": losses,
        "draws": draws,
        "a_score": estimate.score,
        "a_score_95": [estimate.score_low, estimate.score_high],
        "elo_a_minus_b": estimate.elo,
        "elo_95": [estimate.elo_low, estimate.elo_high],
        "a_wins_as_black": sum(g.winner == "A" and g.black == "A" for g in games),
        "a_wins_as_white": sum(g.winner == "A" and g.white == "A" for g in games),
        "endings": reasons,
        "scores_checked": len(checked),
        "scores_agree": sum(bool(g.scores_agree) for g in checked),
        "winners_agree": winners_agree,  # engines' final_score names our winner, whatever the margin
        "seconds_per_move": {side: (sum(t) / len(t) if t else None) for side, t in times.items()},
        "describe": estimate.describe(),
    }
