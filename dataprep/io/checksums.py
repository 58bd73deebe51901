"""SHA-256 of files: taken while a file is written (:class:`HashingFile`), or read back
(:func:`sha256_of`, for input files and resume checks)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import IO

import fsspec


class HashingFile(io.RawIOBase):
    """A write-only file that passes bytes on to ``target`` and keeps their SHA-256 and count,
    so a finished file need not be read back to be hashed."""

    def __init__(self, target: IO[bytes]) -> None:
        super().__init__()
        self._target, self.sha256, self.size = target, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # noqa: ANN001 - any bytes-like object
        self.sha256.update(data)
        self.size += memoryview(data).nbytes
        return self._target.write(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._target.flush()

    def hexdigest(self) -> str:
        return self.sha256.hexdigest()


def sha256_of(fs: fsspec.AbstractFileSystem, path: str, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes, read ``chunk`` bytes at a time."""
    digest = hashlib.sha256()
    with fs.open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class WrittenFile:
    """A finished output file, as recorded in receipts and manifest.json."""

    path: str  # relative to the run's output folder
    rows: int
    bytes: int
    sha256: str
    #: the file system's modification time once written (None: unknown, or a receipt older than it)
    mtime: float | None = None

    def to_json(self, with_mtime: bool = True) -> dict:
        """The receipt's record; ``with_mtime=False`` for manifest.json, which depends only on content."""
        out = {"path": self.path, "rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}
        if with_mtime and self.mtime is not None:
            out["mtime"] = self.mtime
        return out


def modified_time(fs: fsspec.AbstractFileSystem, path: str) -> float | None:
    """A file's modification time as a number, where the file system reports one."""
    info = fs.info(path)
    value = info.get("mtime", info.get("LastModified", info.get("last_modified")))
    if value is None:
        return None
    if hasattr(value, "timestamp"):  # object stores: a datetime
        return float(value.timestamp())
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
