"""One run at a time per output folder: ``OUT/_lock.json``, created atomically, removed at the end.

The lock names its holder: host, pid, start time, and (on Linux) the boot id and the process's
start tick, so that a lock left by a process that is gone -- killed, or its machine rebooted --
is recognised on the same host and taken over with a warning.  A lock held by a live process,
or by another host (which cannot be checked from here), stops a second run at once with exit
code 2; ``--force-unlock`` takes it regardless.

Creation is exclusive where the filesystem offers it (local files: ``O_EXCL``; fsspec
filesystems that implement mode ``"xb"``); elsewhere (object stores without conditional writes)
it is check-then-write, and the lock is read back to see who won.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass

import fsspec

from dataprep.engine.output_folder import OutputError
from dataprep.io.layout import LOCK_FILE


class OutputLockedError(OutputError):
    """Another run holds the output folder (raised before any work; exit code 2)."""


def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return None


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


@dataclass(frozen=True)
class LockHolder:
    host: str
    pid: int
    started: str
    run_id: str
    boot_id: str | None = None
    process_start: str | None = None

    @classmethod
    def this_process(cls) -> LockHolder:
        pid = os.getpid()
        return cls(host=socket.gethostname(), pid=pid, started=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                   run_id=uuid.uuid4().hex, boot_id=_boot_id(), process_start=_process_start(pid))

    def describe(self) -> str:
        return f"host {self.host}, pid {self.pid}, started {self.started}"

    def is_stale(self) -> bool:
        """Whether the holder is certainly gone: same host, and another boot, a dead pid, or a
        pid now used by another process.  A holder on another host is never called stale."""
        if self.host != socket.gethostname():
            return False
        if self.boot_id and _boot_id() and self.boot_id != _boot_id():
            return True
        if not _alive(self.pid):
            return True
        return bool(self.process_start and _process_start(self.pid) not in (None, self.process_start))


class RunLock:
    """The lock of the run folder ``root`` on ``fs`` (``url`` names it in messages)."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, url: str) -> None:
        self.fs, self.root, self.url = fs, root, url
        self.path = f"{root}/{LOCK_FILE}"
        self.holder: LockHolder | None = None

    def _create(self, holder: LockHolder) -> bool:
        """Write the lock if there is none; whether we now hold it."""
        data = json.dumps(asdict(holder), indent=1).encode()
        try:
            with self.fs.open(self.path, "xb") as f:
                f.write(data)
            return True
        except FileExistsError:
            return False
        except (NotImplementedError, ValueError, TypeError):  # no exclusive create here: check, write, read back
            if self.fs.exists(self.path):
                return False
            self.fs.pipe_file(self.path, data)
            return self._read() == holder

    def _read(self) -> LockHolder | None:
        try:
            return LockHolder(**json.loads(self.fs.cat_file(self.path)))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, KeyError):  # unreadable: a writer died mid-write; nobody holds it
            return LockHolder(host="?", pid=0, started="?", run_id="unreadable")

    def acquire(self, force: bool = False) -> list[str]:
        """Take the lock or raise :class:`OutputLockedError`; the warnings of a takeover."""
        self.fs.makedirs(self.root, exist_ok=True)
        me = LockHolder.this_process()
        warnings: list[str] = []
        for _ in range(3):  # a takeover can race another run's; it then holds it
            if self._create(me):
                self.holder = me
                return warnings
            other = self._read()
            if other is None:
                continue  # released meanwhile
            if force or other.run_id == "unreadable" or other.is_stale():
                why = ("--force-unlock" if force else "its lock file is unreadable" if other.run_id == "unreadable"
                       else "that process is gone")
                warnings.append(f"output.path {self.url}: taking over the lock of an earlier run ({other.describe()}): "
                                f"{why}")
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm(self.path)
                continue
            raise OutputLockedError(
                f"output.path {self.url} is in use by another run ({other.describe()}); wait for it to finish, or, "
                f"if it is gone, run again with --force-unlock")
        raise OutputLockedError(f"output.path {self.url}: could not take the lock (another run keeps taking it)")

    def release(self) -> None:
        """Remove the lock if it is still ours."""
        if self.holder is not None and self._read() == self.holder:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(self.path)
        self.holder = None
