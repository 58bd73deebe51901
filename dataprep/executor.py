"""The Dask client a run executes on: a LocalCluster started for the run, or an existing
scheduler by address.  Dask does all scheduling, retries after worker loss, and data
placement; this module only starts or connects, and turns failures into clear errors."""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

from dataprep.recipe import ExecutorSpec


# Dask's nanny sets MALLOC_TRIM_THRESHOLD_ for its workers, which also turns off glibc's
# adaptive mmap threshold: every NumPy temporary over 128 KB is then mmap-ed and unmapped, its
# pages faulted in again and again (3x slower MinHash signatures, measured).  Allocations up to
# 32 MB (glibc's own adaptive ceiling) come from the heap again; trimming stays on.
# Arrow allocates from that same glibc heap rather than its bundled mimalloc, which returned
# and re-faulted its large blocks: on the MinHash benchmark mimalloc cost twice the system
# time (0.28 s against 0.16 s of CPU) and a third more peak RSS (277 MB against 200 MB), measured.
WORKER_ENV = {"MALLOC_MMAP_THRESHOLD_": 32 << 20, "ARROW_DEFAULT_MEMORY_POOL": "system"}
# Workers run as threads of this process (processes: false): the same, set with mallopt, and
# freed memory up to 64 MB kept at the top of the heap rather than trimmed and faulted in again
# batch after batch (a third fewer page faults on the MinHash benchmark, measured).
_MALLOPT = {-3: 32 << 20, -1: 64 << 20}  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD


def _tune_malloc_here() -> None:
    """Apply :data:`_MALLOPT` to this process (glibc only; a no-op elsewhere), and have Arrow
    allocate from it, unless ``ARROW_DEFAULT_MEMORY_POOL`` says otherwise."""
    import ctypes
    import ctypes.util
    import os

    import pyarrow as pa

    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        pa.set_memory_pool(pa.system_memory_pool())

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    for param, value in _MALLOPT.items():
        mallopt(param, value)


# Dask's statistical profiler samples every worker thread's stack every 10 ms and looks up the
# source line of every frame; it is only seen on the dashboard, so a LocalCluster started
# without the dashboard runs without it (its sampling held the GIL ~2% of a MinHash run).
PROFILE_KEY = "distributed.worker.profile.enabled"


class ExecutorError(RuntimeError):
    """The cluster could not be started or reached (raised before any work)."""


@contextlib.contextmanager
def dask_client(spec: ExecutorSpec) -> Iterator["distributed.Client"]:  # noqa: F821
    """Yield a connected ``distributed.Client``; a LocalCluster is closed on exit."""
    import os

    import dask
    import distributed

    if spec.scheduler == "local":
        environ = dask.config.get("distributed.nanny.pre-spawn-environ", {})
        processes = spec.processes if isinstance(spec.processes, bool) else spec.workers > 1
        if not processes:
            _tune_malloc_here()
        try:
            settings = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENV.items()
                        if k not in environ and k not in os.environ}
            if not spec.dashboard:
                settings[PROFILE_KEY] = False
            with dask.config.set(settings):
                cluster = distributed.LocalCluster(
                    n_workers=spec.workers,
                    threads_per_worker=spec.threads_per_worker,
                    processes=processes,
                    memory_limit=spec.memory_limit,
                    # a free port always: two clusters on one machine must not fight over :8787
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                )
        except Exception as exc:  # noqa: BLE001
            raise ExecutorError(f"executor: could not start a local Dask cluster: {exc}") from exc
        with cluster, distributed.Client(cluster) as client:
            yield client
        return
    try:
        client = distributed.Client(spec.scheduler, timeout=spec.connect_timeout)
    except (OSError, TimeoutError) as exc:
        raise ExecutorError(
            f"executor.scheduler: cannot reach the Dask scheduler at {spec.scheduler} within "
            f"{spec.connect_timeout:g}s ({exc}); start one with `dask scheduler` (and workers with "
            f"`dask worker {spec.scheduler}`), or use scheduler: local"
        ) from exc
    with client:
        if not client.scheduler_info().get("workers"):
            with contextlib.suppress(Exception):
                client.wait_for_workers(1, timeout=spec.connect_timeout)
        if not client.scheduler_info().get("workers"):
            raise ExecutorError(f"executor.scheduler: the scheduler at {spec.scheduler} has no workers; "
                                f"start some with `dask worker {spec.scheduler}`")
        yield client
