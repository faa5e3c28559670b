"""The GTP v2 engine: the protocol as a controller sees it, time controls, and a fuzz test."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepkata.go.gtp import GtpEngine, clean_line, make_player
from deepkata.go.players import Decision, Player, RandomPlayer, move_seconds
from deepkata.search.game import Game


def session(engine: GtpEngine, *lines: str) -> list[str]:
    out = io.BytesIO()
    engine.run(io.BytesIO("".join(line + "\n" for line in lines).encode()), out)
    return out.getvalue().decode().split("\n\n")[:-1]


def test_a_controllers_session():
    engine = GtpEngine(RandomPlayer(0), size=9)
    replies = session(
        engine,
        "protocol_version", "7 name", "known_command genmove", "known_command fly", "boardsize 5", "komi 0.5",
        "play b C3", "play white c3", "play w D4", "play b pass", "undo", "undo", "showboard", "final_score",
        "boardsize 40", "komi x", "play b Z9", "frobnicate", "undo", "undo", "undo",
    )  # fmt: skip
    assert replies[:4] == ["= 2", "=7 deepkata", "= true", "= false"]
    assert replies[4:7] == ["=", "=", "="]
    assert replies[7] == "? illegal move: C3 is illegal for white: the point is occupied"
    assert replies[8:12] == ["=", "=", "=", "="]
    board = replies[12]
    assert board.startswith("= \n") and " 3 . . X . . 3" in board and "O" not in board  # D4 and the pass undone
    assert replies[13] == "= B+24.5"
    assert replies[14] == "? unacceptable size"  # the specification's words, which controllers match
    assert replies[15] == "? syntax error: komi takes a number"
    assert replies[16] == "? syntax error: vertex 'Z9' is off the 5x5 board"
    assert replies[17] == "? unknown command"
    assert replies[18:21] == ["=", "? cannot undo", "? cannot undo"]


def test_preprocessing_and_quit():
    assert clean_line("\x01genmove\tb # a comment\n") == "genmove b"
    engine = GtpEngine(RandomPlayer(0))
    replies = session(engine, "", "   # only a comment", "list_commands", "quit", "name")
    commands = replies[0].removeprefix("= ").split("\n")
    for name in ("protocol_version", "genmove", "undo", "showboard", "final_score", "time_settings", "time_left", "quit"):
        assert name in commands
    assert replies[1] == "=" and len(replies) == 2 and not engine.running  # nothing after quit


def test_genmove_plays_legal_moves_until_the_game_ends():
    engine = GtpEngine(RandomPlayer(3), size=5, komi=0.5)
    for k in range(200):
        colour = "bw"[k % 2]
        reply = session(engine, f"genmove {colour}")[0]
        assert reply.startswith("= ") and reply != "= resign"
        if engine.state.is_over():
            break
    assert engine.state.is_over()  # two passes
    assert session(engine, "genmove b") == ["= pass"]  # asked again: still a pass, not an error


class BudgetSpy(Player):
    """Records the time budget genmove hands the player."""

    def __init__(self) -> None:
        self.budgets: list[float | None] = []

    def choose(self, state: Game, seconds: float | None = None) -> Decision:
        self.budgets.append(seconds)
        return Decision(int(state.sensible_actions()[0]))


def test_genmove_respects_time_settings_and_time_left():
    spy = BudgetSpy()
    engine = GtpEngine(spy, size=9)
    session(engine, "genmove b")
    assert spy.budgets == [None]  # no clock: the player's own budget
    session(engine, "time_settings 600 30 5", "genmove w")
    assert spy.budgets[-1] == pytest.approx(move_seconds(600, 0, 81, 1))
    session(engine, "time_left b 30 5", "genmove b")
    assert spy.budgets[-1] == pytest.approx(0.8 * 30 / 5)
    session(engine, "time_settings 0 1 0", "genmove w")  # byo-yomi time without stones: no limit
    assert spy.budgets[-1] is None
    assert session(engine, "time_left b -3 0")[0].startswith("? syntax error")


def test_move_seconds_by_hand():
    assert move_seconds(30, 5, 81, 40) == pytest.approx(4.8)
    assert move_seconds(600, 0, 81, 0) == pytest.approx(0.8 * 600 / 40.5)
    assert move_seconds(600, 0, 81, 200) == pytest.approx(0.8 * 600 / 8.1)  # never fewer than a tenth of the board
    assert move_seconds(0, 0, 81, 0) == 0.0


def test_bad_player_options_are_user_errors():
    from deepkata.core.errors import UserError

    with pytest.raises(UserError, match="unknown player 'mtcs'.*did you mean 'mcts'"):
        make_player("mtcs", seed=0, playouts=None, seconds=None, rule="uct", resign_below=0)
    with pytest.raises(UserError, match="--playouts must be >= 1"):
        make_player("mcts", seed=0, playouts=0, seconds=None, rule="uct", resign_below=0)


COMMANDS = ["protocol_version", "name", "version", "known_command", "list_commands", "boardsize", "clear_board", "komi",
            "play", "genmove", "undo", "showboard", "final_score", "time_settings", "time_left", "quit", "bogus"]  # fmt: skip
WORDS = st.one_of(
    st.sampled_from(["b", "w", "black", "WHITE", "x", "pass", "A1", "j9", "T19", "Z0", "I5", "0", "-1", "7.5", "1e309", "nan", "inf", "19", "2", "1"]),
    st.text(min_size=1, max_size=6),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from(COMMANDS), st.lists(WORDS, max_size=4), st.text(max_size=3)), max_size=12))
def test_fuzz_any_input_gets_a_well_formed_answer_and_never_crashes(commands):
    engine = GtpEngine(RandomPlayer(0), size=5)
    for with_id, name, args, junk in commands:
        if name == "quit":
            continue
        line = ("12 " if with_id else "") + " ".join([name, *args]) + junk
        reply = engine.handle(line)
        if reply is None:
            assert clean_line(line) == ""
            continue
        assert reply[0] in "=?" and reply.endswith("\n\n") and "\n\n" not in reply[:-2]
        assert "internal error" not in reply, (line, reply)
    assert engine.handle("genmove b")[0] == "="  # still playing


def test_the_command_speaks_gtp_on_stdin_and_stdout():
    done = subprocess.run(
        [sys.executable, "-m", "deepkata", "gtp", "--player", "mcts", "--playouts", "50", "--size", "5"],
        input="boardsize 5\nplay b c3\ngenmove w\nfinal_score\nquit\n", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    replies = done.stdout.split("\n\n")
    assert replies[0] == "=" and replies[1] == "=" and replies[2].startswith("= ") and replies[2] != "= C3"
    assert replies[3].startswith("= ") and replies[4] == "="
    assert "genmove w: 50 playouts in" in done.stderr and "expected win rate" in done.stderr
    bad = subprocess.run([sys.executable, "-m", "deepkata", "gtp", "--player", "alphazero"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "'alphazero' is not one of 'random', 'mcts', 'policy', 'value', 'alphago'" in bad.stderr
    unarmed = subprocess.run([sys.executable, "-m", "deepkata", "gtp", "--player", "alphago"], capture_output=True, text=True, timeout=120)
    assert unarmed.returncode == 2 and "--player alphago needs --weights" in unarmed.stderr
