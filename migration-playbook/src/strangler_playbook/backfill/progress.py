"""Progress reporting for long runs: a rich bar with rows/s and ETA on a terminal, nothing otherwise."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.progress import ProgressColumn, TaskID


class Reporter(Protocol):
    def start(self, label: str, total: int, done: int) -> None: ...
    def advance(self, rows: int) -> None: ...
    def __enter__(self) -> Reporter: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


def _rows_per_second() -> ProgressColumn:
    """A rich column: the task's rows/s (a function, so that rich is imported only when a bar is drawn)."""
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    class RowsPerSecond(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="progress.data.speed")

    return RowsPerSecond()


class BarReporter:
    """A terminal's bar; rich is imported here, so a run without a terminal (--json, a pipe) never loads it."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _rows_per_second(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.task: TaskID | None = None

    def start(self, label: str, total: int, done: int) -> None:
        self.task = self.progress.add_task(label, total=max(total, done), completed=done)

    def advance(self, rows: int) -> None:
        if self.task is not None:
            task = self.progress.tasks[self.task]
            if task.total is not None and task.completed + rows > task.total:
                self.progress.update(self.task, total=task.completed + rows)
            self.progress.advance(self.task, rows)

    def __enter__(self) -> BarReporter:
        self.progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()


class SilentReporter:
    def start(self, label: str, total: int, done: int) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass

    def __enter__(self) -> SilentReporter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        pass


def reporter(*, json_output: bool) -> Reporter:
    return SilentReporter() if json_output or not sys.stderr.isatty() else BarReporter()
