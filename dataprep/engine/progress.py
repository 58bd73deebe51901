"""Progress display: per group of stages, shards done / total and documents per second.

A rich progress bar on a terminal; nothing at all when output is piped (logs stay clean)."""

from __future__ import annotations

import sys
import time
from typing import Protocol


class Progress(Protocol):
    def start(self, name: str, total: int, done: int = 0) -> None: ...
    def advance(self, docs: int) -> None: ...
    def stop(self) -> None: ...
    def note(self, message: str) -> None: ...


class QuietProgress:
    """Progress that shows nothing (pipes, tests, library use)."""

    def start(self, name: str, total: int, done: int = 0) -> None:
        pass

    def advance(self, docs: int) -> None:
        pass

    def stop(self) -> None:
        pass

    def note(self, message: str) -> None:
        pass


class RichProgress:
    """A rich bar per group: shards, docs/s, elapsed and ETA."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("shards"),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=self.console, transient=False,
        )
        self._progress.start()
        self._task = None
        self._docs = 0
        self._t0 = time.perf_counter()

    def start(self, name: str, total: int, done: int = 0) -> None:
        self._docs, self._t0 = 0, time.perf_counter()
        self._task = self._progress.add_task(name, total=total, completed=done, rate="")

    def advance(self, docs: int) -> None:
        self._docs += docs
        rate = self._docs / max(time.perf_counter() - self._t0, 1e-9)
        self._progress.update(self._task, advance=1, rate=f"{rate:,.0f} docs/s")

    def stop(self) -> None:
        self._progress.stop()

    def note(self, message: str) -> None:
        self.console.print(message)


def default_progress() -> Progress:
    return RichProgress() if sys.stderr.isatty() else QuietProgress()
