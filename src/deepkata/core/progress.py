"""Progress for long loops, on stderr: live bars on a terminal, a line at intervals otherwise.

Models never draw progress: the kata's run loop asks its :class:`~deepkata.core.runner.Run`
for a bar. Bars nest (a sweep over settings, each training for many iterations). On a terminal
rich draws them and they vanish when done, so the terminal keeps only the summary. When stderr
is a pipe or a log file, a live display would print nothing until the end; there the board
prints one plain line every ``interval`` seconds instead, naming every open bar:

    [1:05] settings 2/7 (29%) › relu/he 1200/10000 (12%) loss 0.031
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

LINE_INTERVAL = 15.0  # seconds between progress lines when stderr is not a terminal


@dataclass
class _Task:
    """A bar's state where no live display keeps it."""

    description: str
    total: float | None
    completed: float = 0.0
    note: str = ""

    def text(self) -> str:
        done = f"{self.completed:g}"
        if self.total:
            done += f"/{self.total:g} ({100 * self.completed / self.total:.0f}%)"
        return " ".join(part for part in (self.description.strip(), done, self.note) if part)


class Bar:
    """One bar: :meth:`advance` it by work done; :meth:`note` sets the text after it."""

    def __init__(self, board: ProgressBoard | None, task: TaskID | _Task | None) -> None:
        self._board, self._task = board, task

    def advance(self, n: float = 1) -> None:
        if self._board is not None and self._task is not None:
            self._board._change(self._task, advance=n)

    def update(self, completed: float) -> None:
        """Set the work done so far."""
        if self._board is not None and self._task is not None:
            self._board._change(self._task, completed=completed)

    def reset(self, total: float | None, completed: float = 0) -> None:
        """Set the work to do and the work done."""
        if self._board is not None and self._task is not None:
            self._board._change(self._task, total=total, completed=completed)

    def note(self, text: str) -> None:
        if self._board is not None and self._task is not None:
            self._board._change(self._task, note=text)


class ProgressBoard:
    """The bars of one run. ``enabled=False`` (``--quiet``, ranks other than 0) shows nothing."""

    def __init__(self, enabled: bool = True, console: Console | None = None, interval: float = LINE_INTERVAL) -> None:
        self.enabled = enabled
        self.interval = interval
        self._console = console or Console(stderr=True)
        self._live = self._console.is_terminal
        self._progress: Progress | None = None
        self._tasks: list[_Task] = []  # open bars, outermost first, when not live
        self._started = self._last_line = time.monotonic()
        self._open = 0

    @contextmanager
    def bar(self, description: str, total: float | None) -> Iterator[Bar]:
        if not self.enabled:
            yield Bar(None, None)
        elif self._live:
            with self._live_bar(description, total) as b:
                yield b
        else:
            task = _Task(description, total)
            self._tasks.append(task)
            try:
                yield Bar(self, task)
            finally:
                self._tasks.remove(task)

    @contextmanager
    def _live_bar(self, description: str, total: float | None) -> Iterator[Bar]:
        if self._progress is None:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[note]}"),
                console=self._console,
                transient=True,
            )
            self._progress.start()
        task = self._progress.add_task(description, total=total, note="")
        self._open += 1
        try:
            yield Bar(self, task)
        finally:
            self._progress.remove_task(task)
            self._open -= 1
            if self._open == 0:
                self._progress.stop()
                self._progress = None

    def _change(
        self, task: TaskID | _Task, *, advance: float = 0, completed: float | None = None, total: float | None = ..., note: str | None = None
    ) -> None:
        if isinstance(task, _Task):
            task.completed = (task.completed if completed is None else completed) + advance
            if total is not ...:
                task.total = total
            if note is not None:
                task.note = note
            self._maybe_print()
            return
        assert self._progress is not None
        fields = {} if note is None else {"note": note}
        if total is not ...:
            fields["total"] = total
        self._progress.update(task, advance=advance or None, completed=completed, **fields)

    def _maybe_print(self) -> None:
        now = time.monotonic()
        if now - self._last_line < self.interval or not self._tasks:
            return
        self._last_line = now
        minutes, seconds = divmod(int(now - self._started), 60)
        line = f"[{minutes}:{seconds:02d}] " + " › ".join(t.text() for t in self._tasks)
        self._console.print(line, markup=False, highlight=False, soft_wrap=True)
