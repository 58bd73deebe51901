"""The Dask client a run executes on: a LocalCluster started for the run, or an existing
scheduler by address.  Dask does all scheduling, retries after worker loss, and data
placement; this module only starts or connects, and turns failures into clear errors.

The workers of a LocalCluster we start log nothing to the terminal (their records stay in each
worker's log buffer; :func:`dataprep.engine.worker_logs.write_worker_logs` saves them under the
run's folder when a run fails), unless ``show_worker_logs`` asks for Dask's errors there
(``dataprep run --debug``)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from dataprep.config.recipe import ExecutorSpec
from dataprep.engine.malloc_tuning import MMAP_THRESHOLD, TRIM_THRESHOLD

if TYPE_CHECKING:  # imported when a cluster starts (importing distributed costs ~0.3 s)
    import distributed

# Dask's nanny sets MALLOC_TRIM_THRESHOLD_ for its workers, which also turns off glibc's
# adaptive mmap threshold (see dataprep.engine.malloc_tuning); worker processes get the heap
# back for allocations up to MMAP_THRESHOLD, and trimming stays on.
# Arrow allocates from that same glibc heap rather than its bundled mimalloc, which returned
# and re-faulted its large blocks: on the MinHash benchmark mimalloc cost twice the system
# time (0.28 s against 0.16 s of CPU) and a third more peak RSS (277 MB against 200 MB), measured.
WORKER_ENV = {"MALLOC_MMAP_THRESHOLD_": MMAP_THRESHOLD, "ARROW_DEFAULT_MEMORY_POOL": "system"}
# Workers run as threads of this process (processes: false): both settings, with mallopt
_MALLOPT = {-3: MMAP_THRESHOLD, -1: TRIM_THRESHOLD}  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD


def _tune_malloc_here() -> None:
    """Apply :data:`_MALLOPT` to this process (glibc only; a no-op elsewhere), and have Arrow
    allocate from it, unless ``ARROW_DEFAULT_MEMORY_POOL`` says otherwise."""
    import ctypes
    import ctypes.util
    import os

    import pyarrow as pa

    # An explicit choice is honoured by setting that pool: pyarrow reads the variable once, at
    # import, and Dask's nanny writes its pre-spawn variables into this process's environment
    # too, so after a run with worker processes the variable may be newer than the pool.
    pools = {"system": pa.system_memory_pool, "mimalloc": pa.mimalloc_memory_pool, "jemalloc": pa.jemalloc_memory_pool}
    choice = os.environ.get("ARROW_DEFAULT_MEMORY_POOL", "system")
    with contextlib.suppress(NotImplementedError, KeyError):  # a pool this build of Arrow lacks: keep its default
        pa.set_memory_pool(pools[choice]())

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
def _environ_restored(keys: set[str]) -> Iterator[None]:
    """Put ``keys`` of ``os.environ`` back as they were: Dask's nanny writes its pre-spawn
    variables into the environment of the process that starts it, and a library call must not
    leave them behind (a later in-process run would inherit worker settings)."""
    import os

    before = {k: os.environ.get(k) for k in keys}
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def dask_client(spec: ExecutorSpec, show_worker_logs: bool = False) -> Iterator[distributed.Client]:
    """Yield a connected ``distributed.Client``; a LocalCluster is closed on exit."""
    import os

    import dask
    import distributed

    if spec.scheduler == "local":
        environ = dask.config.get("distributed.nanny.pre-spawn-environ", {})
        processes = spec.processes if isinstance(spec.processes, bool) else spec.workers > 1
        if not processes:
            _tune_malloc_here()
        with _environ_restored({*environ, *WORKER_ENV, "PYTHONHASHSEED"}):
            try:
                settings = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENV.items()
                            if k not in environ and k not in os.environ}
                if not spec.dashboard:
                    settings[PROFILE_KEY] = False
                settings["distributed.scheduler.allowed-failures"] = spec.retries
                with dask.config.set(settings):
                    cluster = distributed.LocalCluster(
                        n_workers=spec.workers,
                        threads_per_worker=spec.threads_per_worker,
                        processes=processes,
                        memory_limit=spec.memory_limit,
                        # a free port always: two clusters on one machine must not fight over :8787
                        dashboard_address=":0",
                        silence_logs=logging.ERROR if show_worker_logs else logging.CRITICAL,
                    )
            except Exception as exc:  # noqa: BLE001 - any start-up failure is the same usage error
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
