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
- ends after two passes, a resignation, or the move limit (scored by area as the board
  stands);
- after two passes, settles the dead stones as Go servers do. The game is scored by Tromp-Taylor
  area with komi and checked against each engine's own ``final_score``. When those disagree
  (with each other or with the area count: an engine has passed with dead stones on the
  board), both engines are asked ``final_status_list dead``; if they name the same stones,
  those are removed and the area is counted again. If they do not, a referee engine, when one
  is configured (``--referee "gnugo --mode gtp"``), is given the game with ``play`` commands and
  its ``final_status_list dead`` decides. Otherwise the game is *disputed*: it is recorded and
  reported but not counted in the results;
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
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import IO

from deepkata.core import records
from deepkata.core.errors import UserError
from deepkata.go.board import GoState
from deepkata.go.coords import gtp_vertex, parse_gtp_vertex, pass_action
from deepkata.go.gtp import score_text
from deepkata.go.rating import MatchEstimate
from deepkata.go.sgf import SgfGame, write_sgf
from deepkata.search.game import IllegalMove

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
        try:
            self.argv = shlex.split(command)
        except ValueError as e:
            raise UserError(f"engine command {command!r}: {e}") from None
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
                encoding="utf-8", errors="replace", bufsize=1,
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
    winner: str | None  # "A", "B" or None for a draw or a disputed game
    reason: str  # score, disputed, resign, move limit, illegal, timeout, crash, protocol
    detail: str
    moves: list[str]  # GTP vertices, black first
    our_score: float | None  # area(B) - area(W) - komi after removing ``dead``, when the game was scored
    engine_scores: dict[str, str] = field(default_factory=dict)  # "A"/"B" -> its final_score
    scores_agree: bool | None = None  # every engine's final_score equals ours
    seconds: dict[str, list[float]] = field(default_factory=dict)  # "A"/"B" -> per-move times
    settled_by: str | None = None  # who named the dead stones: "engines", "referee", or None (no dispute / unsettled)
    dead: list[str] = field(default_factory=list)  # the stones removed as dead, GTP vertices
    dead_named: dict[str, list[str] | None] = field(default_factory=dict)  # "A"/"B"/"referee" -> its dead stones (None: no answer)
    area_score: float | None = None  # area(B) - area(W) - komi with every stone counted (Tromp-Taylor)
    referee_score: str | None = None  # the referee's final_score, when it was asked

    @property
    def disputed(self) -> bool:
        return self.reason == "disputed"


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
    referee: GtpProcess | None = None,
) -> ArenaGame:
    """Play one game between ``engines['A']`` and ``engines['B']``, ``black`` ("A"/"B") taking Black.

    ``referee`` is the engine that settles dead stones the players disagree on, or None: such
    a game is then disputed.
    """
    sides = (black, _opponent(black))  # sides[p] plays colour p
    state = GoState(size, komi)
    moves: list[str] = []
    seconds: dict[str, list[float]] = {"A": [], "B": []}

    def end(winner: str | None, reason: str, detail: str, score: float | None = None) -> ArenaGame:
        return ArenaGame(index, sides[0], sides[1], winner, reason, detail, moves, score, seconds=seconds)

    for side in sides:
        try:
            _set_up(engines[side], size, komi)
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
    area = state.score()
    engine_scores = {side: text for side in sides if (text := _ask(engines[side], "final_score")) is not None}
    if not state.is_over():
        game = end(_winner(area, sides), "move limit", f"{score_text(area)} by area after the move limit", area)
    else:
        game = _settle(end, state, engines, sides, engine_scores, referee)
    game.area_score = area
    game.engine_scores = engine_scores
    if engine_scores and game.our_score is not None:
        game.scores_agree = all(_same_score(text, game.our_score) for text in engine_scores.values())
    return game


def _set_up(engine: GtpProcess, size: int, komi: float) -> None:
    for command in (f"boardsize {size}", "clear_board", f"komi {komi:g}"):
        engine.send(command)


def _winner(margin: float, sides: tuple[str, str]) -> str | None:
    return None if margin == 0 else sides[0 if margin > 0 else 1]


def _ask(engine: GtpProcess, command: str) -> str | None:
    """The engine's answer to an optional command, or None if it does not know it or fails
    (a failed engine is restarted: the game is over, and the next one needs it)."""
    try:
        if command.split()[0] not in engine.known_commands():
            return None
        return engine.send(command)
    except GtpRefusal:
        return None
    except EngineFailure:
        engine.restart()
        return None


def _named_dead(engine: GtpProcess, state: GoState) -> list[int] | None:
    """The stones ``engine`` calls dead (actions, ascending), or None if it gives no usable answer:
    it does not know the command, fails, or names a point that is not a stone."""
    text = _ask(engine, "final_status_list dead")
    if text is None:
        return None
    stones = state.stones().ravel()
    dead = set()
    for word in text.split():
        try:
            action = parse_gtp_vertex(word, state.size)
        except ValueError:
            return None
        if action == pass_action(state.size) or stones[action] == 0:
            return None
        dead.add(action)
    return sorted(dead)


def _vertices(actions: list[int] | None, size: int) -> list[str] | None:
    return None if actions is None else [gtp_vertex(a, size) for a in actions]


