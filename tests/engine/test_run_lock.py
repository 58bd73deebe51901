"""One run per output folder: a second run stops at once naming the first; a lock left by a dead
process is taken over with a warning; --force-unlock takes any lock."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import fsspec
import pytest

from dataprep.engine.run_lock import LockHolder, OutputLockedError, RunLock
from dataprep.io.layout import LOCK_FILE
from tests.conftest import DATAPREP, REPO, run_cli, write_recipe
from tests.engine.test_resume import receipts, slow_recipe


def _lock(tmp_path: Path) -> RunLock:
    return RunLock(fsspec.filesystem("file"), str(tmp_path / "out"), str(tmp_path / "out"))


def _plant(tmp_path: Path, holder: LockHolder) -> None:
    (tmp_path / "out").mkdir(exist_ok=True)
    (tmp_path / "out" / LOCK_FILE).write_text(json.dumps(asdict(holder)))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_held_lock_stops_a_second_run_and_names_its_holder(tmp_path: Path) -> None:
    first, second = _lock(tmp_path), _lock(tmp_path)
    assert first.acquire() == []
    with pytest.raises(OutputLockedError, match=rf"in use by another run \(host {socket.gethostname()}, "
                                                rf"pid {os.getpid()}, started .*--force-unlock"):
        second.acquire()
    first.release()
    assert not (tmp_path / "out" / LOCK_FILE).exists()
    assert second.acquire() == []


def test_a_lock_of_a_gone_process_is_taken_over_with_a_warning(tmp_path: Path) -> None:
    me = LockHolder.this_process()
    for gone in (replace(me, pid=_dead_pid(), run_id="a"),  # the process died
                 replace(me, run_id="b", process_start="1"),  # its pid is now another process's
                 replace(me, run_id="c", boot_id="another-boot")):  # the machine rebooted since
        _plant(tmp_path, gone)
        lock = _lock(tmp_path)
        warnings = lock.acquire()
        assert len(warnings) == 1 and "taking over the lock" in warnings[0] and "that process is gone" in warnings[0]
        assert json.loads((tmp_path / "out" / LOCK_FILE).read_text())["run_id"] == lock.holder.run_id
        lock.release()


def test_another_host_is_never_stale_but_force_takes_it(tmp_path: Path) -> None:
    _plant(tmp_path, replace(LockHolder.this_process(), host="elsewhere", pid=_dead_pid(), run_id="x"))
    with pytest.raises(OutputLockedError, match="host elsewhere"):
        _lock(tmp_path).acquire()
    warnings = _lock(tmp_path).acquire(force=True)
    assert "--force-unlock" in warnings[0]


def test_an_unreadable_lock_is_taken_over(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / LOCK_FILE).write_text('{"host": "half-writ')
    assert "unreadable" in _lock(tmp_path).acquire()[0]


def test_two_runs_on_one_output_then_a_kill_and_a_resume(tmp_path: Path) -> None:
    out = tmp_path / "out"
    gate = tmp_path / "hold"  # once it exists, the first run's remaining shards wait: it cannot finish early
    slow = slow_recipe(out)
    slow["stages"][0]["tests.helpers.transforms:Sleep"]["gate"] = str(gate)
    recipe = write_recipe(tmp_path / "slow.yaml", slow)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    first = subprocess.Popen([*DATAPREP, "run", str(recipe)], cwd=REPO, env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while receipts(out) < 5 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
        gate.touch()
        assert first.poll() is None, "the first run should still be running"
        for flags in ((), ("--overwrite",), ("--resume",)):
            second = run_cli("run", str(recipe), *flags)
            assert second.returncode == 2, second.stderr
            assert f"in use by another run (host {socket.gethostname()}, pid {first.pid}" in second.stderr
        assert first.poll() is None  # the second run touched nothing
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    assert (out / LOCK_FILE).exists()  # a SIGKILL leaves the lock behind
    gate.unlink()
    resumed = run_cli("run", str(recipe), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"taking over the lock of an earlier run (host {socket.gethostname()}, pid {first.pid}" in resumed.stderr
    assert not (out / LOCK_FILE).exists()
    assert json.loads((out / "stats.json").read_text())["run"]["resumed_shards"] >= 4
