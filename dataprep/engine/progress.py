"""Progress display: per group of stages, shards done / total and documents per second.

A rich progress bar on a terminal.  When stderr is not a terminal (``nohup``, SLURM,
Kubernetes, CI), :class:`LogProgress` writes one plain line every ``interval_s`` seconds
instead -- from a timer thread, so a line comes even while a long shard is still running::

    [dataprep 12:04:31] read: 14/40 shards, 2,310 docs/s, elapsed 0:00:42, eta 0:01:18

``--quiet`` turns both off.
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import timedelta
from typing import IO, Protocol


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


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=int(seconds)))


class LogProgress:
    """One line per ``interval_s`` seconds on ``stream`` (stderr): for logs, not terminals."""

    def __init__(self, interval_s: float = 30.0, stream: IO[str] | None = None) -> None:
        self.interval_s, self.stream = interval_s, stream or sys.stderr
        self._lock = threading.Lock()
        self._group: tuple[str, int] | None = None  # (name, total shards)
        self._done = self._started_done = self._docs = 0
        self._t0 = time.perf_counter()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, name: str, total: int, done: int = 0) -> None:
        with self._lock:
            self._group, self._done, self._started_done, self._docs = (name, total), done, done, 0
            self._t0 = time.perf_counter()
        if self._thread is None:
            self._stopped.clear()
            self._thread = threading.Thread(target=self._tick, name="dataprep-progress", daemon=True)
            self._thread.start()

    def advance(self, docs: int) -> None:
        with self._lock:
            self._done += 1
            self._docs += docs

    def line(self) -> str | None:
        """The current record, or None between groups."""
        with self._lock:
            if self._group is None:
                return None
            (name, total), done, docs = self._group, self._done, self._docs
            elapsed = time.perf_counter() - self._t0
            fresh = done - self._started_done
        rate = docs / max(elapsed, 1e-9)
        eta = _clock(elapsed / fresh * (total - done)) if fresh else "unknown"
        return (f"[dataprep {time.strftime('%H:%M:%S')}] {name}: {done}/{total} shards, {rate:,.0f} docs/s, "
                f"elapsed {_clock(elapsed)}, eta {eta}")

    def _tick(self) -> None:
        while not self._stopped.wait(self.interval_s):
            self._emit()

    def _emit(self) -> None:
        record = self.line()
        if record is not None:
            print(record, file=self.stream, flush=True)

    def stop(self) -> None:
        """End of a group: its last record if it finished (a failed run ends on its error line),
        and the timer waits for the next group."""
        with self._lock:
            finished = self._group is not None and self._done >= self._group[1]
        if finished:
            self._emit()
        with self._lock:
            self._group = None
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def note(self, message: str) -> None:
        print(message, file=self.stream, flush=True)


def default_progress(quiet: bool = False, interval_s: float = 30.0) -> Progress:
    """A rich bar on a terminal, a line every ``interval_s`` seconds otherwise, nothing if ``quiet``."""
    if quiet:
        return QuietProgress()
    return RichProgress() if sys.stderr.isatty() else LogProgress(interval_s)
