"""Console output: one rich console, verbosity levels, and progress bars for long loops."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)
_verbosity = 1  # 0 quiet, 1 normal, 2 verbose


def set_verbosity(level: int) -> None:
    """0 silences progress and info, 1 is normal, 2 adds detail."""
    global _verbosity
    _verbosity = level


def verbosity() -> int:
    """The current verbosity level."""
    return _verbosity


def info(message: str) -> None:
    """Print a normal-level message."""
    if _verbosity >= 1:
        console.print(message)


def detail(message: str) -> None:
    """Print a message only with ``-v``."""
    if _verbosity >= 2:
        console.print(f"[dim]{message}[/dim]")


class ProgressHandle:
    """A task in a progress display: ``advance`` it, and ``note`` a short status (loss, rate...)."""

    def __init__(self, progress: Progress | None, task_id: Any) -> None:
        self._progress = progress
        self._task = task_id

    def advance(self, n: float = 1) -> None:
        """Move the bar forward by ``n``."""
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def note(self, text: str) -> None:
        """Show ``text`` beside the bar."""
        if self._progress is not None:
            self._progress.update(self._task, status=text)


@contextmanager
def progress(description: str, total: float | None) -> Iterator[ProgressHandle]:
    """A progress bar with count, rate, elapsed and ETA; silent at verbosity 0."""
    if _verbosity == 0:
        yield ProgressHandle(None, None)
        return
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=False,
    )
    with bar:
        task = bar.add_task(description, total=total, status="")
        yield ProgressHandle(bar, task)
