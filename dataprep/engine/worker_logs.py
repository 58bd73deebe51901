"""Dask's own log records of a run, saved where the user looks: ``OUT/logs/workers.log``.

Every Dask worker (and nanny) keeps its recent log records in memory (``distributed.admin.log-length``,
10,000 by default); :func:`write_worker_logs` fetches them through the client -- from a
LocalCluster or a remote cluster alike -- and writes them, oldest first, with the worker's
address on every line.  The run's console then shows one line per failure and this file's path,
not Dask's "Compute Failed ... Traceback" dump.
"""

from __future__ import annotations

from typing import Any

import fsspec

from dataprep.io.atomic import write_bytes_atomic
from dataprep.io.layout import LOGS

WORKERS_LOG = f"{LOGS}/workers.log"


def _records(client: Any, nanny: bool) -> dict[str, list]:
    try:
        return client.get_worker_logs(nanny=nanny) or {}
    except Exception:  # noqa: BLE001 - in-process workers have no nanny; a dead worker answers nothing
        return {}


def write_worker_logs(client: Any, fs: fsspec.AbstractFileSystem, root: str) -> str | None:
    """Write the workers' and nannies' recent log records to ``root/logs/workers.log``; its
    path, or None when there is nothing to write (or it could not be written)."""
    lines = []
    for kind, logs in (("worker", _records(client, False)), ("nanny", _records(client, True))):
        for address, records in sorted(logs.items()):
            lines += [f"[{kind} {address}] {message}" for _, message in reversed(records)]  # oldest first
    if not lines:
        return None
    path = f"{root}/{WORKERS_LOG}"
    try:
        write_bytes_atomic(fs, path, ("\n".join(lines) + "\n").encode("utf-8", "replace"))
    except OSError:
        return None
    return path
