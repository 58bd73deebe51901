"""A real Dask cluster: `dask scheduler` and two `dask worker` processes on 127.0.0.1, started
here, always cleaned up; the quickstart run through `--scheduler` gives the same bytes as a
LocalCluster run."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, output_bytes, quickstart_recipe, run_cli, write_recipe

DASK = str(Path(sys.executable).parent / "dask")


@pytest.fixture()
def cluster(tmp_path: Path):
    """(address, worker processes) of a scheduler with two single-threaded workers on 127.0.0.1."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(file)], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        for i in range(2):
            worker = [DASK, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard",
                      "--name", f"w{i}", "--local-directory", str(tmp_path / f"w{i}")]
            procs.append(subprocess.Popen(worker, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, procs[1:]
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=15)


def test_quickstart_on_a_real_cluster_matches_a_local_cluster(tmp_path: Path, cluster):
    scheduler, _ = cluster
    local = write_recipe(tmp_path / "local.yaml", quickstart_recipe(tmp_path / "local"))
    remote = write_recipe(tmp_path / "remote.yaml", quickstart_recipe(tmp_path / "remote"))
    res = run_cli("run", str(local))
    assert res.returncode == 0, res.stderr
    res = run_cli("run", str(remote), "--scheduler", scheduler)
    assert res.returncode == 0, res.stderr
    assert output_bytes(tmp_path / "remote") == output_bytes(tmp_path / "local")
    stats = json.loads((tmp_path / "remote" / "stats.json").read_text())
    assert stats["output"]["docs"] == 391


def test_a_killed_worker_costs_nothing(tmp_path: Path, cluster):
    from tests.engine.test_resume import receipts, slow_recipe

    scheduler, workers = cluster
    reference = write_recipe(tmp_path / "ref.yaml", {**slow_recipe(tmp_path / "ref"), "stages": [
        {"tests.helpers.transforms:Sleep": {"seconds": 0.0}}, *slow_recipe(tmp_path)["stages"][1:]]})
    assert run_cli("run", str(reference)).returncode == 0
    recipe = write_recipe(tmp_path / "r.yaml", slow_recipe(tmp_path / "out"))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    dataprep = str(Path(sys.executable).parent / "dataprep")
    run = subprocess.Popen([dataprep, "run", str(recipe), "--scheduler", scheduler],
                           cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while receipts(tmp_path / "out") < 8 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    os.killpg(workers[1].pid, signal.SIGKILL)  # one of the two workers dies mid-run
    stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr
    assert output_bytes(tmp_path / "out") == output_bytes(tmp_path / "ref")


@pytest.mark.parametrize("workers,processes,in_process", [(1, "auto", True), (1, True, False), (2, "auto", False)])
def test_local_cluster_runs_one_worker_in_process_unless_asked(workers, processes, in_process, monkeypatch):
    from dataprep.config.recipe import ExecutorSpec
    from dataprep.engine.executor import WORKER_ENV, dask_client

    for name in WORKER_ENV:  # the session's own cluster (the `client` fixture) has set them in this process
        monkeypatch.delenv(name, raising=False)

    with dask_client(ExecutorSpec(workers=workers, processes=processes)) as client:
        pids = set(client.run(os.getpid).values())
        assert len(client.scheduler_info()["workers"]) == workers
        # no statistical profiler without the dashboard: its samples would be seen by nobody
        assert set(client.run(lambda dask_worker: "profile" in dask_worker.periodic_callbacks).values()) == {False}
        # Arrow allocates from glibc's heap, tuned as NumPy's is (not Arrow's bundled mimalloc)
        assert set(client.run(lambda: __import__("pyarrow").default_memory_pool().backend_name).values()) == {"system"}
        assert set(client.run(lambda: os.environ.get("MALLOC_MMAP_THRESHOLD_")).values()) == (
            {None} if in_process else {str(32 << 20)})
    assert (pids == {os.getpid()}) == in_process


def test_a_cluster_leaves_the_environment_as_it_found_it(monkeypatch):
    from dataprep.config.recipe import ExecutorSpec
    from dataprep.engine.executor import WORKER_ENV, dask_client

    for name in (*WORKER_ENV, "PYTHONHASHSEED"):
        monkeypatch.delenv(name, raising=False)
    with dask_client(ExecutorSpec(workers=2)) as client:
        assert set(client.run(lambda: os.environ.get("ARROW_DEFAULT_MEMORY_POOL")).values()) == {"system"}
    assert not {name for name in (*WORKER_ENV, "PYTHONHASHSEED") if name in os.environ}  # Dask's nanny wrote them here
