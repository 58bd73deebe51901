"""Functions for the sandbox tests, run in its child process: one hangs, one kills its process,
one is slow, one reads the environment."""

from __future__ import annotations

import os
import signal
import time


def work(item: str, suffix: str = "") -> str:
    if item == "hang":
        time.sleep(600)
    if item == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if item == "boom":
        raise ValueError("no good")
    if item == "slow":
        time.sleep(1.5)
    if item == "env":
        return os.environ.get("MALLOC_MMAP_THRESHOLD_", "unset")
    return item.upper() + suffix