def _settle(
    end: Callable[..., ArenaGame],
    state: GoState,
    engines: dict[str, GtpProcess],
    sides: tuple[str, str],
    engine_scores: dict[str, str],
    referee: GtpProcess | None,
) -> ArenaGame:
    """Score a game that ended with two passes, settling dead stones when the counts disagree."""
    area = state.score()
    values = {_score_value(text) for text in engine_scores.values()}
    if values <= {area}:  # no engine disputes the area count
        return end(_winner(area, sides), "score", f"{score_text(area)} by area", area)
    named: dict[str, list[int] | None] = {side: _named_dead(engines[side], state) for side in sides}
    size = state.size
    dead_named = {side: _vertices(dead, size) for side, dead in named.items()}
    dead, settled_by = named[sides[0]], "engines"
    referee_score = None
    if dead is None or dead != named[sides[1]]:
        dead, settled_by = None, "referee"
        if referee is not None:
            dead = _referee_dead(referee, state)
            dead_named["referee"] = _vertices(dead, size)
            referee_score = None if dead is None else _ask(referee, "final_score")
    if dead is None:
        said = "; ".join(f"{side} names {_describe(dead_named[side])}" for side in sides)
        why = f"the engines disagree on the dead stones ({said})"
        if referee is not None:
            why += ", and the referee gave no answer"
        game = end(None, "disputed", f"{score_text(area)} by area counting every stone, but {why}", None)
        game.dead_named, game.referee_score = dead_named, referee_score
        return game
    margin = state.without(dead).score()
    by = "both engines" if settled_by == "engines" else "the referee"
    detail = f"{score_text(margin)} by area after removing {len(dead)} dead stones named by {by}" if dead else f"{score_text(margin)} by area; {by} name no dead stones"
    game = end(_winner(margin, sides), "score", detail, margin)
    game.settled_by, game.dead, game.dead_named, game.referee_score = settled_by, _vertices(dead, size), dead_named, referee_score
    return game


def _describe(vertices: list[str] | None) -> str:
    if vertices is None:
        return "none (no answer)"
    return " ".join(vertices) if vertices else "no dead stones"


def _referee_dead(referee: GtpProcess, state: GoState) -> list[int] | None:
    """The referee's dead stones after the game is replayed into it, or None if it fails."""
    try:
        _set_up(referee, state.size, state.komi)
        for player, action in state.moves:
            referee.send(f"play {'BW'[player]} {gtp_vertex(action, state.size)}")
    except GtpRefusal:
        return None
    except EngineFailure:
        referee.restart()  # afresh for the next game
        return None
    return _named_dead(referee, state)


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
    referee: str | None = None  # the command of an engine that settles disputed dead stones


def run_arena(settings: ArenaSettings, out: Path, *, on_game: Callable[[ArenaGame], None] | None = None) -> list[ArenaGame]:
    """Play the match into ``out``, continuing a previous run of the same settings there.

    Nothing is written until every engine has started, so a mistyped command leaves no folder
    behind that would then refuse the corrected one.
    """
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file, not a folder")
    saved = out / "arena.json"
    if saved.exists():
        # a match saved before a setting existed had that setting's default
        defaults = {f.name: f.default for f in fields(ArenaSettings) if f.default is not MISSING}
        before = {k: v for k, v in {**defaults, **records.read_json(saved)}.items() if k != "games"}
        if before != {k: v for k, v in asdict(settings).items() if k != "games"}:
            raise UserError(f"{out}: holds a match with other settings ({saved}); choose another --out")
    games = read_games(out)
    commands = {"A": ("--black", settings.a), "B": ("--white", settings.b), "referee": ("--referee", settings.referee)}
    started: dict[str, GtpProcess] = {}
    for name, (option, command) in commands.items():
        if command is None:
            continue
        try:
            started[name] = GtpProcess(command, timeout=settings.move_timeout, name=name)
        except UserError as e:
            for engine in started.values():
                engine.close(polite=False)
            raise UserError(f"{option}: {e}") from None
    engines = {"A": started["A"], "B": started["B"]}
    referee = started.get("referee")
    out.mkdir(parents=True, exist_ok=True)
    records.write_json(saved, asdict(settings))
    try:
        for index in range(len(games) + 1, settings.games + 1):
            black = "A" if index % 2 == 1 else "B"
            game = play_gtp_game(
                index, engines, black, size=settings.size, komi=settings.komi, max_moves=settings.max_moves, referee=referee
            )
            _save_game(out, game, settings)
            games.append(game)
            if on_game is not None:
                on_game(game)
            for side in ("A", "B"):  # a failed engine starts afresh for the next game
                if game.reason in ("timeout", "crash", "protocol") and game.winner != side:
                    engines[side].restart()
    finally:
        for engine in started.values():
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
        "RU": "Tromp-Taylor (area, positional superko), dead stones removed by agreement or by the referee",
        "GC": f"game {game.index}: {game.reason}: {game.detail}" + (f"; dead: {' '.join(game.dead)}" if game.dead else ""),
    }
    records.write_text(out / f"game-{game.index:04d}.sgf", write_sgf(sgf))
    with open(out / "games.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(asdict(game)) + "\n")


def _sgf_result(game: ArenaGame) -> str:
    if game.disputed:
        return "?"  # FF[4]: unknown result
    if game.winner is None:
        return "0"
    colour = "B" if game.winner == game.black else "W"
    if game.reason in ("score", "move limit") and game.our_score is not None:
        return f"{colour}+{abs(game.our_score):g}"
    return f"{colour}+{'R' if game.reason == 'resign' else 'T' if game.reason == 'timeout' else 'F'}"


def summarize(games: Sequence[ArenaGame]) -> dict[str, object]:
    """A's results, with intervals, and how each game ended; disputed games are not counted."""
    wins = sum(g.winner == "A" for g in games)
    losses = sum(g.winner == "B" for g in games)
    draws = sum(g.winner is None and not g.disputed for g in games)
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
        "disputed": sum(g.disputed for g in games),  # played, but not counted above
        "settled_by": {who: sum(g.settled_by == who for g in games) for who in ("engines", "referee")},
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
