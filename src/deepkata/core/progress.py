"""Progress bars for long loops, drawn by rich on stderr; silent under ``--quiet``.

Models never draw progress: the kata's run loop asks its :class:`~deepkata.core.runner.Run`
for a bar. Bars nest (a sweep over settings, each training for many iterations) and vanish
when done, so the terminal keeps only the summary.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class Bar:
    """One bar: :meth:`advance` it by work done; :meth:`note` sets the text after it."""

    def __init__(self, progress: Progress | None, task: TaskID | None) -> None:
        self._progress, self._task = progress, task

    def advance(self, n: float = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)

    def update(self, completed: float) -> None:
        """Set the work done so far."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=completed)

    def reset(self, total: float | None, completed: float = 0) -> None:
        """Set the work to do and the work done."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=total, completed=completed)

    def note(self, text: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, note=text)


class ProgressBoard:
    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.enabled = enabled
        self._console = console or Console(stderr=True)
        self._progress: Progress | None = None
        self._open = 0

    @contextmanager
    def bar(self, description: str, total: float | None) -> Iterator[Bar]:
        if not self.enabled:
            yield Bar(None, None)
            return
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
            yield Bar(self._progress, task)
        finally:
            self._progress.remove_task(task)
            self._open -= 1
            if self._open == 0:
                self._progress.stop()
                self._progress = None
