"""How a long command shows it is working, on stderr (stdout keeps the command's result): on a
terminal a rich progress bar (a spinner and the elapsed time where the amount of work is unknown)
and the final figures as a table; otherwise plain lines, one at each tenth of the work."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table


class Progress:
    """``with Progress("pursuit replay", total) as p: p.update(done)``; ``total`` None: unknown."""

    def __init__(self, what: str, total: int | None = None, stream: IO[str] | None = None) -> None:
        self.what = what
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self._tenth = -1
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> Progress:
        if self.tty:
            columns = [
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            ]
            self._bar = RichProgress(*columns, console=Console(file=self.stream), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=self.total)
        else:
            print(f"{self.what}: started", file=self.stream, flush=True)
        return self

    def update(self, done: int, total: int | None = None) -> None:
        """``done`` units of work so far (of ``total``, if it became known)."""
        if total is not None:
            self.total = total
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=self.total)
            return
        if self.total:
            tenth = min(10, int(10 * done / self.total))
            if tenth > self._tenth:
                self._tenth = tenth
                print(f"{self.what}: {10 * tenth}% ({done:,} of {self.total:,})", file=self.stream, flush=True)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()
        state = "done" if kind is None else "stopped"
        print(f"{self.what}: {state} in {time.monotonic() - self.started:.1f} s", file=self.stream, flush=True)

    def table(self, title: str, figures: Mapping[str, object]) -> None:
        """The result's top-level figures as a table, on a terminal only (stdout has them all)."""
        if not self.tty:
            return
        table = Table(title=title, show_header=False)
        for key, value in figures.items():
            if isinstance(value, str | int | float | bool) or value is None:
                table.add_row(
                    key, f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
                )
        Console(file=self.stream).print(table)
