"""Start a test's worker module as ``world`` gloo processes on 127.0.0.1 and wait for all of them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dataprep.train.launch import free_port

ROOT = Path(__file__).resolve().parents[2]  # the repository: `python -m tests.helpers.…` imports from it


def run_workers(module: str, world: int, out: Path, *args: str, timeout: float = 240) -> None:
    """Run ``python -m module INIT OUT ARGS...`` with ``RANK``/``WORLD_SIZE`` set; fail with every log."""
    init = f"tcp://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", module, init, str(out), *args]
    procs = [subprocess.Popen(command, cwd=ROOT, env={**os.environ, "RANK": str(r), "WORLD_SIZE": str(world)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for r in range(world)]
    try:
        logs = [p.communicate(timeout=timeout)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)
