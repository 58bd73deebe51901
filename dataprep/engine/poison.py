"""Finding the documents that crash a worker, when a shard's task has killed its workers
Dask's ``allowed-failures`` times (``executor.retries``) and Dask gives up on it (``KilledWorker``).

The search runs as a Dask task on a worker.  It re-runs the shard's documents through the group's
stages in fresh child processes (:mod:`dataprep.engine.poison_probe`), which report what they
are about to do before doing it: first a unit of :data:`UNIT` documents at a time over the whole
shard (a child that dies names the unit it died in; the next child starts after it), then one
document at a time within each unit that killed a child, which names the document and the stage.
A child dies by a signal (a native segfault), by an exit code, or is killed by the search when
its memory passes the worker's limit (the fraction at which Dask's nanny would kill a worker).
A child process per crash: about four per crashing document, and nothing at all when no worker
dies.  A unit whose documents do not crash one by one (memory that grows over many documents) is
reported as such: the shard then fails as before.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataprep.engine.crashes import Crash
from dataprep.engine.shard_task import ShardTask

UNIT = 64  # documents per step of the first pass
POLL_SECONDS = 0.02


@dataclass
class ProbeResult:
    ok: bool
    unit: tuple[int, int] | None = None  # the unit a dead child was in
    doc: tuple[int, str] | None = None  # position and id of the document a dead child was on (unit 1)
    stage: int | None = None  # index in the group of the stage it was running
    error: str = ""


def _memory_limit() -> int | None:
    """The bytes at which Dask's nanny would kill this worker (its limit x the terminate fraction)."""
    try:
        import dask
        from distributed import get_worker

        limit = get_worker().memory_manager.memory_limit
        fraction = dask.config.get("distributed.worker.memory.terminate")
    except (ImportError, ValueError, AttributeError):
        return None
    return int(limit * fraction) if limit and fraction else None


def _rss(pid: int) -> int:
    import psutil

    try:
        process = psutil.Process(pid)
        return process.memory_info().rss + sum(c.memory_info().rss for c in process.children(recursive=True))
    except psutil.Error:
        return 0


def _gb(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def probe(task: ShardTask, state: Any, start: int, stop: int | None, unit: int, skip: set[str], work: Path,
          memory_limit: int | None) -> ProbeResult:
    """Run one child over documents ``start..stop-1`` of the shard; what it died on, if it died."""
    job, report = work / "job.pickle", work / "report.txt"
    with open(job, "wb") as f:
        pickle.dump({"task": task, "state": state, "start": start, "stop": stop, "unit": unit, "skip": skip}, f)
    report.write_text("")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # user modules, as the worker has
    child = subprocess.Popen([sys.executable, "-m", "dataprep.engine.poison_probe", str(job), str(report)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    memory_error = ""
    while child.poll() is None:
        if memory_limit is not None and (rss := _rss(child.pid)) > memory_limit:
            child.kill()
            child.wait()
            memory_error = f"memory: its RSS reached {_gb(rss)}, over the worker's limit of {_gb(memory_limit)}"
            break
        time.sleep(POLL_SECONDS)
    lines = report.read_text().splitlines()
    if child.returncode == 0 and lines and lines[-1].startswith("end "):
        return ProbeResult(ok=True)
    if memory_error:
        error = memory_error
    elif child.returncode < 0:
        error = f"signal {-child.returncode} ({signal.Signals(-child.returncode).name})"
    else:
        error = f"exit code {child.returncode}"
    result = ProbeResult(ok=False, error=error)
    for line in lines:
        kind, *rest = line.split()
        if kind == "unit":
            result.unit, result.doc, result.stage = (int(rest[0]), int(rest[1])), None, None
        elif kind == "doc":
            result.doc = (int(rest[0]), rest[1])
        elif kind == "stage":
            result.stage = int(rest[0])
        elif kind == "done":
            result.unit = None
    return result


def find_crashes(task: ShardTask, state: Any = None, unit: int = UNIT) -> dict[str, Crash]:
    """The documents of ``task``'s shard that crash a process on their own, by id (a Dask task)."""
    memory_limit = _memory_limit()
    crashes: dict[str, Crash] = {}
    with tempfile.TemporaryDirectory(prefix="dataprep-poison-") as tmp:
        work = Path(tmp)
        suspects: list[tuple[int, int]] = []
        pos = 0
        while True:  # first pass: which units kill a process
            result = probe(task, state, pos, None, unit, set(crashes), work, memory_limit)
            if result.ok:
                break
            if result.unit is None:
                raise RuntimeError(f"shard {task.shard.name}: the stages kill their process before any document "
                                   f"({result.error})")
            suspects.append(result.unit)
            pos = result.unit[1]
        for a, b in suspects:  # second pass: which documents of those units, alone
            pos = a
            while pos < b:
                result = probe(task, state, pos, b, 1, set(crashes), work, memory_limit)
                if result.ok:
                    break
                if result.doc is None or result.stage is None:
                    raise RuntimeError(f"shard {task.shard.name}: a process died between documents ({result.error})")
                crashes[result.doc[1]] = Crash(task.group.first + result.stage, result.error)
                pos = result.doc[0] + 1
    return crashes
