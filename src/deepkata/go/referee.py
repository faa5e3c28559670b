"""Our rules checked against GNU Go's: the legal moves of every position and the final area count.

GNU Go (``/usr/games/gnugo``, Debian package ``gnugo``) is run over GTP with Chinese (area)
rules, positional superko and suicide forbidden, the rules :mod:`deepkata.go.board` implements.
A game is played by our random player against either another random player or GNU Go's own
``genmove``; before every move, the set of points where the side to move may play is compared
with GNU Go's ``all_legal``, and every move is passed to the other side's rules (ours or GNU Go's
``play``) and must be accepted. At the end our Tromp-Taylor score is compared with GNU Go's
``final_score``. GNU Go's count removes the stones it judges dead while ours counts every stone,
so the two need only agree on a game *played out*: one with no neutral point (dame) left and no
stone GNU Go lists as dead (``final_status_list dead``). GNU Go gets ``--capture-all-dead`` so
that it plays its games out before passing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from deepkata.go.arena import GtpProcess, GtpRefusal
from deepkata.go.board import GoState
from deepkata.go.coords import gtp_vertex, parse_gtp_vertex
from deepkata.go.gtp import score_text
from deepkata.go.players import RandomPlayer
from deepkata.search.game import IllegalMove

GNUGO = "/usr/games/gnugo"
GNUGO_REFEREE_FLAGS = "--mode gtp --chinese-rules --positional-superko --forbid-suicide --capture-all-dead --level 1"

Opponent = Literal["random", "gnugo"]


@dataclass
class RefereedGame:
    """One game checked move by move against GNU Go."""

    size: int
    opponent: Opponent  # who played White against our random Black
    moves: list[str] = field(default_factory=list)
    positions_checked: int = 0  # positions whose legal moves were compared
    disagreements: list[str] = field(default_factory=list)  # every legality difference, described
    our_score: str = ""
    gnugo_score: str = ""
    played_out: bool = False  # no dame and no dead stones: the two counts must agree
    ended: str = ""  # "two passes", "resign" or "move limit"

    @property
    def scores_agree(self) -> bool:
        return self.our_score == _normalise(self.gnugo_score)


def _normalise(score: str) -> str:
    """GNU Go writes ``B+3.0``; ours ``B+3``."""
    text = score.strip()
    if text in ("0", "0.0"):
        return "0"
    try:
        return f"{text[:2]}{float(text[2:]):g}"
    except ValueError:
        return text


def referee_game(gnugo: GtpProcess, *, size: int, komi: float, seed: int, opponent: Opponent, max_moves: int | None = None) -> RefereedGame:
    """Play one game with GNU Go as referee (and as White when ``opponent`` is "gnugo")."""
    for command in (f"boardsize {size}", "clear_board", f"komi {komi:g}"):
        gnugo.send(command)
    state = GoState(size, komi)
    record = RefereedGame(size, opponent)
    black, white = RandomPlayer(seed), RandomPlayer(seed + 1_000_003)
    limit = max_moves or 4 * size * size
    while not state.is_over() and len(record.moves) < limit:
        player = state.to_play
        colour = "BW"[player]
        ours = {gtp_vertex(a, size) for a in state.legal_points(player)}
        theirs = set(gnugo.send(f"all_legal {colour}").upper().split())
        record.positions_checked += 1
        if ours != theirs:
            record.disagreements.append(
                f"move {len(record.moves) + 1} ({colour}): only ours {sorted(ours - theirs)}, only GNU Go's {sorted(theirs - ours)}"
            )
        if player == 1 and opponent == "gnugo":
            answer = gnugo.send(f"genmove {colour}")
            if answer.lower() == "resign":
                record.ended = "resign"
                break
            action = parse_gtp_vertex(answer, size)
            try:
                state.play_as(player, action)
            except IllegalMove as e:
                record.disagreements.append(f"move {len(record.moves) + 1}: GNU Go played {answer}, illegal by our rules: {e}")
                break
        else:
            action = (black if player == 0 else white).choose(state).action
            state.play_as(player, action)
            try:
                gnugo.send(f"play {colour} {gtp_vertex(action, size)}")
            except GtpRefusal as e:
                record.disagreements.append(f"move {len(record.moves) + 1}: GNU Go refused {colour} {gtp_vertex(action, size)}: {e}")
                break
        record.moves.append(gtp_vertex(action, size))
    if not record.ended:
        record.ended = "two passes" if state.is_over() else "move limit"
    record.our_score = score_text(state.score())
    record.gnugo_score = gnugo.send("final_score")
    dead = gnugo.send("final_status_list dead").split()
    record.played_out = state.is_over() and state.dame() == 0 and not dead
    return record


def start_gnugo(timeout: float = 60.0) -> GtpProcess:
    return GtpProcess(f"{GNUGO} {GNUGO_REFEREE_FLAGS}", timeout=timeout, name="gnugo")


