"""SIGTERM (what SLURM and Kubernetes send) stops a run within seconds, says it can be resumed,
leaves no process behind, and --resume finishes with the bytes of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from dataprep.io.layout import LOCK_FILE
from tests.conftest import DATAPREP, REPO, output_bytes, run_cli, write_recipe
from tests.engine.test_resume import receipts, slow_recipe


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The output of an uninterrupted run (the same bytes whatever the number of workers)."""
    ref = tmp_path_factory.mktemp("signals") / "ref"
    done = run_cli("run", str(write_recipe(ref.parent / "ref.yaml", slow_recipe(ref))))
    assert done.returncode == 0, done.stderr
    return output_bytes(ref)


@pytest.mark.parametrize("signum,workers", [(signal.SIGTERM, 2), (signal.SIGINT, 1)], ids=["sigterm-2", "sigint-1"])
def test_a_signal_stops_the_run_and_resume_completes_it(tmp_path: Path, reference: dict[str, bytes], signum: int,
                                                        workers: int) -> None:

    out = tmp_path / "out"
    recipe = write_recipe(tmp_path / "run.yaml", {**slow_recipe(out), "executor": {"workers": workers}})
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([*DATAPREP, "run", str(recipe)], cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while receipts(out) < 8 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None
    proc.send_signal(signum)
    t0 = time.monotonic()
    _, stderr = proc.communicate(timeout=60)
    stopped_in = time.monotonic() - t0
    assert proc.returncode == 128 + signum, stderr
    assert stopped_in < 10, f"the run took {stopped_in:.1f} s to stop"
    name = signal.Signals(signum).name
    assert f"interrupted by {name}" in stderr and "--resume" in stderr and "Traceback" not in stderr
    while _alive(proc.pid) and time.monotonic() - t0 < 10:
        time.sleep(0.1)
    assert not _alive(proc.pid), "processes of the run are still alive 10 s after the signal"
    assert not (out / LOCK_FILE).exists() and not (out / "stats.json").exists()

    resumed = run_cli("run", str(recipe), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "stats.json").read_text())["run"]["resumed_shards"] >= 6
    assert output_bytes(out) == reference


def test_the_handler_waits_out_finalizers_where_an_exception_would_be_lost() -> None:
    import sys

    from dataprep.cli.main import _in_finalizer

    seen = {}

    class Collected:
        def __del__(self) -> None:
            seen["frame"] = sys._getframe()

    Collected()
    assert _in_finalizer(seen["frame"]) and not _in_finalizer(sys._getframe())
