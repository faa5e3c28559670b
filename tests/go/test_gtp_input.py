"""GTP input as bytes: undecodable lines, non-ASCII digits and huge numbers; dead stones; a byte fuzz test."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from deepkata.go.gtp import GtpEngine
from deepkata.go.players import RandomPlayer


def replies(engine: GtpEngine, data: bytes) -> list[str]:
    out = io.BytesIO()
    engine.run(io.BytesIO(data), out)
    text = out.getvalue().decode("utf-8")
    assert text.endswith("\n\n") or text == ""
    return text.split("\n\n")[:-1]


def test_a_line_that_is_not_utf8_is_answered_and_the_engine_goes_on():
    engine = GtpEngine(RandomPlayer(0))
    got = replies(engine, b"name\n\xff\n3 play b \xe9\n4 name # caf\xe9\nname\xc2\xa0x\nprotocol_version\n")
    assert got == [
        "= deepkata",
        "? invalid byte 0xff: GTP commands are ASCII text",
        "?3 invalid byte 0xe9: GTP commands are ASCII text",
        "=4 deepkata",  # the bad byte was in a comment, which GTP discards
        "? unknown command",  # a no-break space is not a GTP space: the command is 'name\xa0x'
        "= 2",
    ]


def test_ids_are_ascii_digits_and_sizes_are_checked_without_converting_huge_numbers():
    engine = GtpEngine(RandomPlayer(0))
    got = replies(engine, "\u0661 name\n\u00b2 name\n12 name\n".encode() + b"7 boardsize " + b"9" * 5000 + b"\nboardsize 0009\nboardsize 1\nboardsize -5\nboardsize \xd9\xa1\xd9\xa3\nplay b A\xd9\xa1\n")
    assert got[:3] == ["? unknown command", "? unknown command", "=12 deepkata"]  # Arabic-Indic 1 and a superscript 2 are no ids
    assert got[3:6] == ["?7 unacceptable size", "=", "? unacceptable size"]
    assert engine.size == 9
    assert got[6:] == ["? syntax error: boardsize takes a whole number"] * 2 + ["? syntax error: invalid vertex 'A\u0661'"]


def test_the_command_survives_a_strictly_decoded_stdin():
    """The issue's reproducer: PYTHONIOENCODING=utf-8:strict used to crash on the byte 0xff."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    done = subprocess.run(
        [sys.executable, "-m", "deepkata", "gtp", "--player", "random"], input=b"name\n\xff\nquit\n", capture_output=True, env=env, timeout=120, check=False
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == b""
    assert done.stdout == b"= deepkata\n\n? invalid byte 0xff: GTP commands are ASCII text\n\n=\n\n"


# White lives with eyes at A1 and E5; Black's C3 has one liberty (D3) and cannot take it.
DEAD_C3 = ["play b C3"] + [f"play w {p}" for p in ["A2", "A3", "A4", "A5", "B1", "B2", "B3", "B4", "B5", "C1", "C2", "C4", "C5", "D1", "D2", "D4", "D5", "E1", "E2", "E3", "E4"]]


def test_final_status_list_names_the_dead_stones_and_final_score_removes_them():
    engine = GtpEngine(RandomPlayer(0), size=5, komi=0.5)
    setup = replies(engine, ("\n".join(["boardsize 5", *DEAD_C3]) + "\n").encode())
    assert setup == ["="] * 23 and engine.state.score() == -22.5  # Tromp-Taylor: B 1 - W 23 - 0.5, D3 neutral
    got = replies(engine, b"final_status_list dead\nfinal_status_list alive\nfinal_status_list seki\nfinal_score\nfinal_status_list\nfinal_status_list ugly\n")
    assert got[0] == "= C3"
    assert sorted(got[1].removeprefix("= ").split()) == sorted(DEAD_C3[i].split()[2] for i in range(1, 22))
    assert got[2:4] == ["=", "= W+25.5"]  # 25 points for White: B 0 - W 25 - 0.5
    assert got[4] == "? syntax error: expected final_status_list alive|dead|seki"
    assert got[5] == "? syntax error: status 'ugly': expected alive, dead or seki"
    assert "final_status_list" in replies(engine, b"list_commands\n")[0].split("\n")


def test_help_lists_the_player_and_rule_choices():
    done = subprocess.run([sys.executable, "-m", "deepkata", "gtp", "--help"], capture_output=True, text=True, timeout=120, check=False)
    assert "--player random|mcts" in done.stdout and "--rule uct|rave" in done.stdout


COMMAND_BYTES = [b"name", b"boardsize", b"komi", b"play", b"genmove", b"undo", b"showboard", b"final_score", b"final_status_list",
                 b"known_command", b"time_settings", b"time_left", b"list_commands", b"quit"]  # fmt: skip
LINE = st.one_of(
    st.binary(max_size=30),
    st.tuples(st.sampled_from([b"", b"5 ", b"\xd9\xa1 "]), st.sampled_from(COMMAND_BYTES), st.binary(max_size=12)).map(b"".join),
)


def expects_answer(line: bytes) -> bool:
    """Whether GTP's preprocessing (section 2.2) leaves anything of the line: ASCII controls
    other than tab are dropped, ``#`` starts a comment, spaces and tabs at the ends are cut."""
    kept = re.sub(rb"[\x00-\x08\x0a-\x1f\x7f]", b"", line).split(b"#", 1)[0]
    return kept.strip(b" \t") != b""


@settings(max_examples=200, deadline=None)
@given(st.lists(LINE, max_size=10))
def test_fuzz_every_byte_line_gets_one_well_formed_answer(lines):
    engine = GtpEngine(RandomPlayer(0), size=5)
    data = b"".join(line + b"\n" for line in lines)
    got = replies(engine, data)  # must not raise
    expected = 0
    for line in data.split(b"\n")[:-1]:
        if expects_answer(line):
            expected += 1
            if re.fullmatch(rb"[ \t]*(\d+[ \t]+)?quit[ \t]*(#.*)?", re.sub(rb"[\x00-\x08\x0a-\x1f\x7f]", b"", line)):
                break  # nothing after quit
    assert len(got) == expected
    for reply in got:
        assert re.match(r"[=?](\d*)( |$)", reply), reply
        assert "\n\n" not in reply and "internal error" not in reply, reply


def test_threads_sets_the_networks_threads(monkeypatch):
    import io
    import types

    import torch

    from deepkata.go.commands import gtp

    before = torch.get_num_threads()
    out = io.BytesIO()
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(b"name\nquit\n")))
    monkeypatch.setattr(sys, "stdout", types.SimpleNamespace(buffer=out))
    try:
        gtp(player="random", weights=None, mix=None, playouts=None, seconds=None, rule="uct", c=None, resign_below=0.0, seed=0, size=9, komi=7.0, threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert out.getvalue().startswith(b"= deepkata")
    done = subprocess.run([sys.executable, "-m", "deepkata", "gtp", "--threads", "0"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "--threads" in done.stderr
