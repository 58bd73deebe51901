"""Functions for the sandbox tests, run in its child process: one hangs, one kills its process."""

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
    return item.upper() + suffix
