from __future__ import annotations

import io

from rich.console import Console

from deepkata.core.progress import ProgressBoard


def board(terminal: bool, interval: float = 0.0) -> tuple[ProgressBoard, io.StringIO]:
    out = io.StringIO()
    return ProgressBoard(console=Console(file=out, force_terminal=terminal, width=200), interval=interval), out


def drive(b: ProgressBoard) -> None:
    with b.bar("settings", 4) as outer:
        with b.bar("  relu/he", 200) as inner:
            inner.advance(20)
            inner.note("loss 0.031")
            inner.update(100)
            inner.reset(400, completed=100)
        outer.advance()


def test_a_pipe_gets_plain_progress_lines_naming_every_open_bar():
    b, out = board(terminal=False)
    drive(b)
    lines = out.getvalue().splitlines()
    assert lines == [
        "[0:00] settings 0/4 (0%) › relu/he 20/200 (10%)",
        "[0:00] settings 0/4 (0%) › relu/he 20/200 (10%) loss 0.031",
        "[0:00] settings 0/4 (0%) › relu/he 100/200 (50%) loss 0.031",
        "[0:00] settings 0/4 (0%) › relu/he 100/400 (25%) loss 0.031",
        "[0:00] settings 1/4 (25%)",
    ]


def test_a_pipe_gets_a_line_per_interval_and_no_blank_lines():
    b, out = board(terminal=False, interval=3600.0)
    drive(b)
    assert out.getvalue() == ""  # nothing before the first interval has passed, and no blank lines after


def test_quiet_prints_nothing_anywhere():
    for terminal in (False, True):
        out = io.StringIO()
        drive(ProgressBoard(enabled=False, console=Console(file=out, force_terminal=terminal)))
        assert out.getvalue() == ""


def test_a_terminal_gets_live_bars_that_vanish():
    b, _ = board(terminal=True)
    with b.bar("settings", 4) as outer:
        with b.bar("  relu/he", 200) as inner:
            inner.advance(20)
            inner.reset(400, completed=100)
            inner.note("loss 0.031")
            task = b._progress.tasks[-1]
            assert (task.completed, task.total, task.fields["note"]) == (100, 400, "loss 0.031")
        outer.advance()
        assert [t.completed for t in b._progress.tasks] == [1]
    assert b._progress is None  # the live display stopped with its last bar
